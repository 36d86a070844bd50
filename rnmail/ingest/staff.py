"""Staff: a help-desk member answering a notification (or the second line a delegation).

A mail counts as a staff action only when it proves it answers a notification sent to that
staff member: it must reference the notification's Message-ID, whose signature (HMAC with
``helpdesk.secret``) names the staff member and the ticket, and come from that member's
address. A forged ``From:`` without such a reference is an ordinary requester's mail. The
same holds for a second-line service and the delegation mail sent to it.

Command lines at the top act on the ticket (``#close``, ``#pending``, ``#delegate SERVICE``,
``#assign EMAIL``, ``#category NAME``, ``#type TYPE``); ``#faq N`` answers with an FAQ entry;
``#comment`` makes the rest an internal note; any other text is relayed to the requester.
Every command is checked, in order and against the status the earlier ones leave, before
anything changes: one wrong command refuses the whole mail, and the staff member is told why.

Next stage (for mail that is not a staff action): ``thread``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.dispatch.answer import answer_requester, delegate_to_service, requester_address
from rnmail.dispatch.compose import Attachment, Draft, compose
from rnmail.dispatch.outbox import enqueue
from rnmail.dispatch.render import render
from rnmail.errors import RnmailError
from rnmail.ingest.parse import ParsedMail
from rnmail.ingest.respond import StaffNotifier
from rnmail.models import FaqEntry, Message, Service, Staff, Ticket, utcnow
from rnmail.tickets import faq, lifecycle
from rnmail.util.tokens import verify_message_id
from rnmail.vocab import RequesterType, TicketStatus, normal_requester_type

log = logging.getLogger(__name__)
COMMANDS = ("comment", "close", "pending", "delegate", "assign", "category", "type", "faq")
NOTIFICATION_KIND = "n"  # Message-ID kind of a notification: "n<staff id>"
DELEGATION_KIND = "s"  # of a delegation to a second-line service: "s<service id>"


@dataclass(frozen=True)
class Command:
    name: str
    argument: str


def notification_kind(staff: Staff) -> str:
    return f"{NOTIFICATION_KIND}{staff.id}"


def recognise(session: Session, mail: ParsedMail,
              secret: str) -> tuple[Staff | Service, Ticket] | None:
    """The staff member (or second-line service) and ticket this mail answers, if the mail
    proves it: it references a mail we signed for them, and comes from their address."""
    for message_id in mail.thread_ids:
        verified = verify_message_id(secret, message_id)
        if verified is None:
            continue
        kind, ticket_id = verified
        if kind[:1] not in (NOTIFICATION_KIND, DELEGATION_KIND) or not kind[1:].isdigit():
            continue
        who: Staff | Service | None = (
            session.get(Staff, int(kind[1:])) if kind[:1] == NOTIFICATION_KIND
            else session.get(Service, int(kind[1:])))
        if who is None or getattr(who, "active", True) is False or (
                who.email != mail.from_addr.lower()):
            log.warning("token of %s for another sender message_id=%s from=%s",
                        kind, mail.message_id, mail.from_addr)
            continue
        ticket = session.get(Ticket, ticket_id)
        if ticket is not None:
            return who, ticket
    return None


def handle_service_reply(session: Session, config: Config, service: Service, ticket: Ticket,
                         mail: ParsedMail, raw_sha256: str) -> Message:
    """The second line answered: straight to the requester, or to the help desk for review
    (``[workflow].service_answers``), who is told either way."""
    body = mail.display_text
    if config.workflow.service_answers == "requester" and body and requester_address(
            config, ticket) is not None and ticket.status != TicketStatus.CLOSED:
        attachments = [Attachment(a.filename, a.content_type, a.data)
                       for a in mail.attachments if a.data is not None and not a.inline]
        record = answer_requester(session, config, ticket, body, attachments,
                                  f"{service.name} (second line)")
        record.dedupe_key, record.raw_sha256 = mail.dedupe_key, raw_sha256
    else:
        record = Message(ticket=ticket, direction="in", kind="comment",
                         message_id=mail.message_id, dedupe_key=mail.dedupe_key,
                         from_addr=service.email, from_name=service.name, to_addrs=mail.to,
                         cc_addrs=mail.cc, subject=mail.subject, date=mail.date,
                         text=mail.text, display_text=body, raw_sha256=raw_sha256,
                         raw_size=len(mail.raw))
        session.add(record)
    ticket.updated_at = utcnow()
    StaffNotifier.load(session, config).notify(session, ticket, mail, "service")
    log.info("second line answered ticket=%d service=%s", ticket.id, service.name)
    return record


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
    if not errors:
        for command in commands:  # "#faq 12": the entry's answer, in the requester's language
            if command.name == "faq":
                answer = faq.answer_for(session, int(command.argument), ticket.language,
                                        config.helpdesk.default_language)
                body = f"{body}\n\n{answer}" if body else answer
    if errors:
        _tell_staff(session, config, staff, ticket, errors)
        log.warning("staff reply refused ticket=%d staff=%s errors=%s", ticket.id, staff.email,
                    errors)
        return _note(session, ticket, staff, mail, raw_sha256,
                     "Refused staff reply: " + "; ".join(errors))
    if body and not comment:
        attachments = [Attachment(a.filename, a.content_type, a.data)
                       for a in mail.attachments if a.data is not None and not a.inline]
        record = answer_requester(session, config, ticket, body, attachments, staff.name)
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
    status = ticket.status  # as it will be after the commands before this one
    for command in commands:
        check = _CHECKS.get(command.name)
        if check is None:
            errors.append(f"unknown command #{command.name}")
            continue
        problem = check(session, config, ticket, command.argument)
        if problem is None and command.name in _STATUS_AFTER:
            if status == TicketStatus.CLOSED:
                problem = "the ticket is closed"
            else:
                status = _STATUS_AFTER[command.name]
        if problem:
            errors.append(f"#{command.name} {command.argument}".strip() + f": {problem}")
    if not commands and not body:
        errors.append("the reply is empty")
    answers = bool(body) or any(c.name == "faq" for c in commands)
    if answers and not comment and ticket.status == TicketStatus.CLOSED:
        errors.append("the ticket is closed; reopen it first")
    if answers and not comment and requester_address(config, ticket) is None:
        errors.append(f"the requester ({ticket.requester}) cannot be reached by mail")
    return errors


def _no_argument(session: Session, config: Config, ticket: Ticket, arg: str) -> str | None:
    return "takes no argument" if arg else None


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
    try:
        normal_requester_type(arg)
    except RnmailError:
        return "types are " + ", ".join(RequesterType)
    return None


def _faq(session: Session, config: Config, ticket: Ticket, arg: str) -> str | None:
    if not arg.isdigit() or session.get(FaqEntry, int(arg)) is None:
        return "no such FAQ entry"
    return None


_STATUS_AFTER = {"close": TicketStatus.CLOSED, "pending": TicketStatus.PENDING,
                 "delegate": TicketStatus.DELEGATED}
_CHECKS: dict[str, Callable[[Session, Config, Ticket, str], str | None]] = {
    "comment": _no_argument, "close": _no_argument, "pending": _no_argument,
    "delegate": _service, "assign": _staff, "category": _category, "type": _type, "faq": _faq,
}


def _apply(session: Session, config: Config, ticket: Ticket, command: Command) -> None:
    if command.name == "close":
        lifecycle.close(ticket)
    elif command.name == "pending":
        lifecycle.set_pending(ticket)
    elif command.name == "delegate":
        delegate_to_service(session, config, ticket,
                            lifecycle.find_service(session, command.argument))
    elif command.name == "assign":
        lifecycle.assign(ticket, lifecycle.find_staff(session, command.argument))
    elif command.name == "category":
        lifecycle.set_category(ticket, command.argument, config.workflow)
    elif command.name == "type":
        lifecycle.set_requester_type(ticket, command.argument)
    # "#comment" and "#faq" shape the text; they change nothing on the ticket itself


def _tell_staff(session: Session, config: Config, staff: Staff, ticket: Ticket,
                errors: list[str]) -> None:
    hd = config.helpdesk
    rendered = render("staff_error", staff.language, hd.default_language,
                      {"tag": hd.tag, "ticket_id": ticket.id, "errors": errors}, helpdesk=hd)
    enqueue(session, compose(hd, Draft(to=[staff.email], rendered=rendered, kind="err",
                                       ticket_id=ticket.id, generated=True)),
            purpose="staff-error")
