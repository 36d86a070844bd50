"""Who a request under the GDPR is about, and everything rnmail holds about them: the one
reading that the access export (``rnmail.privacy.export``) and the erasure
(``rnmail.privacy.erase``) share, so that what is erased is what was exported.

A person is named by a mail address, a phone number (any notation, compared in E.164 —
``rnmail.util.phone``), or both. What they hold:

- the tickets they requested (the requester is their address or number), whole;
- the other tickets they took part in (a participant row) or wrote to (a message from their
  address, a call from their number): only their own messages and participant rows;
- their directory entry (by address; by number only when one user has it, as
  ``rnmail.directory.people.directory_user_for`` decides) and their group memberships;
- the outbox rows sent to them (to their address, or their fax number's gateway address);
- the audit entries that name them (their address or number as a value of the entry:
  the directory's history, unblocking, imports);
- the mail from their address kept in the quarantine (it could not be processed) or held
  as spam;
- the organisations whose contact addresses list theirs.

Mentions of a person in the free text of someone else's mail are not found: nobody can
tell them apart from a namesake.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from rnmail.config import Config
from rnmail.directory.people import directory_user_for
from rnmail.errors import RnmailError
from rnmail.i18n.catalogues import N_
from rnmail.ingest.fax import fax_reply_address
from rnmail.models import (
    AuditEvent,
    DirectoryUser,
    GroupMember,
    Message,
    Organisation,
    OutboxMessage,
    Participant,
    QuarantinedMessage,
    SpamMessage,
    Ticket,
)
from rnmail.util.addresses import deliverable_address
from rnmail.util.phone import normalise_number


@dataclass(frozen=True)
class Person:
    """The data subject: their address (lower case) and/or number (E.164), and the address
    the fax gateway reaches that number at."""

    email: str | None = None
    phone: str | None = None
    fax_address: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """Every value a row may name them by, lower case."""
        return tuple(k.lower() for k in (self.email, self.phone, self.fax_address) if k)

    @property
    def addresses(self) -> tuple[str, ...]:
        """The mail addresses that reach them (theirs, their fax's)."""
        return tuple(k.lower() for k in (self.email, self.fax_address) if k)

    def named_in(self, value: str) -> bool:
        """Whether ``value`` holds one of their keys as a whole (``a@x.example`` is not
        in ``aa@x.example``)."""
        low = value.lower()
        return any(re.search(rf"(?<![\w.+-]){re.escape(k)}(?![\w-]|\.\w)", low)
                   for k in self.keys)

    def subject_hash(self, secret: str) -> str:
        """What the audit log keeps of them: a keyed hash (HMAC-SHA256 with the
        installation's ``[helpdesk].secret``) of the normalised keys, so that the entry can
        be matched to a later request for the same person and to nobody else."""
        text = "\n".join(k for k in (self.email or "", self.phone or ""))
        return hmac.new(secret.encode(), b"privacy-subject\n" + text.encode(),
                        hashlib.sha256).hexdigest()


def person_of(config: Config, email: str | None, phone: str | None) -> Person:
    """The person of ``--email`` / ``--phone`` (one of them at least), checked."""
    address = number = None
    if email is not None and email.strip():
        address = deliverable_address(email.strip())
        if address is None:
            raise RnmailError.translatable(N_("'{email}' is not a valid mail address"),
                                           email=email.strip())
        address = address.lower()
        if address in config.helpdesk.own_addresses:
            raise RnmailError.translatable(N_(
                "{email} is the help desk itself: its mail is in every ticket, it is "
                "nobody's personal data to export or erase"), email=address)
    if phone is not None and phone.strip():
        number = normalise_number(phone, config.fax.region)
        if number is None:
            raise RnmailError.translatable(N_("'{phone}' is not a phone number"),
                                           phone=phone.strip())
    if address is None and number is None:
        raise RnmailError.translatable(N_(
            "name the person: a mail address (--email), a phone number (--phone) or both"))
    fax = fax_reply_address(number, config.fax.address_pattern,
                            config.fax.region).lower() if number else None
    return Person(address, number, fax)


@dataclass
class Holdings:
    """What rnmail holds about ``person`` (see the module)."""

    person: Person
    requested: list[Ticket] = field(default_factory=list)
    involved: list[Ticket] = field(default_factory=list)
    own_messages: list[Message] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    directory_user: DirectoryUser | None = None
    memberships: list[GroupMember] = field(default_factory=list)
    outbox: list[OutboxMessage] = field(default_factory=list)
    audit: list[AuditEvent] = field(default_factory=list)
    quarantined: list[QuarantinedMessage] = field(default_factory=list)
    spam: list[SpamMessage] = field(default_factory=list)
    contact_of: list[Organisation] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.requested or self.involved or self.directory_user
                    or self.memberships or self.outbox or self.audit or self.quarantined
                    or self.spam or self.contact_of)

    def counts(self) -> dict[str, int]:
        return {"tickets": len(self.requested), "other_tickets": len(self.involved),
                "messages_in_other_tickets": len(self.own_messages),
                "directory": int(self.directory_user is not None),
                "group_memberships": len(self.memberships), "outbox": len(self.outbox),
                "audit_entries": len(self.audit), "quarantined": len(self.quarantined),
                "spam": len(self.spam), "organisation_contacts": len(self.contact_of)}


def find_holdings(session: Session, person: Person) -> Holdings:
    """Everything rnmail holds about ``person``, read in ``session``."""
    keys, held = person.keys, Holdings(person)
    held.requested = list(session.scalars(
        select(Ticket).where(func.lower(Ticket.requester).in_(keys)).order_by(Ticket.id)
        .options(selectinload(Ticket.messages).selectinload(Message.attachments))))
    mine = {t.id for t in held.requested}
    held.participants = [p for p in session.scalars(
        select(Participant).where(func.lower(Participant.address).in_(keys))
        .order_by(Participant.ticket_id, Participant.id)) if p.ticket_id not in mine]
    held.own_messages = [m for m in session.scalars(
        select(Message).where(func.lower(Message.from_addr).in_(keys)).order_by(Message.id)
        .options(selectinload(Message.attachments))) if m.ticket_id not in mine]
    other = {p.ticket_id for p in held.participants} | {m.ticket_id for m in held.own_messages}
    held.involved = list(session.scalars(select(Ticket).where(Ticket.id.in_(other))
                                         .order_by(Ticket.id))) if other else []
    held.directory_user = _directory_user(session, person)
    if person.email:
        held.memberships = list(session.scalars(
            select(GroupMember).where(func.lower(GroupMember.email) == person.email)
            .options(selectinload(GroupMember.group)).order_by(GroupMember.id)))
    held.outbox = list(session.scalars(
        select(OutboxMessage).where(func.lower(OutboxMessage.to_addr).in_(person.addresses))
        .order_by(OutboxMessage.id))) if person.addresses else []
    held.audit = audit_about(session, person)
    if person.email:  # the From as written (``Name <address>``): a first cut, then exactly
        held.quarantined = [q for q in session.scalars(
            select(QuarantinedMessage).where(
                func.lower(QuarantinedMessage.from_addr).contains(person.email))
            .order_by(QuarantinedMessage.id)) if person.named_in(q.from_addr or "")]
        held.spam = [s for s in session.scalars(
            select(SpamMessage).where(func.lower(SpamMessage.from_addr).contains(person.email))
            .order_by(SpamMessage.id)) if person.named_in(s.from_addr or "")]
        held.contact_of = [o for o in session.scalars(
            select(Organisation).where(func.lower(cast(Organisation.contact_emails, Text))
                                       .contains(person.email)).order_by(Organisation.id))
            if person.email in {a.lower() for a in o.contact_emails or []}]
    return held


def _directory_user(session: Session, person: Person) -> DirectoryUser | None:
    if person.email:
        found = directory_user_for(session, person.email)
        if found is not None:
            return found
    return directory_user_for(session, person.phone) if person.phone else None


def audit_about(session: Session, person: Person) -> list[AuditEvent]:
    """The audit entries one of whose values names the person (a first cut in SQL on the
    entry's text, then value by value)."""
    text = cast(AuditEvent.detail, Text)
    rough = or_(*(func.lower(text).contains(k) for k in person.keys))
    return [e for e in session.scalars(select(AuditEvent).where(rough).order_by(AuditEvent.id))
            if any(person.named_in(v) for v in strings_in(e.detail))]


def strings_in(value: Any) -> Iterable[str]:
    """Every string of a JSON value, keys of objects included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings_in(v)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
