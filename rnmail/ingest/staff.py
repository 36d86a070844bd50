"""Staff: a help-desk member answering a notification by mail.

A mail counts as a staff action only when it proves it answers a notification sent to that
staff member: it must reference the notification's Message-ID, whose signature (HMAC with
``helpdesk.secret``) names the staff member and the ticket, and come from that member's
address. A forged ``From:`` without such a reference is an ordinary requester's mail.

Command lines at the top act on the ticket (``#close``, ``#pending``, ``#delegate SERVICE``,
``#assign EMAIL``, ``#category NAME``, ``#type TYPE``); ``#comment`` makes the rest an
internal note; any other text is relayed to the requester. Every command is checked before
anything changes: one wrong command refuses the whole mail, and the staff member is told why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail import workflow
from rnmail.addresses import deliverable_address
from rnmail.config import REQUESTER_TYPES, Config
from rnmail.dispatch.compose import Attachment, Draft, compose
from rnmail.dispatch.outbox import enqueue
from rnmail.dispatch.render import render
from rnmail.errors import RnmailError
from rnmail.ingest.fax import fax_reply_address
from rnmail.ingest.parse import ParsedMail
from rnmail.models import Message, Service, Staff, Ticket, utcnow
from rnmail.tokens import verify_message_id

log = logging.getLogger(__name__)
COMMANDS = ("comment", "close", "pending", "delegate", "assign", "category", "type")
NOTIFICATION_KIND = "n"  # Message-ID kind of a notification: "n<staff id>"


@dataclass(frozen=True)
class Command:
    name: str
    argument: str


def notification_kind(staff: Staff) -> str:
    return f"{NOTIFICATION_KIND}{staff.id}"


def recognise(session: Session, mail: ParsedMail, secret: str) -> tuple[Staff, Ticket] | None:
    """The staff member and ticket this mail answers, if it proves it; else None."""
    for message_id in mail.thread_ids:
        verified = verify_message_id(secret, message_id)
        if verified is None:
            continue
        kind, ticket_id = verified
        if not (kind.startswith(NOTIFICATION_KIND) and kind[1:].isdigit()):
            continue
        staff = session.get(Staff, int(kind[1:]))
        if staff is None or not staff.active or staff.email != mail.from_addr.lower():
            log.warning("notification token for another sender message_id=%s from=%s",
                        mail.message_id, mail.from_addr)
            continue
        ticket = session.get(Ticket, ticket_id)
        if ticket is not None:
            return staff, ticket
    return None


def read_commands(text: str) -> tuple[list[Command], str]:
    """The ``#command`` lines at the top of ``text``, and the text after them."""
    lines = text.strip().splitlines()
    commands = []
    while lines and lines[0].strip().startswith("#"):
        name, _, argument = lines.pop(0).strip()[1:].partition(" ")
        commands.append(Command(name.lower(), argument.strip()))
    return commands, "\n".join(lines).strip()


def handle_staff_reply(session: Session, config: Config, staff: Staff, ticket: Ticket,
                       mail: ParsedMail, raw_sha256: str) -> Message:
    """Carry out a staff member's reply; returns the ticket message that records it (the
    relayed answer, an internal note, or the refused mail as a note)."""
    commands, body = read_commands(mail.display_text)
    comment = any(c.name == "comment" for c in commands)
    errors = _check(session, config, ticket, commands, body, comment)
    if errors:
        _tell_staff(session, config, staff, ticket, errors)
        log.warning("staff reply refused ticket=%d staff=%s errors=%s", ticket.id, staff.email,
                    errors)
        return _note(session, ticket, staff, mail, raw_sha256,
                     "Refused staff reply: " + "; ".join(errors))
    if body and not comment:
        record = _relay(session, config, staff, ticket, mail, body)
        record.from_name = staff.name
        record.dedupe_key, record.raw_sha256 = mail.dedupe_key, raw_sha256
    else:
        record = _note(session, ticket, staff, mail, raw_sha256,
                       body or " ".join(f"#{c.name} {c.argument}".strip() for c in commands))
    for command in commands:
        _apply(session, config, ticket, command)
    ticket.updated_at = utcnow()
    return record


def _note(session: Session, ticket: Ticket, staff: Staff, mail: ParsedMail, raw_sha256: str,
          text: str) -> Message:
    """The staff mail kept as an internal note (never sent to the requester)."""
    note = Message(ticket=ticket, direction="in", kind="comment",
                   message_id=mail.message_id, dedupe_key=mail.dedupe_key,
                   from_addr=staff.email, from_name=staff.name, to_addrs=mail.to,
                   cc_addrs=mail.cc, subject=mail.subject, date=mail.date, text=mail.text,
                   display_text=text, raw_sha256=raw_sha256, raw_size=len(mail.raw))
    session.add(note)
    return note


def _check(session: Session, config: Config, ticket: Ticket, commands: list[Command],
           body: str, comment: bool) -> list[str]:
    errors = []
    for command in commands:
        check = _CHECKS.get(command.name)
        if check is None:
            errors.append(f"unknown command #{command.name}")
            continue
        problem = check(session, config, ticket, command.argument)
        if problem:
            errors.append(f"#{command.name} {command.argument}".strip() + f": {problem}")
    if not commands and not body:
        errors.append("the reply is empty")
    if body and not comment and requester_address(config, ticket) is None:
        errors.append(f"the requester ({ticket.requester}) cannot be reached by mail")
    return errors


def _no_argument(session: Session, config: Config, ticket: Ticket, arg: str) -> str | None:
    return "takes no argument" if arg else None


def _status_change(session: Session, config: Config, ticket: Ticket, arg: str) -> str | None:
    if arg:
        return "takes no argument"
    return "the ticket is already closed" if ticket.status == "closed" else None


def _service(session: Session, config: Config, ticket: Ticket, arg: str) -> str | None:
    found = session.scalars(select(Service).where(Service.name == arg)).first()
    return None if found else "no such service"


def _staff(session: Session, config: Config, ticket: Ticket, arg: str) -> str | None:
    found = session.scalars(select(Staff).where(Staff.email == arg.lower())).first()
    return None if found is not None and found.active else "no such staff member"


def _category(session: Session, config: Config, ticket: Ticket, arg: str) -> str | None:
    return None if arg in config.workflow.categories else (
        "categories are " + ", ".join(config.workflow.categories))


def _type(session: Session, config: Config, ticket: Ticket, arg: str) -> str | None:
    return None if arg in REQUESTER_TYPES else "types are " + ", ".join(REQUESTER_TYPES)


_CHECKS: dict[str, Callable[[Session, Config, Ticket, str], str | None]] = {
    "comment": _no_argument, "close": _status_change, "pending": _status_change,
    "delegate": _service, "assign": _staff, "category": _category, "type": _type,
}


def _apply(session: Session, config: Config, ticket: Ticket, command: Command) -> None:
    if command.name == "close":
        workflow.close(ticket)
    elif command.name == "pending":
        workflow.set_pending(ticket)
    elif command.name == "delegate":
        workflow.delegate(ticket, workflow.find_service(session, command.argument))
    elif command.name == "assign":
        workflow.assign(ticket, workflow.find_staff(session, command.argument))
    elif command.name == "category":
        workflow.set_category(ticket, command.argument, config.workflow)
    elif command.name == "type":
        workflow.set_requester_type(ticket, command.argument)


def requester_address(config: Config, ticket: Ticket) -> str | None:
    """Where mail to the requester goes: their address, or the fax gateway's for a fax."""
    if ticket.channel == "fax" and ticket.requester.startswith("+"):
        return fax_reply_address(ticket.requester, config.fax.address_pattern, config.fax.region)
    return deliverable_address(ticket.requester) if "@" in ticket.requester else None


def _relay(session: Session, config: Config, staff: Staff, ticket: Ticket, mail: ParsedMail,
           body: str) -> Message:
    """Send the answer to the requester from the help-desk address, in their thread."""
    to = requester_address(config, ticket)
    if to is None:
        raise RnmailError(f"ticket #{ticket.id} has no requester address")  # checked before
    last = session.scalars(
        select(Message).where(Message.ticket_id == ticket.id, Message.direction == "in",
                              Message.kind == "correspondence", Message.message_id.is_not(None))
        .order_by(Message.id.desc()).limit(1)
    ).first()
    hd = config.helpdesk
    rendered = render("answer", ticket.language, hd.default_language, {
        "tag": hd.tag, "ticket_id": ticket.id, "subject": ticket.subject, "text": body,
        "helpdesk_name": hd.name, "phone": hd.phone,
    })
    references = (last.references or "").split() if last else []
    attachments = [Attachment(a.filename, a.content_type, a.data)
                   for a in mail.attachments if a.data is not None and not a.inline]
    draft = Draft(to=[to], rendered=rendered, kind="reply", ticket_id=ticket.id,
                  in_reply_to=last.message_id if last else None, references=references,
                  attachments=attachments)
    if ticket.first_response_at is None:
        ticket.first_response_at = utcnow()
    log.info("staff answer relayed ticket=%d staff=%s to=%s", ticket.id, staff.email, to)
    record = enqueue(session, compose(hd, draft), purpose="reply", ticket=ticket,
                     kind="correspondence")
    assert record is not None  # a ticket was given
    return record


def _tell_staff(session: Session, config: Config, staff: Staff, ticket: Ticket,
                errors: list[str]) -> None:
    hd = config.helpdesk
    rendered = render("staff_error", staff.language, hd.default_language,
                      {"tag": hd.tag, "ticket_id": ticket.id, "errors": errors})
    enqueue(session, compose(hd, Draft(to=[staff.email], rendered=rendered, kind="err",
                                       ticket_id=ticket.id, generated=True)),
            purpose="staff-error")
