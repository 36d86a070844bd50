"""Send in two: a large foreground mailing sent by this process and a forked second one.

One sender's event loop is CPU-bound (aiosmtplib's protocol work, ~250 µs a mail), so on a
machine with two cores a second process sends up to twice as fast with the same number of
connections in all. It is the ``send`` stage twice over the same outbox: the leases keep the
two from sending one row twice, and the second process dies with the first, so a kill -9
leaves the duplicate bound of ``send`` (docs/guarantees.md) as it was.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from dataclasses import replace
from typing import Any, NoReturn

from rnmail.config import Config
from rnmail.db import Database
from rnmail.dispatch.send import Progress, SendReport, send_outbox, send_queued
from rnmail.errors import RnmailError, ServerUnavailable
from rnmail.util.processes import die_with

log = logging.getLogger(__name__)


def send_in_two(db: Database, config: Config, progress: Progress | None) -> SendReport:
    """Send with a forked second process taking half of the connections. ``progress`` sees
    both processes' rows as they are recorded (the second's relayed over a pipe); the report
    counts both.

    PostgreSQL only: on SQLite the two senders' group commits queue for the one write lock
    (the busy handler sleeps), their workers wait for their records, and two processes were
    slower than one (10,000 mails, load 2-3: 9,750th mail at 7.4-7.6 s against 6.5-6.9 s;
    on PostgreSQL 6.6-7.8 s against 8.0-8.2 s). Nor without a second core, Linux or two
    connections: then one process, as ``send_outbox``."""
    share = config.outbox.connections // 2
    if (db.is_sqlite or share == 0 or (os.cpu_count() or 1) < 2
            or sys.platform != "linux"):
        return asyncio.run(send_queued(db, config, progress=progress))
    parent = os.getpid()
    read_end, write_end = os.pipe()
    relay_end, relay_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.close(relay_end)
        die_with(parent)  # left running after a kill -9 it would go on claiming rows
        _send_in_child(config, share, write_end, relay_write if progress else None)
    os.close(write_end)
    os.close(relay_write)
    relay = ProgressRelay(relay_end, progress)
    try:
        report = asyncio.run(_send_here(
            db, _with_connections(config, config.outbox.connections - share), progress, relay))
    finally:
        relay.read_to_end()  # the second process's last rows: it closes its end as it ends
        with os.fdopen(read_end, "rb") as answers:
            answer = answers.read()
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if status != 0 or not answer:  # killed, or it failed: its claimed rows wait for their lease
        raise RnmailError(f"the second sending process ended with status {status} after this "
                          f"one sent {report.sent}: the mails it had claimed are sent after "
                          "their lease")
    child: dict[str, Any] = json.loads(answer)
    if "error" in child:
        raise ServerUnavailable(child["error"])
    return SendReport(sent=report.sent + child["sent"], retried=report.retried + child["deferred"],
                      failed=report.failed + child["failed"])


async def _send_here(db: Database, config: Config, progress: Progress | None,
                     relay: ProgressRelay) -> SendReport:
    """This process's share, relaying the second's progress meanwhile."""
    loop = asyncio.get_running_loop()
    loop.add_reader(relay.fd, relay.read_some)
    try:
        return await send_queued(db, config, progress=progress)
    finally:
        loop.remove_reader(relay.fd)


class ProgressRelay:
    """The parent's end of the second process's progress: lines ``ANNOUNCEMENT STATE``
    (0: not a mailing), passed on to ``progress`` as they come."""

    def __init__(self, fd: int, progress: Progress | None) -> None:
        self.fd = fd
        self.progress = progress
        self.partial = b""
        self.ended = False

    def read_some(self) -> None:
        """What the pipe holds now (the event loop says it is readable). At its end (the
        second process gone, even killed) the loop stops watching it: an ended pipe is
        readable for ever, and would wake the loop again and again."""
        self._take(os.read(self.fd, 65536))
        if self.ended:
            asyncio.get_running_loop().remove_reader(self.fd)

    def read_to_end(self) -> None:
        """Everything until the second process closes its end; then close this one."""
        try:
            while not self.ended:
                self._take(os.read(self.fd, 65536))
        finally:
            os.close(self.fd)

    def _take(self, data: bytes) -> None:
        if not data:
            self.ended = True
            return
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        if self.progress is None:
            return
        for line in lines:
            announcement, _, state = line.decode("ascii").partition(" ")
            self.progress(int(announcement) or None, state)


class ProgressWriter:
    """The second process's progress, written to the parent in small batches: a write a
    mail would cost more than a tenth of what sending it costs."""

    FLUSH_SECONDS = 0.1
    FLUSH_LINES = 64

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lines: list[str] = []
        self.flushed = time.monotonic()

    def __call__(self, announcement: int | None, state: str) -> None:
        self.lines.append(f"{announcement or 0} {state}\n")
        if (len(self.lines) >= self.FLUSH_LINES
                or time.monotonic() - self.flushed >= self.FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        data = "".join(self.lines).encode("ascii")
        self.lines.clear()
        self.flushed = time.monotonic()
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]


def _send_in_child(config: Config, connections: int, answers: int, relay: int | None
                   ) -> NoReturn:
    """The forked process of ``send_in_two``: its own engine (the parent's connections are
    left untouched), its progress on ``relay``, its report as JSON on ``answers``, and no
    exit handlers of the parent (``os._exit``)."""
    status = 70
    try:
        progress = ProgressWriter(relay) if relay is not None else None
        try:
            result: dict[str, Any] = dict(send_outbox(Database.of(config),
                                                      _with_connections(config, connections),
                                                      progress).as_json())
        except ServerUnavailable as exc:
            result = {"error": str(exc)}
        if progress is not None:
            progress.flush()
            os.close(progress.fd)
        with os.fdopen(answers, "wb") as out:
            out.write(json.dumps(result).encode())
        status = 0
    except BaseException:
        log.exception("the second sending process failed")
    finally:
        os._exit(status)


def _with_connections(config: Config, connections: int) -> Config:
    return replace(config, outbox=replace(config.outbox, connections=connections))
