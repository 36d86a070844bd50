"""Reading tickets for people and programs: the stable shapes behind ``ticket list/show``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from rnmail.directory.people import directory_user_for, user_detail
from rnmail.errors import NotFound
from rnmail.models import Message, Ticket
from rnmail.shapes import MessageDetail, TicketDetail, TicketSummary


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
        "language": ticket.language,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "first_response_at": _iso(ticket.first_response_at),
        "closed_at": _iso(ticket.closed_at),
        "linked_ticket_id": ticket.linked_ticket_id,
        "fax_pages": ticket.fax_pages,
    }


def message_detail(message: Message) -> MessageDetail:
    return {
        "id": message.id,
        "direction": message.direction,
        "kind": message.kind,
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


def list_tickets(
    session: Session, status: str | None = None, limit: int = 50
) -> list[TicketSummary]:
    query = (select(Ticket).order_by(Ticket.id.desc()).limit(limit)
             .options(joinedload(Ticket.assignee), joinedload(Ticket.service)))
    if status:
        query = query.where(Ticket.status == status)
    return [ticket_summary(t) for t in session.scalars(query)]


def show_ticket(session: Session, ticket_id: int) -> TicketDetail:
    ticket = session.scalars(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .options(selectinload(Ticket.messages).selectinload(Message.attachments),
                 selectinload(Ticket.participants), joinedload(Ticket.assignee),
                 joinedload(Ticket.service))
    ).first()
    if ticket is None:
        raise NotFound(f"no ticket #{ticket_id}")
    user = directory_user_for(session, ticket.requester)
    return {
        **ticket_summary(ticket),
        "participants": [{"address": p.address, "role": p.role} for p in ticket.participants],
        "messages": [message_detail(m) for m in ticket.messages],
        "directory": user_detail(user) if user is not None else None,
    }
