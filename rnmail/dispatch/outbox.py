"""Outbox: the durable queue between compose and send, one row per recipient.

``enqueue`` runs inside the caller's transaction, so a mail exists exactly when what caused
it (a ticket, a reply) is committed. ``claim`` leases due rows to one sender; ``finish``
records the SMTP outcome: sent, retried later with exponential backoff, or failed.

Next stage: ``send``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from rnmail.config import OutboxConfig
from rnmail.dispatch.compose import Composed
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
    mail: Composed,
    purpose: str,
    ticket: Ticket | None = None,
    kind: str = "auto",
) -> Message | None:
    """Queue ``mail`` for each recipient; return its record in the ticket's history."""
    rows = [
        OutboxMessage(
            ticket=ticket,
            purpose=purpose,
            automatic=mail.automatic,
            message_id=mail.message_id,
            mail_from=mail.mail_from,
            to_addr=to,
            subject=mail.subject,
            raw=mail.raw,
        )
        for to in mail.to
    ]
    session.add_all(rows)
    if ticket is None:
        return None
    record = Message(
        ticket=ticket,
        direction="out",
        kind=kind,
        message_id=mail.message_id,
        in_reply_to=mail.in_reply_to,
        references=mail.references,
        from_addr=mail.mail_from,
        to_addrs=mail.to,
        cc_addrs=[],
        subject=mail.subject,
        date=utcnow(),
        text=mail.text,
        display_text=mail.text,
    )
    session.add(record)
    return record


def automatic_mails_today(session: Session, addresses: set[str]) -> dict[str, int]:
    """Automatic mails queued to each address since midnight UTC (the loop-protection
    count); addresses with none are left out."""
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = session.execute(
        select(OutboxMessage.to_addr, func.count())
        .where(
            OutboxMessage.to_addr.in_(addresses),
            OutboxMessage.automatic.is_(True),
            OutboxMessage.created_at >= midnight,
        )
        .group_by(OutboxMessage.to_addr)
    )
    return {address: int(n) for address, n in rows}


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
