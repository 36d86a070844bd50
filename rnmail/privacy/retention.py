"""The retention run: the ``[privacy]`` periods applied, by the daemon once a day and by
``rnmail privacy purge``.

In order: tickets closed ``anonymise_months`` ago are anonymised
(``rnmail.privacy.anonymise``); the raw mails of tickets closed ``raw_mail_months`` ago and
the attachments' files of tickets closed ``attachment_months`` ago are unlinked (their rows
stay, the files go), and quarantined mail released that long ago is deleted, as is mail held
in the quarantine since ``quarantine_months`` ago; outgoing mails
done with ``outbox_months`` ago are deleted with their bounce reports, and so are the
reports that matched no mail of ours; audit entries older than ``audit_years`` are deleted;
last, the files of the store that no row refers to at all (``rnmail.privacy.strays``).
A ticket on legal hold (``hold_at``) is never touched, nor are its outgoing mails. Blob
files no row refers to any more are deleted from the store before each commit
(``delete_blobs``).

Idempotent and safe to run twice at once: each step selects only what is still to remove,
a batch at a time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two daemons share the work
instead of waiting on each other; SQLite has one writer), and what was removed is not
selected again. A dry run does every step in one transaction and rolls it back: its counts
are exactly what a run would remove, and the bytes those files hold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.config import Config
from rnmail.db import Database
from rnmail.models import (
    Attachment,
    AuditEvent,
    Bounce,
    Message,
    OutboxBody,
    OutboxMessage,
    QuarantinedMessage,
    SpamMessage,
    Ticket,
    TicketView,
    utcnow,
)
from rnmail.privacy.anonymise import (
    Removed,
    anonymise_tickets,
    delete_blobs,
    staff_names,
    strip_file,
    strip_raw,
    unreferenced_bytes,
)
from rnmail.privacy.strays import Strays, sweep_strays
from rnmail.util.blobs import BlobStore
from rnmail.vocab import OutboxState, QuarantineState, TicketStatus

log = logging.getLogger("rnmail.privacy")

BATCH = 200
DONE = (OutboxState.SENT, OutboxState.FAILED, OutboxState.BOUNCED, OutboxState.SUPPRESSED)


def months_before(moment: datetime, months: int) -> datetime:
    """``moment`` so many calendar months earlier (the last day of a shorter month)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            day -= 1


@dataclass
class PurgeReport:
    """What a run removed (a dry run: would remove), per kind."""

    dry_run: bool = False
    tickets_anonymised: int = 0
    messages: int = 0
    raw_mails: int = 0
    attachments: int = 0
    participants: int = 0
    history_entries: int = 0
    outbox: int = 0
    bounces: int = 0
    quarantine: int = 0
    """Quarantined mails released (processed after all) ``raw_mail_months`` ago, and held
    ones that came ``quarantine_months`` ago, never released."""
    spam: int = 0
    """Mails held as spam ``spam_days`` ago (and the rows of spam released or deleted)."""
    audit_entries: int = 0
    presence_views: int = 0
    """Who had which ticket open when (``rnmail.tickets.presence``), older than
    ``VIEWS_KEPT``: the desk only ever shows the last minutes."""
    files: int = 0
    bytes: int = 0
    stray_files: int = 0
    """Files of the store no row referred to (``rnmail.privacy.strays``); also in ``files``
    and ``bytes``."""
    held: int = 0
    """Tickets a period would purge that a legal hold keeps as they are."""
    blobs: set[str] = field(default_factory=set, repr=False)

    def count(self, removed: Removed) -> None:
        self.tickets_anonymised += removed.tickets
        self.messages += removed.messages
        self.raw_mails += removed.raw_mails
        self.attachments += removed.attachments
        self.participants += removed.participants
        self.history_entries += removed.events
        self.outbox += removed.outbox
        self.bounces += removed.bounces
        self.blobs |= removed.blobs

    def as_json(self) -> dict[str, Any]:
        shown = asdict(self)
        del shown["blobs"]
        return shown

    @property
    def nothing(self) -> bool:
        return not any(v for k, v in self.as_json().items()
                       if k not in ("dry_run", "held", "presence_views"))  # daily routine


Step = Callable[[Session, PurgeReport], bool]


def purge(db: Database, config: Config, *, now: datetime | None = None,
          dry_run: bool = False, batch: int = BATCH, actor: str = "scheduler") -> PurgeReport:
    """Apply the ``[privacy]`` periods as of ``now``; a dry run changes nothing. A run that
    removed anything is in the audit log (``privacy-purge``, by ``actor``), with its
    counts."""
    now = now or utcnow()
    blobs = BlobStore(config.helpdesk.attachments_dir)
    report = PurgeReport(dry_run=dry_run)
    steps = _steps(config, now, batch)
    if dry_run:
        with db.transaction() as session:
            for step in steps:
                while step(session, report):
                    pass
            report.held = _held(session, config, now)
            report.files, report.bytes = unreferenced_bytes(session, blobs, report.blobs)
            session.rollback()
        with db.reading() as session:
            _count_strays(report, sweep_strays(session, blobs, dry_run=True))
        return report
    for step in steps:
        more = True
        while more:
            with db.transaction() as session:
                more = step(session, report)
                files, size = delete_blobs(session, blobs, report.blobs)
                report.files, report.bytes = report.files + files, report.bytes + size
                report.blobs.clear()
    with db.reading() as session:  # only reads: on SQLite it holds up no writer meanwhile
        _count_strays(report, sweep_strays(session, blobs))
    with db.transaction() as session:
        report.held = _held(session, config, now)
        if not report.nothing:  # the run itself is on the record: counts, no names
            audit.record(session, actor[:64], "privacy-purge", report.as_json())
    if not report.nothing:
        log.warning("retention: %s", " ".join(f"{k}={v}" for k, v in report.as_json().items()
                                              if v and k != "dry_run"))
    return report


def _steps(config: Config, now: datetime, batch: int) -> list[Step]:
    privacy = config.privacy
    steps: list[Step] = []
    if privacy.anonymise_months:
        steps.append(_anonymise(months_before(now, privacy.anonymise_months), now, batch))
    if privacy.raw_mail_months:
        steps.append(_raw_mails(months_before(now, privacy.raw_mail_months), batch))
    if privacy.attachment_months:
        steps.append(_attachments(months_before(now, privacy.attachment_months), batch,
                                  f"removed after {privacy.attachment_months} months"))
    if privacy.raw_mail_months:
        steps.append(_released(months_before(now, privacy.raw_mail_months), batch))
    if privacy.quarantine_months:
        steps.append(_never_released(months_before(now, privacy.quarantine_months), batch))
    if privacy.outbox_months:
        steps.append(_outbox(months_before(now, privacy.outbox_months), batch))
        steps.append(_unmatched_bounces(months_before(now, privacy.outbox_months), batch))
    if privacy.spam_days:
        steps.append(_spam(now - timedelta(days=privacy.spam_days), batch))
    if privacy.audit_years:
        steps.append(_audit(months_before(now, 12 * privacy.audit_years), batch))
    steps.append(_views(now - VIEWS_KEPT))
    return steps


VIEWS_KEPT = timedelta(days=1)


def _views(cutoff: datetime) -> Step:
    def step(session: Session, report: PurgeReport) -> bool:
        gone = session.execute(delete(TicketView).where(TicketView.seen_at < cutoff))
        report.presence_views += cast(CursorResult[Any], gone).rowcount or 0
        return False  # one row per member and ticket: one statement is enough

    return step


def _count_strays(report: PurgeReport, strays: Strays) -> None:
    report.stray_files = strays.files
    report.files, report.bytes = report.files + strays.files, report.bytes + strays.bytes


def _closed_before(cutoff: datetime) -> Any:
    """The tickets a period ending at ``cutoff`` covers: closed before it, not on hold."""
    return and_(Ticket.status == TicketStatus.CLOSED, Ticket.closed_at < cutoff,
                Ticket.hold_at.is_(None))


def _locked(session: Session, statement: Any, model: Any) -> Any:
    """``statement`` locking the rows of ``model`` it selects, skipping those another run
    holds (PostgreSQL; SQLite has a single writer)."""
    if session.get_bind().dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True, of=model)
    return statement


def _anonymise(cutoff: datetime, now: datetime, batch: int) -> Step:
    last = [0]  # keyset: a dry run sees the same rows again (nothing is committed)

    def step(session: Session, report: PurgeReport) -> bool:
        tickets = list(session.scalars(_locked(session, select(Ticket).where(
            _closed_before(cutoff), Ticket.anonymised_at.is_(None), Ticket.id > last[0])
            .order_by(Ticket.id).limit(batch), Ticket)))
        for removed in anonymise_tickets(session, tickets, now=now,
                                         staff=staff_names(session)):
            report.count(removed)
        if tickets:
            last[0] = tickets[-1].id
        return len(tickets) == batch

    return step


def _raw_mails(cutoff: datetime, batch: int) -> Step:
    last = [0]

    def step(session: Session, report: PurgeReport) -> bool:
        messages = list(session.scalars(_locked(session, select(Message).join(
            Ticket, Ticket.id == Message.ticket_id).where(
            _closed_before(cutoff), Message.raw_sha256.is_not(None), Message.id > last[0])
            .order_by(Message.id).limit(batch), Message)))
        removed = Removed()
        for message in messages:
            removed.raw_mails += strip_raw(message, removed)
            last[0] = message.id
        report.count(removed)
        return len(messages) == batch

    return step


def _attachments(cutoff: datetime, batch: int, reason: str) -> Step:
    last = [0]

    def step(session: Session, report: PurgeReport) -> bool:
        files = list(session.scalars(_locked(session, select(Attachment).join(
            Message, Message.id == Attachment.message_id).join(
            Ticket, Ticket.id == Message.ticket_id).where(
            _closed_before(cutoff), Attachment.sha256.is_not(None), Attachment.id > last[0])
            .order_by(Attachment.id).limit(batch), Attachment)))
        removed = Removed()
        for attachment in files:
            removed.attachments += strip_file(attachment, removed, reason)
            last[0] = attachment.id
        report.count(removed)
        return len(files) == batch

    return step


def _outbox(cutoff: datetime, batch: int) -> Step:
    last = [0]

    def step(session: Session, report: PurgeReport) -> bool:
        rows = list(session.scalars(_locked(session, select(OutboxMessage).outerjoin(
            Ticket, Ticket.id == OutboxMessage.ticket_id).where(
            OutboxMessage.state.in_(DONE), OutboxMessage.created_at < cutoff,
            or_(OutboxMessage.sent_at.is_(None), OutboxMessage.sent_at < cutoff),
            Ticket.hold_at.is_(None), OutboxMessage.id > last[0])
            .order_by(OutboxMessage.id).limit(batch), OutboxMessage)))
        if not rows:
            return False
        ids = [row.id for row in rows]
        last[0] = ids[-1]
        bounces = list(session.scalars(select(Bounce).where(Bounce.outbox_id.in_(ids))))
        report.blobs.update(b.raw_sha256 for b in bounces if b.raw_sha256)
        report.bounces += len(bounces)
        report.outbox += len(rows)
        bodies = {row.body_id for row in rows if row.body_id is not None}
        session.execute(delete(Bounce).where(Bounce.outbox_id.in_(ids)))
        for row in rows:
            session.delete(row)
        session.flush()
        if bodies:  # a mailing's shared body goes with its last recipient's row
            used = set(session.scalars(select(OutboxMessage.body_id).where(
                OutboxMessage.body_id.in_(bodies))))
            session.execute(delete(OutboxBody).where(OutboxBody.id.in_(bodies - used)))
        return len(rows) == batch

    return step


def _rows_and_raw(model: Any, condition: Any, counter: str, batch: int) -> Step:
    """Delete the rows of ``model`` matching ``condition``, their raw mail's file with them
    (when no other row refers to it), counted as ``counter`` of the report."""

    def step(session: Session, report: PurgeReport) -> bool:
        rows = list(session.scalars(_locked(session, select(model).where(condition)
                                            .order_by(model.id).limit(batch), model)))
        for row in rows:
            if row.raw_sha256:
                report.blobs.add(row.raw_sha256)
            session.delete(row)
        setattr(report, counter, getattr(report, counter) + len(rows))
        session.flush()
        return len(rows) == batch

    return step


def _released(cutoff: datetime, batch: int) -> Step:
    """Quarantined mail processed after all (``quarantine retry``) that long ago: its
    ticket has its own copy; the quarantine's row and raw mail go."""
    return _rows_and_raw(QuarantinedMessage, and_(
        QuarantinedMessage.state == QuarantineState.RELEASED,
        QuarantinedMessage.released_at < cutoff), "quarantine", batch)


def _never_released(cutoff: datetime, batch: int) -> Step:
    """Quarantined mail held since before ``cutoff``: nobody retried it, its row and raw
    mail go (the personal data of a request nobody will answer now)."""
    return _rows_and_raw(QuarantinedMessage, and_(
        QuarantinedMessage.state == QuarantineState.HELD,
        QuarantinedMessage.created_at < cutoff), "quarantine", batch)


def quarantine_deadline(created_at: datetime, keep_months: int) -> datetime | None:
    """When the retention run deletes a mail held in the quarantine since ``created_at``
    (``_never_released``), unless it is retried; None when ``keep_months`` is 0 (never)."""
    return months_before(created_at, -keep_months) if keep_months else None


def _spam(cutoff: datetime, batch: int) -> Step:
    """Spam that came that long ago: held, its row and raw mail go (nobody released it);
    released or deleted, its row goes (a released one's ticket has its own copy)."""
    return _rows_and_raw(SpamMessage, SpamMessage.created_at < cutoff, "spam", batch)


def _unmatched_bounces(cutoff: datetime, batch: int) -> Step:
    """Delivery reports that matched no mail we sent (kept for inspection), that old."""
    return _rows_and_raw(Bounce, and_(Bounce.outbox_id.is_(None),
                                      Bounce.received_at < cutoff), "bounces", batch)


def _audit(cutoff: datetime, batch: int) -> Step:
    def step(session: Session, report: PurgeReport) -> bool:
        ids = list(session.scalars(_locked(session, select(AuditEvent.id).where(
            AuditEvent.at < cutoff).order_by(AuditEvent.id).limit(batch), AuditEvent)))
        if ids:
            session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids)))
        report.audit_entries += len(ids)
        return len(ids) == batch

    return step


def _held(session: Session, config: Config, now: datetime) -> int:
    """The tickets on legal hold that a period would purge."""
    months = [m for m in (config.privacy.anonymise_months, config.privacy.raw_mail_months,
                          config.privacy.attachment_months) if m]
    if not months:
        return 0
    cutoff = months_before(now, min(months))
    return len(session.scalars(select(Ticket.id).where(
        Ticket.status == TicketStatus.CLOSED, Ticket.closed_at < cutoff,
        Ticket.hold_at.is_not(None), Ticket.anonymised_at.is_(None))).all())


def apply_retention(db: Database, config: Config) -> PurgeReport:
    """The daemon's daily job."""
    return purge(db, config)
