"""Outbox: the durable queue between compose and send, one row per recipient.

``enqueue`` runs inside the caller's transaction, so a mail exists exactly when what caused
it (a ticket, a reply) is committed. ``claim`` leases due rows to one sender; ``finish_many``
records the SMTP outcomes: sent, retried later with exponential backoff, or failed.

Next stage: ``send``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from rnmail.config import OutboxConfig
from rnmail.db import insert_rows
from rnmail.dispatch.compose import Composed
from rnmail.dispatch.render import without_signature
from rnmail.models import Message, OutboxBody, OutboxMessage, Ticket, search_numbers, utcnow
from rnmail.shapes import OutboxSummary
from rnmail.vocab import OutboxState


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
    session.add_all(OutboxMessage(ticket=ticket, **row) for row in _outbox_rows(mail, purpose))
    if ticket is None:
        return None
    record = Message(ticket=ticket, **_record_row(mail, kind))
    session.add(record)
    return record


@dataclass
class Queue:
    """Mails about stored tickets to queue in the caller's transaction, written together by
    ``write``: one executemany per table instead of two ORM objects per mail to flush (the
    acknowledgements and notifications of an ingest batch). Their records are not added to
    the tickets' ``messages`` already loaded in the session."""

    outbox: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    def add(self, mail: Composed, purpose: str, ticket: Ticket, kind: str = "auto") -> None:
        """As ``enqueue`` does, later."""
        assert ticket.id is not None, "a stored ticket"
        self.outbox += [{**row, "ticket_id": ticket.id} for row in _outbox_rows(mail, purpose)]
        record = _record_row(mail, kind)
        record.update(ticket_id=ticket.id, search_numbers=search_numbers(
            "out", kind, record["subject"], record["display_text"], record["from_addr"],
            ticket.requester))
        self.records.append(record)

    def write(self, session: Session) -> None:
        insert_rows(session, cast(Table, OutboxMessage.__table__), self.outbox)
        # indexed: in multi-row INSERTs on SQLite, where an executemany had the search
        # index's trigger write a segment per mail (see insert_rows)
        insert_rows(session, cast(Table, Message.__table__), self.records, indexed=True)
        self.outbox, self.records = [], []


def _outbox_rows(mail: Composed, purpose: str) -> list[dict[str, Any]]:
    """An outbox row per recipient, every value given (a Core insert applies no default)."""
    now = utcnow()
    return [{"purpose": purpose, "automatic": mail.automatic, "message_id": mail.message_id,
             "mail_from": mail.mail_from, "to_addr": to, "subject": mail.subject,
             "raw": mail.raw, "state": OutboxState.QUEUED.value, "attempts": 0,
             "next_attempt_at": now, "created_at": now}
            for to in mail.to]


def _record_row(mail: Composed, kind: str) -> dict[str, Any]:
    """The mail's record in its ticket's history, every value given but the ticket's; its
    display text (shown first, searched) is what it says, its signature only in ``text``."""
    now = utcnow()
    return {"direction": "out", "kind": kind, "message_id": mail.message_id,
            "in_reply_to": mail.in_reply_to, "references": mail.references,
            "from_addr": mail.mail_from, "to_addrs": mail.to, "cc_addrs": [],
            "subject": mail.subject, "date": now, "text": mail.text,
            "display_text": without_signature(mail.text) or mail.text,
            "created_at": now}


@dataclass(frozen=True)
class Leased:
    """An outbox row leased to this sender: what it takes to deliver it."""

    id: int
    mail_from: str
    to_addr: str
    raw: bytes  # the whole mail, or only its personal headers when ``body_id`` is set
    body_id: int | None
    announcement_id: int | None


def claim(
    session: Session, limit: int, lease: timedelta, now: datetime | None = None
) -> list[Leased]:
    """Lease up to ``limit`` due rows (queued, or sending with an expired lease) to this sender.

    One ``UPDATE ... RETURNING`` statement: on PostgreSQL its subquery locks the rows with
    ``FOR UPDATE SKIP LOCKED``, on SQLite the statement takes the write lock first, so
    several senders never take the same row.
    """
    now = now or utcnow()
    t = cast(Table, OutboxMessage.__table__)
    due = (
        select(t.c.id)
        .where(or_((t.c.state == OutboxState.QUEUED) & (t.c.next_attempt_at <= now),
                   (t.c.state == OutboxState.SENDING) & (t.c.lease_until < now)))
        .order_by(t.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name != "sqlite":
        due = due.with_for_update(skip_locked=True)
    rows = session.execute(
        update(t).where(t.c.id.in_(due))
        .values(state=OutboxState.SENDING, lease_until=now + lease)
        .returning(t.c.id, t.c.mail_from, t.c.to_addr, t.c.raw, t.c.body_id,
                   t.c.announcement_id)
    ).all()
    return sorted((Leased(*row) for row in rows), key=lambda leased: leased.id)


def load_bodies(session: Session, ids: set[int]) -> dict[int, bytes]:
    if not ids:
        return {}
    rows = session.execute(select(OutboxBody.id, OutboxBody.data).where(OutboxBody.id.in_(ids)))
    return {body_id: data for body_id, data in rows}


# For rows named by id: ``IS TRUE`` keeps the planner off the state index, which a mailing
# fills with thousands of ``sending`` entries its statistics may not know of (see
# ``_SENT_POSTGRESQL``).
_STILL_SENDING = (OutboxMessage.state == OutboxState.SENDING).is_(True)


def release(session: Session, ids: list[int]) -> None:
    """Give leased rows back untouched (the server could not be reached: no attempt made)."""
    if ids:
        session.execute(update(OutboxMessage)
                        .where(OutboxMessage.id.in_(ids), _STILL_SENDING)
                        .values(state=OutboxState.QUEUED, lease_until=None))


_T = cast(Table, OutboxMessage.__table__)
# Built once: finish_many runs for every few messages sent, and building the statement
# cost several times more than executing it.
_COUNT_ATTEMPT = (  # only while still ours: a late failure never undoes another's "sent"
    update(_T).where(_T.c.id == bindparam("rid"), _T.c.state == OutboxState.SENDING)
    .values(attempts=_T.c.attempts + 1, last_reply=bindparam("reply"), lease_until=None)
    .returning(_T.c.attempts)
)


def extend_leases(session: Session, ids: list[int], lease: timedelta) -> None:
    """Renew this sender's leases on rows it has not finished yet."""
    until = utcnow() + lease
    for start in range(0, len(ids), 500):
        session.execute(update(OutboxMessage)
                        .where(OutboxMessage.id.in_(ids[start:start + 500]), _STILL_SENDING)
                        .values(lease_until=until))


# A batch that was all delivered, the sender's usual group commit, in one statement of the
# driver's own (SQLAlchemy's per-row work for an executemany of the same UPDATE took as much
# CPU as the commit, on the thread that shares the interpreter with the sending).
_SENT_SQLITE = (f"UPDATE {_T.name} SET state = '{OutboxState.SENT}', sent_at = ?, attempts ="
                f" attempts + 1, last_reply = ?, lease_until = NULL WHERE id = ? AND state ="
                f" '{OutboxState.SENDING}'")
# PostgreSQL: every row in one statement, so that on a connection in autocommit it is a
# single round trip (BEGIN, the statements and COMMIT were three, each with its wait for
# the interpreter's lock on the sender's database thread).
# The rows are found by their ids only (``o.id = ANY``; the state test ``IS TRUE`` no index
# can serve): the planner, whose statistics said few rows were ``sending``, read every entry
# of the state index (a mailing's 10,000, dead ones included) for each group commit, ~1 ms
# of the server's CPU a statement and the mailing's largest cost on PostgreSQL.
_SENT_POSTGRESQL = (
    f"UPDATE {_T.name} AS o SET state = '{OutboxState.SENT}', sent_at = %(when)s, attempts ="
    " o.attempts + 1, last_reply = v.reply, lease_until = NULL FROM unnest(%(ids)s::integer[],"
    " %(replies)s::text[]) AS v(id, reply) WHERE o.id = ANY(%(ids)s::integer[]) AND o.id = v.id"
    f" AND (o.state = '{OutboxState.SENDING}') IS TRUE")


def record_sent(connection: Connection, results: list[tuple[int, Outcome]]
                ) -> dict[int, OutboxState]:
    """Record deliveries (results all ``ok``) as sent, in one statement: on PostgreSQL the
    whole commit when ``connection`` is in autocommit. A row no longer ``sending`` is left
    alone, so a repeat is harmless."""
    assert all(outcome.ok for _, outcome in results)
    dialect = connection.dialect
    process = _T.c.sent_at.type.bind_processor(dialect)
    now = utcnow()
    when = process(now) if process else now
    if dialect.name == "sqlite":
        connection.exec_driver_sql(_SENT_SQLITE, [(when, outcome.reply[:2000], rid)
                                                  for rid, outcome in results])
    else:
        connection.exec_driver_sql(_SENT_POSTGRESQL, {
            "when": when, "ids": [rid for rid, _ in results],
            "replies": [o.reply[:2000] for _, o in results]})
    return dict.fromkeys((rid for rid, _ in results), OutboxState.SENT)


def finish_many(
    connection: Connection, results: list[tuple[int, Outcome]], cfg: OutboxConfig
) -> dict[int, OutboxState]:
    """Record the server's reply for each row; returns each row's new state.

    A row is marked sent only from the server's reply (``record_sent``); a refusal is
    retried with exponential backoff (4xx, lost connection) until ``max_attempts``, or
    failed at once (5xx).
    """
    now = utcnow()
    sent = [(rid, outcome) for rid, outcome in results if outcome.ok]
    states = record_sent(connection, sent) if sent else {}
    for rid, outcome in results:
        if outcome.ok:
            continue
        attempts = connection.scalar(_COUNT_ATTEMPT, {"rid": rid, "reply": outcome.reply[:2000]})
        if attempts is None:
            continue
        if outcome.permanent or attempts >= cfg.max_attempts:
            state, next_at = OutboxState.FAILED, None
        else:
            delay = cfg.retry_base_seconds * 2 ** (attempts - 1)
            state, next_at = OutboxState.QUEUED, now + timedelta(seconds=min(delay, 6 * 3600))
        values: dict[str, Any] = {"state": state}
        if next_at:
            values["next_attempt_at"] = next_at
        connection.execute(update(_T).where(_T.c.id == rid).values(**values))
        states[rid] = state
    return states


def list_outbox(
    session: Session, state: str | None = None, limit: int = 200
) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if state:
        query = query.where(OutboxMessage.state == state)
    return list(session.scalars(query))


def outbox_summary(row: OutboxMessage) -> OutboxSummary:
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
