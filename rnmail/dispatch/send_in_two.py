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
    this process's rows; the report counts both.

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
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        die_with(parent)  # left running after a kill -9 it would go on claiming rows
        _send_in_child(config, share, write_end)
    os.close(write_end)
    try:
        report = asyncio.run(send_queued(db, _with_connections(config,
                                                               config.outbox.connections - share),
                                         progress=progress))
    finally:
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


def _send_in_child(config: Config, connections: int, answers: int) -> NoReturn:
    """The forked process of ``send_in_two``: its own engine (the parent's connections are
    left untouched), its report as JSON on ``answers``, and no exit handlers of the parent
    (``os._exit``)."""
    status = 70
    try:
        try:
            result: dict[str, Any] = dict(send_outbox(Database.of(config),
                                                      _with_connections(config, connections))
                                          .as_json())
        except ServerUnavailable as exc:
            result = {"error": str(exc)}
        with os.fdopen(answers, "wb") as out:
            out.write(json.dumps(result).encode())
        status = 0
    except BaseException:
        log.exception("the second sending process failed")
    finally:
        os._exit(status)


def _with_connections(config: Config, connections: int) -> Config:
    return replace(config, outbox=replace(config.outbox, connections=connections))
