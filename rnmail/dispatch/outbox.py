"""Outbox: the durable queue between compose and send, one row per recipient.

``enqueue`` runs inside the caller's transaction, so a mail exists exactly when what caused
it (a ticket, a reply) is committed. ``claim`` leases due rows to one sender; ``finish``
records the SMTP outcome: sent, retried later with exponential backoff, or failed.

Next stage: ``send``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rnmail.config import OutboxConfig
from rnmail.models import Message, OutboxMessage, Ticket, utcnow

STATES = ("queued", "sending", "sent", "failed")


@dataclass(frozen=True)
class Outcome:
    """What the transport said about one recipient."""

    ok: bool
    permanent: bool
    reply: str


def enqueue(
    session: Session,
    msg: EmailMessage,
    purpose: str,
    ticket: Ticket | None = None,
    kind: str = "auto",
    display_text: str | None = None,
) -> list[OutboxMessage]:
    """Queue ``msg`` for each of its To recipients and record it in the ticket's history."""
    recipients = [a.strip() for a in str(msg["To"]).split(",") if a.strip()]
    mail_from = _bare_address(str(msg["From"]))
    raw = msg.as_bytes()
    rows = [
        OutboxMessage(
            ticket_id=ticket.id if ticket else None,
            purpose=purpose,
            message_id=str(msg["Message-ID"]),
            mail_from=mail_from,
            to_addr=to,
            subject=str(msg["Subject"]),
            raw=raw,
        )
        for to in recipients
    ]
    session.add_all(rows)
    if ticket is not None:
        body = msg.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        session.add(
            Message(
                ticket_id=ticket.id,
                direction="out",
                kind=kind,
                message_id=str(msg["Message-ID"]),
                in_reply_to=msg.get("In-Reply-To"),
                references=msg.get("References"),
                from_addr=mail_from,
                to_addrs=recipients,
                cc_addrs=[],
                subject=str(msg["Subject"]),
                date=utcnow(),
                text=text,
                display_text=display_text if display_text is not None else text,
            )
        )
    return rows


def claim(
    session: Session, limit: int, lease: timedelta, now: datetime | None = None
) -> list[OutboxMessage]:
    """Lease up to ``limit`` due rows (queued, or sending with an expired lease) to this sender.

    Rows are locked with ``FOR UPDATE SKIP LOCKED`` where the database has it, so several
    senders never take the same row.
    """
    now = now or utcnow()
    query = (
        select(OutboxMessage)
        .where(
            or_(
                (OutboxMessage.state == "queued") & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.state == "sending") & (OutboxMessage.lease_until < now),
            )
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.scalars(query))
    for row in rows:
        row.state = "sending"
        row.lease_until = now + lease
    return rows


def release(session: Session, ids: list[int]) -> None:
    """Give leased rows back untouched (the server could not be reached: no attempt made)."""
    for row in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))):
        if row.state == "sending":
            row.state = "queued"
            row.lease_until = None


def finish(session: Session, row: OutboxMessage, outcome: Outcome, cfg: OutboxConfig) -> None:
    now = utcnow()
    row.attempts += 1
    row.last_reply = outcome.reply[:2000]
    row.lease_until = None
    if outcome.ok:
        row.state = "sent"
        row.sent_at = now
    elif outcome.permanent or row.attempts >= cfg.max_attempts:
        row.state = "failed"
    else:
        row.state = "queued"
        delay = cfg.retry_base_seconds * 2 ** (row.attempts - 1)
        row.next_attempt_at = now + timedelta(seconds=min(delay, 6 * 3600))


def list_outbox(
    session: Session, state: str | None = None, limit: int = 200
) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if state:
        query = query.where(OutboxMessage.state == state)
    return list(session.scalars(query))


def outbox_summary(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "to": row.to_addr,
        "subject": row.subject,
        "state": row.state,
        "attempts": row.attempts,
        "ticket_id": row.ticket_id,
        "purpose": row.purpose,
        "message_id": row.message_id,
        "last_reply": row.last_reply,
        "created_at": row.created_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "bounced": row.bounced_at is not None,
    }


def _bare_address(value: str) -> str:
    from email.utils import parseaddr

    return parseaddr(value)[1]
