"""HTTP: ``public`` (the published status page and FAQ), ``admin`` (the status
administration, ``/admin``; its words in the gettext catalogues of ``rnmail.i18n``) and
``server`` (the listeners of ``rnmail web`` and of the daemon)."""
