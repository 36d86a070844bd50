"""The spam state: list, release or delete what ``rnmail.ingest.blocklist.hold`` kept.

**Release** runs the raw mail through the ingest stages as if it had just arrived, except
the spam check (flags, scores and the blocklist are not read again): a ticket, a reply, an
acknowledgement, as for any mail. Each held mail is processed once: the row is locked
(``SELECT … FOR UPDATE`` on PostgreSQL, SQLite's single writer elsewhere) and its state
checked in the same transaction, so a second ``release`` — at once from another shell or
the desk, or later — is refused and changes nothing.

**Delete** drops the row and its raw mail from the blob store when nothing else (a stored
message, the quarantine, another held mail) refers to the same file. Both are audited
(``spam-release``, ``spam-delete``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.config import Config, MailboxConfig
from rnmail.db import Database
from rnmail.errors import ConfigError, NotFound, Quarantine, RnmailError
from rnmail.ingest.pipeline import Delivery, IngestContext, reprocess
from rnmail.models import Message, ProcessedMessage, QuarantinedMessage, SpamMessage, utcnow
from rnmail.vocab import IngestOutcome, SpamState

MAX_ACTOR = 64


def spam_row(held: SpamMessage) -> dict[str, Any]:
    return {"id": held.id, "mailbox": held.mailbox, "reason": held.reason,
            "subject": held.subject, "from": held.from_addr, "size": held.raw_size,
            "state": held.state, "created_at": held.created_at.isoformat(),
            "released_at": held.released_at.isoformat() if held.released_at else None,
            "released_by": held.released_by, "result": held.result}


def list_spam(session: Session, state: str | None = SpamState.HELD,
              limit: int = 1000) -> list[dict[str, Any]]:
    """Held mail (or every state when ``state`` is None), newest first."""
    query = select(SpamMessage).order_by(SpamMessage.id.desc()).limit(limit)
    if state:
        query = query.where(SpamMessage.state == state)
    return [spam_row(held) for held in session.scalars(query)]


def _held(session: Session, spam_id: int) -> SpamMessage:
    held = session.scalars(select(SpamMessage).where(SpamMessage.id == spam_id)
                           .with_for_update()).first()
    if held is None:
        raise NotFound(f"no spam message #{spam_id}")
    if held.state != SpamState.HELD:
        raise RnmailError(f"spam message #{spam_id} was already {held.state}")
    return held


def _actor(actor: str) -> str:
    actor = actor.strip()
    if not actor or len(actor) > MAX_ACTOR:
        raise RnmailError(f"who acts (--by) must be 1 to {MAX_ACTOR} characters")
    return actor


def release_spam(session: Session, config: Config, spam_id: int, actor: str) -> IngestOutcome:
    """Process a held mail normally, once, in the caller's transaction; returns the outcome
    (``ticket``, ``reply``, …); refused when it cannot be processed (it stays held)."""
    actor = _actor(actor)
    held = _held(session, spam_id)
    ctx = IngestContext.from_config(config)
    try:
        box = config.mailbox(held.mailbox)
    except ConfigError:
        box = MailboxConfig(name=held.mailbox, kind="info", type="imap")
    try:
        raw = ctx.blobs.get(held.raw_sha256)
    except OSError as exc:
        raise NotFound(f"the raw mail of spam #{spam_id} cannot be read: {exc}") from None
    delivery = Delivery(raw=raw, mailbox=box, uidvalidity=held.uidvalidity or 0,
                        uid=held.uid or "", released=True)
    try:
        with session.begin_nested():
            outcome = reprocess(session, ctx, delivery)
    except Quarantine as exc:
        raise RnmailError(f"spam #{spam_id} cannot be processed ({exc.reason}); it stays "
                          "held") from None
    held.state = SpamState.RELEASED
    held.released_at = utcnow()
    held.released_by = actor
    held.result = outcome
    processed = session.scalars(select(ProcessedMessage).where(
        ProcessedMessage.mailbox == held.mailbox,
        ProcessedMessage.uidvalidity == (held.uidvalidity or 0),
        ProcessedMessage.uid == (held.uid or ""))).first()
    if processed is not None:
        processed.outcome = outcome
        processed.message_db_id = delivery.message_db_id
    audit.record(session, actor, "spam-release", {
        "spam": held.id, "outcome": outcome, "reason": held.reason[:200],
        "ticket": delivery.ticket.id if delivery.ticket is not None else None})
    ctx.blobs.sync()
    return outcome


def release(db: Database, config: Config, spam_id: int, actor: str) -> IngestOutcome:
    with db.transaction() as session:
        return release_spam(session, config, spam_id, actor)


def delete_spam(session: Session, config: Config, spam_id: int, actor: str) -> Path | None:
    """Delete a held mail (its subject and sender too; the row stays as a record); returns
    its raw file for the caller to remove after the commit (``remove_raw``), None when
    something else still refers to it."""
    actor = _actor(actor)
    held = _held(session, spam_id)
    digest = held.raw_sha256
    held.state = SpamState.DELETED
    held.result = "deleted"
    held.subject = held.from_addr = None
    held.released_at, held.released_by = utcnow(), actor
    session.flush()
    used = sum(session.scalar(select(func.count()).where(condition)) or 0 for condition in (
        Message.raw_sha256 == digest, QuarantinedMessage.raw_sha256 == digest,
        (SpamMessage.raw_sha256 == digest) & (SpamMessage.state == SpamState.HELD)))
    audit.record(session, actor, "spam-delete", {"spam": held.id, "reason": held.reason[:200],
                                                 "raw_removed": not used})
    return None if used else IngestContext.from_config(config).blobs.path(digest)


def remove_raw(path: Path | None) -> bool:
    """Remove a deleted spam's raw file (after the commit); whether there was one."""
    if path is None or not path.exists():
        return False
    path.unlink(missing_ok=True)
    return True


def delete(db: Database, config: Config, spam_id: int, actor: str) -> bool:
    """``delete_spam`` in its own transaction, then the raw file; whether it was removed."""
    with db.transaction() as session:
        path = delete_spam(session, config, spam_id, actor)
    return remove_raw(path)
