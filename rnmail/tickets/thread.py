"""What the desk's ticket page shows (``ticket_page``): the thread once, in order, each
message as ``tickets.display`` makes it safe; the requester card (``tickets.card``); the
history (``tickets.history``); and who else has the ticket open (``tickets.presence``),
read in one transaction that also records the reader's view.

The thread names each message for what it is to an agent (``ThreadRole``): the roles of
``ticket show`` (``views.message_role``), with two told apart — a request typed in by a
call taker (a *call*: no mail behind it) and a second-line service's answer kept for the
help desk (a note from the service's address) — and the copies of one staff notification
(one per member, in a row) folded into one entry naming whom they went to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.models import Message, Service, Staff, Ticket
from rnmail.shapes import TicketDetail
from rnmail.tickets.card import RequesterCard, requester_card
from rnmail.tickets.display import Display, message_display
from rnmail.tickets.presence import Viewer, other_viewers
from rnmail.tickets.views import load_ticket, message_author, message_role, ticket_detail
from rnmail.util.blobs import BlobStore
from rnmail.vocab import MessageRole


class ThreadRole(StrEnum):
    """What a message is on the ticket page: a ``MessageRole`` or one of these two."""

    REQUEST = MessageRole.REQUEST.value
    CALL = "call"  # a request typed in by hand (a call, a linked call): no mail behind it
    AUTOMATIC = MessageRole.AUTOMATIC.value
    NOTE = MessageRole.NOTE.value
    SERVICE_ANSWER = "service-answer"  # the second line's answer, kept for the help desk
    ANSWER = MessageRole.ANSWER.value
    HELD = MessageRole.HELD.value
    ACKNOWLEDGEMENT = MessageRole.ACKNOWLEDGEMENT.value
    NOTIFICATION = MessageRole.NOTIFICATION.value
    DELEGATION = MessageRole.DELEGATION.value


@dataclass(frozen=True)
class Entry:
    """One message of the thread (for a notification: the first of its copies, ``to``
    then naming every member it went to)."""

    id: int
    role: ThreadRole
    author: str | None
    author_email: str | None
    to: tuple[str, ...]
    subject: str
    date: datetime
    display: Display
    sender_verdict: str | None = None  # the trusted gateway's on a received mail


@dataclass(frozen=True)
class TicketPage:
    """Everything the ticket page shows but its forms. ``ticket`` is ``ticket show``'s."""

    ticket: TicketDetail
    thread: list[Entry]
    card: RequesterCard
    others: list[Viewer]


def thread_role(message: Message, services: frozenset[str], channel: str,
                first: bool) -> ThreadRole:
    """``message``'s role on the page; ``services``: the second-line addresses."""
    role = message_role(message)
    if role == MessageRole.REQUEST and message.raw_sha256 is None and (
            message.message_id is None and message.mailbox is None) and (
            channel == "phone" or not first):
        return ThreadRole.CALL
    if role == MessageRole.NOTE and message.author_id is None and (
            message.from_addr.lower() in services):
        return ThreadRole.SERVICE_ANSWER
    return ThreadRole(role)


def ticket_thread(session: Session, ticket: Ticket, blobs: BlobStore) -> list[Entry]:
    """The messages of ``ticket`` (loaded by ``views.load_ticket``) in order, each shown
    safely, the copies of a notification in a row folded into one entry."""
    services = frozenset(e.lower() for e in session.scalars(select(Service.email)) if e)
    thread: list[Entry] = []
    for number, message in enumerate(ticket.messages):
        role = thread_role(message, services, ticket.channel, number == 0)
        to = tuple(message.to_addrs or [])
        if role == ThreadRole.NOTIFICATION and thread and (
                thread[-1].role == ThreadRole.NOTIFICATION):
            last = thread.pop()
            thread.append(Entry(last.id, last.role, last.author, last.author_email,
                                last.to + to, last.subject, last.date, last.display))
            continue
        author, email = message_author(message)
        thread.append(Entry(message.id, role, author, email, to, message.subject,
                            message.date or message.created_at,
                            message_display(message, blobs), message.sender_verdict))
    return thread


def ticket_page(session: Session, blobs: BlobStore, ticket_id: int, reader: str,
                presence_minutes: int) -> TicketPage:
    """Ticket ``ticket_id`` as the desk shows it to the staff member ``reader`` (their
    address) with the colleagues who have it open (``presence.view`` records the reader's
    view); NotFound if there is no such ticket."""
    ticket = load_ticket(session, ticket_id)
    staff_id = session.scalar(select(Staff.id).where(Staff.email == reader))
    others = [] if staff_id is None else other_viewers(session, ticket.id, staff_id,
                                                       presence_minutes)
    return TicketPage(ticket=ticket_detail(session, ticket),
                      thread=ticket_thread(session, ticket, blobs),
                      card=requester_card(session, ticket), others=others)
