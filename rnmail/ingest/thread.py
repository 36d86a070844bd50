"""Thread: which ticket a message belongs to.

In this order: a Message-ID we received or sent named by In-Reply-To/References; then the
subject tag ``[RN #42]`` (reply prefixes and mangled tags tolerated) — but only for a
participant of that ticket, so nobody can inject mail into someone else's ticket by copying
a subject: a stranger's tagged mail opens a new ticket linked to the tagged one.

Next stage: ``store``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.ingest.parse import ParsedMail
from rnmail.models import Message, Ticket


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


def thread_message(session: Session, mail: ParsedMail, tag: str, sender: str,
                   pending: dict[str, Ticket]) -> ThreadMatch:
    """``pending`` maps the Message-IDs stored earlier in this batch (not yet flushed)."""
    ids = mail.thread_ids
    for mid in ids:
        if mid in pending:
            return ThreadMatch(pending[mid], "references")
    if ids:
        known = session.execute(
            select(Message.message_id, Message.ticket_id).where(Message.message_id.in_(ids))
        ).all()
        by_id = dict(known)
        for mid in ids:
            if mid in by_id:
                return ThreadMatch(session.get(Ticket, by_id[mid]), "references")
    number = ticket_number_in_subject(mail.subject, tag)
    if number is None:
        return ThreadMatch(None, "new")
    ticket = session.get(Ticket, number)
    if ticket is None:
        return ThreadMatch(None, "new")
    if is_participant(ticket, sender):
        return ThreadMatch(ticket, "subject-tag")
    return ThreadMatch(None, "new", linked_ticket_id=ticket.id)


def is_participant(ticket: Ticket, address: str) -> bool:
    address = address.lower()
    return any(p.address == address for p in ticket.participants)
