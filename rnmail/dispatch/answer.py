"""Answer: mail from the help desk to a ticket's requester, or to the second line.

Used by staff replies by mail, ``rnmail ticket reply`` and delegation alike: the answer goes
out from the help-desk address, in the requester's language, in their mail thread (their
last message's Message-ID and references), with the ticket tag in the subject.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.dispatch.compose import Attachment, Draft, compose
from rnmail.dispatch.outbox import enqueue
from rnmail.dispatch.render import render
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n.catalogues import N_
from rnmail.ingest.fax import fax_reply_address
from rnmail.models import Message, OutboxMessage, Service, Staff, Ticket, utcnow
from rnmail.shapes import PhoneMessageJson
from rnmail.tickets.history import Actor, change, record_change
from rnmail.tickets.lifecycle import closed_ticket, delegate, staff_author
from rnmail.util.addresses import deliverable_address
from rnmail.util.phone import normalise_number
from rnmail.vocab import TicketChange

log = logging.getLogger(__name__)


def requester_address(config: Config, ticket: Ticket) -> str | None:
    """Where mail to the requester goes: their address, or the fax gateway's for a fax."""
    if ticket.channel == "fax" and ticket.requester.startswith("+"):
        return fax_reply_address(ticket.requester, config.fax.address_pattern, config.fax.region)
    return deliverable_address(ticket.requester) if "@" in ticket.requester else None


def unreachable(ticket: Ticket) -> RnmailError:
    """The refusal of an answer to a requester who has no mail address (a phone call)."""
    return RnmailError.translatable(
        N_("the requester of ticket #{id} ({requester}) cannot be reached by mail"),
        id=ticket.id, requester=ticket.requester)


def answer_requester(session: Session, config: Config, ticket: Ticket, text: str,
                     attachments: list[Attachment], author: str | Staff, *,
                     actor: Actor) -> Message:
    """Queue ``text`` to the requester; returns its record in the ticket, with its author:
    the staff member who wrote it, or a name (a second-line service, ``help desk``). The
    reply is in the ticket's history, by ``actor``. A staff member answering a ticket
    without assignee becomes its assignee. Whether a colleague answered just before is
    ``rnmail.dispatch.hold``'s business."""
    if ticket.status == "closed":
        raise closed_ticket(ticket)
    staff = author if isinstance(author, Staff) else staff_author(session, author)
    written_by = staff.name if staff else str(author)
    record = reply_in_thread(session, config, ticket, "answer", {"text": text},
                             purpose="reply", author=written_by,
                             attachments=attachments)
    record.author = staff
    record_change(ticket, TicketChange.REPLY, None, ", ".join(record.to_addrs), actor)
    if ticket.assignee is None and staff is not None and staff.active:
        change(ticket, "assignee", staff, actor)  # the first who answers has it
    if ticket.first_response_at is None:
        ticket.first_response_at = utcnow()
    return record


def last_incoming(session: Session, ticket: Ticket) -> Message | None:
    """The requester's latest mail in the ticket: the one a reply is threaded to."""
    return session.scalars(
        select(Message).where(Message.ticket_id == ticket.id, Message.direction == "in",
                              Message.kind == "correspondence", Message.message_id.is_not(None))
        .order_by(Message.id.desc()).limit(1)
    ).first()


def reply_in_thread(session: Session, config: Config, ticket: Ticket, template: str,
                    context: dict[str, Any], purpose: str, author: str,
                    attachments: list[Attachment] | None = None) -> Message:
    """Queue a mail from ``template`` to the requester, in their language and in their mail
    thread (their last message's Message-ID and references); returns its record."""
    to = requester_address(config, ticket)
    if to is None:
        raise unreachable(ticket)
    last = last_incoming(session, ticket)
    hd = config.helpdesk
    rendered = render(template, ticket.language, hd.default_language, {
        "tag": hd.tag, "ticket_id": ticket.id, "subject": ticket.subject,
        "helpdesk_name": hd.name, **context,
    }, helpdesk=hd)
    draft = Draft(to=[to], rendered=rendered, kind="reply", ticket_id=ticket.id,
                  in_reply_to=last.message_id if last else None,
                  references=(last.references or "").split() if last else [],
                  attachments=attachments or [])
    record = enqueue(session, compose(hd, draft), purpose=purpose, ticket=ticket,
                     kind="correspondence")
    assert record is not None  # a ticket was given
    record.from_name = author
    log.info("%s queued ticket=%d by=%s to=%s", purpose, ticket.id, author, to)
    return record


def send_to_service(session: Session, config: Config, ticket: Ticket, service: Service,
                    note: str) -> Message:
    """Send the second-line contact the ticket with its history; their reply to this mail
    (its Message-ID is signed for the service) threads back to the ticket."""
    hd = config.helpdesk
    history = [m for m in ticket.messages if m.kind in ("correspondence", "comment")]
    language = service.language or hd.default_language  # the contact's, else the help desk's
    rendered = render("delegation", language, hd.default_language, {
        "tag": hd.tag, "ticket": ticket, "service": service, "note": note,
        "history": history,
    }, helpdesk=hd)
    draft = Draft(to=[service.email], rendered=rendered, kind=f"s{service.id}",
                  ticket_id=ticket.id, generated=True)
    record = enqueue(session, compose(hd, draft), purpose="delegation", ticket=ticket,
                     kind="notification")
    assert record is not None
    return record


def delegate_to_service(session: Session, config: Config, ticket: Ticket, service: Service,
                        actor: Actor, note: str = "") -> Message:
    """Hand the ticket to the second line (by ``actor``) and send them its history."""
    delegate(ticket, service, actor)
    return send_to_service(session, config, ticket, service, note)


def take_phone_message(session: Session, config: Config, staff_email: str, caller: str,
                       phone: str, text: str) -> PhoneMessageJson:
    """Mail a message taken for an absent colleague; returns what was queued (the outbox row
    is the log of it). The desk and ``message take`` come through
    ``rnmail.tickets.calls.take_message`` with the call form; refusals are translatable."""
    wanted = staff_email.strip().lower()
    if not wanted:
        raise RnmailError.translatable(N_("choose the colleague the message is for"))
    staff = session.scalars(select(Staff).where(Staff.email == wanted)).first()
    if staff is None:
        raise NotFound.translatable(N_("no staff member {email}"), email=wanted)
    if not staff.active:
        raise RnmailError.translatable(N_("{email} is no longer on the staff"),
                                       email=staff.email)
    number = normalise_number(phone)
    if number is None:
        raise RnmailError.translatable(N_("'{phone}' is not a phone number"),
                                       phone=phone.strip())
    if not text.strip():
        raise RnmailError.translatable(N_("the message is empty"))
    caller = " ".join(caller.split()) or number
    hd = config.helpdesk
    rendered = render("phone_message", staff.language, hd.default_language, {
        "caller": caller, "phone": number, "text": text.strip(), "taken_at": utcnow(),
    }, helpdesk=hd)
    composed = compose(hd, Draft(to=[staff.email], rendered=rendered, kind="msg",
                                 generated=True))
    enqueue(session, composed, purpose="phone-message")
    session.flush()
    row = session.scalars(select(OutboxMessage)
                          .where(OutboxMessage.message_id == composed.message_id)).one()
    log.info("phone message taken for=%s caller=%s phone=%s", staff.email, caller, number)
    return {"to": staff.email, "staff": staff.name, "caller": caller, "phone": number,
            "text": text.strip(), "message_id": composed.message_id, "outbox_id": row.id,
            "queued_at": row.created_at.isoformat()}
