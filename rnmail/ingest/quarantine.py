"""The quarantine: messages that could not be processed, kept raw with the reason.

``retry`` runs a held message through the ingest stages again (after a fix or a config
change); on success it is released, otherwise it stays held with the new reason.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from rnmail.config import Config, MailboxConfig
from rnmail.db import Database
from rnmail.errors import ConfigError, NotFound, Quarantine, RnmailError
from rnmail.ingest.pipeline import Delivery, IngestContext, reprocess
from rnmail.models import ProcessedMessage, QuarantinedMessage, utcnow
from rnmail.shapes import QuarantineRow
from rnmail.vocab import IngestOutcome, QuarantineState


def list_quarantine(db: Database, state: str | None = QuarantineState.HELD,
                    keep_months: int = 0) -> list[QuarantineRow]:
    """The quarantined messages (those in ``state``, or all), oldest first; a held one with
    the day the retention run deletes it (``[privacy].quarantine_months`` = ``keep_months``
    after it came; never with 0)."""
    from rnmail.privacy.retention import quarantine_deadline

    def deleted_after(held: QuarantinedMessage) -> str | None:
        deadline = (quarantine_deadline(held.created_at, keep_months)
                    if held.state == QuarantineState.HELD else None)
        return deadline.isoformat() if deadline else None

    with db.transaction() as session:
        query = select(QuarantinedMessage).order_by(QuarantinedMessage.id)
        if state:
            query = query.where(QuarantinedMessage.state == state)
        return [
            {
                "id": q.id,
                "mailbox": q.mailbox,
                "uid": q.uid,
                "reason": q.reason,
                "subject": q.subject,
                "from": q.from_addr,
                "size": q.raw_size,
                "raw_sha256": q.raw_sha256,
                "state": q.state,
                "created_at": q.created_at.isoformat(),
                "deleted_after": deleted_after(q),
                "result": q.result,
            }
            for q in session.scalars(query)
        ]


def retry_quarantined(db: Database, config: Config, quarantine_id: int) -> IngestOutcome:
    """Process a held message again; returns the outcome (``ticket``, ``reply``, ... or
    ``quarantined`` when it still fails, with the reason updated)."""
    ctx = IngestContext.from_config(config)
    with db.transaction() as session:
        held = session.get(QuarantinedMessage, quarantine_id)
        if held is None:
            raise NotFound(f"no quarantined message #{quarantine_id}")
        if held.state != QuarantineState.HELD:
            raise RnmailError(f"quarantined message #{quarantine_id} was already released")
        try:
            box = config.mailbox(held.mailbox)
        except ConfigError:
            box = MailboxConfig(name=held.mailbox, kind="info", type="imap")
        try:
            raw = ctx.blobs.get(held.raw_sha256)
        except OSError as exc:
            raise NotFound(f"the raw message of #{quarantine_id} cannot be read: {exc}") from None
        delivery = Delivery(raw=raw, mailbox=box,
                            uidvalidity=held.uidvalidity or 0, uid=held.uid or "")
        try:
            with session.begin_nested():
                outcome = reprocess(session, ctx, delivery)
        except OperationalError:
            raise
        except Exception as exc:
            held.reason = exc.reason if isinstance(exc, Quarantine) else (
                f"internal error: {type(exc).__name__}: {exc}")
            held.result = "still quarantined"
            return IngestOutcome.QUARANTINED
        held.state = QuarantineState.RELEASED
        held.released_at = utcnow()
        held.result = outcome
        processed = session.scalars(select(ProcessedMessage).where(
            ProcessedMessage.mailbox == held.mailbox,
            ProcessedMessage.uidvalidity == (held.uidvalidity or 0),
            ProcessedMessage.uid == (held.uid or ""),
        )).first()
        if processed is not None:
            processed.outcome = outcome
            processed.message_db_id = delivery.message_db_id
        ctx.blobs.sync()
        return outcome
