"""``rnmail`` run as a real process on a pseudo-terminal, as an operator at a keyboard: its
standard input, output and error are the terminal, and the test types the answers."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
RUN = "from cli.main import main; main()"
PROGRAM = "from cli.program import run; run()"  # the console script: the command server first


def in_terminal(config: Path, *args: str, answers: list[tuple[str, str]],
                timeout: float = 60, program: str = RUN) -> tuple[int, str]:
    """(exit status, everything the terminal showed) of ``rnmail --config CONFIG ARGS``;
    each (prompt, text) of ``answers`` types ``text`` once ``prompt`` has been shown."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: rnmail, from the repository's root
        try:
            os.chdir(ROOT)
            os.execv(sys.executable, [sys.executable, "-c", program, "--config", str(config),
                                      *args])
        finally:
            os._exit(127)
    shown = b""
    deadline = time.monotonic() + timeout
    pending = list(answers)
    try:
        while True:
            if pending and pending[0][0].encode() in shown:
                os.write(fd, pending.pop(0)[1].encode())
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"rnmail {' '.join(args)}: still running; it showed:\n"
                                   + shown.decode(errors="replace"))
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace").replace("\r\n",
                                                                                     "\n")
