"""Store: write the message (and its new ticket, if any) with attachments and raw .eml.

Attachments and the raw message go to the content-addressed blob store; rows refer to them
by sha256. Attachments over the size limit are recorded as omitted, with name and size.

The participants of a new ticket are its requester and the address acknowledgements go to
(a Reply-To in the From's domain); never the addresses in To or Cc of an incoming mail.

Next stage: ``respond``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from rnmail.ingest.parse import ParsedMail
from rnmail.models import Attachment, Message, Participant, Ticket
from rnmail.tickets.history import Actor, record_change
from rnmail.util.blobs import BlobStore
from rnmail.vocab import TicketChange


@dataclass(frozen=True)
class Requester:
    """Who a new ticket is from: a mail address, or an E.164 number for a fax."""

    address: str
    name: str | None
    channel: str  # mail | fax
    reply_to: str | None  # where mail to them goes; None when unreachable


def open_ticket(
    session: Session,
    mail: ParsedMail,
    requester: Requester,
    language: str,
    mailbox: str,
    own_addresses: frozenset[str],
    linked_ticket_id: int | None = None,
    fax_pages: int | None = None,
) -> Ticket:
    ticket = Ticket(
        subject=mail.subject or "(no subject)",
        status="open",
        channel=requester.channel,
        requester=requester.address,
        requester_name=requester.name,
        language=language,
        mailbox=mailbox,
        fax_pages=fax_pages,
        linked_ticket_id=linked_ticket_id,
    )
    session.add(ticket)
    record_change(ticket, TicketChange.OPENED, None, requester.channel,
                  Actor.requester(requester.address, requester.name))
    add_participants(ticket, [requester.address], "requester", own_addresses)
    if requester.reply_to and requester.reply_to != requester.address:
        add_participants(ticket, [requester.reply_to], "requester", own_addresses)
    # Not the mail's To and Cc: a forged mail with the victim's From and an attacker in Cc
    # would make the attacker a participant. Staff add them (``#cc``, ``ticket participant``).
    return ticket


def add_participants(ticket: Ticket, addresses: list[str], role: str,
                     own: frozenset[str]) -> None:
    known = {p.address for p in ticket.participants}
    for address in addresses:
        address = address.lower()
        if address and address not in known and address not in own:
            ticket.participants.append(Participant(address=address, role=role))
            known.add(address)


def store_message(
    session: Session,
    blobs: BlobStore,
    ticket: Ticket,
    mail: ParsedMail,
    kind: str,
    mailbox: str,
    raw_sha256: str,
) -> Message:
    message = Message(
        ticket=ticket,
        direction="in",
        kind=kind,
        message_id=mail.message_id,
        dedupe_key=mail.dedupe_key,
        in_reply_to=" ".join(mail.in_reply_to) or None,
        references=" ".join(mail.references) or None,
        from_addr=mail.from_addr or "",
        from_name=mail.from_name,
        to_addrs=mail.to,
        cc_addrs=mail.cc,
        subject=mail.subject,
        date=mail.date,
        text=mail.text,
        display_text=mail.display_text,
        html=mail.html,
        raw_sha256=raw_sha256,
        raw_size=len(mail.raw),
        mailbox=mailbox,
    )
    for part in mail.attachments:
        message.attachments.append(
            Attachment(
                filename=part.filename,
                content_type=part.content_type,
                size=part.size,
                sha256=blobs.put(part.data) if part.data is not None else None,
                inline=part.inline,
                content_id=part.content_id,
                omitted_reason=part.omitted_reason,
            )
        )
    session.add(message)
    return message
