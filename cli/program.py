"""The ``rnmail`` program (its console script): the command server first, then the command.

Deciding whether ``rnmail run``'s command server takes the command needs only the standard
library (``rnmail.commandserver.client``); click and the command's own modules are imported
only when the command runs here, each without the cyclic collector
(``rnmail.util.gcpause.collect_no_imports``).
"""

from __future__ import annotations

import sys


def run() -> None:
    from rnmail.commandserver.client import run_in_server

    code = run_in_server(sys.argv[1:])
    if code is not None:
        raise SystemExit(code)
    from rnmail.util.gcpause import collect_no_imports

    collect_no_imports()
    from cli.main import main

    main(prog_name="rnmail")
