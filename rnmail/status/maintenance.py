"""Planned maintenance: announce it, remind, mark the start and the end, or cancel it.

The announcement (and a cancellation) is queued at once, in the transaction that records
the maintenance. The later steps are APScheduler jobs in a job store in rnmail's own
database (table ``apscheduler_jobs``), so they survive restarts; a job whose time passed
while no scheduler ran is run late, with a note in the audit log and on the announcement.
No step mails twice: each one's announcement has a unique ``step_key``, checked and written
in the step's transaction; and no timed step runs twice: its audit event, written in that
same transaction, marks it done (``done_steps``), whether it mailed or not. The
components' position during the maintenance does not depend on the jobs at all:
``rnmail.status.components`` derives it from the start and end times; the start and end jobs only
republish the page and send the notices configured in ``[status].maintenance_notices``.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.config import Config
from rnmail.daemon.scheduler import JOB_FUNCTION, job_store_scheduler, start_scheduler
from rnmail.db import Database
from rnmail.directory.groups import recipients
from rnmail.dispatch.announce import Notice, announce
from rnmail.dispatch.preview import Preview, preview_notice
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n import N_
from rnmail.i18n.formats import BRUSSELS, Moment, ZonePhrase, format_time, text_time
from rnmail.models import Announcement, AuditEvent, Maintenance, utcnow
from rnmail.shapes import MaintenanceRow
from rnmail.status.components import maintenance_phase
from rnmail.status.notices import comment_context, component_labels, publish
from rnmail.vocab import TIMED_STEPS, MaintenanceState, MaintenanceStep

log = logging.getLogger(__name__)

LATE = timedelta(minutes=1)  # a step run later than this gets a note


# --------------------------------------------------------------------------- input

_DURATION = re.compile(
    r"^\s*(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*(?:m|min)?)?\s*$",
    re.IGNORECASE)


MAX_DURATION = timedelta(days=366)  # a maintenance or a reminder: longer is a typo


def parse_duration(text: str) -> timedelta:
    """``3h``, ``90m``, ``1h30``, ``1h30m``, ``2d`` → a positive timedelta."""
    match = _DURATION.match(text)
    if not text.strip() or match is None or not any(match.groupdict().values()):
        raise RnmailError.translatable(N_("duration {text}: use e.g. 3h, 90m, 1h30 or 2d"),
                                       text=repr(text))
    if not re.search(r"[dhm]", text, re.IGNORECASE):  # "3": three what? (it was minutes)
        raise RnmailError.translatable(
            N_("duration {text} has no unit: use e.g. 3h, 90m, 1h30 or 2d"), text=repr(text))
    parts = {k: int(v or 0) for k, v in match.groupdict().items()}
    try:
        value = timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"])
    except OverflowError:
        value = timedelta.max
    if value > MAX_DURATION:
        raise RnmailError.translatable(N_("duration {text} is longer than a year"),
                                       text=repr(text))
    if value <= timedelta(0):
        raise RnmailError.translatable(N_("duration {text} must be longer than zero"),
                                       text=repr(text))
    return value


def written_duration(value: timedelta) -> str:
    """A duration as an operator writes it (``8d``, ``1d2h``, ``1h30``, ``45m``)."""
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = f"{days}d" if days else ""
    if hours:
        text += f"{hours}h{minutes:02d}" if minutes else f"{hours}h"
    elif minutes:
        text += f"{minutes}m"
    return text or "0m"


def parse_local_time(text: str, zone: tzinfo = BRUSSELS) -> datetime:
    """``2026-12-05 18:00`` in ``zone`` (``[helpdesk].timezone``), or an ISO time with its
    offset → aware UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RnmailError.translatable(N_("time {text}: use YYYY-MM-DD HH:MM ({zone})"),
                                       text=repr(text), zone=ZonePhrase(zone)) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


# --------------------------------------------------------------------------- notices


def step_time(item: Maintenance, step: str) -> datetime:
    if step == MaintenanceStep.REMINDER:
        assert item.remind_seconds is not None
        return item.starts_at - timedelta(seconds=item.remind_seconds)
    if step == MaintenanceStep.END:
        return item.ends_at
    if step == MaintenanceStep.START:
        return item.starts_at
    if step == MaintenanceStep.ANNOUNCEMENT:
        return item.created_at
    return item.cancelled_at or utcnow()


def step_key(maintenance_id: int, step: str) -> str:
    return f"maintenance:{maintenance_id}:{step}"


def maintenance_notice(config: Config, item: Maintenance, step: str,
                       note: str | None = None) -> Notice:
    minutes = int((item.ends_at - item.starts_at).total_seconds() // 60)

    def context_for(language: str) -> dict[str, Any]:
        return {"step": step, "maintenance_id": item.id,
                "starts_at": format_time(item.starts_at, language, config.helpdesk.zone),
                "ends_at": format_time(item.ends_at, language, config.helpdesk.zone),
                "duration_hours": minutes // 60, "duration_minutes": minutes % 60,
                "components": component_labels(config, list(item.components), language),
                **comment_context(dict(item.comment), language)}

    return Notice(kind=f"maintenance-{step}", template="maintenance", context_for=context_for,
                  step_key=step_key(item.id, step), maintenance_id=item.id, note=note)


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Scheduled:
    maintenance_id: int
    announcement_id: int | None
    recipients: int
    reminder: bool  # False when --remind was not given or its time has already passed


def schedule_maintenance(
    db: Database,
    config: Config,
    operator: str,
    start: datetime,
    duration: timedelta,
    components: list[str],
    groups: list[str],
    remind: timedelta | None,
    comment: dict[str, str],
    long_ok: bool = False,
) -> Scheduled:
    """Record a maintenance, queue its announcement, create its jobs, republish the page.
    A duration over ``[status].max_maintenance_days`` is refused unless ``long_ok`` (the
    operator confirmed it: ``--yes``)."""
    names, reminder = _check_plan(config, start, duration, components, remind, long_ok)
    with db.transaction() as session:
        recipients(session, groups)  # unknown groups: refused before anything is written
        item = Maintenance(starts_at=start, ends_at=start + duration, components=names,
                           groups=groups, comment=comment, created_by=operator,
                           remind_seconds=int(remind.total_seconds()) if reminder and remind
                           else None)
        session.add(item)
        session.flush()
        announcement = announce(session, config, maintenance_notice(config, item,
                                                             MaintenanceStep.ANNOUNCEMENT),
                                groups, operator) if groups else None
        count = announcement.recipients if announcement else 0
        audit.record(session, operator, "maintenance-schedule", {
            "maintenance": item.id, "starts_at": start.isoformat(),
            "ends_at": item.ends_at.isoformat(), "components": names, "groups": groups,
            "reminder": item.remind_seconds, "comment": comment}, recipients=count)
        maintenance_id = item.id
    with job_store_scheduler(db) as scheduler:
        add_jobs(scheduler, db)
    publish(db, config)
    return Scheduled(maintenance_id, announcement.id if announcement else None, count, reminder)


def _check_plan(config: Config, start: datetime, duration: timedelta, components: list[str],
                remind: timedelta | None, long_ok: bool) -> tuple[list[str], bool]:
    """(the components' names, whether a reminder will be sent), or why it is refused."""
    now = utcnow()
    if start <= now:
        raise RnmailError.translatable(N_("the start {time} has passed"),
                                       time=Moment(start, config.helpdesk.zone))
    if is_long(config, duration) and not long_ok:
        raise RnmailError.translatable(
            N_("a maintenance of {duration} is longer than [status].max_maintenance_days "
               "({days} days): give --yes if that is meant"),
            duration=written_duration(duration), days=f"{config.status.max_maintenance_days:g}")
    names = [config.status.component(c).name for c in components] or [
        c.name for c in config.status.components]
    return names, remind is not None and start - remind > now


def is_long(config: Config, duration: timedelta) -> bool:
    """Longer than ``[status].max_maintenance_days``: to be confirmed."""
    return duration > timedelta(days=config.status.max_maintenance_days)


@dataclass(frozen=True)
class Plan:
    """What ``schedule_maintenance`` or ``cancel_maintenance`` would do (nothing written):
    the window, the components, the groups and whom the notice mails."""

    maintenance_id: int | None
    starts_at: datetime
    ends_at: datetime
    components: list[str]
    groups: list[str]
    reminder: bool
    preview: Preview


def preview_schedule(db: Database, config: Config, start: datetime, duration: timedelta,
                     components: list[str], groups: list[str], remind: timedelta | None,
                     comment: dict[str, str], long_ok: bool = False) -> Plan:
    """``schedule_maintenance`` without writing anything: refused as it would be."""
    names, reminder = _check_plan(config, start, duration, components, remind, long_ok)
    item = Maintenance(starts_at=start, ends_at=start + duration, components=names,
                       groups=groups, comment=comment)
    with db.transaction() as session:
        found = preview_notice(session, config, maintenance_notice(
            config, item, MaintenanceStep.ANNOUNCEMENT), groups)
    return Plan(None, start, start + duration, names, groups, reminder, found)


def preview_cancel(db: Database, config: Config, maintenance_id: int) -> Plan:
    """``cancel_maintenance`` without writing anything: refused as it would be."""
    with db.transaction() as session:
        item = cancellable(session, maintenance_id)
        groups = list(item.groups)
        found = preview_notice(session, config, maintenance_notice(
            config, item, MaintenanceStep.CANCELLATION), groups)
        return Plan(item.id, item.starts_at, item.ends_at, list(item.components), groups,
                    False, found)


def cancel_maintenance(db: Database, config: Config, operator: str, maintenance_id: int
                       ) -> Announcement | None:
    """Cancel a maintenance that has not ended: its jobs go, a cancellation notice is sent."""
    with db.transaction() as session:
        item = cancellable(session, maintenance_id)
        item.state, item.cancelled_at = MaintenanceState.CANCELLED, utcnow()
        announcement = announce(session, config,
                                maintenance_notice(config, item, MaintenanceStep.CANCELLATION),
                                list(item.groups), operator) if item.groups else None
        audit.record(session, operator, "maintenance-cancel", {"maintenance": maintenance_id},
                     recipients=announcement.recipients if announcement else 0)
    with job_store_scheduler(db) as scheduler:
        for step in TIMED_STEPS:
            with contextlib.suppress(JobLookupError):
                scheduler.remove_job(job_id(maintenance_id, step))
    publish(db, config)
    return announcement


def cancellable(session: Session, maintenance_id: int) -> Maintenance:
    """The maintenance, if it can still be cancelled (neither cancelled nor ended)."""
    item = _get(session, maintenance_id)
    if item.state == MaintenanceState.CANCELLED:
        raise RnmailError.translatable(N_("maintenance #{id} is already cancelled"),
                                       id=maintenance_id)
    if item.ends_at <= utcnow():
        raise RnmailError.translatable(N_("maintenance #{id} has already ended"),
                                       id=maintenance_id)
    return item


def list_maintenance(session: Session, include_past: bool = False) -> list[MaintenanceRow]:
    now = utcnow()
    query = select(Maintenance).order_by(Maintenance.starts_at, Maintenance.id)
    if not include_past:
        query = query.where(Maintenance.ends_at > now,
                            Maintenance.state == MaintenanceState.SCHEDULED)
    rows: list[MaintenanceRow] = []
    for item in session.scalars(query):
        sent = session.scalars(select(Announcement).where(
            Announcement.maintenance_id == item.id).order_by(Announcement.id)).all()
        rows.append({
            "id": item.id, "state": maintenance_phase(item, now),
            "starts_at": item.starts_at.isoformat(), "ends_at": item.ends_at.isoformat(),
            "components": item.components, "groups": item.groups, "comment": item.comment,
            "reminder_before_seconds": item.remind_seconds, "created_by": item.created_by,
            "notices": [{"step": (a.step_key or "").rsplit(":", 1)[-1], "announcement": a.id,
                         "queued_at": a.created_at.isoformat(), "recipients": a.recipients,
                         "note": a.note} for a in sent],
        })
    return rows


def _get(session: Session, maintenance_id: int) -> Maintenance:
    item = session.get(Maintenance, maintenance_id)
    if item is None:
        raise NotFound.translatable(N_("no maintenance #{id}"), id=maintenance_id)
    return item


# --------------------------------------------------------------------------- steps


def run_step(db: Database, config: Config, maintenance_id: int, step: str,
             now: datetime | None = None) -> str:
    """Carry out one timed step; returns what happened, for the log. Safe to run twice."""
    now = now or utcnow()
    with db.transaction() as session:
        # Write first: a second scheduler running the same step waits here until this one
        # commits, then finds it done; on SQLite the write lock is taken up front, so the
        # transaction never has to upgrade a read snapshot another writer made stale (which
        # fails at once with "database is locked", busy timeout or not).
        session.execute(update(Maintenance).where(Maintenance.id == maintenance_id)
                        .values(state=Maintenance.state)
                        .execution_options(synchronize_session=False))
        item = session.get(Maintenance, maintenance_id)
        if item is None or item.state == MaintenanceState.CANCELLED:
            return "nothing to do (cancelled or deleted)"
        if (item.id, step) in done_steps(session, [item]):
            return "already done"
        due = step_time(item, step)
        late = now - due
        note = None
        if late > LATE:
            note = (f"run {int(late.total_seconds() // 60)} min late: no scheduler was "
                    f"running at {text_time(due, config.helpdesk.zone)}")
        skip = ((step == MaintenanceStep.REMINDER and now >= item.starts_at)
                or (step == MaintenanceStep.START and now >= item.ends_at))
        wanted = (step in config.status.maintenance_notices
                  or step == MaintenanceStep.REMINDER)
        announcement = None
        if wanted and not skip and item.groups:
            announcement = announce(session, config,
                                    maintenance_notice(config, item, step, note),
                                    list(item.groups), "scheduler")
        done = session.scalar(select(Announcement.id).where(
            Announcement.step_key == step_key(item.id, step)))
        outcome = ("skipped: too late to be useful" if skip else
                   f"announcement #{announcement.id}" if announcement else
                   "already sent" if done else "page updated")
        audit.record(session, "scheduler", f"maintenance-{step}", {
            "maintenance": item.id, "outcome": outcome, "note": note,
            "late_seconds": max(0, int(late.total_seconds()))},
            recipients=announcement.recipients if announcement else None)
    if note:
        log.warning("maintenance %d %s: %s", maintenance_id, step, note)
    publish(db, config)
    log.info("maintenance %d %s: %s", maintenance_id, step, outcome)
    return outcome


def done_steps(session: Session, items: list[Maintenance]) -> set[tuple[int, str]]:
    """(maintenance id, step) of the timed steps already carried out. Each leaves its audit
    event, written in the step's own transaction, whether it mailed, skipped or only
    republished the page: a step without a notice has no announcement to show for it."""
    if not items:
        return set()
    ids = {item.id for item in items}
    rows = session.execute(select(AuditEvent.action, AuditEvent.detail).where(
        AuditEvent.actor == "scheduler",
        AuditEvent.action.in_([f"maintenance-{step}" for step in TIMED_STEPS]),
        AuditEvent.at >= min(item.created_at for item in items)))
    return {(detail["maintenance"], action.removeprefix("maintenance-"))
            for action, detail in rows if detail.get("maintenance") in ids}


# --------------------------------------------------------------------------- jobs


def job_id(maintenance_id: int, step: str) -> str:
    return f"maintenance-{maintenance_id}-{step}"


def add_jobs(scheduler: BaseScheduler, db: Database) -> int:
    """Make sure every timed step still to come has its job (after a crash between the
    commit of a maintenance and the writing of its jobs too); returns how many were added."""
    now = utcnow()
    added = 0
    with db.transaction() as session:
        items = list(session.scalars(select(Maintenance).where(
            Maintenance.state == MaintenanceState.SCHEDULED,
            Maintenance.ends_at > now - timedelta(days=1))))
        sent = set(session.scalars(select(Announcement.step_key).where(
            Announcement.maintenance_id.in_([i.id for i in items]))))
        done = done_steps(session, items)
    for item in items:
        for step in TIMED_STEPS:
            if step == MaintenanceStep.REMINDER and item.remind_seconds is None:
                continue
            if (step_key(item.id, step) in sent or (item.id, step) in done
                    or scheduler.get_job(job_id(item.id, step))):
                continue
            due = step_time(item, step)
            if due < now - timedelta(hours=1) and step != "end":
                continue  # long past and without a notice to send: nothing left to do
            scheduler.add_job(JOB_FUNCTION, "date", run_date=max(due, now),
                              # plain values: the job store pickles its arguments
                              args=[item.id, step.value], id=job_id(item.id, step),
                              replace_existing=True)
            added += 1
    return added


def start_maintenance_jobs(db: Database, config: Config, scheduler: BaseScheduler,
                           after_step: Callable[[], object] | None = None) -> BaseScheduler:
    """Start ``scheduler`` on this installation's job store, running the maintenance steps
    as they fall due (``after_step`` after each) and repairing missing jobs."""
    return start_scheduler(db, scheduler, StepRunner(db, config, after_step), add_jobs)


@dataclass(frozen=True)
class StepRunner:
    """Runs a stored job's step with what this process loaded."""

    db: Database
    config: Config
    after_step: Callable[[], object] | None = None

    def __call__(self, maintenance_id: int, step: str) -> None:
        run_step(self.db, self.config, maintenance_id, step)
        if self.after_step is not None:
            self.after_step()
