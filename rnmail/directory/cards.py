"""A directory entry's card, as the desk shows it (``/desk/directory/``): an organisation
with its users and their tickets; a user with their entry (``directory show``), the history
of their access status and their tickets. Entries are named by id (the desk's addresses);
a change of access goes through ``change_access``, as ``rnmail directory set-status``.

The history of a user's access is the audit log's ``directory-status`` events for their
address: every change is one, whoever made it (``directory set-status``, the desk, an
import, an unblock), with who, when, from what to what, why, and from which client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, joinedload, selectinload

from rnmail.directory.people import change_access, organisation_entry, user_entry
from rnmail.errors import NotFound
from rnmail.models import AuditEvent, DirectoryUser, Organisation, Ticket
from rnmail.shapes import AccessChange, OrganisationEntry, TicketRow, UserEntry
from rnmail.tickets.views import ticket_rows

TICKETS = 50  # the newest tickets a card lists
HISTORY = 100  # the newest access changes a card lists


@dataclass(frozen=True)
class AccessStep:
    """One change of a user's access status."""

    at: datetime
    actor: str
    before: str | None
    after: str | None
    reason: str
    client: str | None
    """The browser's address (None: the command line)."""


@dataclass(frozen=True)
class UserCard:
    id: int
    organisation_id: int
    entry: UserEntry
    history: list[AccessStep]
    """Newest first."""
    tickets: list[TicketRow]
    """Newest first, at most ``TICKETS``: those whose requester is their address or number."""
    more_tickets: bool


@dataclass(frozen=True)
class OrganisationCard:
    id: int
    entry: OrganisationEntry
    tickets: list[TicketRow]
    """Its users' tickets, newest first, at most ``TICKETS``."""
    more_tickets: bool


def access_history(session: Session, email: str, limit: int = HISTORY) -> list[AccessStep]:
    """The changes of ``email``'s access status, newest first (see the module)."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "directory-status",
               AuditEvent.detail["email"].as_string() == email)
        .order_by(AuditEvent.id.desc()).limit(limit))
    return [AccessStep(at=e.at, actor=e.actor,
                       before=(e.detail.get("before") or {}).get("access_status"),
                       after=(e.detail.get("after") or {}).get("access_status"),
                       reason=str(e.detail.get("reason") or ""), client=e.client)
            for e in events]


def _directory_user(session: Session, user_id: int) -> DirectoryUser:
    user = session.scalars(select(DirectoryUser).where(DirectoryUser.id == user_id)
                           .options(selectinload(DirectoryUser.organisation))).first()
    if user is None:
        raise NotFound(f"no directory user #{user_id}")
    return user


def _tickets(session: Session, where: ColumnElement[bool]) -> tuple[list[TicketRow], bool]:
    found = list(session.scalars(
        select(Ticket).where(where).order_by(Ticket.id.desc()).limit(TICKETS + 1)
        .options(joinedload(Ticket.assignee), joinedload(Ticket.service))))
    return ticket_rows(session, found[:TICKETS]), len(found) > TICKETS


def user_card(session: Session, user_id: int) -> UserCard:
    """The user ``user_id``'s card; NotFound if there is none."""
    user = _directory_user(session, user_id)
    identities = [user.email] + ([user.phone] if user.phone else [])
    tickets, more = _tickets(session, Ticket.requester.in_(identities))
    return UserCard(id=user.id, organisation_id=user.organisation_id,
                    entry=user_entry(session, user),
                    history=access_history(session, user.email),
                    tickets=tickets, more_tickets=more)


def organisation_card(session: Session, org_id: int) -> OrganisationCard:
    """The organisation ``org_id``'s card; NotFound if there is none."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"no organisation #{org_id}")
    tickets, more = _tickets(session, Ticket.requester.in_(
        select(DirectoryUser.email).where(DirectoryUser.organisation_id == org.id)))
    return OrganisationCard(id=org.id, entry=organisation_entry(session, org),
                            tickets=tickets, more_tickets=more)


def set_user_access(session: Session, user_id: int, state: str, reason: str,
                    actor: str) -> AccessChange:
    """``directory set-status`` for the user ``user_id`` (``change_access``)."""
    return change_access(session, _directory_user(session, user_id).email, state, reason,
                         actor)
