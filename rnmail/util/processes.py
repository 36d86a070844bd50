"""Helper processes that must not outlive the process that started them."""

from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with(parent: int) -> None:
    """Have the kernel kill this process (SIGKILL) when ``parent`` ends, whatever ends it
    (a kill -9 included), and end it now if ``parent`` already has. Called first thing in
    the child: a second sender, the parse-ahead process."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the prctl
        os._exit(0)
