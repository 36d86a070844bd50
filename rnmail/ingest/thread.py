"""Thread: which ticket a message belongs to.

In this order:

1. one of our own Message-IDs (signed with ``helpdesk.secret``: an acknowledgement, an
   answer, a notification) named by In-Reply-To/References: its ticket, whoever writes;
2. a Message-ID we received, named by In-Reply-To/References — but only for a participant of
   that ticket: Message-IDs are not secret and anyone may reuse one, so a stranger who
   copies (or first sends) someone's Message-ID cannot pull their mail into another ticket
   nor get into theirs;
3. the subject tag ``[RN #42]`` (reply prefixes and mangled tags tolerated), again only for a
   participant of that ticket.

A stranger's mail that names a ticket either way opens a new ticket linked to it. A ticket
merged into another (``rnmail.tickets.merge``) stands for that one: its participants, its
messages and its mail are there.

Next stage: ``store``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from rnmail.db import chunks
from rnmail.ingest.parse import ParsedMail
from rnmail.models import Message, Ticket
from rnmail.util.tokens import verify_message_id


@dataclass(frozen=True)
class ThreadMatch:
    ticket: Ticket | None  # None: open a new ticket
    how: str  # "references" | "subject-tag" | "new"
    linked_ticket_id: int | None = None


@cache
def tag_pattern(tag: str) -> re.Pattern[str]:
    """``[RN #42]``, ``[RN#42]``, ``[ RN # 42 ]``, ``RN #42``, ``(RN #42)``."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(tag)}\s*#\s*(\d{{1,9}})(?!\d)", re.IGNORECASE)


def ticket_number_in_subject(subject: str, tag: str) -> int | None:
    match = tag_pattern(tag).search(subject)
    return int(match.group(1)) if match else None


def received_tickets(session: Session, message_ids: Iterable[str]) -> dict[str, list[int]]:
    """The tickets of the mails received with ``message_ids`` (a whole batch's
    In-Reply-To and References), oldest mail first, by Message-ID."""
    known: dict[str, list[int]] = {}
    rows: list[tuple[int, str | None, int]] = []
    for part in chunks(set(message_ids)):
        rows += [(id_, stored, ticket_id) for id_, stored, ticket_id in session.execute(
            select(Message.id, Message.message_id, Message.ticket_id)
            .where(Message.message_id.in_(part), Message.direction == "in"))]
    for _, stored, ticket_id in sorted(rows):
        known.setdefault(stored or "", []).append(ticket_id)
    return known


def named_tickets(mail: ParsedMail, tag: str, secret: str) -> set[int]:
    """The ticket numbers ``mail`` names: in our signed Message-IDs it answers, and in its
    subject tag."""
    numbers = {verified[1] for verified in (verify_message_id(secret, mid) if secret else None
                                            for mid in mail.thread_ids) if verified}
    number = ticket_number_in_subject(mail.subject, tag)
    return numbers | {number} if number is not None else numbers


def load_tickets(session: Session, ticket_ids: Iterable[int]) -> dict[int, Ticket]:
    """The tickets of ``ticket_ids`` that exist, with their participants, by number: one
    query per 500 for a whole batch (``received_tickets``, ``named_tickets``)."""
    return {ticket.id: ticket for part in chunks(set(ticket_ids)) for ticket in session.scalars(
        select(Ticket).where(Ticket.id.in_(part)).options(selectinload(Ticket.participants)))}


def thread_message(mail: ParsedMail, tag: str, sender: str, pending: dict[str, list[Ticket]],
                   received: dict[str, list[int]], tickets: dict[int, Ticket],
                   secret: str = "") -> ThreadMatch:
    """``pending`` maps the Message-IDs stored earlier in this batch (not yet flushed) to
    their tickets, ``received`` those stored before (``received_tickets``) to theirs;
    ``tickets`` holds every ticket these and ``named_tickets`` name (``load_tickets``)."""
    ids = mail.thread_ids
    linked: Ticket | None = None
    for mid in ids:  # ours, signed: proof the sender got our mail
        verified = verify_message_id(secret, mid) if secret else None
        ticket = tickets.get(verified[1]) if verified else None
        if ticket is not None:
            return ThreadMatch(merged_target(ticket), "references")
    for mid in ids:
        candidates = [*pending.get(mid, []), *(tickets.get(t) for t in received.get(mid, []))]
        for ticket in candidates:
            if ticket is None:
                continue
            if is_participant(ticket, sender):
                return ThreadMatch(ticket, "references")
            linked = linked or ticket
    number = ticket_number_in_subject(mail.subject, tag)
    tagged = tickets.get(number) if number is not None else None
    tagged = merged_target(tagged) if tagged is not None else None
    if tagged is not None and is_participant(tagged, sender):
        return ThreadMatch(tagged, "subject-tag")
    linked = linked or tagged
    return ThreadMatch(None, "new", linked_ticket_id=linked.id if linked else None)


def merged_target(ticket: Ticket) -> Ticket:
    """Where mail naming ``ticket`` belongs: the ticket it was merged into, else itself
    (never a chain: ``rnmail.tickets.merge`` refuses one)."""
    return ticket.merged_into if ticket.merged_into is not None else ticket


def is_participant(ticket: Ticket, address: str) -> bool:
    address = address.lower()
    return any(p.address == address for p in ticket.participants)
