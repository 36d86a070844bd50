"""For whoever runs the installation: ``doctor`` (checks), ``demo`` (example data) and
``backup``."""
