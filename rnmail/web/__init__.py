"""HTTP: ``public`` (the published status page and FAQ), ``admin`` (the status
administration, ``/admin``) with its words in ``admin_texts``, and ``server`` (the listeners of
``rnmail web`` and of the daemon)."""
