"""Pipeline: the ordered stages a received message goes through, and the ingest pass.

    parse → skip_duplicate → classify → bounce → thread → store → respond

Each stage is a function ``(session, context, delivery) -> outcome | None``; the first one
that returns an outcome ends the message's journey. A batch of messages is one database
transaction, each message in its own savepoint. This module is the only catcher of errors:
``Quarantine`` (and any unexpected exception) rolls back that message's savepoint and keeps
the raw message in the quarantine instead; a database failure aborts the whole batch, which
stays in the folder for the next pass. Messages leave the folder only after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from rnmail.blobs import BlobStore
from rnmail.config import Config, MailboxConfig
from rnmail.db import Database
from rnmail.errors import Quarantine, RnmailError
from rnmail.ingest.bounce import record_bounce
from rnmail.ingest.classify import Classification, classify_message
from rnmail.ingest.fax import extract_fax, fax_reply_address
from rnmail.ingest.fetch import Fetched, MailboxSource, open_source
from rnmail.ingest.parse import Limits, ParsedMail, decode_header_value, parse_message
from rnmail.ingest.respond import acknowledge
from rnmail.ingest.store import Requester, add_participants, open_ticket, store_message
from rnmail.ingest.thread import ThreadMatch, thread_message
from rnmail.language import detect_language
from rnmail.models import Bounce, Message, ProcessedMessage, QuarantinedMessage, Ticket, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestContext:
    config: Config
    blobs: BlobStore
    limits: Limits

    @classmethod
    def from_config(cls, config: Config) -> IngestContext:
        ing = config.ingest
        return cls(
            config=config,
            blobs=BlobStore(config.helpdesk.attachments_dir),
            limits=Limits(
                max_attachment_bytes=int(config.helpdesk.max_attachment_mb * 2**20),
                max_parts=ing.max_parts,
                max_depth=ing.max_depth,
            ),
        )


@dataclass
class Delivery:
    """One message on its way through the stages, and what each stage found."""

    raw: bytes
    mailbox: MailboxConfig
    uidvalidity: int
    uid: str
    mail: ParsedMail | None = None
    raw_sha256: str = ""
    verdict: Classification | None = None
    match: ThreadMatch | None = None
    ticket: Ticket | None = None
    message: Message | None = None
    new_ticket: bool = False
    reply_to: str | None = None  # where the acknowledgement of a new ticket goes
    acknowledged: bool = False

    @property
    def parsed(self) -> ParsedMail:
        assert self.mail is not None, "stage ran before parse"
        return self.mail


Stage = Callable[[Session, IngestContext, Delivery], "str | None"]


def parse(session: Session, ctx: IngestContext, d: Delivery) -> str | None:
    max_bytes = ctx.config.ingest.max_message_mb * 2**20
    if len(d.raw) > max_bytes:
        raise Quarantine(f"message of {len(d.raw) / 2**20:.1f} MB exceeds ingest.max_message_mb")
    d.mail = parse_message(d.raw, ctx.limits)
    return None


def skip_duplicate(session: Session, ctx: IngestContext, d: Delivery) -> str | None:
    """The same mail seen again (other mailbox, redelivery, our own mail coming back)."""
    mail = d.parsed
    query = select(Message).where(Message.dedupe_key == mail.dedupe_key)
    if mail.message_id:
        query = select(Message).where(
            (Message.dedupe_key == mail.dedupe_key) | (Message.message_id == mail.message_id)
        )
    existing = session.scalars(query.limit(1)).first()
    if existing is None and mail.message_id:
        bounce_id = session.scalar(
            select(Bounce.id).where(Bounce.report_message_id == mail.message_id).limit(1)
        )
        if bounce_id is not None:
            return "duplicate"
    if existing is not None:
        d.message = existing
        return "duplicate"
    d.raw_sha256 = ctx.blobs.put(d.raw)
    return None


def classify(session: Session, ctx: IngestContext, d: Delivery) -> str | None:
    d.verdict = classify_message(d.parsed, ctx.config.helpdesk.own_addresses)
    return None


def bounce(session: Session, ctx: IngestContext, d: Delivery) -> str | None:
    assert d.verdict is not None
    if d.verdict.kind != "bounce":
        return None
    record_bounce(session, d.parsed, d.verdict, d.mailbox.name, d.raw_sha256)
    return "bounce"


def thread(session: Session, ctx: IngestContext, d: Delivery) -> str | None:
    d.match = thread_message(session, d.parsed, ctx.config.helpdesk.tag, d.parsed.from_addr)
    return None


def store(session: Session, ctx: IngestContext, d: Delivery) -> str | None:
    assert d.match is not None and d.verdict is not None
    mail, own = d.parsed, ctx.config.helpdesk.own_addresses
    kind = "auto" if d.verdict.is_auto else "correspondence"
    if d.match.ticket is not None:
        d.ticket = d.match.ticket
        add_participants(session, d.ticket, [*mail.to, *mail.cc], "cc", own)
        d.ticket.updated_at = utcnow()
    else:
        requester, pages = _requester(ctx, d)
        language = detect_language(
            f"{mail.subject}\n{mail.display_text}", ctx.config.helpdesk.default_language
        )
        d.ticket = open_ticket(
            session, mail, requester, language, d.mailbox.name, own,
            linked_ticket_id=d.match.linked_ticket_id, fax_pages=pages,
        )
        d.new_ticket = True
        d.reply_to = requester.reply_to
    d.message = store_message(session, ctx.blobs, d.ticket, mail, kind, d.mailbox.name,
                              d.raw_sha256)
    return None


def respond(session: Session, ctx: IngestContext, d: Delivery) -> str | None:
    assert d.ticket is not None and d.verdict is not None
    if not d.new_ticket:
        return "reply"
    if d.verdict.is_auto:
        log.info("no acknowledgement ticket=%d reason=%s", d.ticket.id, d.verdict.auto_reason)
    else:
        d.acknowledged = acknowledge(session, ctx.config, d.ticket, d.parsed, d.reply_to)
    return "ticket"


STAGES: tuple[Stage, ...] = (parse, skip_duplicate, classify, bounce, thread, store, respond)


def _requester(ctx: IngestContext, d: Delivery) -> tuple[Requester, int | None]:
    mail = d.parsed
    if d.mailbox.kind == "fax":
        info = extract_fax(mail, ctx.config.fax)
        if info.number:
            address = fax_reply_address(info.number, ctx.config.fax.address_pattern,
                                        ctx.config.fax.region)
            return Requester(info.number, None, "fax", address), info.pages
        log.warning("fax without a sender number uid=%s mailbox=%s", d.uid, d.mailbox.name)
        return Requester(mail.from_addr or "unknown", mail.from_name, "fax", None), info.pages
    if not mail.from_addr:
        return Requester("unknown", None, "mail", None), None
    reply_to = mail.reply_to[0] if mail.reply_to else mail.from_addr
    return Requester(mail.from_addr, mail.from_name, "mail", reply_to), None


def process(session: Session, ctx: IngestContext, d: Delivery) -> str:
    """Run the stages on one message in a savepoint; returns its outcome, never raises for it.

    The only exceptions that escape are database failures, which abort the batch.
    """
    seen = session.scalar(
        select(ProcessedMessage.outcome).where(
            ProcessedMessage.mailbox == d.mailbox.name,
            ProcessedMessage.uidvalidity == d.uidvalidity,
            ProcessedMessage.uid == d.uid,
        )
    )
    if seen is not None:
        return "seen"  # committed by an earlier pass that stopped before moving it
    try:
        with session.begin_nested():
            outcome = run_stages(session, ctx, d)
            session.add(ProcessedMessage(
                mailbox=d.mailbox.name, uidvalidity=d.uidvalidity, uid=d.uid, outcome=outcome,
                message_db_id=d.message.id if d.message is not None and outcome != "bounce"
                else None,
            ))
            session.flush()
    except Quarantine as exc:
        return _quarantine(session, ctx, d, exc.reason)
    except OperationalError:
        raise
    except IntegrityError as exc:
        return _quarantine(session, ctx, d, f"database constraint: {exc.orig}")
    except DBAPIError:
        raise
    except Exception as exc:
        log.exception("stage failed uid=%s mailbox=%s", d.uid, d.mailbox.name)
        return _quarantine(session, ctx, d, f"internal error: {type(exc).__name__}: {exc}")
    _log_outcome(d, outcome)
    return outcome


def run_stages(session: Session, ctx: IngestContext, d: Delivery) -> str:
    for stage in STAGES:
        outcome = stage(session, ctx, d)
        if outcome is not None:
            return outcome
    raise AssertionError("the last stage always decides")


def _quarantine(session: Session, ctx: IngestContext, d: Delivery, reason: str) -> str:
    subject, sender = _peek_headers(d.raw)
    with session.begin_nested():
        session.add(QuarantinedMessage(
            mailbox=d.mailbox.name, uidvalidity=d.uidvalidity, uid=d.uid, reason=reason[:4000],
            raw_sha256=ctx.blobs.put(d.raw), raw_size=len(d.raw),
            subject=subject, from_addr=sender,
        ))
        session.add(ProcessedMessage(
            mailbox=d.mailbox.name, uidvalidity=d.uidvalidity, uid=d.uid, outcome="quarantined",
        ))
    log.warning("quarantined uid=%s mailbox=%s reason=%s", d.uid, d.mailbox.name, reason)
    return "quarantined"


def _peek_headers(raw: bytes) -> tuple[str | None, str | None]:
    """Best-effort Subject and From of a message that may not parse at all."""
    try:
        head = BytesHeaderParser().parsebytes(raw[:65536])
        return (decode_header_value(head.get("Subject"))[:998] or None,
                decode_header_value(head.get("From"))[:998] or None)
    except Exception:
        return None, None


def _log_outcome(d: Delivery, outcome: str) -> None:
    mail = d.mail
    mid = mail.message_id if mail else None
    if outcome == "ticket" and d.ticket is not None:
        log.info("ticket created ticket=%d channel=%s message_id=%s acknowledged=%s",
                 d.ticket.id, d.ticket.channel, mid, d.acknowledged)
    elif outcome == "reply" and d.ticket is not None:
        log.info("message threaded ticket=%d how=%s message_id=%s",
                 d.ticket.id, d.match.how if d.match else "?", mid)
    else:
        log.info("%s uid=%s mailbox=%s message_id=%s", outcome, d.uid, d.mailbox.name, mid)


@dataclass
class IngestReport:
    """What one pass did, per outcome, and which mailboxes could not be read."""

    outcomes: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


def ingest_batch(db: Database, ctx: IngestContext, source: MailboxSource, box: MailboxConfig,
                 batch: list[Fetched], report: IngestReport) -> None:
    """Process one batch in one transaction, then move it out of the folder."""
    with db.transaction() as session:
        for item in batch:
            delivery = Delivery(raw=item.raw, mailbox=box, uidvalidity=source.uidvalidity,
                                uid=item.uid)
            report.count(process(session, ctx, delivery))
        ctx.blobs.sync()
    source.done([item.uid for item in batch])


def ingest_mailbox(db: Database, ctx: IngestContext, box: MailboxConfig,
                   report: IngestReport) -> None:
    ing = ctx.config.ingest
    with open_source(box) as source:
        for batch in source.batches(ing.batch_size, int(ing.batch_mb * 2**20)):
            ingest_batch(db, ctx, source, box, batch, report)


def run_ingest(db: Database, config: Config, mailbox: str | None = None) -> IngestReport:
    """One pass over the configured mailboxes (or one of them). A mailbox that cannot be
    read is reported in ``errors`` and the others are still processed."""
    boxes = [config.mailbox(mailbox)] if mailbox else list(config.mailboxes)
    ctx = IngestContext.from_config(config)
    report = IngestReport()
    for box in boxes:
        try:
            ingest_mailbox(db, ctx, box, report)
        except RnmailError as exc:
            log.error("%s", exc)
            report.errors.append(str(exc))
        except OperationalError as exc:
            message = f"database error during mailbox {box.name}: {exc.orig}"
            log.error("%s", message)
            report.errors.append(message)
    return report
