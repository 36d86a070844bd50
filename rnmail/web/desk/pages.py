"""What the desk's pages show, read in one transaction each: the queue (``queue``) and a
ticket (``ticket``), with the signed-in member's name.

The queue here is a plain list of the tickets not closed, newest first; the queue proper
(tabs, counts, filters: ``rnmail.tickets.queue``) replaces ``open_tickets`` without
changing the page's handler.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from rnmail.i18n import N_
from rnmail.models import Staff, Ticket
from rnmail.shapes import TicketRow
from rnmail.tickets.views import show_ticket, ticket_rows
from rnmail.vocab import MessageRole, TicketStatus

QUEUE_LIMIT = 200
# A message's role in its ticket (rnmail.vocab.MessageRole), as the desk names it.
ROLES = {
    MessageRole.REQUEST: N_("Request"),
    MessageRole.AUTOMATIC: N_("Automatic reply"),
    MessageRole.NOTE: N_("Internal note"),
    MessageRole.ANSWER: N_("Answer"),
    MessageRole.ACKNOWLEDGEMENT: N_("Acknowledgement"),
    MessageRole.NOTIFICATION: N_("Staff notification"),
    MessageRole.DELEGATION: N_("Delegation"),
}


def member_name(session: Session, email: str) -> str:
    """The signed-in member's name (their address if the row is gone)."""
    return session.scalar(select(Staff.name).where(Staff.email == email)) or email


def member_language(session: Session, email: str) -> str | None:
    return session.scalar(select(Staff.language).where(Staff.email == email))


def open_tickets(session: Session) -> list[TicketRow]:
    """The tickets not closed, newest first (at most ``QUEUE_LIMIT``)."""
    query = (select(Ticket).where(Ticket.status != TicketStatus.CLOSED)
             .order_by(Ticket.id.desc()).limit(QUEUE_LIMIT)
             .options(joinedload(Ticket.assignee), joinedload(Ticket.service)))
    return ticket_rows(session, list(session.scalars(query)))


def queue_page(session: Session, email: str) -> dict[str, Any]:
    return {"me": member_name(session, email), "tickets": open_tickets(session)}


def ticket_page(session: Session, ticket_id: int, email: str) -> dict[str, Any]:
    """The ticket's header and messages (``show_ticket``); NotFound if there is none."""
    return {"me": member_name(session, email), "ticket": show_ticket(session, ticket_id),
            "roles": ROLES}
