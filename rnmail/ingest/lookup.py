"""Look up: what the database already holds about a batch of parsed messages (stored
duplicates, our own mail delivered back, blocked senders, active staff, the Message-IDs
they answer and the tickets they name), read with one query per kind for the batch (about
0.3 ms each, mostly SQLAlchemy's: per message they cost more than the other stages)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.db import chunks
from rnmail.ingest.blocklist import blocking_entries
from rnmail.ingest.parse import ParsedMail
from rnmail.ingest.thread import load_tickets, named_tickets, received_tickets
from rnmail.ingest.unproven import active_staff
from rnmail.models import Message, Staff, Ticket


@dataclass
class Known:
    """What the database held, before the batch, about the batch's messages (``look_up``)."""

    keys: dict[str, int] = field(default_factory=dict)  # dedupe key → stored message id
    sent: dict[str, int] = field(default_factory=dict)  # Message-ID of our own mail → its id
    blocked: set[str] = field(default_factory=set)  # blocklist entries that block a sender
    staff: dict[str, Staff] = field(default_factory=dict)  # active staff by address
    received: dict[str, list[int]] = field(default_factory=dict)  # see received_tickets
    tickets: dict[int, Ticket] = field(default_factory=dict)  # see load_tickets


def look_up(session: Session, config: Config, mails: list[ParsedMail]) -> Known:
    """``Known`` for ``mails``: one query per kind for the whole batch."""
    if not mails:
        return Known()
    own, hd = config.helpdesk.own_addresses, config.helpdesk
    known = Known(blocked=blocking_entries(session, (a for m in mails
                                                     for a in m.sender_addresses)),
                  staff=active_staff(session, (m.from_addr for m in mails)),
                  received=received_tickets(session, (i for m in mails for i in m.thread_ids)))
    known.tickets = load_tickets(session, {
        *(t for ids in known.received.values() for t in ids),
        *(t for m in mails for t in named_tickets(m, hd.tag, hd.secret))})
    for part in chunks({m.dedupe_key for m in mails}):
        known.keys.update((key or "", id_) for key, id_ in session.execute(
            select(Message.dedupe_key, Message.id).where(Message.dedupe_key.in_(part))))
    ours = {m.message_id for m in mails if m.message_id and m.from_addr.lower() in own}
    for part in chunks(ours):  # our own mails, delivered back to us
        known.sent.update((mid or "", id_) for mid, id_ in session.execute(
            select(Message.message_id, Message.id).where(Message.message_id.in_(part),
                                                         Message.direction == "out")))
    return known
