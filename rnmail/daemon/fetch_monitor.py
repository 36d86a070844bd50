"""The fetch monitor: the staff told once when a mailbox has not been read for too long,
and once when it is read again (as FreeScout's FetchMonitor does).

The daemon's poller reports each pass here. The first failure of a mailbox is recorded
with its time (``FetchFailure``, one row per mailbox, in the database: a restart does not
forget it and another instance taking the mailbox over sees it); a failure that has lasted
``[daemon].fetch_alert_minutes`` queues the alert, the first pass that works again queues
the recovery (only if the alert went) and deletes the row. Each mail is a step claimed in
``scheduled_step`` under the mailbox and the time of the first failure
(``fetch-alert:info:2026-12-06T09:12:00+00:00``), in the same transaction as its outbox
rows, so neither goes twice. Every active staff member gets them, in their language
(template ``fetch_alert``); the log lines and metrics of the daemon stay as they are.

Next: the outbox (``dispatch.send``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.db import Database
from rnmail.dispatch.compose import Draft, compose
from rnmail.dispatch.outbox import enqueue
from rnmail.dispatch.render import render
from rnmail.models import FetchFailure, Staff, utcnow
from rnmail.util.once import claim_step, step_done

log = logging.getLogger("rnmail.daemon")
PURPOSE = "fetch-alert"  # the outbox purpose of both mails
MAX_ERROR = 2000


def fetch_failed(db: Database, config: Config, mailbox: str, error: str,
                 now: datetime | None = None) -> int:
    """Record a failed pass of ``mailbox``; queue the alert when the failure has lasted
    long enough. Returns the number of alert mails queued (0 almost always)."""
    now = now or utcnow()
    with db.transaction() as session:
        failure = session.get(FetchFailure, mailbox)
        if failure is None:
            failure = _first_failure(session, mailbox, error, now)
        else:
            failure.error = error[:MAX_ERROR]
        minutes = config.daemon.fetch_alert_minutes
        if not minutes or now - failure.since < timedelta(minutes=minutes):
            return 0
        if not claim_step(session, _key("fetch-alert", failure)):
            return 0
        queued = _tell_staff(session, config, failure, recovered=False, now=now)
    log.warning("mailbox %s: fetching has failed since %s: alert mailed to %d staff member(s)",
                mailbox, failure.since.isoformat(), queued)
    return queued


def fetch_worked(db: Database, config: Config, mailbox: str,
                 now: datetime | None = None) -> int:
    """Record a pass of ``mailbox`` that worked: the failure, if any, is over; the staff
    told if they had been alerted. Returns the number of recovery mails queued."""
    now = now or utcnow()
    with db.transaction() as session:
        failure = session.get(FetchFailure, mailbox)
        if failure is None:
            return 0
        queued = 0
        if (step_done(session, _key("fetch-alert", failure))
                and claim_step(session, _key("fetch-recovered", failure))):
            queued = _tell_staff(session, config, failure, recovered=True, now=now)
        session.delete(failure)
    if queued:
        log.warning("mailbox %s: fetching recovered: mailed to %d staff member(s)", mailbox,
                    queued)
    return queued


def _first_failure(session: Session, mailbox: str, error: str,
                   now: datetime) -> FetchFailure:
    """The row of a failure that starts now, or the one another instance wrote meanwhile."""
    try:
        with session.begin_nested():
            failure = FetchFailure(mailbox=mailbox, since=now, error=error[:MAX_ERROR])
            session.add(failure)
            session.flush()
        return failure
    except IntegrityError:
        found = session.scalars(select(FetchFailure).where(FetchFailure.mailbox == mailbox)
                                .execution_options(populate_existing=True)).one()
        return found


def _key(step: str, failure: FetchFailure) -> str:
    return f"{step}:{failure.mailbox}:{failure.since.isoformat(timespec='seconds')}"


def _tell_staff(session: Session, config: Config, failure: FetchFailure, recovered: bool,
                now: datetime) -> int:
    hd = config.helpdesk
    staff = list(session.scalars(select(Staff).where(Staff.active.is_(True))
                                 .order_by(Staff.id)))
    if not staff:
        log.warning("mailbox %s: no active staff member to tell that fetching %s",
                    failure.mailbox, "recovered" if recovered else "fails")
    for member in staff:
        rendered = render("fetch_alert", member.language, hd.default_language, {
            "mailbox": failure.mailbox, "since": failure.since.astimezone(hd.zone),
            "until": now.astimezone(hd.zone), "error": failure.error,
            "recovered": recovered, "helpdesk_name": hd.name,
        }, helpdesk=hd)
        enqueue(session, compose(hd, Draft(to=[member.email], rendered=rendered,
                                           kind="fetch", generated=True)),
                purpose=PURPOSE)
    return len(staff)
