"""Anonymise a ticket: remove what it says about people, keep what the statistics count.

``anonymise_ticket`` works in the caller's session and transaction (the retention run, an
erasure request); ``delete_blobs`` then deletes the files no row refers to any more.

**Kept**, because ``rnmail stats`` (contacts, ``times``, ``due``) and ``rnmail report``
count them, so that every figure is the same before and after:

- the ticket's dates (created, first response, delegated, closed, due times, updated), its
  channel, category, requester type, status, resolution, language, service, assignee,
  mailbox, fax page count, and its links (``linked_ticket_id``, ``merged_into_id``);
- ``requester_org``: the *organisation's* name (from the directory, or typed as the
  organisation of a call or letter), which the figures by organisation count. rnmail never
  writes a person's name there; staff must not type one either (docs/privacy.md);
- of the requester's address, only its domain, and only where the figures by organisation
  read it (a requester that is not a citizen, without an organisation): ``@example.org``;
- each message's direction, kind, dates, author (a staff member), mailbox, and the sender's
  name only when it is a staff member's (the answers per staff member count by it);
- each attachment's type, size and inline flag (not its name nor its content);
- each history event's kind, time and actor kind, and its values where they are the
  ticket's fields (status, category, assignee, service, due steps, merges...); a staff
  member, service or rnmail as the actor. Staff and services are the help desk's own
  people, not the persons the ticket is about;
- outbox rows' purpose, state, dates and attempts (the sending history).

**Removed**: the subjects, the requester's address, name and phone number (and their folded
and search forms), the participants, every message's texts, HTML, addresses and references,
the Message-IDs of the mails received and their duplicate keys (rnmail's own IDs stay: they
name no one, and say what a notification was), its raw mail and its attachments' names and
files, the search index entries (SQLite's FTS table follows the message by its triggers,
PostgreSQL's stored vector is computed from the emptied columns), the history values that
name people (answers' recipients, participants, notes, unblockings, legal holds, the
requester as actor), the outbox rows' recipients, subjects and bodies, and their bounces'
recipients, reports and raw mail.

``ticket.anonymised_at`` marks the result. Anonymising again changes nothing and counts
nothing: the counts say what was actually removed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from rnmail.db import chunks
from rnmail.models import (
    Attachment,
    Bounce,
    Message,
    OutboxMessage,
    Participant,
    QuarantinedMessage,
    SpamMessage,
    Staff,
    Ticket,
    TicketEvent,
    utcnow,
)
from rnmail.util.blobs import BlobStore
from rnmail.vocab import ActorKind, OutboxState, RequesterType, TicketChange

# A file stored (again) this recently is spared: a mail being stored may refer to it.
SPARE_SECONDS = 86400.0
# What stands where a text was (an English word: the database is not translated).
ANONYMISED = "(anonymised)"

# History events whose old and new values are the ticket's own fields or rnmail's steps:
# kept. Every other kind (answers' recipients, participants, notes, unblockings, and any
# kind added later) loses its values.
KEPT_VALUES = frozenset({
    TicketChange.OPENED, TicketChange.STATUS, TicketChange.RESOLUTION,
    TicketChange.ASSIGNEE, TicketChange.CATEGORY, TicketChange.REQUESTER_TYPE,
    TicketChange.SERVICE, TicketChange.PENDING_UNTIL, TicketChange.MERGED_INTO,
    TicketChange.MERGED_FROM, TicketChange.SPLIT_TO, TicketChange.SERVICE_REMINDER,
    TicketChange.OVERDUE, TicketChange.DUE_WARNING, TicketChange.DUE_MISSED,
    TicketChange.AUTO_CLOSED,
})
# Actors that are the help desk's side: named in the history as they were.
KEPT_ACTORS = frozenset({ActorKind.STAFF, ActorKind.OPERATOR, ActorKind.USER,
                         ActorKind.SERVICE, ActorKind.SYSTEM})


@dataclass
class Removed:
    """What a purge removed (or, in a dry run, would remove), per kind; ``blobs``: the
    files that lost a reference, for ``delete_blobs``."""

    tickets: int = 0
    messages: int = 0
    raw_mails: int = 0
    attachments: int = 0
    participants: int = 0
    events: int = 0
    outbox: int = 0
    bounces: int = 0
    blobs: set[str] = field(default_factory=set)

    def add(self, other: Removed) -> None:
        for name in ("tickets", "messages", "raw_mails", "attachments", "participants",
                     "events", "outbox", "bounces"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.blobs |= other.blobs


def staff_names(session: Session) -> frozenset[str]:
    """The staff members' names: a message's sender name that is one of them is kept."""
    return frozenset(session.scalars(select(Staff.name)))


def anonymise_ticket(session: Session, ticket: Ticket, *, now: datetime | None = None,
                     staff: frozenset[str] | None = None) -> Removed:
    """Remove the personal data of ``ticket`` in the caller's transaction (see the module's
    docstring for what is kept and why). A ticket on legal hold is the caller's to refuse.
    The files of its raw mails and attachments are in ``Removed.blobs``: ``delete_blobs``
    deletes those no other row refers to."""
    [removed] = anonymise_tickets(session, [ticket], now=now, staff=staff)
    return removed


def anonymise_tickets(session: Session, tickets: Sequence[Ticket], *,
                      now: datetime | None = None, staff: frozenset[str] | None = None
                      ) -> list[Removed]:
    """``anonymise_ticket`` of each of ``tickets``, their rows read with one query per table
    for them all (the retention run's batches), not one per ticket and table."""
    names = staff if staff is not None else staff_names(session)
    with session.no_autoflush:  # what changes is flushed once, at the commit
        participants = _rows(session, Participant.ticket_id, [t.id for t in tickets])
        messages = _rows(session, Message.ticket_id, [t.id for t in tickets])
        attachments = _rows(session, Attachment.message_id,
                            [m.id for found in messages.values() for m in found])
        events = _rows(session, TicketEvent.ticket_id, [t.id for t in tickets])
        outbox = _rows(session, OutboxMessage.ticket_id, [t.id for t in tickets])
        bounces = _rows(session, Bounce.outbox_id,
                        [row.id for found in outbox.values() for row in found])
    results = []
    for ticket in tickets:
        removed = Removed()
        last_activity = ticket.updated_at
        changed = _ticket(ticket)
        for participant in participants.get(ticket.id, []):
            session.delete(participant)
            removed.participants += 1
        for message in messages.get(ticket.id, []):
            removed.messages += _message(message, names)
            removed.raw_mails += strip_raw(message, removed)
            for attachment in attachments.get(message.id, []):
                removed.attachments += _attachment(attachment, removed)
        for event in events.get(ticket.id, []):
            removed.events += _event(event)
        for row in outbox.get(ticket.id, []):
            removed.outbox += anonymise_outbox(row)
            for bounce in bounces.get(row.id, []):
                removed.bounces += _bounce(bounce, removed)
        if changed or ticket.anonymised_at is None or any((
                removed.messages, removed.raw_mails, removed.attachments, removed.events,
                removed.participants, removed.outbox, removed.bounces)):
            removed.tickets = 1
            ticket.anonymised_at = now or utcnow()
        # not a change people made: the ticket's last activity stays as it was (the
        # queue's order), written back instead of the column's ``onupdate`` time
        ticket.updated_at = last_activity
        flag_modified(ticket, "updated_at")
        results.append(removed)
    return results


def _rows(session: Session, column: Any, values: list[int]) -> dict[int, list[Any]]:
    """The rows of ``column``'s table whose ``column`` is one of ``values``, by that value."""
    found: dict[int, list[Any]] = defaultdict(list)
    entity = column.class_
    for part in chunks(values):
        for row in session.scalars(select(entity).where(column.in_(part))):
            found[getattr(row, column.key)].append(row)
    return found


def _ticket(ticket: Ticket) -> bool:
    keep_domain = (ticket.requester_type != RequesterType.CITIZEN
                   and ticket.requester_org is None and "@" in ticket.requester)
    requester = "@" + ticket.requester.rpartition("@")[2] if keep_domain else ANONYMISED
    changed = (ticket.subject, ticket.requester, ticket.requester_name) != (
        ANONYMISED, requester, None)
    ticket.subject, ticket.requester, ticket.requester_name = ANONYMISED, requester, None
    ticket.requester_name_folded = None
    return changed


def _message(message: Message, staff: frozenset[str]) -> int:
    from_name = message.from_name if message.from_name in staff else None
    from_addr = message.from_addr if message.direction == "out" else ""
    # rnmail's own Message-IDs name no one (they say whom a notification was for)
    message_id = message.message_id if message.direction == "out" else None
    if (message.subject, message.from_addr, message.from_name, message.to_addrs,
            message.cc_addrs, message.text, message.display_text, message.html,
            message.message_id, message.in_reply_to, message.references) == (
            ANONYMISED, from_addr, from_name, [], [], "", "", None, message_id, None,
            None) and message.dedupe_key is None:
        return 0
    message.subject, message.from_addr, message.from_name = ANONYMISED, from_addr, from_name
    message.to_addrs, message.cc_addrs = [], []
    message.text, message.display_text, message.html = "", "", None
    message.message_id, message.in_reply_to, message.references = message_id, None, None
    message.dedupe_key = None  # a hash of the sender, date, subject and Message-ID
    message.search_numbers = None  # recomputed from the emptied texts on flush: none
    return 1


def strip_raw(message: Message, removed: Removed) -> int:
    """Unlink the raw mail of ``message`` (its file to ``delete_blobs``); 1 if it had one.
    The retention run uses it alone for raw mails older than their period."""
    if message.raw_sha256 is None:
        return 0
    removed.blobs.add(message.raw_sha256)
    message.raw_sha256, message.raw_size = None, None
    return 1


def _attachment(attachment: Attachment, removed: Removed) -> int:
    changed = strip_file(attachment, removed, ANONYMISED)
    if attachment.filename != ANONYMISED or attachment.content_id is not None:
        attachment.filename, attachment.content_id = ANONYMISED, None
        changed = 1
    return changed


def strip_file(attachment: Attachment, removed: Removed, reason: str) -> int:
    """Unlink the file of ``attachment`` (to ``delete_blobs``), keeping its description
    with ``reason`` as why it is not there; 1 if it had one."""
    if attachment.sha256 is None:
        return 0
    removed.blobs.add(attachment.sha256)
    attachment.sha256, attachment.omitted_reason = None, reason
    return 1


def _event(event: TicketEvent) -> int:
    changed = 0
    if event.what not in KEPT_VALUES and (event.old, event.new) != (None, None):
        event.old, event.new = None, None
        changed = 1
    if event.actor_kind not in KEPT_ACTORS and (event.actor, event.actor_email) != (
            ANONYMISED, None):
        event.actor, event.actor_email = ANONYMISED, None
        changed = 1
    return changed


def anonymise_outbox(row: OutboxMessage) -> int:
    """Remove an outgoing mail's recipient, subject and bytes; one not sent yet is
    cancelled (``failed``), as there is nothing left to send. 1 if anything changed."""
    cancelled = "cancelled: its personal data was removed"
    if (row.to_addr, row.subject, row.raw, row.body_id) == ("", ANONYMISED, b"", None) and (
            row.last_reply in (None, cancelled, ANONYMISED)):
        return 0
    if row.state in (OutboxState.QUEUED, OutboxState.SENDING):
        row.state, row.last_reply, row.lease_until = OutboxState.FAILED, cancelled, None
    elif row.last_reply and row.last_reply != cancelled:
        row.last_reply = ANONYMISED  # a server's reply often repeats the recipient (550 <x@y>)
    row.to_addr, row.subject, row.raw, row.body_id = "", ANONYMISED, b"", None
    return 1


def _bounce(bounce: Bounce, removed: Removed) -> int:
    if bounce.raw_sha256 is not None:
        removed.blobs.add(bounce.raw_sha256)
    if (bounce.recipient, bounce.diagnostic, bounce.original_message_id,
            bounce.report_message_id, bounce.raw_sha256) == ("", None, None, None, None):
        return 0
    bounce.recipient, bounce.diagnostic, bounce.raw_sha256 = "", None, None
    bounce.original_message_id, bounce.report_message_id = None, None
    return 1


# Every column that names a file of the blob store by its sha256.
FILE_COLUMNS = (Message.raw_sha256, Attachment.sha256, Bounce.raw_sha256,
                QuarantinedMessage.raw_sha256, SpamMessage.raw_sha256)


def referenced(session: Session, digests: Iterable[str]) -> set[str]:
    """Those of ``digests`` a row still refers to (as this session sees the rows: flush
    first), in every table that stores a file of the blob store."""
    wanted = sorted(set(digests))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        found.update(session.scalars(union_all(
            *(select(column).where(column.in_(chunk)) for column in FILE_COLUMNS))))
    return found


def unreferenced_bytes(session: Session, blobs: BlobStore, digests: Iterable[str],
                       spare_seconds: float = SPARE_SECONDS) -> tuple[int, int]:
    """The files and bytes ``delete_blobs`` would delete (a dry run)."""
    digests = set(digests)
    spare_after = time.time() - spare_seconds
    files = size = 0
    for digest in digests - referenced(session, digests):
        path = blobs.path(digest)
        if path.is_file() and (status := path.stat()).st_mtime <= spare_after:
            files, size = files + 1, size + status.st_size
    return files, size


def delete_blobs(session: Session, blobs: BlobStore, digests: Iterable[str],
                 spare_seconds: float = SPARE_SECONDS) -> tuple[int, int]:
    """Delete the files of ``digests`` that no row refers to any more; returns how many
    files and bytes. Called after the purge's changes are flushed, just before its commit:
    a file must not outlive its purge (should the commit fail, the rows point to missing
    files the next run unlinks). A file stored again within ``spare_seconds`` (a mail with
    the same attachment arriving now, not committed yet) is kept (``BlobStore.remove``)."""
    session.flush()
    digests = set(digests)
    spare_after = time.time() - spare_seconds
    files = size = 0
    for digest in sorted(digests - referenced(session, digests)):
        freed = blobs.remove(digest, spare_after)
        if freed is not None:
            files, size = files + 1, size + freed
    return files, size
