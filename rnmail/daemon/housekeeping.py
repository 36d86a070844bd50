"""The daemon's periodic jobs besides mail: keep the public pages current, tidy up, remind.

- ``publish_pages`` every ``[daemon].publish_seconds``: the status page (a maintenance
  window opens and closes by the clock, not by a command) and the FAQ pages (an entry
  edited or published with ``rnmail faq`` appears without another command). Unchanged pages
  are not rewritten.
- ``release_free_memory`` every minute: freed heap pages back to the system.
- ``housekeeping`` every ``[daemon].housekeeping_hours``: temporary files left by a
  process killed between write and rename, SQLite's query planner statistics and WAL file,
  and one log line each for what waits for a person (held quarantine, failed mail).
"""

from __future__ import annotations

import ctypes
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import func, select

from rnmail.auth.sessions import purge_expired
from rnmail.config import Config
from rnmail.db import Database
from rnmail.models import OutboxMessage, QuarantinedMessage, utcnow
from rnmail.status.notices import publish
from rnmail.tickets import faq
from rnmail.util.publicfiles import remove_stale_temporaries

log = logging.getLogger("rnmail.housekeeping")


def publish_pages(db: Database, config: Config) -> None:
    """Regenerate the status page and the FAQ pages from the database as it is now."""
    publish(db, config)
    with db.transaction() as session:
        faq.publish(session, config)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    return cast(Callable[[int], int], trim)


_MALLOC_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Hand the heap pages that are free again back to the system (glibc ``malloc_trim``).

    Python frees the objects of a pass or a mailing, but glibc keeps the pages in the heap
    and the per-thread arenas of the worker threads, so without this a months-long daemon's
    RSS creeps up with fragmentation even though nothing leaks. Cheap: a few ms.

    The ``re`` module's cache is emptied first: imaplib compiles a tag pattern of its own
    for every connection, so a pass per IDLE wake-up fills it with 512 dead patterns.
    """
    re.purge()
    if _MALLOC_TRIM is None:
        return False
    return bool(_MALLOC_TRIM(0))


@dataclass
class HousekeepingReport:
    temporaries_removed: int = 0
    sessions_ended: int = 0
    quarantine_held: int = 0
    quarantine_oldest: datetime | None = None
    quarantine_deleted_after: datetime | None = None  # the oldest's, by the retention run
    failed_last_day: int = 0
    notes: list[str] = field(default_factory=list)


def housekeeping(db: Database, config: Config) -> HousekeepingReport:
    """Tidy up and report what waits for a person; safe to run by several instances."""
    report = HousekeepingReport()
    for folder in {config.status.public_dir, config.helpdesk.public_dir,
                   config.helpdesk.attachments_dir}:
        report.temporaries_removed += remove_stale_temporaries(folder)
    report.sessions_ended = purge_expired(db, config.web)
    with db.transaction() as session:
        report.quarantine_held, report.quarantine_oldest = session.execute(
            select(func.count(), func.min(QuarantinedMessage.created_at))
            .where(QuarantinedMessage.state == "held")).one()
        report.failed_last_day = session.scalar(
            select(func.count()).select_from(OutboxMessage)
            .where(OutboxMessage.state == "failed",
                   OutboxMessage.created_at >= utcnow() - timedelta(days=1))) or 0
    if report.quarantine_oldest is not None:
        from rnmail.privacy.retention import quarantine_deadline

        report.quarantine_deleted_after = quarantine_deadline(
            report.quarantine_oldest, config.privacy.quarantine_months)
    if db.is_sqlite and not db.sqlite_upkeep():
        report.notes.append("the WAL file could not be truncated (readers in the way)")
    log_report(report)
    return report


def log_report(report: HousekeepingReport) -> None:
    if report.temporaries_removed:
        log.info("housekeeping: %d stale temporary file(s) removed", report.temporaries_removed)
    if report.sessions_ended:
        log.info("housekeeping: %d expired admin session(s) deleted", report.sessions_ended)
    if report.quarantine_held:
        oldest, deleted = report.quarantine_oldest, report.quarantine_deleted_after
        log.warning("housekeeping: %d message(s) held in quarantine, the oldest since %s%s "
                    "(rnmail quarantine list)", report.quarantine_held,
                    f"{oldest:%Y-%m-%d %H:%M} UTC" if oldest else "?",
                    f", deleted after {deleted:%Y-%m-%d %H:%M} UTC unless retried"
                    if deleted else "")
    if report.failed_last_day:
        log.warning("housekeeping: %d outgoing mail(s) failed in the last 24 h "
                    "(rnmail outbox list --state failed)", report.failed_last_day)
    for note in report.notes:
        log.info("housekeeping: %s", note)
