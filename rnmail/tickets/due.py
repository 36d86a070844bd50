"""Due times (SLA): when a ticket must have its first answer and be resolved.

The targets are ``[due]`` (per category and/or requester type, a default for the rest), in
business time on the figures' calendar (``rnmail.stats.hours.Calendar``: ``[stats]``
opening hours, Belgian public holidays, the help desk's closed days). The first response is
due ``first_response`` business time after the ticket was opened; the resolution
``resolution`` after it, plus the business time the clock stood still: while the ticket was
pending (waiting for the requester) or closed (before a reopening), read from the status
events of its history (``rnmail.tickets.history``).

Why stored columns rather than computed at each read: the queue sorts and counts by due time
over 200,000 tickets, which only an index can do fast (``ix_ticket_queue_due``), and a due
time needs the ticket's history and the holidays, which SQL cannot cheaply work out. They are
kept right by ``DueRules.before_flush`` (``rnmail.db.Database`` listens with it when built
with the config): a new ticket, or one whose status, category, requester type or first
response changed, has them worked out again in the same transaction. ``recompute`` does it
for every ticket, after the targets changed (``rnmail ticket due --recompute``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.unitofwork import UOWTransaction

from rnmail.config import Config, StatsConfig
from rnmail.models import Ticket, TicketEvent, utcnow
from rnmail.shapes import DueJson
from rnmail.stats.hours import Calendar
from rnmail.vocab import TicketChange, TicketStatus

STOPPED = frozenset({TicketStatus.PENDING.value, TicketStatus.CLOSED.value})
SOON = timedelta(hours=1)  # "due within the hour": flagged in the queue
# what the due times depend on: a flush that changes one of these works them out again
DEPENDS = ("status", "category", "requester_type", "first_response_at")


@dataclass(frozen=True)
class DueTimes:
    first_response: datetime
    resolution: datetime
    """As it stood when the clock last stopped, while it stands still."""
    next: datetime | None
    """The earlier of the two still to meet while the clock runs; None when pending or
    closed."""


@lru_cache(maxsize=8)
def calendar(cfg: StatsConfig, first_year: int, last_year: int) -> Calendar:
    """The figures' calendar for those years, the public holidays worked out once."""
    return Calendar(cfg, first_year, last_year)


def stopped_business(calendar: Calendar,
                     changes: Iterable[tuple[datetime, str | None, str | None]]) -> int:
    """Business seconds the resolution clock stood still, from the status changes (when,
    old, new) in order: the intervals from a change into pending or closed to the next
    change out of them; an interval not ended yet does not count (the clock stands)."""
    total, since = 0, None
    for at, _old, new in changes:
        stopped = new in STOPPED
        if stopped and since is None:
            since = at
        elif not stopped and since is not None:
            total += calendar.seconds(since, at)
            since = None
    return total


class DueRules:
    """The targets of ``[due]`` on the calendar of ``[stats]``."""

    def __init__(self, config: Config) -> None:
        self.due = config.due
        self.stats = config.stats

    def calendar(self, opened: datetime) -> Calendar:
        return calendar(self.stats, opened.year - 1, max(opened.year, utcnow().year) + 2)

    def times(self, ticket: Ticket,
              changes: Sequence[tuple[datetime, str | None, str | None]]) -> DueTimes:
        """A ticket's due times, given its status changes (``changes``) in order."""
        opened = ticket.created_at or utcnow()
        cal = self.calendar(opened)
        response, resolution = self.due.spans(ticket.category, ticket.requester_type)
        start = cal.business(opened)
        first = cal.moment(start + response.seconds(cal.length))
        resolved = cal.moment(start + resolution.seconds(cal.length)
                              + stopped_business(cal, changes))
        following = None
        if ticket.status not in STOPPED:
            following = resolved if ticket.first_response_at else min(first, resolved)
        return DueTimes(first, resolved, following)

    def apply(self, ticket: Ticket,
              changes: Sequence[tuple[datetime, str | None, str | None]]) -> None:
        due = self.times(ticket, changes)
        ticket.due_response_at = due.first_response
        ticket.due_resolution_at = due.resolution
        ticket.due_at = due.next

    def before_flush(self, session: Session, flush_context: UOWTransaction,
                     instances: object) -> None:
        """Work the due times out again for the tickets this flush adds or changes in what
        they depend on."""
        touched = [t for t in session.new if isinstance(t, Ticket)]
        touched += [t for t in session.dirty if isinstance(t, Ticket) and any(
            inspect(t).attrs[name].history.has_changes() for name in DEPENDS)]
        if not touched:
            return
        pending: dict[int, list[TicketEvent]] = {}
        for event in session.new:
            if isinstance(event, TicketEvent) and event.what == TicketChange.STATUS.value:
                pending.setdefault(id(event.__dict__.get("ticket")), []).append(event)
        stored = [t.id for t in touched if t.id is not None]
        with session.no_autoflush:
            earlier = _status_changes(session, stored)
        now = utcnow()
        for ticket in touched:
            changes = list(earlier.get(ticket.id, [])) if ticket.id is not None else []
            changes += [(e.at or now, e.old, e.new) for e in pending.get(id(ticket), [])]
            self.apply(ticket, changes)


def _status_changes(session: Session, ids: Sequence[int]
                    ) -> dict[int, list[tuple[datetime, str | None, str | None]]]:
    found: dict[int, list[tuple[datetime, str | None, str | None]]] = {}
    if not ids:
        return found
    rows = session.execute(
        select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.old, TicketEvent.new)
        .where(TicketEvent.ticket_id.in_(ids), TicketEvent.what == TicketChange.STATUS.value)
        .order_by(TicketEvent.ticket_id, TicketEvent.id))
    for ticket_id, at, old, new in rows:
        found.setdefault(ticket_id, []).append((at, old, new))
    return found


def recompute(session: Session, rules: DueRules, batch: int = 500) -> int:
    """Every ticket's due times worked out again (after the targets changed, or for the
    tickets stored before migration 0018); returns how many tickets there are."""
    ids = list(session.scalars(select(Ticket.id).order_by(Ticket.id)))
    for first in range(0, len(ids), batch):
        chunk = ids[first:first + batch]
        changes = _status_changes(session, chunk)
        for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(chunk))):
            rules.apply(ticket, changes.get(ticket.id, []))
        session.flush()
    return len(ids)


def due_json(ticket: Ticket, now: datetime | None = None) -> DueJson:
    """A ticket's ``due`` fields as ``ticket show --json`` and ``ticket list --json`` print
    them: ``late`` when its next due time has passed, ``soon`` within the hour;
    ``paused`` while the resolution clock stands still (pending)."""
    now = now or datetime.now(UTC)
    following: Any = ticket.due_at
    return {
        "first_response": _iso(ticket.due_response_at),
        "first_response_met": (None if ticket.first_response_at is None
                               or ticket.due_response_at is None
                               else ticket.first_response_at <= ticket.due_response_at),
        "resolution": _iso(ticket.due_resolution_at),
        "next": _iso(following),
        "paused": ticket.status == TicketStatus.PENDING.value,
        "late": following is not None and following < now,
        "soon": following is not None and now <= following < now + SOON,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
