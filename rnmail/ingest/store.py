"""Store: write the message (and its new ticket, if any) with attachments and raw .eml.

Attachments and the raw message go to the content-addressed blob store; rows refer to them
by sha256. Attachments over the size limit are recorded as omitted, with name and size.

The participants of a new ticket are its requester and the address acknowledgements go to
(a Reply-To in the From's domain); never the addresses in To or Cc of an incoming mail.

Next stage: ``respond``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.instrumentation import manager_of_class

from rnmail.db import insert_rows, insert_with_ids
from rnmail.ingest.parse import ParsedMail
from rnmail.models import (
    Attachment,
    Message,
    Participant,
    Ticket,
    TicketEvent,
    folded_name,
    utcnow,
)
from rnmail.tickets.history import Actor, event_values
from rnmail.util.blobs import BlobStore
from rnmail.util.phone import number_tokens, phone_numbers
from rnmail.vocab import TicketChange, TicketStatus

if TYPE_CHECKING:  # a type only: the business calendar is imported at the first write
    from rnmail.tickets.due import DueRules

M = TypeVar("M")


@dataclass(frozen=True)
class Requester:
    """Who a new ticket is from: a mail address, or an E.164 number for a fax."""

    address: str
    name: str | None
    channel: str  # mail | fax
    reply_to: str | None  # where mail to them goes; None when unreachable


@dataclass
class StoredMail:
    """An incoming mail's ``message`` row and its attachments' rows, written by ``write``;
    ``id`` once written."""

    ticket: Ticket  # a new one (not in the session yet) or a stored one
    row: dict[str, Any]
    attachments: list[dict[str, Any]] = field(default_factory=list)
    opened: dict[str, Any] | None = None  # the first event of the ticket this mail opens
    id: int | None = None


def open_ticket(
    mail: ParsedMail,
    requester: Requester,
    language: str,
    mailbox: str,
    own_addresses: frozenset[str],
    linked_ticket_id: int | None = None,
    fax_pages: int | None = None,
) -> tuple[Ticket, dict[str, Any]]:
    """A new ticket and its ``opened`` event, kept out of the session: ``write`` inserts them
    with the batch's other new tickets. Every column is given here, defaults included:
    nothing is left to the ORM. Its participants and events are set without the ORM's
    bookkeeping of relationships, which cost more than the rest of the ticket (the
    participants are read by ``thread`` for a later mail of the batch; an event recorded
    later in the batch is added to the events). The ticket stays out of the session for
    good: what follows the write (acknowledgement, notifications, the incident's links)
    reads its columns and number only."""
    now = utcnow()
    ticket = _built(Ticket, {
        "subject": mail.subject or "(no subject)",
        "status": TicketStatus.OPEN.value,
        "channel": requester.channel,
        "requester": requester.address,
        "requester_name": requester.name,
        "requester_name_folded": folded_name(requester.name),
        "requester_type": "other",
        "sender_unverified": False,
        "language": language,
        "mailbox": mailbox,
        "fax_pages": fax_pages,
        "linked_ticket_id": linked_ticket_id,
        "created_at": now,
        "updated_at": now,
    })
    opened = event_values(TicketChange.OPENED, None, requester.channel,
                          Actor.requester(requester.address, requester.name))
    # Not the mail's To and Cc: a forged mail with the victim's From and an attacker in Cc
    # would make the attacker a participant. Staff add them (``#cc``, ``ticket participant``).
    addresses = dict.fromkeys(a.lower() for a in (requester.address, requester.reply_to or "")
                              if a and a.lower() not in own_addresses)
    set_committed_value(ticket, "participants", [
        _built(Participant, {"address": a, "role": "requester"}) for a in addresses])
    set_committed_value(ticket, "events", [])
    return ticket, opened


def store_message(
    blobs: BlobStore,
    ticket: Ticket,
    mail: ParsedMail,
    kind: str,
    mailbox: str,
    raw_sha256: str,
    sender_verdict: str | None,
    opened: dict[str, Any] | None = None,
) -> StoredMail:
    """The mail's row and its attachments' (in the blob store now), for ``write``."""
    from_addr = mail.from_addr or ""
    row = {
        "direction": "in",
        "kind": kind,
        "message_id": mail.message_id,
        "dedupe_key": mail.dedupe_key,
        "in_reply_to": " ".join(mail.in_reply_to) or None,
        "references": " ".join(mail.references) or None,
        "from_addr": from_addr,
        "from_name": mail.from_name,
        "to_addrs": mail.to,
        "cc_addrs": mail.cc,
        "subject": mail.subject,
        "date": mail.date,
        "text": mail.text,
        "display_text": mail.display_text,
        "html": mail.html,
        "raw_sha256": raw_sha256,
        "raw_size": len(mail.raw),
        "mailbox": mailbox,
        "created_at": utcnow(),
        "author_id": None,
        # models.search_numbers of an incoming mail, the mail's own numbers read ahead
        "search_numbers": number_tokens([*mail.phone_numbers,
                                         *phone_numbers(ticket.requester)]) or None,
        "sender_verdict": sender_verdict,
    }
    attachments = [
        {
            "filename": part.filename,
            "content_type": part.content_type,
            "size": part.size,
            "sha256": blobs.put(part.data, part.staged) if part.data is not None else None,
            "inline": part.inline,
            "content_id": part.content_id,
            "omitted_reason": part.omitted_reason,
        }
        for part in mail.attachments
    ]
    return StoredMail(ticket, row, attachments, opened)


def write(session: Session, stored: list[StoredMail], rules: DueRules | None) -> None:
    """Insert the new tickets of ``stored`` with their history and participants, then the
    mails and their attachments: one Core executemany per table instead of the ORM's unit of
    work, about a third of the ingest's time. The new tickets get their due times here
    (``rules``; the ORM's flush hook does not see them), and their numbers."""
    new = list({id(s.ticket): s.ticket for s in stored if s.ticket.id is None}.values())
    if rules is not None:
        now = utcnow()
        for ticket in new:
            rules.apply(ticket, [(e.at or now, e.old, e.new) for e in ticket.events
                                 if e.what == TicketChange.STATUS.value])
    ids = insert_with_ids(session, _table(Ticket), [_row(t, Ticket) for t in new])
    for ticket, ticket_id in zip(new, ids, strict=True):
        ticket.id = ticket_id
    now = utcnow()
    insert_rows(session, _table(TicketEvent), [
        *({**s.opened, "ticket_id": s.ticket.id, "at": now} for s in stored if s.opened),
        *({**_row(e, TicketEvent), "ticket_id": t.id, "at": e.at or now}
          for t in new for e in t.events)])
    insert_rows(session, _table(Participant), [
        {**_row(p, Participant), "ticket_id": t.id} for t in new for p in t.participants])
    message_ids = insert_with_ids(session, _table(Message), [
        {**s.row, "ticket_id": s.ticket.id} for s in stored], indexed=True)
    for mail, message_id in zip(stored, message_ids, strict=True):
        mail.id = message_id
    insert_rows(session, _table(Attachment), [
        {**row, "message_id": s.id} for s in stored for row in s.attachments])


def _built(model: type[M], values: dict[str, Any]) -> M:
    """A ``model`` with ``values`` as if loaded, without the ORM's constructor and its
    event per attribute (most of the cost of a new ticket): for the rows ``write`` inserts
    through Core, which never enter the session."""
    obj: M = manager_of_class(model).new_instance()
    obj.__dict__.update(values)
    return obj


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _row(obj: Any, model: type) -> dict[str, Any]:
    """``obj``'s columns but ``id``, as given (None when not set): a Core insert's row."""
    values = obj.__dict__
    return {key: values.get(key) for key in _keys(model)}


@cache
def _keys(model: type) -> tuple[str, ...]:
    return tuple(c.key for c in _table(model).columns if c.key != "id")
