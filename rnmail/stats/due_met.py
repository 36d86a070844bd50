"""The share of due times met (``rnmail stats due``): per group of tickets created in the
period (by month and category unless asked otherwise), how many first responses and
resolutions had come due, and how many were on time.

A due time counts once it is decided: met or missed when the ticket was answered (the
first answer, or its closing for a ticket closed without one: a call answered at once) or
resolved (closed), missed when it passed without. A due time still ahead counts nowhere.
The due times are the stored ones (``rnmail.tickets.due``: business time on the figures'
calendar, pending time not counted); merged tickets are left out, as everywhere in the
figures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.models import Ticket, utcnow
from rnmail.stats.figures import (
    Query,
    Table,
    _clock,
    _count,
    _labels,
    _ordered,
    _tickets,
    check_categories,
)

MEASURES = ("response_due", "response_met", "response_met_pct",
            "resolution_due", "resolution_met", "resolution_met_pct")


def due_met(session: Session, config: Config, query: Query, now: datetime | None = None
            ) -> Table:
    check_categories(config, query.exclude_categories)
    now = now or utcnow()
    clock = _clock(session, config, query.period)
    responded = func.coalesce(Ticket.first_response_at, Ticket.closed_at)
    conditions = {
        "response_due": and_(Ticket.due_response_at.is_not(None),
                             or_(responded.is_not(None), Ticket.due_response_at < now)),
        "response_met": and_(responded.is_not(None), responded <= Ticket.due_response_at),
        "resolution_due": and_(Ticket.due_resolution_at.is_not(None),
                               or_(Ticket.closed_at.is_not(None),
                                   Ticket.due_resolution_at < now)),
        "resolution_met": and_(Ticket.closed_at.is_not(None),
                               Ticket.closed_at <= Ticket.due_resolution_at),
    }
    counted = {name: _count(session, clock, query, _tickets(clock, query).where(condition),
                            3600)
               for name, condition in conditions.items()}
    keys = {key: sum(c.get(key, 0) for c in counted.values())
            for c in counted.values() for key in c}
    rows = []
    for raw in _ordered(keys, query.by):
        values: list[int | float | None] = []
        for measure in ("response", "resolution"):
            due = counted[f"{measure}_due"].get(raw, 0)
            met = counted[f"{measure}_met"].get(raw, 0)
            values += [due, met, round(100 * met / due, 1) if due else None]
        rows.append((_labels(query.by, raw), tuple(values)))
    return Table(list(query.by), list(MEASURES), rows, query.period,
                 list(query.exclude_categories))
