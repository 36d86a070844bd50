"""The requester card of a ticket: who asked — their directory entry when they are a user
of the directory (organisation, type, access status since when, when their key was sent),
else what the ticket knows — with their other tickets and their organisation's.

The lists are the latest ``limit`` with the count of all, so a municipality with years of
tickets costs two short indexed reads each: by ``ticket.requester`` and, for the
organisation, by ``ticket.requester_org`` or the requester being one of its users.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from rnmail.directory.people import directory_user_for, user_detail
from rnmail.models import DirectoryUser, Ticket
from rnmail.shapes import UserDetail

CARD_LIMIT = 8  # tickets listed per list; the count says how many there are
MAX_IDENTITIES = 2000  # an organisation's users' addresses and numbers looked at


@dataclass(frozen=True)
class TicketLine:
    id: int
    subject: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class TicketList:
    """The latest tickets of a kind (at most the card's limit) and how many there are."""

    tickets: list[TicketLine]
    total: int


@dataclass(frozen=True)
class RequesterCard:
    """The requester as the ticket names them, their directory entry if any, and the
    other tickets (``organisation_tickets``: not the requester's own)."""

    requester: str
    name: str | None
    organisation: str | None
    requester_type: str
    directory: UserDetail | None
    own_tickets: TicketList
    organisation_tickets: TicketList


def _tickets(session: Session, where: ColumnElement[bool], limit: int) -> TicketList:
    rows = session.execute(select(Ticket.id, Ticket.subject, Ticket.status, Ticket.created_at)
                           .where(where).order_by(Ticket.id.desc()).limit(limit))
    lines = [TicketLine(*row) for row in rows]
    total = len(lines) if len(lines) < limit else session.scalar(
        select(func.count()).select_from(Ticket).where(where)) or 0
    return TicketList(lines, total)


def requester_card(session: Session, ticket: Ticket, limit: int = CARD_LIMIT) -> RequesterCard:
    """The card of ``ticket``'s requester (see the module); an unverified sender
    (``rnmail.ingest.authres``) is not the directory user of their address."""
    user = None if ticket.sender_unverified else directory_user_for(session, ticket.requester)
    others = Ticket.id != ticket.id
    own = _tickets(session, and_(Ticket.requester == ticket.requester, others), limit)
    organisation = user.organisation.name if user is not None else ticket.requester_org
    organisation_tickets = TicketList([], 0)
    if organisation:
        ways: list[ColumnElement[bool]] = [Ticket.requester_org == organisation]
        if user is not None:
            identities = {i for row in session.execute(
                select(DirectoryUser.email, DirectoryUser.phone)
                .where(DirectoryUser.organisation_id == user.organisation_id)
                .limit(MAX_IDENTITIES)) for i in row if i} - {ticket.requester}
            if identities:
                ways.append(Ticket.requester.in_(identities))
        organisation_tickets = _tickets(session, and_(
            or_(*ways), others, Ticket.requester != ticket.requester), limit)
    return RequesterCard(
        requester=ticket.requester, name=user.name if user else ticket.requester_name,
        organisation=organisation,
        requester_type=user.organisation.kind if user else ticket.requester_type,
        directory=user_detail(user) if user is not None else None,
        own_tickets=own, organisation_tickets=organisation_tickets)
