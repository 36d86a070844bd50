"""For whoever runs the installation: ``doctor`` (checks), ``demo`` (example data),
``reply`` (``demo reply``: answer an outgoing mail through the Maildir) and ``backup``."""
