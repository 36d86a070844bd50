"""Nothing stalls: what the daemon's scheduler does about tickets that wait too long.

- ``remind_services``: a delegated ticket whose service has not answered gets a reminder in
  the delegation's thread every ``[reminders].service_days`` business days, at most
  ``service_reminders`` times; one period later its assignee (or the team) is told it is
  overdue.
- ``warn_due``: a ticket within ``warn_before`` business time of its due time (``[due]``,
  ``rnmail.tickets.due``) warns its assignee (or the team), once per due time; one whose
  due time has passed, still open, tells them it is late, once per due time (within
  ``LATE_WITHIN`` of it: a daemon that was down does not tell of last month's).
- ``close_unanswered``: a pending ticket of a category of ``[[reminders.autoclose]]``
  whose requester has not answered for its time is closed with a last mail to them.

Time is business time on the figures' calendar (opening hours, Belgian public holidays,
the help desk's closed days): a weekend does not make a service late. Each step is claimed
by its key (``rnmail.util.once.claim_step``) in the transaction that queues its mail and
writes its history entry, so no restart, retry or second instance does it twice; the keys
name the delegation (or due time, or pending spell) they belong to, so a new delegation
starts a new count. All take ``now`` so that the tests can move the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.db import Database
from rnmail.dispatch.answer import reply_in_thread, requester_address
from rnmail.dispatch.compose import Draft, compose
from rnmail.dispatch.outbox import enqueue
from rnmail.dispatch.render import render
from rnmail.models import (
    OutboxMessage,
    ScheduledStep,
    Service,
    Staff,
    Ticket,
    TicketEvent,
    utcnow,
)
from rnmail.stats.hours import Calendar
from rnmail.tickets.due import calendar
from rnmail.tickets.history import Actor, record_change
from rnmail.tickets.lifecycle import close
from rnmail.tickets.reminders import SCHEDULER, wake_pending
from rnmail.util.once import claim_step
from rnmail.vocab import TicketChange, TicketStatus

log = logging.getLogger(__name__)
Step = TypeVar("Step", bound=tuple[Any, ...])


def run_reminders(db: Database, config: Config) -> None:
    """The daemon's ``[daemon].reminder_seconds`` job: every step of ``STEPS``, each on its
    own: one that fails (the database, a bug) does not keep the others from running. The
    first failure is raised once they have all run, for the daemon's log line."""
    failures: list[Exception] = []
    for step in STEPS:
        try:
            step(db, config)
        except Exception as exc:
            log.debug("reminders: %s failed: %s", step.__name__, exc)
            failures.append(exc)
    if failures:
        raise failures[0]


def business_calendar(config: Config, now: datetime) -> Calendar:
    return calendar(config.stats, now.year - 2, now.year + 1)


def stamp(moment: datetime) -> str:
    """A moment as a step key names it: seconds since the epoch, stable across databases."""
    return str(int(moment.timestamp()))


def remind_services(db: Database, config: Config, now: datetime | None = None) -> list[str]:
    """Send the reminders and overdue notices that are due; returns the keys of the steps
    done (``service-reminder:ID:DELEGATED:N``, ``service-overdue:ID:DELEGATED``)."""
    now = now or utcnow()
    cal = business_calendar(config, now)
    answered = exists().where(TicketEvent.ticket_id == Ticket.id,
                              TicketEvent.what == TicketChange.SERVICE_ANSWER.value,
                              TicketEvent.at >= Ticket.delegated_at)
    with db.reading() as session:
        waiting = session.execute(
            select(Ticket.id, Ticket.delegated_at, Service.name)
            .join(Service, Service.id == Ticket.service_id)
            .where(Ticket.status == TicketStatus.DELEGATED, Ticket.delegated_at.is_not(None),
                   ~answered)
            .order_by(Ticket.id)).all()
    rules = config.reminders
    due: list[tuple[int, datetime, int, str]] = []
    for ticket_id, delegated_at, service in waiting:
        assert delegated_at is not None  # selected so
        period = rules.service_days_for(service) * cal.length
        periods = cal.seconds(delegated_at, now) // period
        if periods < 1:
            continue
        base = f"{ticket_id}:{stamp(delegated_at)}"
        key = (f"service-reminder:{base}:{periods}" if periods <= rules.service_reminders
               else f"service-overdue:{base}")
        due.append((ticket_id, delegated_at, periods, key))
    done = []
    for ticket_id, delegated_at, periods, key in undone(db, due):
        with db.transaction() as session:
            ticket = session.get(Ticket, ticket_id)
            if (ticket is None or ticket.status != TicketStatus.DELEGATED
                    or ticket.delegated_at != delegated_at
                    or not claim_step(session, key, ticket_id)):
                continue
            if key.startswith("service-reminder:"):
                _remind_service(session, config, ticket, periods)
            else:
                _tell_overdue(session, config, ticket)
        log.info("ticket #%d: %s", ticket_id, key)
        done.append(key)
    return done


def undone(db: Database, steps: list[Step]) -> list[Step]:
    """The steps (their key last) not done yet, read in one query per thousand: a ticket
    overdue at its service stays a candidate at every run, for weeks."""
    left = []
    for first in range(0, len(steps), 1000):
        chunk = steps[first:first + 1000]
        with db.reading() as session:
            done = set(session.scalars(select(ScheduledStep.key).where(
                ScheduledStep.key.in_([step[-1] for step in chunk]))))
        left += [step for step in chunk if step[-1] not in done]
    return left


def _remind_service(session: Session, config: Config, ticket: Ticket, number: int) -> None:
    """The ``number``th reminder to the ticket's service, in the delegation's thread and,
    like the delegation, signed for the service: their reply to it threads to the ticket."""
    service = ticket.service
    assert service is not None
    hd = config.helpdesk
    delegation = session.scalar(
        select(OutboxMessage.message_id)
        .where(OutboxMessage.ticket_id == ticket.id, OutboxMessage.purpose == "delegation",
               OutboxMessage.to_addr == service.email)
        .order_by(OutboxMessage.id.desc()).limit(1))
    rendered = render("service_reminder", service.language or hd.default_language,
                      hd.default_language, {
        "tag": hd.tag, "ticket": ticket, "service": service, "number": number,
        "delegated_at": ticket.delegated_at,
    }, helpdesk=hd)
    draft = Draft(to=[service.email], rendered=rendered, kind=f"s{service.id}",
                  ticket_id=ticket.id, generated=True, in_reply_to=delegation,
                  references=[delegation] if delegation else [])
    enqueue(session, compose(hd, draft), purpose="service-reminder", ticket=ticket,
            kind="notification")
    record_change(ticket, TicketChange.SERVICE_REMINDER, None, f"{service.name} #{number}",
                  Actor.system(SCHEDULER))


def _tell_overdue(session: Session, config: Config, ticket: Ticket) -> None:
    service = ticket.service
    assert service is not None
    told = alert_staff(session, config, ticket, "overdue", {"service": service})
    record_change(ticket, TicketChange.OVERDUE, None, service.name, Actor.system(SCHEDULER))
    log.info("ticket #%d: overdue at %s, told %s", ticket.id, service.name, ", ".join(told))


def alert_staff(session: Session, config: Config, ticket: Ticket, event: str,
                context: dict[str, object]) -> list[str]:
    """Mail ``event`` about ``ticket`` to its assignee, or to every staff member when it
    has none (or theirs left); each mail signed for its reader, so that replying to it
    acts on the ticket as a notification does. Returns the addresses."""
    staff: Sequence[Staff]
    if ticket.assignee is not None and ticket.assignee.active:
        staff = [ticket.assignee]
    else:
        staff = list(session.scalars(select(Staff).where(Staff.active.is_(True))
                                     .order_by(Staff.id)))
    hd = config.helpdesk
    for member in staff:
        rendered = render("staff_alert", member.language, hd.default_language, {
            "tag": hd.tag, "ticket": ticket, "event": event, **context,
        }, helpdesk=hd)
        draft = Draft(to=[member.email], rendered=rendered, kind=f"n{member.id}",
                      ticket_id=ticket.id, generated=True)
        enqueue(session, compose(hd, draft), purpose=f"alert-{event}", ticket=ticket,
                kind="notification")
    return [member.email for member in staff]


# How long after a due time a ticket still open is told late: the next runs of the scheduler
# (every few minutes), or the first after a daemon's stop; never the whole backlog at once.
LATE_WITHIN = timedelta(days=1)


def warn_due(db: Database, config: Config, now: datetime | None = None) -> list[str]:
    """Warn of the due times within ``[reminders].warn_before`` business time from now,
    and tell of those passed (within ``LATE_WITHIN``) of tickets still open, each once;
    returns the step keys."""
    if not config.reminders.warn:
        return []
    now = now or utcnow()
    cal = business_calendar(config, now)
    until = cal.moment(cal.business(now) + config.reminders.warn_before.seconds(cal.length))
    with db.reading() as session:
        near = session.execute(
            select(Ticket.id, Ticket.due_at)
            .where(Ticket.due_at > now - LATE_WITHIN, Ticket.due_at <= until,
                   Ticket.status.not_in([TicketStatus.PENDING, TicketStatus.CLOSED]))
            .order_by(Ticket.due_at)).all()
    steps = [(ticket_id, due_at,
              f"{'due-warning' if due_at > now else 'due-late'}:{ticket_id}:{stamp(due_at)}")
             for ticket_id, due_at in near if due_at is not None]
    done = []
    for ticket_id, due_at, key in undone(db, steps):
        late = due_at <= now
        with db.transaction() as session:
            ticket = session.get(Ticket, ticket_id)
            if (ticket is None or ticket.due_at != due_at
                    or not claim_step(session, key, ticket_id)):
                continue
            which = "response" if ticket.first_response_at is None and (
                ticket.due_response_at == due_at) else "resolution"
            alert_staff(session, config, ticket, "late" if late else "due",
                        {"due_at": due_at, "which": which})
            record_change(ticket, TicketChange.DUE_MISSED if late else TicketChange.DUE_WARNING,
                          None, which, Actor.system(SCHEDULER))
        log.info("ticket #%d: %s due at %s, %s", ticket_id, which, due_at.isoformat(),
                 "late: told" if late else "warned")
        done.append(key)
    return done


def close_unanswered(db: Database, config: Config, now: datetime | None = None) -> list[str]:
    """Close the pending tickets whose requester has not answered for their category's
    ``[[reminders.autoclose]]`` time, with a last mail in their language (none for a
    requester without a mail address: a phone call); returns the step keys."""
    rules = config.reminders
    if not rules.autoclose:
        return []
    now = now or utcnow()
    cal = business_calendar(config, now)
    went_pending = (select(TicketEvent.at).where(
        TicketEvent.ticket_id == Ticket.id, TicketEvent.what == TicketChange.STATUS.value,
        TicketEvent.new == TicketStatus.PENDING.value)
        .order_by(TicketEvent.id.desc()).limit(1).scalar_subquery())
    with db.reading() as session:
        waiting = session.execute(
            select(Ticket.id, Ticket.category, went_pending)
            .where(and_(Ticket.status == TicketStatus.PENDING, Ticket.pending_until.is_(None)))
            .order_by(Ticket.id)).all()
    steps = []
    for ticket_id, category, since in waiting:
        after = rules.autoclose_after(category)
        if after is None or since is None:
            continue
        if cal.seconds(since, now) >= after.seconds(cal.length):
            steps.append((ticket_id, since, after, f"autoclose:{ticket_id}:{stamp(since)}"))
    done = []
    for ticket_id, since, after, key in undone(db, steps):
        with db.transaction() as session:
            ticket = session.get(Ticket, ticket_id)
            if (ticket is None or ticket.status != TicketStatus.PENDING
                    or ticket.pending_until is not None
                    or not claim_step(session, key, ticket_id)):
                continue
            actor = Actor.system(SCHEDULER)
            if requester_address(config, ticket) is not None:
                reply_in_thread(session, config, ticket, "autoclose",
                                {"pending_since": since, "after": str(after)},
                                purpose="autoclose", author=config.helpdesk.name)
            record_change(ticket, TicketChange.AUTO_CLOSED, None, str(after), actor)
            close(ticket, actor)
        log.info("ticket #%d: closed, no answer from the requester since %s", ticket_id,
                 since.isoformat())
        done.append(key)
    return done


# What ``run_reminders`` runs, in this order (a woken ticket is then counted as open).
STEPS: tuple[Callable[[Database, Config], object], ...] = (
    wake_pending, remind_services, warn_due, close_unanswered)
