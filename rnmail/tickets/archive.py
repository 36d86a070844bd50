"""Exports: a ticket as .eml files, an mbox or JSON, and the archive of closed tickets.

Received mail is exported byte for byte from the raw copy kept at ingest; mail we sent, as
the outbox sent it; notes and phone calls (which never were mail) as a small text message,
so a mail client can open the whole history. Archived tickets stay in the database and
searchable: the archive is a copy for the records, not a move.
"""

from __future__ import annotations

import json
import mailbox
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.errors import RnmailError
from rnmail.models import Message, OutboxMessage, Ticket
from rnmail.shapes import ArchivedTicket
from rnmail.tickets.views import show_ticket, ticket_summary
from rnmail.util.blobs import BlobStore
from rnmail.vocab import ArchiveFormat, TicketStatus, strings


def message_bytes(session: Session, blobs: BlobStore, message: Message) -> bytes:
    """The message as mail: what we sent for our own mail (a relayed answer keeps the staff
    member's original as its raw copy, but the record is what the requester got), the raw
    copy of received mail, else a text message built from the database."""
    if message.direction == "out" and message.message_id:
        raw = session.scalar(select(OutboxMessage.raw).where(
            OutboxMessage.message_id == message.message_id).limit(1))
        if raw:
            return raw
    if message.raw_sha256:
        try:
            return blobs.get(message.raw_sha256)
        except OSError:
            pass  # the copy is gone; fall back to what the database holds
    return rebuilt_bytes(message)


def rebuilt_bytes(message: Message, text: str | None = None) -> bytes:
    """A text message built from the database's fields (``text``: instead of the
    message's own)."""
    msg = EmailMessage()
    msg["From"] = message.from_addr or "help-desk"
    if message.to_addrs:
        msg["To"] = ", ".join(message.to_addrs)
    msg["Subject"] = message.subject
    msg["Date"] = format_datetime(message.date or message.created_at)
    msg["X-RN-Kind"] = message.kind
    msg.set_content(text if text is not None else (message.text or message.display_text))
    return msg.as_bytes()


def export_ticket(session: Session, blobs: BlobStore, ticket_id: int, fmt: str,
                  out: Path | None) -> list[Path] | bytes:
    """Export one ticket: ``eml`` writes one file per message into the folder ``out``,
    ``mbox`` the file ``out``; ``json`` writes ``out`` or returns the bytes without it."""
    if fmt not in strings(ArchiveFormat):
        raise RnmailError(f"unknown format {fmt!r} ({', '.join(ArchiveFormat)})")
    detail = show_ticket(session, ticket_id)  # raises NotFound
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    if fmt == ArchiveFormat.JSON:
        data = json.dumps(detail, ensure_ascii=False, indent=2).encode() + b"\n"
        return _write_or_return(data, out)
    if fmt == ArchiveFormat.MBOX:
        if out is None:
            raise RnmailError("--format mbox needs --out FILE")
        write_mbox(session, blobs, ticket, out)
        return [out]
    if out is None:
        raise RnmailError("--format eml needs --out DIR (one file per message)")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for number, message in enumerate(ticket.messages, start=1):
        path = out / f"ticket-{ticket.id}-{number:03d}-{message.direction}-{message.kind}.eml"
        path.write_bytes(message_bytes(session, blobs, message))
        written.append(path)
    return written


def write_mbox(session: Session, blobs: BlobStore, ticket: Ticket, path: Path) -> None:
    """The ticket's mails as the mbox file ``path``, an earlier file of that name replaced;
    anything else there (a folder, a device, a socket) is refused, never deleted."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise RnmailError(f"{path} exists and is not a plain file: give another --out")
    path.unlink(missing_ok=True)
    box = mailbox.mbox(path, create=True)
    try:
        box.lock()
        for message in ticket.messages:
            box.add(message_bytes(session, blobs, message))
        box.flush()
    finally:
        box.unlock()
        box.close()


def archive_closed(session: Session, blobs: BlobStore, before: datetime,
                   out: Path) -> list[ArchivedTicket]:
    """Write every ticket closed before ``before`` as ``ticket-<id>.mbox`` in ``out``, with an
    ``index.json`` of them; returns the index."""
    out.mkdir(parents=True, exist_ok=True)
    tickets = session.scalars(select(Ticket).where(
        Ticket.status == TicketStatus.CLOSED, Ticket.closed_at < before).order_by(Ticket.id))
    index: list[ArchivedTicket] = []
    for ticket in tickets:
        name = f"ticket-{ticket.id}.mbox"
        write_mbox(session, blobs, ticket, out / name)
        index.append({**ticket_summary(ticket), "mbox": name, "messages": len(ticket.messages)})
    (out / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=2) + "\n",
                                    encoding="utf-8")
    return index


def _write_or_return(data: bytes, out: Path | None) -> list[Path] | bytes:
    if out is None:
        return data
    out.write_bytes(data)
    return [out]
