"""The right to erasure (GDPR Art. 17): anonymise a person everywhere rnmail holds them —
``rnmail privacy erase`` and the desk's privacy page.

What ``rnmail.privacy.person.find_holdings`` finds (what an export writes) is erased in one
transaction:

- the tickets they requested, whole, by the retention's anonymisation
  (``rnmail.privacy.anonymise.anonymise_ticket``: what the statistics count is kept, so
  ``stats`` and ``report`` say the same before and after);
- in other people's tickets: their messages (texts, subject, addresses, raw mail,
  attachments: as ``anonymise_ticket`` does a message), their participant rows, their
  address in the recipients of the other messages and in the history, and the copies the
  help desk made of their words: a staff notification of their message whole, their texts,
  address and number in the help desk's other messages (a delegation's history, a quoted
  reply), and the outbox rows those were sent as (``_copies``);
- their directory entry and group memberships (deleted), the suppression of their address;
- the outbox rows sent to them (recipient, subject and bytes; one not sent yet is cancelled)
  and their bounces;
- the audit entries that name them: each value that names them becomes
  ``(erased <hash>)``;
- their mail kept in the quarantine or held as spam: deleted, with its raw file;
- their address among an organisation's contact addresses: removed;
- the search index follows the messages (``rnmail.tickets.search``);
- the files of the blob store no row refers to any more are deleted just before the commit
  (``delete_blobs``; a file stored in the last minutes is spared, as a mail being stored
  may share it).

A ticket on legal hold among them stops the whole erasure before anything changes, naming
the tickets. The erasure is audited (``privacy-erase``) under a keyed hash of the person
(``Person.subject_hash``) and nothing else about them: the reason has their address or
number replaced as well. Erasing again finds nothing and changes nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.config import Config
from rnmail.errors import RnmailError
from rnmail.i18n.catalogues import N_
from rnmail.models import (
    AuditEvent,
    Bounce,
    GroupMember,
    Message,
    OutboxMessage,
    QuarantinedMessage,
    SpamMessage,
    Suppression,
    Ticket,
    TicketEvent,
)
from rnmail.privacy.anonymise import (
    ANONYMISED,
    Removed,
    anonymise_outbox,
    anonymise_ticket,
    delete_blobs,
    staff_names,
    strip_file,
    strip_raw,
)
from rnmail.privacy.person import Holdings, Person, find_holdings
from rnmail.util.blobs import BlobStore

log = logging.getLogger(__name__)

ACTION = "privacy-erase"
SPARE_SECONDS = 300.0  # a file stored this recently may be a mail being stored: kept


@dataclass
class Erased:
    """What an erasure did: the person's hash, and what it found and changed."""

    subject: str
    found: dict[str, int]
    removed: Removed = field(default_factory=Removed)
    other_messages: int = 0
    mentions: int = 0
    audit_entries: int = 0
    quarantined: int = 0
    files: int = 0
    bytes: int = 0

    @property
    def nothing(self) -> bool:
        return not any(self.found.values())

    def json(self) -> dict[str, Any]:
        r = self.removed
        return {"subject": self.subject, "found": self.found, "nothing": self.nothing,
                "tickets": r.tickets, "messages": r.messages + self.other_messages,
                "raw_mails": r.raw_mails, "attachments": r.attachments,
                "participants": r.participants, "events": r.events,
                "outbox": r.outbox, "bounces": r.bounces, "mentions": self.mentions,
                "audit_entries": self.audit_entries, "quarantined": self.quarantined,
                "files_deleted": self.files,
                "bytes_deleted": self.bytes}


class OnLegalHold(RnmailError):
    """A ticket of the person is on legal hold: nothing was erased."""


def erase_person(session: Session, config: Config, blobs: BlobStore, person: Person,
                 reason: str, by: str) -> Erased:
    """Erase ``person`` in the caller's transaction (see the module); ``by`` names who
    did it in the audit log."""
    if not reason.strip():
        raise RnmailError.translatable(N_("give the reason for the erasure"))
    subject = person.subject_hash(config.helpdesk.secret)
    held = find_holdings(session, person)
    on_hold = [t.id for t in (*held.requested, *held.involved) if t.hold_at is not None]
    if on_hold:
        listed = ", ".join(f"#{i}" for i in on_hold)
        raise OnLegalHold.translatable(N_(
            "ticket(s) {tickets} of this person are on legal hold: nothing was erased; the "
            "hold must be released first"), tickets=listed)
    result = Erased(subject, held.counts())
    marker = f"(erased {subject[:12]})"
    staff = staff_names(session)
    for ticket in held.requested:
        result.removed.add(anonymise_ticket(session, ticket, staff=staff))
    words = TheirWords.of(held)  # before their messages lose their Message-IDs
    for message in held.own_messages:
        result.other_messages += _message(message, staff, result.removed)
    for participant in held.participants:
        session.delete(participant)
        result.removed.participants += 1
    for ticket in held.involved:
        result.mentions += _mentions(session, ticket, person)
        result.other_messages += _copies(session, ticket, person, words, staff,
                                         result.removed)
    _directory(session, held)
    for row in held.outbox:
        result.removed.outbox += anonymise_outbox(row)
    result.removed.bounces += _bounces(session, person, result.removed)
    for event in held.audit:
        result.audit_entries += _scrub(event, person, marker)
    kept_raw: list[QuarantinedMessage | SpamMessage] = [*held.quarantined, *held.spam]
    for held_mail in kept_raw:  # as the retention removes them: row and file
        result.removed.blobs.add(held_mail.raw_sha256)
        session.delete(held_mail)
        result.quarantined += 1
    for organisation in held.contact_of:
        organisation.contact_emails = [a for a in organisation.contact_emails or []
                                       if a.lower() != person.email]
        result.mentions += 1
    result.files, result.bytes = delete_blobs(session, blobs, result.removed.blobs,
                                              spare_seconds=SPARE_SECONDS)
    audit.record(session, by[:64], ACTION, {
        "subject": subject, "reason": _without(reason.strip(), person, marker),
        **{k: v for k, v in result.json().items() if k not in ("subject", "found")},
        "found": result.found})
    log.info("privacy erase subject=%s tickets=%d other_messages=%d files=%d by=%s",
             subject[:12], result.removed.tickets, result.other_messages, result.files, by)
    return result


def _message(message: Message, staff: frozenset[str], removed: Removed) -> int:
    """The person's message in someone else's ticket, as ``anonymise_ticket`` leaves one
    (their own mail: its Message-ID, references and duplicate key go too)."""
    name = message.from_name if message.from_name in staff else None
    after: tuple[Any, ...] = (ANONYMISED, "", name, [], [], "", "", None, None, None, None,
                              None)
    before = (message.subject, message.from_addr, message.from_name, message.to_addrs,
              message.cc_addrs, message.text, message.display_text, message.html,
              message.message_id, message.in_reply_to, message.references,
              message.dedupe_key)
    changed = int(before != after)
    (message.subject, message.from_addr, message.from_name, message.to_addrs,
     message.cc_addrs, message.text, message.display_text, message.html,
     message.message_id, message.in_reply_to, message.references,
     message.dedupe_key) = after
    message.search_numbers = None
    removed.raw_mails += strip_raw(message, removed)
    for attachment in message.attachments:
        removed.attachments += strip_file(attachment, removed, ANONYMISED)
        attachment.filename, attachment.content_id = ANONYMISED, None
    return changed


def _mentions(session: Session, ticket: Ticket, person: Person) -> int:
    """Their address among the recipients of the ticket's other messages, and their part
    in its history: removed."""
    count = 0
    keys = set(person.keys)
    for message in session.scalars(select(Message).where(Message.ticket_id == ticket.id)):
        for name in ("to_addrs", "cc_addrs"):
            values = list(getattr(message, name) or [])
            kept = [v for v in values if v.lower() not in keys]
            if kept != values:
                setattr(message, name, kept)
                count += 1
    for event in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)):
        if (event.actor_email or "").lower() in keys:
            event.actor, event.actor_email = ANONYMISED, None
            count += 1
        for name in ("old", "new"):
            value = getattr(event, name)
            if value and person.named_in(value):
                setattr(event, name, None)
                count += 1
    return count


@dataclass(frozen=True)
class TheirWords:
    """What the help desk's own mails in other people's tickets copied of the person's:
    the Message-IDs of their messages (a notification answers one) and their texts (a
    delegation quotes the history, a staff reply may quote them)."""

    message_ids: frozenset[str]
    texts: tuple[str, ...]

    @classmethod
    def of(cls, held: Holdings) -> TheirWords:
        texts = {text.strip() for m in held.own_messages
                 for text in (m.display_text, m.text) if text and len(text.strip()) >= 12}
        return cls(frozenset(m.message_id for m in held.own_messages if m.message_id),
                   tuple(sorted(texts, key=len, reverse=True)))


def _copies(session: Session, ticket: Ticket, person: Person, words: TheirWords,
            staff: frozenset[str], removed: Removed) -> int:
    """In a ticket someone else requested, the copies of the person's words: a staff
    notification of their message is anonymised whole (it is that message, forwarded), as
    are the mails it was sent as; elsewhere their texts, address and number are cut out
    of the help desk's messages (a delegation's history, a quoted reply), the raw copy
    going with them. 1 per message changed."""
    count = 0
    for message in session.scalars(select(Message).where(Message.ticket_id == ticket.id)):
        sent_as = message.message_id
        if message.kind == "notification" and message.in_reply_to in words.message_ids:
            count += _message(message, staff, removed)
        elif _cut_out(message, person, words):
            removed.raw_mails += strip_raw(message, removed)
            count += 1
        else:
            continue
        if sent_as:  # the outbox rows it left as: their bytes hold the same words
            for row in session.scalars(select(OutboxMessage).where(
                    OutboxMessage.ticket_id == ticket.id, OutboxMessage.message_id == sent_as)):
                removed.outbox += anonymise_outbox(row)
    return count


def _cut_out(message: Message, person: Person, words: TheirWords) -> bool:
    """Their texts, then their address and number, replaced in the message's text, shown
    text and HTML; whether anything changed."""
    changed = False
    for name in ("text", "display_text", "html"):
        value = getattr(message, name)
        if not value:
            continue
        cleaned = value
        for text in words.texts:
            cleaned = cleaned.replace(text, ANONYMISED)
        cleaned = _without(cleaned, person, ANONYMISED)
        if cleaned != value:
            setattr(message, name, cleaned)
            changed = True
    return changed


def _directory(session: Session, held: Holdings) -> None:
    """The directory entry and the group memberships are deleted, as is the suppression of
    the person's address (it names them, and they receive nothing from us any more)."""
    if held.directory_user is not None:
        session.execute(delete(GroupMember).where(
            func.lower(GroupMember.email) == held.directory_user.email.lower()))
        session.delete(held.directory_user)
    for member in held.memberships:
        if member in session:
            session.delete(member)
    if held.person.addresses:
        session.execute(delete(Suppression).where(
            func.lower(Suppression.email).in_(held.person.addresses)))


def _bounces(session: Session, person: Person, removed: Removed) -> int:
    count = 0
    for bounce in session.scalars(select(Bounce).where(
            func.lower(Bounce.recipient).in_(person.addresses or ("",)))):
        if bounce.raw_sha256 is not None:
            removed.blobs.add(bounce.raw_sha256)
        bounce.recipient, bounce.diagnostic, bounce.raw_sha256 = "", None, None
        bounce.original_message_id, bounce.report_message_id = None, None
        count += 1
    return count


def _scrub(event: AuditEvent, person: Person, marker: str) -> int:
    """Each value of the entry that names the person becomes ``marker``; their names (of
    the directory's snapshots) go with the address they stand next to."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            names_them = any(isinstance(v, str) and person.named_in(v) for v in value.values())
            return {k: (None if names_them and k in ("name", "phone") and v is not None
                        else clean(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, str) and person.named_in(value):
            return _without(value, person, marker)
        return value

    cleaned = clean(event.detail)
    if cleaned == event.detail:
        return 0
    event.detail = cleaned
    return 1


def _without(text: str, person: Person, marker: str) -> str:
    """``text`` with the person's address and number replaced by ``marker``."""
    for key in sorted(person.keys, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.+-]){re.escape(key)}(?![\w-]|\.\w)", marker, text,
                      flags=re.IGNORECASE)
    return text

