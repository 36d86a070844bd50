"""What the daemon's scheduler does to tickets by the calendar: a pending ticket whose day
came (``pending_until``) is back in the queue.

``wake_pending`` runs every ``[daemon].reminder_seconds`` in each ``rnmail run``. Safe to run
twice and in two instances at once: each ticket is changed in a transaction of its own that
first writes the ticket's row only if it is still pending with its day come, so a second run
waits for the first one's commit, then finds nothing left to do; the change is recorded in
the ticket's history with the system actor ``scheduler``.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import select, update

from rnmail.config import Config
from rnmail.db import Database
from rnmail.models import Ticket
from rnmail.tickets.history import Actor
from rnmail.tickets.lifecycle import local_today, resume
from rnmail.vocab import TicketStatus

log = logging.getLogger(__name__)
SCHEDULER = "scheduler"  # the name the history gives the daemon's scheduler


def wake_pending(db: Database, config: Config, today: date | None = None) -> list[int]:
    """Bring back the pending tickets whose day is ``today`` or past; returns their ids."""
    today = today or local_today(config.helpdesk.zone)
    with db.transaction() as session:
        due = list(session.scalars(select(Ticket.id).where(
            Ticket.status == TicketStatus.PENDING, Ticket.pending_until <= today)
            .order_by(Ticket.id)))
    woken = []
    for ticket_id in due:
        with db.transaction() as session:
            # Write first (the row lock on PostgreSQL, the write lock on SQLite): a second
            # scheduler waits here, then matches no row once this one has committed.
            result = session.execute(
                update(Ticket).where(Ticket.id == ticket_id,
                                     Ticket.status == TicketStatus.PENDING,
                                     Ticket.pending_until <= today)
                .values(updated_at=Ticket.updated_at)
                .execution_options(synchronize_session=False))
            if not getattr(result, "rowcount", 0):
                continue
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
            until = ticket.pending_until
            resume(ticket, Actor.system(SCHEDULER))
        log.info("ticket #%d: back in the queue, it waited until %s", ticket_id, until)
        woken.append(ticket_id)
    return woken
