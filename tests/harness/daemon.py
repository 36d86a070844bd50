"""``rnmail run`` as a real subprocess, its log in a file (the ``started`` fixture in
conftest starts as many as a test needs and kills any left running at the end)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
RUN = "from cli.main import main; main()"


class Daemon:
    def __init__(self, config: Path, log: Path, verbose: str = "-v") -> None:
        """``verbose``: ``-vv`` for the debug lines too (each retry of a dependency that is
        down, for a test that waits for some)."""
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RUN, "--config", str(config), verbose, "run"], cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=log.open("w"))

    def text(self) -> str:
        return self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=20)
