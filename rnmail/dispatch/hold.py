"""Hold: two agents, one ticket — an answer written just after a colleague's is held.

Every staff member is notified of every new ticket and any of them may answer, so a requester
could get two answers that say different things. An answer to the requester (by mail, ``rnmail
ticket reply``, later the desk) written within ``[helpdesk].answer_hold_minutes`` after an
answer of someone else to the same ticket is therefore **held**: kept on the ticket as a
message of kind ``held`` (text, attachments in the blob store, the raw mail of a mail reply),
not sent, until its author sends it anyway (``send_held``: then it goes out as it was written)
or discards it (``discard_held``: it stays as an internal note). It never expires. The same
author answering twice is not held.

The check and the answer happen under a lock of the ticket's row (``SELECT … FOR UPDATE``;
SQLite's ``BEGIN IMMEDIATE`` serialises writers anyway), so two answers committed at the same
time cannot both go out: the second waits for the first's commit, then sees it.

The first staff member who answers becomes the ticket's assignee when it has none
(``rnmail.dispatch.answer.answer_requester``).

A staff member whose mail reply is held gets a ``staff_held`` mail in their language naming
the colleague, when, and quoting her answer; its Message-ID is signed for them (kind
``h<staff id>-<held id>``), so their reply to it with ``#send`` is a proven staff reply
(``rnmail.ingest.staff``) that sends the held answer.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.dispatch.answer import answer_requester, requester_address, unreachable
from rnmail.dispatch.compose import Attachment, Draft, compose
from rnmail.dispatch.outbox import enqueue
from rnmail.dispatch.render import render, without_signature
from rnmail.errors import RnmailError
from rnmail.i18n.catalogues import N_
from rnmail.i18n.formats import text_time
from rnmail.models import Attachment as StoredAttachment
from rnmail.models import Message, OutboxMessage, ProcessedMessage, Staff, Ticket, utcnow
from rnmail.tickets.history import Actor, record_change
from rnmail.tickets.lifecycle import closed_ticket, staff_author
from rnmail.tickets.notes import discarded_held, note_subject
from rnmail.util.blobs import BlobStore
from rnmail.util.tokens import verify_message_id
from rnmail.vocab import TicketChange

log = logging.getLogger(__name__)
HELD = "held"  # message.kind of an answer held back
HOLD_KIND = "h"  # Message-ID kind of a staff_held mail: "h<staff id>-<held message id>"
PURPOSE = "staff-held"  # the outbox purpose of a staff_held mail
SEND_COMMAND = "send"  # "#send" in a reply to the staff_held mail sends the held answer


@dataclass(frozen=True)
class Colleague:
    """The answer a held answer waits on: who wrote it, when, and its text."""

    name: str
    email: str | None
    answered_at: datetime
    text: str


@dataclass(frozen=True)
class Source:
    """The mail an answer came in as: kept on its record (held or sent)."""

    message_id: str | None
    dedupe_key: str | None
    raw_sha256: str | None
    raw_size: int | None
    subject: str


@dataclass(frozen=True)
class Outcome:
    """An answer queued to the requester, or held (``held_by`` then names the colleague)."""

    message: Message  # the answer queued, or the held answer kept on the ticket
    held_by: Colleague | None = None


def lock_ticket(session: Session, ticket: Ticket) -> None:
    """Lock the ticket's row until the transaction ends (and read it afresh)."""
    session.flush()
    session.refresh(ticket, with_for_update=True)


def _same_author(message: Message, staff: Staff | None, name: str) -> bool:
    if staff is not None:
        return message.author_id == staff.id
    return message.author_id is None and (message.from_name or "").lower() == name.lower()


def _answer_text(message: Message) -> str:
    """An answer as written: without our signature and contact block (which records of
    before 2026-12-07 kept in their display text)."""
    return without_signature(message.display_text or "")


def colleague_answer(session: Session, config: Config, ticket: Ticket, staff: Staff | None,
                     name: str) -> Colleague | None:
    """The latest answer to the requester within ``answer_hold_minutes`` when someone else
    than ``staff`` (or ``name``) wrote it and the requester has not written since: the
    answer a new answer of theirs would contradict."""
    minutes = config.helpdesk.answer_hold_minutes
    if minutes <= 0:
        return None
    answer = _latest_answer(session, ticket.id, Message.created_at
                            >= utcnow() - timedelta(minutes=minutes))
    if answer is None or _same_author(answer, staff, name):
        return None  # the latest is one's own: hers was seen before
    asked = session.scalar(select(Message.id).where(  # the requester's latest mail
        Message.ticket_id == ticket.id, Message.direction == "in",
        Message.kind == "correspondence").order_by(Message.id.desc()).limit(1))
    if asked is not None and asked > answer.id:
        return None  # the requester wrote since: a new question, not the same one
    return _colleague(answer)


def _latest_answer(session: Session, ticket_id: int,
                   *where: ColumnElement[bool]) -> Message | None:
    """The latest answer to the requester of the ticket (that matches ``where``)."""
    replies = select(OutboxMessage.message_id).where(OutboxMessage.ticket_id == ticket_id,
                                                     OutboxMessage.purpose == "reply")
    return session.scalars(select(Message).where(
        Message.ticket_id == ticket_id, Message.direction == "out",
        Message.kind == "correspondence", Message.message_id.in_(replies), *where)
        .order_by(Message.id.desc()).limit(1)).first()


def _colleague(answer: Message) -> Colleague:
    author = answer.author
    return Colleague(author.name if author else answer.from_name or "help desk",
                     author.email if author else None, answer.created_at,
                     _answer_text(answer))


def held_behind(session: Session, held: Message) -> Colleague | None:
    """The colleague's answer a held answer was written after (what held it), for showing
    it beside the held one; None when there is none any more."""
    answer = _latest_answer(session, held.ticket_id, Message.id < held.id)
    return _colleague(answer) if answer is not None else None


def answer_or_hold(session: Session, config: Config, ticket: Ticket, text: str,
                   attachments: list[Attachment], author: str | Staff, *, actor: Actor,
                   anyway: bool = False, mail: Source | None = None) -> Outcome:
    """Queue ``text`` to the requester, or hold it when someone else answered within the
    window (never with ``anyway``). ``mail``: what the answer came in as (its Message-ID,
    dedupe key, raw mail and subject are kept on the record)."""
    staff = author if isinstance(author, Staff) else staff_author(session, author)
    name = staff.name if staff else str(author)
    lock_ticket(session, ticket)
    colleague = None if anyway else colleague_answer(session, config, ticket, staff, name)
    if colleague is None:
        record = answer_requester(session, config, ticket, text, attachments, author,
                                  actor=actor)
        if mail is not None:
            record.dedupe_key, record.raw_sha256 = mail.dedupe_key, mail.raw_sha256
        if anyway:
            for held in held_answers(session, ticket, author):
                if held.display_text.strip() == text.strip():  # the same, sent anyway
                    _forget(session, held, record)
        return Outcome(record)
    if ticket.status == "closed":
        raise closed_ticket(ticket)
    if requester_address(config, ticket) is None:
        raise unreachable(ticket)
    held = Message(ticket=ticket, direction="in", kind=HELD, author=staff,
                   from_addr=staff.email if staff else name, from_name=name,
                   to_addrs=[], cc_addrs=[], date=utcnow(), text=text,
                   display_text=text.strip(),
                   subject=mail.subject if mail is not None else ticket.subject)
    if mail is not None:
        held.message_id, held.dedupe_key = mail.message_id, mail.dedupe_key
        held.raw_sha256, held.raw_size = mail.raw_sha256, mail.raw_size
    session.add(held)
    if attachments:
        blobs = BlobStore(config.helpdesk.attachments_dir)
        for a in attachments:
            session.add(StoredAttachment(message=held, filename=a.filename,
                                         content_type=a.content_type, size=len(a.data),
                                         sha256=blobs.put(a.data)))
        blobs.sync()  # on disk before the commit that refers to them
    session.flush()
    log.warning("answer held ticket=%d by=%s colleague=%s answered_at=%s held=%d", ticket.id,
                name, colleague.name, colleague.answered_at.isoformat(), held.id)
    return Outcome(held, colleague)


def held_refusal(ticket_id: int, colleague: Colleague, zone: tzinfo, author: str) -> str:
    """What ``ticket reply --author AUTHOR`` says when the answer is held (English, as the
    command line)."""
    who = f" --author {shlex.quote(author)}"
    minutes = int((utcnow() - colleague.answered_at).total_seconds() // 60)
    ago = "less than a minute ago" if minutes < 1 else (
        f"{minutes} minute{'s' if minutes > 1 else ''} ago")
    return "\n".join((
        f"ticket #{ticket_id}: {colleague.name} answered {ago} "
        f"({text_time(colleague.answered_at, zone)}); your answer is held, not sent. "
        f"{colleague.name}'s answer:",
        *(f"  > {line}" for line in colleague.text.splitlines()),
        f"Send yours anyway: rnmail ticket reply {ticket_id} --anyway{who}; drop it: "
        f"rnmail ticket discard-held {ticket_id}{who}"))


def held_answers(session: Session, ticket: Ticket, author: str | Staff | None = None
                 ) -> list[Message]:
    """The answers held on ``ticket`` (of ``author`` only, when given), oldest first."""
    session.flush()
    found = list(session.scalars(select(Message).where(
        Message.ticket_id == ticket.id, Message.kind == HELD).order_by(Message.id)))
    if author is None:
        return found
    staff = author if isinstance(author, Staff) else staff_author(session, author)
    name = staff.name if staff else str(author)
    return [m for m in found if _same_author(m, staff, name)]


def find_held(session: Session, ticket: Ticket, author: str | Staff) -> Message:
    """``author``'s held answer on ``ticket`` (the latest); a clear error when none."""
    mine = held_answers(session, ticket, author)
    if mine:
        return mine[-1]
    name = author.name if isinstance(author, Staff) else author
    error = RnmailError.translatable(N_("ticket #{id} holds no answer of {author}"),
                                     id=ticket.id, author=name)
    others = ", ".join(f"{m.from_name} (message {m.id})" for m in held_answers(session, ticket))
    if others:  # the command line's hint; a page says the line alone (``translated``)
        error.args = (f"{error}; held: {others} (give --author)",)
    raise error


def _current(session: Session, held: Message) -> None:
    """Lock the ticket, then check the held answer is still held (not sent meanwhile)."""
    lock_ticket(session, held.ticket)
    kind = session.scalar(select(Message.kind).where(Message.id == held.id))
    if kind != HELD:
        raise RnmailError.translatable(N_("the held answer {id} was sent or discarded "
                                          "already"), id=held.id)


def _forget(session: Session, held: Message, sent: Message) -> None:
    """A held answer went out as ``sent``: ``sent`` takes its place (the mail it came in as,
    what the mailbox records of it), and the held one is removed."""
    session.flush()
    session.execute(update(ProcessedMessage).where(ProcessedMessage.message_db_id == held.id)
                    .values(message_db_id=sent.id))
    keys = held.dedupe_key, held.raw_sha256
    for attachment in held.attachments:
        session.delete(attachment)
    session.delete(held)
    session.flush()
    if keys[0] is not None:
        sent.dedupe_key, sent.raw_sha256 = keys


def send_held(session: Session, config: Config, held: Message, actor: Actor) -> Message:
    """Send a held answer as it was written (attachments included); returns the answer's
    record, which takes the held one's place."""
    _current(session, held)
    blobs = BlobStore(config.helpdesk.attachments_dir)
    files = [Attachment(a.filename, a.content_type, blobs.get(a.sha256))
             for a in held.attachments if a.sha256]
    ticket, text = held.ticket, held.display_text
    author: str | Staff = held.author or held.from_name or "help desk"
    record = answer_requester(session, config, ticket, text, files, author, actor=actor)
    _forget(session, held, record)
    log.info("held answer sent anyway ticket=%d by=%s", ticket.id, author)
    return record


def discard_held(session: Session, config: Config, held: Message, by: str,
                 actor: Actor) -> Message:
    """Drop a held answer: it stays on the ticket as an internal note, never sent."""
    _current(session, held)
    record_change(held.ticket, TicketChange.NOTE, None, "held answer discarded", actor)
    language = config.helpdesk.default_language
    held.kind = "comment"
    held.subject = note_subject(language, held.ticket_id)
    held.display_text = f"{discarded_held(language, name=by)}\n\n{held.display_text}"
    log.info("held answer discarded ticket=%d by=%s", held.ticket_id, by)
    return held


def tell_held(session: Session, config: Config, staff: Staff, outcome: Outcome,
              in_reply_to: str | None = None) -> None:
    """Mail ``staff`` that their answer is held: who answered, when, her answer quoted, and
    how to send theirs anyway (a reply to this mail with ``#send``)."""
    held, colleague = outcome.message, outcome.held_by
    assert colleague is not None
    hd = config.helpdesk
    minutes = max(0, int((utcnow() - colleague.answered_at).total_seconds() // 60))
    rendered = render("staff_held", staff.language, hd.default_language, {
        "tag": hd.tag, "ticket_id": held.ticket_id, "subject": held.ticket.subject,
        "colleague": colleague.name, "minutes": minutes,
        "answered_at": colleague.answered_at, "answer": colleague.text,
        "command": f"#{SEND_COMMAND}",
    }, helpdesk=hd)
    enqueue(session, compose(hd, Draft(
        to=[staff.email], rendered=rendered, kind=f"{HOLD_KIND}{staff.id}-{held.id}",
        ticket_id=held.ticket_id, generated=True, in_reply_to=in_reply_to)),
        purpose=PURPOSE, ticket=held.ticket, kind="notification")


def named_held(session: Session, secret: str, staff: Staff, ticket: Ticket,
               thread_ids: list[str]) -> Message | None:
    """The held answer of ``staff`` a reply names through the signed Message-ID of our
    staff_held mail, while it is still held."""
    for message_id in thread_ids:
        verified = verify_message_id(secret, message_id)
        if verified is None or verified[1] != ticket.id:
            continue
        owner, _, held_id = verified[0][1:].partition("-")
        if verified[0][:1] != HOLD_KIND or owner != str(staff.id) or not held_id.isdigit():
            continue
        held = session.get(Message, int(held_id))
        if held is not None and held.kind == HELD and held.ticket_id == ticket.id:
            return held
    return None
