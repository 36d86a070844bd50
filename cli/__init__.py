"""The ``rnmail`` command: ``main`` (the root group), ``app`` (what every command shares) and
one module per command group, named as the group."""
