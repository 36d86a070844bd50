"""Reading tickets for people and programs: the stable shapes behind ``ticket list/show``.

Each message gets its ``role`` in the ticket (the requester's mail, an answer, a note, our
acknowledgement, a staff notification, a delegation mail) and its ``author``: for an answer
or a note the staff member who wrote it, by mail or on the command line, not the help-desk
address it went out from. ``ticket show`` prints the real messages and folds the copies of a
notification into one line; the list tells which tickets wait on an answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from rnmail.directory.people import directory_user_for, user_detail
from rnmail.errors import NotFound
from rnmail.models import DirectoryUser, Message, Service, Staff, Ticket
from rnmail.shapes import MessageDetail, TicketDetail, TicketRow, TicketSummary
from rnmail.tickets.due import due_json
from rnmail.tickets.history import ticket_history
from rnmail.vocab import MessageRole, TicketStatus, normal_requester_type


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def ticket_summary(ticket: Ticket) -> TicketSummary:
    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "status": ticket.status,
        "resolution": ticket.resolution,
        "channel": ticket.channel,
        "requester": ticket.requester,
        "requester_name": ticket.requester_name,
        "requester_org": ticket.requester_org,
        "requester_type": ticket.requester_type,
        "category": ticket.category,
        "assignee": ticket.assignee.email if ticket.assignee else None,
        "service": ticket.service.name if ticket.service else None,
        "delegated_at": _iso(ticket.delegated_at),
        "due": due_json(ticket),
        "language": ticket.language,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "first_response_at": _iso(ticket.first_response_at),
        "closed_at": _iso(ticket.closed_at),
        "pending_until": ticket.pending_until.isoformat() if ticket.pending_until else None,
        "linked_ticket_id": ticket.linked_ticket_id,
        "fax_pages": ticket.fax_pages,
        "merged_into_id": ticket.merged_into_id,
    }


def message_role(message: Message) -> str:
    """What a message is in its ticket: a ``MessageRole``."""
    if message.direction == "in":
        return {"correspondence": MessageRole.REQUEST, "comment": MessageRole.NOTE,
                "held": MessageRole.HELD}.get(message.kind, MessageRole.AUTOMATIC)
    if message.kind == "correspondence":
        return MessageRole.ANSWER
    if message.kind == "notification":
        # our own Message-ID names whom it was for: n<staff id> or s<service id>
        kind = (message.message_id or "").strip("<>").split(".")[1:2]
        return MessageRole.DELEGATION if kind and kind[0][:1] == "s" else \
            MessageRole.NOTIFICATION
    return MessageRole.ACKNOWLEDGEMENT


def message_author(message: Message) -> tuple[str | None, str | None]:
    """(name, address) of who wrote ``message``: the staff member for an answer or a note,
    the sender for received mail; (None, None) for what rnmail wrote by itself."""
    if message.author is not None:
        return message.author.name, message.author.email
    role = message_role(message)
    if role in (MessageRole.REQUEST, MessageRole.AUTOMATIC):
        return message.from_name, message.from_addr
    if role in (MessageRole.NOTE, MessageRole.HELD):
        return message.from_name or message.from_addr, (
            message.from_addr if "@" in message.from_addr else None)
    if role == MessageRole.ANSWER:
        return message.from_name, None  # ``--author`` as given, or a second-line service
    return None, None


def message_detail(message: Message) -> MessageDetail:
    author, author_email = message_author(message)
    return {
        "id": message.id,
        "direction": message.direction,
        "kind": message.kind,
        "role": message_role(message),
        "author": author,
        "author_email": author_email,
        "from": message.from_addr,
        "from_name": message.from_name,
        "to": list(message.to_addrs or []),
        "cc": list(message.cc_addrs or []),
        "subject": message.subject,
        "message_id": message.message_id,
        "date": _iso(message.date or message.created_at),
        "text": message.display_text,
        "full_text": message.text,
        "has_html": message.html is not None,
        "raw_sha256": message.raw_sha256,
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "inline": a.inline,
                "omitted": a.omitted_reason,
            }
            for a in message.attachments
        ],
    }


@dataclass(frozen=True)
class TicketFilter:
    """What ``ticket list`` narrows the list to; None: any."""

    status: str | None = None
    assignee: str | None = None
    """A staff member's address or name; ``none``: unassigned."""
    category: str | None = None
    """``none``: without a category."""
    requester_type: str | None = None
    channel: str | None = None
    service: str | None = None
    """A second-line service's name; ``none``: never delegated."""
    unanswered: bool = False


def _last_correspondence() -> ColumnElement[int]:
    return (select(func.max(Message.id))
            .where(Message.ticket_id == Ticket.id, Message.kind == "correspondence")
            .correlate(Ticket).scalar_subquery())


def waits_on_answer() -> ColumnElement[bool]:
    """True for a ticket (correlated to ``Ticket``) whose last mail is the requester's: its
    last correspondence came in and it is not closed. Shared by ``ticket list
    --unanswered`` and the queue's marker."""
    return and_(Ticket.status != TicketStatus.CLOSED,
                select(Message.direction).where(Message.id == _last_correspondence())
                .scalar_subquery() == "in")


def ticket_filters(session: Session, wanted: TicketFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses of ``wanted``, for ``ticket list`` and the queue. Raises NotFound
    for a staff member or service that does not exist."""
    where: list[ColumnElement[bool]] = []
    if wanted.status:
        where.append(Ticket.status == wanted.status)
    if wanted.assignee is not None:
        if wanted.assignee.lower() in ("none", "-"):
            where.append(Ticket.assignee_id.is_(None))
        else:
            ids = list(session.scalars(select(Staff.id).where(or_(
                Staff.email == wanted.assignee.strip().lower(),
                func.lower(Staff.name) == wanted.assignee.strip().lower()))))
            if not ids:
                raise NotFound(f"no staff member {wanted.assignee}")
            where.append(Ticket.assignee_id.in_(ids))
    if wanted.category is not None:
        where.append(Ticket.category.is_(None) if wanted.category.lower() == "none"
                     else Ticket.category == wanted.category)
    if wanted.requester_type is not None:
        where.append(Ticket.requester_type == normal_requester_type(wanted.requester_type))
    if wanted.channel is not None:
        where.append(Ticket.channel == wanted.channel)
    if wanted.service is not None:
        if wanted.service.lower() in ("none", "-"):
            where.append(Ticket.service_id.is_(None))
        else:
            service = session.scalars(select(Service.id).where(
                func.lower(Service.name) == wanted.service.strip().lower())).first()
            if service is None:
                raise NotFound(f"no service {wanted.service}")
            where.append(Ticket.service_id == service)
    if wanted.unanswered:
        where.append(waits_on_answer())
    return where


def list_tickets(session: Session, status: str | None = None, limit: int = 50,
                 wanted: TicketFilter | None = None,
                 late_at: datetime | None = None) -> list[TicketRow]:
    """Newest first; with ``late_at``, only the tickets whose next due time is before it,
    the most overdue first."""
    wanted = wanted or TicketFilter(status=status)
    query = select(Ticket).where(*ticket_filters(session, wanted))
    query = (query.order_by(Ticket.id.desc()) if late_at is None else
             query.where(Ticket.due_at < late_at).order_by(Ticket.due_at, Ticket.id))
    query = (query.limit(limit).options(joinedload(Ticket.assignee), joinedload(Ticket.service)))
    return ticket_rows(session, list(session.scalars(query)))


def ticket_rows(session: Session, tickets: list[Ticket]) -> list[TicketRow]:
    """The tickets as listed: each with whether it waits on an answer and its caller's
    name (the ticket's, else the directory's for a number)."""
    ids = [t.id for t in tickets]
    last = {ticket_id: direction for ticket_id, direction in session.execute(
        select(Message.ticket_id, Message.direction).where(Message.id.in_(
            select(func.max(Message.id)).where(Message.ticket_id.in_(ids),
                                               Message.kind == "correspondence")
            .group_by(Message.ticket_id))))} if ids else {}
    numbers = {t.requester for t in tickets if t.requester.startswith("+")
               and not t.requester_name}
    known: dict[str, list[str]] = {}
    if numbers:
        for phone, name in session.execute(select(DirectoryUser.phone, DirectoryUser.name)
                                           .where(DirectoryUser.phone.in_(numbers))):
            known.setdefault(phone or "", []).append(name)
    rows = []
    for ticket in tickets:
        names = known.get(ticket.requester, [])
        rows.append(TicketRow(
            **ticket_summary(ticket),
            unanswered=ticket.status != TicketStatus.CLOSED and last.get(ticket.id) == "in",
            caller_name=ticket.requester_name or (names[0] if len(names) == 1 else None),
            assignee_name=ticket.assignee.name if ticket.assignee else None))
    return rows


def load_ticket(session: Session, ticket_id: int) -> Ticket:
    """The ticket with its messages, their attachments and authors, its participants,
    assignee and service loaded; NotFound if there is none."""
    ticket = session.scalars(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .options(selectinload(Ticket.messages).selectinload(Message.attachments),
                 selectinload(Ticket.messages).joinedload(Message.author),
                 selectinload(Ticket.participants), joinedload(Ticket.assignee),
                 joinedload(Ticket.service))
    ).first()
    if ticket is None:
        raise NotFound(f"no ticket #{ticket_id}")
    return ticket


def ticket_detail(session: Session, ticket: Ticket) -> TicketDetail:
    """``ticket show`` of a ticket ``load_ticket`` read."""
    user = directory_user_for(session, ticket.requester)
    return {
        **ticket_summary(ticket),
        "assignee_name": ticket.assignee.name if ticket.assignee else None,
        "participants": [{"address": p.address, "role": p.role} for p in ticket.participants],
        "messages": [message_detail(m) for m in ticket.messages],
        "directory": user_detail(user) if user is not None else None,
        "history": ticket_history(session, ticket.id),
        "anonymised_at": _iso(ticket.anonymised_at),
        "legal_hold": {"reason": ticket.hold_reason, "by": ticket.hold_by,
                       "at": ticket.hold_at.isoformat()} if ticket.hold_at else None,
    }


def show_ticket(session: Session, ticket_id: int) -> TicketDetail:
    return ticket_detail(session, load_ticket(session, ticket_id))
