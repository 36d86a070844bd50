"""``python -m cli``: the ``rnmail`` program (how ``rnmail run`` starts its command server)."""

from cli.program import run

run()
