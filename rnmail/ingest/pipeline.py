"""Pipeline: the ordered stages a received message goes through.

    parse → skip_duplicate → screen → classify → bounce → staff_reply → staff_mail → thread → store
    → respond

Each stage is a function ``(batch, delivery) -> IngestOutcome | None``; the first one that
returns an outcome ends the message's journey. A batch of messages is one database
transaction, written at its end: its mails, new tickets and acknowledgements with one Core
executemany per table (``rnmail.ingest.store.write``, ``rnmail.dispatch.outbox.Queue``),
what the other stages changed through the ORM in one flush. A staff stage is the exception:
the mails stored before it on tickets already there are written first, and what it changed is
flushed at once, so that it sees them and its mail keeps its place in the order.
The whole batch is parsed first, so that what the database already holds about its
messages (stored duplicates, blocked senders, staff addresses, the Message-IDs they answer
and the tickets they name) is read with one query per kind for the batch
(``rnmail.ingest.lookup``), not one per message. ``Batch`` keeps what the batch has
produced so far (Message-IDs, tickets, acknowledgements to send) so that later messages of
the same batch see earlier ones before anything is flushed.

This module is the only catcher of errors. ``Quarantine`` keeps the raw message in the
quarantine instead of processing it. Any other failure rolls the batch back and processes
it again one message per savepoint, so only the message at fault is quarantined. A database
failure aborts the batch, which stays in the folder for the next pass: messages leave the
folder only after the commit (``rnmail.ingest.runner``).

It is long because the stages are small functions kept in their order in one place, where
the flow reads top to bottom as the docstring above draws it; each stage's work is in its
own module (``classify``, ``bounce``, ``staff``, ``thread``, ``store``, ``respond``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from rnmail.config import Config, MailboxConfig
from rnmail.db import assign_ids, due_rules, insert_rows
from rnmail.dispatch.outbox import Queue
from rnmail.errors import Quarantine
from rnmail.ingest.authres import Screening, screen_headers
from rnmail.ingest.blocklist import blocked_by, hold
from rnmail.ingest.bounce import match_report, record_bounce
from rnmail.ingest.classify import Classification, classify_message
from rnmail.ingest.fax import extract_fax, fax_reply_address
from rnmail.ingest.lookup import Known, look_up
from rnmail.ingest.parse import Limits, ParsedMail, parse_message, peek_headers
from rnmail.ingest.respond import (
    StaffNotifier,
    acknowledge,
    acknowledgement_address,
    within_daily_limit,
)
from rnmail.ingest.staff import handle_service_reply, handle_staff_reply, recognise
from rnmail.ingest.store import Requester, StoredMail, open_ticket, store_message, write
from rnmail.ingest.thread import (
    ThreadMatch,
    thread_message,
)
from rnmail.ingest.unproven import handle_unproven
from rnmail.models import (
    Bounce,
    DirectoryUser,
    Message,
    Organisation,
    ProcessedMessage,
    QuarantinedMessage,
    Staff,
    Ticket,
    utcnow,
)
from rnmail.status.components import current_status, link_tickets
from rnmail.tickets.history import Actor
from rnmail.tickets.lifecycle import may_reopen_by_mail, reopen, requester_type_for, resume
from rnmail.util.addresses import deliverable_address
from rnmail.util.blobs import BlobStore
from rnmail.vocab import Channel, IngestOutcome, TicketStatus

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
    message: Message | None = None  # written by a staff stage
    stored: StoredMail | None = None  # written by ``store``
    new_ticket: bool = False
    reply_to: str | None = None  # where the acknowledgement of a new ticket goes
    acknowledged: bool = False
    duplicate_of: int | None = None  # the stored message this one repeats
    screening: Screening | None = None  # the trusted gateway's verdict; spam
    released: bool = False  # released from the spam state: not held again
    ahead: ParsedMail | str | None = None  # see rnmail.ingest.parse_ahead.Parsed

    @property
    def unverified(self) -> bool:
        """The trusted gateway found the sender unverified (``rnmail.ingest.authres``)."""
        return self.screening is not None and self.screening.unverified

    @property
    def parsed(self) -> ParsedMail:
        assert self.mail is not None, "stage ran before parse"
        return self.mail

    @property
    def message_db_id(self) -> int | None:
        """The id of the message this mail was stored as, once written (or the one it
        repeats)."""
        if self.message is not None:
            return self.message.id
        if self.stored is not None:
            return self.stored.id
        return self.duplicate_of


@dataclass
class Batch:
    """One transaction's worth of deliveries and what they produced before the flush."""

    session: Session
    ctx: IngestContext
    known: Known = field(default_factory=Known)
    keys: set[str] = field(default_factory=set)  # dedupe keys stored
    # Message-ID → the tickets of the mails stored with it (a Message-ID may be reused)
    tickets_by_message_id: dict[str, list[Ticket]] = field(default_factory=dict)
    to_acknowledge: list[Delivery] = field(default_factory=list)
    to_notify: list[Delivery] = field(default_factory=list)
    new_tickets: list[Ticket] = field(default_factory=list)  # from a mail address
    stored: list[Delivery] = field(default_factory=list)  # through ``store``: see ``_write``
    contacts: set[str] = field(default_factory=set)  # who wrote to us (not a robot)
    # ProcessedMessage rows, written by ``_write`` once the messages have their ids, without
    # ORM objects: nothing reads them back in the transaction.
    processed: list[tuple[Delivery, IngestOutcome]] = field(default_factory=list)

    @property
    def config(self) -> Config:
        return self.ctx.config


Stage = Callable[[Batch, Delivery], IngestOutcome | None]


def parse(batch: Batch, d: Delivery) -> IngestOutcome | None:
    max_bytes = batch.config.ingest.max_message_mb * 2**20
    if len(d.raw) > max_bytes:
        raise Quarantine(f"message of {len(d.raw) / 2**20:.1f} MB exceeds ingest.max_message_mb")
    if isinstance(d.ahead, str):  # the parse-ahead process found it must be quarantined
        raise Quarantine(d.ahead)
    d.mail = d.ahead if d.ahead is not None else parse_message(d.raw, batch.ctx.limits)
    return None


def skip_duplicate(batch: Batch, d: Delivery) -> IngestOutcome | None:
    """The same mail seen again (other mailbox, redelivery, our own mail coming back).

    A stored Message-ID alone does not make a duplicate: the same sender, date and subject
    must come with it (``dedupe_key``), or it is our own mail, from our own address."""
    mail = d.parsed
    if mail.dedupe_key in batch.keys:
        return IngestOutcome.DUPLICATE
    existing = batch.known.keys.get(mail.dedupe_key)
    if existing is None and mail.message_id and (
            mail.from_addr.lower() in batch.config.helpdesk.own_addresses):
        existing = batch.known.sent.get(mail.message_id)  # our own mail, delivered back
    if existing is not None:
        d.duplicate_of = existing
        return IngestOutcome.DUPLICATE
    batch.keys.add(mail.dedupe_key)
    d.raw_sha256 = batch.ctx.blobs.put(d.raw, mail.staged_raw)
    return None


def screen(batch: Batch, d: Delivery) -> IngestOutcome | None:
    """Who really sent it, and spam (``rnmail.ingest.authres``): spam and blocked senders
    are held (``rnmail.ingest.blocklist``), with no ticket, mail or notification."""
    d.screening = screen_headers(d.parsed.decoded_headers, batch.config.ingest)
    if d.released:
        return None
    reason = d.screening.spam
    if reason is None:
        entry = blocked_by(d.parsed.sender_addresses, batch.known.blocked)
        reason = f"blocklist: {entry}" if entry else None
    if reason is None:
        return None
    hold(batch.session, d.mailbox.name, d.uidvalidity, d.uid, d.raw, d.raw_sha256, d.parsed,
         reason)
    return IngestOutcome.SPAM


def classify(batch: Batch, d: Delivery) -> IngestOutcome | None:
    d.verdict = classify_message(d.parsed, batch.config.helpdesk.own_addresses)
    return None


def bounce(batch: Batch, d: Delivery) -> IngestOutcome | None:
    """Record delivery reports; a robot's mail that concerns nothing we sent is kept as
    automatic mail instead (e.g. a postmaster notice), so nothing is silently filed away."""
    verdict = d.verdict
    assert verdict is not None
    if verdict.kind != "bounce":
        return None
    report_id = d.parsed.message_id
    if report_id and batch.session.scalar(
        select(Bounce.id).where(Bounce.report_message_id == report_id).limit(1)
    ):
        return IngestOutcome.DUPLICATE
    match = match_report(batch.session, d.parsed, verdict, batch.config.helpdesk.secret)
    if not verdict.certain and not match.rows:
        d.verdict = Classification(kind="requester", auto_reason=verdict.auto_reason)
        return None
    record_bounce(batch.session, d.parsed, verdict, match, d.mailbox.name, d.raw_sha256,
                  batch.config.dispatch.suppress_after_bounces)
    return IngestOutcome.BOUNCE


def staff_reply(batch: Batch, d: Delivery) -> IngestOutcome | None:
    """A help-desk member answering a notification: relay, note or commands, no ticket."""
    assert d.verdict is not None
    if d.verdict.is_auto:  # a staff member's out-of-office acts on nothing
        return None
    if d.unverified:
        # The trusted gateway could not verify the From: the signed reference alone is no
        # proof (it can leak: a forwarded notification), ``staff_mail`` keeps it unsent.
        return None
    found = recognise(batch.session, d.parsed, batch.config.helpdesk.secret)
    if found is None:
        return None
    who, d.ticket = found
    _write_stored_so_far(batch)
    if isinstance(who, Staff):
        d.message = handle_staff_reply(batch.session, batch.config, who, d.ticket, d.parsed,
                                       d.raw_sha256)
        outcome = IngestOutcome.STAFF
    else:
        d.message = handle_service_reply(batch.session, batch.config, who, d.ticket, d.parsed,
                                         d.raw_sha256)
        outcome = IngestOutcome.SERVICE
    _number_now(batch)
    return outcome


def staff_mail(batch: Batch, d: Delivery) -> IngestOutcome | None:
    """Mail from an active staff member's address that ``staff_reply`` did not recognise as
    their reply to a notification: kept (on the ticket it names), the member told, never a
    ticket (``rnmail.ingest.unproven``)."""
    assert d.verdict is not None
    if d.mailbox.kind == "fax":  # the gateway writes these; the sender is in the fax
        return None
    staff = batch.known.staff.get(d.parsed.from_addr.lower())
    if staff is None:
        return None
    _write_stored_so_far(batch)
    d.message = handle_unproven(batch.session, batch.config, staff, d.parsed, d.raw_sha256,
                                d.verdict.is_auto, d.unverified)
    d.ticket = d.message.ticket if d.message is not None else None
    _number_now(batch)
    return IngestOutcome.STAFF_UNSENT


def _write_stored_so_far(batch: Batch) -> None:
    """Before a staff stage acts on a ticket: write the mails the batch has stored so far
    on tickets that were already there (a staff mail cannot name one the batch opens), so
    that what the stage reads of the ticket has them (a delegation sends its history)."""
    earlier = [d.stored for d in batch.stored
               if d.stored is not None and d.stored.id is None and not d.new_ticket]
    if earlier:
        write(batch.session, earlier, None)
        for stored in earlier:
            batch.session.expire(stored.ticket, ["messages"])


def _number_now(batch: Batch) -> None:
    """Flush what a staff stage wrote: its mail takes its number after the mails that came
    before it, not after the whole batch's (``_write``)."""
    assign_ids(batch.session)
    batch.session.flush()


def thread(batch: Batch, d: Delivery) -> IngestOutcome | None:
    match = thread_message(d.parsed, batch.config.helpdesk.tag, d.parsed.from_addr,
                           batch.tickets_by_message_id, batch.known.received,
                           batch.known.tickets, batch.config.helpdesk.secret)
    old = match.ticket
    if old is not None and old.status == TicketStatus.CLOSED and not may_reopen_by_mail(
            old, batch.config.workflow):
        match = ThreadMatch(None, "new", linked_ticket_id=old.id)  # closed too long ago
    d.match = match
    return None


def store(batch: Batch, d: Delivery) -> IngestOutcome | None:
    assert d.match is not None and d.verdict is not None
    mail, own = d.parsed, batch.config.helpdesk.own_addresses
    kind = "auto" if d.verdict.is_auto else "correspondence"
    opened = None  # the first event of a new ticket
    if d.match.ticket is not None:
        d.ticket = d.match.ticket  # its To and Cc make nobody a participant (staff do)
        d.ticket.updated_at = utcnow()
        if not d.verdict.is_auto:  # an out-of-office reply reopens nothing
            writer = Actor.requester(mail.from_addr.lower(), mail.from_name)
            if d.ticket.status == TicketStatus.CLOSED:
                reopen(d.ticket, writer)
            else:
                resume(d.ticket, writer)
    else:
        requester, pages = _requester(batch.ctx, d)
        language = mail.language or batch.config.helpdesk.default_language
        d.ticket, opened = open_ticket(mail, requester, language, d.mailbox.name, own,
                                       linked_ticket_id=d.match.linked_ticket_id,
                                       fax_pages=pages)
        if d.unverified:  # its From proves nothing: no type, organisation or directory user
            d.ticket.sender_unverified = True
        else:
            d.ticket.requester_type = requester_type_for(requester.address,
                                                         batch.config.workflow)
        if requester.channel == Channel.MAIL and not d.unverified:  # see _link_directory
            batch.new_tickets.append(d.ticket)
        d.new_ticket = True
        d.reply_to = requester.reply_to
    if not d.verdict.is_auto and d.mailbox.kind != "fax" and mail.from_addr and (
            not d.unverified):
        batch.contacts.add(mail.from_addr.lower())
    d.stored = store_message(batch.ctx.blobs, d.ticket, mail, kind, d.mailbox.name,
                             d.raw_sha256, d.screening.verdict if d.screening else None,
                             opened)
    batch.stored.append(d)
    if mail.message_id:
        batch.tickets_by_message_id.setdefault(mail.message_id, []).append(d.ticket)
    return None


def respond(batch: Batch, d: Delivery) -> IngestOutcome | None:
    """Mark a new ticket for acknowledgement and the staff for notification; the mails are
    composed once the ticket has its number."""
    assert d.ticket is not None and d.verdict is not None
    if not d.verdict.is_auto:
        batch.to_notify.append(d)
    if not d.new_ticket:
        return IngestOutcome.REPLY
    if d.verdict.is_auto or d.unverified:
        log.info("no acknowledgement mailbox=%s uid=%s reason=%s", d.mailbox.name, d.uid,
                 d.verdict.auto_reason or "sender not verified")
    elif d.reply_to:
        batch.to_acknowledge.append(d)  # subject to the daily limit, checked for the batch
    return IngestOutcome.TICKET


STAGES: tuple[Stage, ...] = (  # after parse, which the whole batch goes through first
    skip_duplicate, screen, classify, bounce, staff_reply, staff_mail, thread, store, respond,
)


def run_stages(batch: Batch, d: Delivery) -> IngestOutcome:
    """The stages after ``parse`` and ``look_up``."""
    for stage in STAGES:
        outcome = stage(batch, d)
        if outcome is not None:
            return outcome
    raise AssertionError("the last stage always decides")


def process_batch(session: Session, ctx: IngestContext,
                  deliveries: list[Delivery]) -> list[IngestOutcome]:
    """Run the stages over ``deliveries`` and write the results; returns their outcomes.

    Raises on anything but ``Quarantine``: the caller decides how to retry.
    """
    batch = Batch(session=session, ctx=ctx)
    seen = _already_processed(session, deliveries)
    decided: list[IngestOutcome | None] = []  # None: parsed, on its way through the stages
    with session.no_autoflush:
        for d in deliveries:
            if (d.mailbox.name, d.uidvalidity, d.uid) in seen:
                # committed by a pass that stopped before moving it
                decided.append(IngestOutcome.SEEN)
                continue
            try:
                parse(batch, d)
            except Quarantine as exc:
                decided.append(_quarantine(session, ctx, d, exc.reason))
                continue
            decided.append(None)
        parsed = [d.parsed for d, outcome in zip(deliveries, decided, strict=True)
                  if outcome is None]
        batch.known = look_up(session, ctx.config, parsed)
        outcomes: list[IngestOutcome] = []
        for d, outcome in zip(deliveries, decided, strict=True):
            if outcome is None:
                outcome = _run(batch, d)
            outcomes.append(outcome)
    ctx.blobs.start_sync()  # the batch's files reach the disk while its rows are written
    _write(batch)
    for d, outcome in zip(deliveries, outcomes, strict=True):
        _log_outcome(d, outcome)
    return outcomes


def _run(batch: Batch, d: Delivery) -> IngestOutcome:
    """The stages after ``parse`` for one message of ``process_batch``, and its
    ProcessedMessage row (written by ``_write``); a ``Quarantine`` quarantines it."""
    try:
        outcome = run_stages(batch, d)
    except Quarantine as exc:
        return _quarantine(batch.session, batch.ctx, d, exc.reason)
    batch.processed.append((d, outcome))
    return outcome


def reprocess(session: Session, ctx: IngestContext, d: Delivery) -> IngestOutcome:
    """Run a quarantined message through the stages again; raises ``Quarantine`` if it
    still fails. Its ProcessedMessage row is the caller's business."""
    batch = Batch(session=session, ctx=ctx)
    with session.no_autoflush:
        parse(batch, d)
        batch.known = look_up(session, ctx.config, [d.parsed])
        outcome = run_stages(batch, d)
    _write(batch)
    return outcome


def _write(batch: Batch) -> None:
    """Write the batch (tickets get their numbers), then queue the acknowledgements."""
    _link_directory(batch)
    write(batch.session, [d.stored for d in batch.stored
                          if d.stored is not None and d.stored.id is None],
          due_rules(batch.session))
    assign_ids(batch.session)
    batch.session.flush()
    new_tickets = {d.ticket.id: d.ticket for d in (*batch.to_acknowledge, *batch.to_notify)
                   if d.new_ticket and d.ticket is not None}
    # The ORM rows below (incident links) are flushed together at the end, their ids given
    # by assign_ids: a query autoflushing them as they come would insert them one by one.
    with batch.session.no_autoflush:
        view = None
        if new_tickets:  # tickets that arrive during an incident are told when it ends
            view = current_status(batch.session, batch.config.status)
            link_tickets(batch.session, new_tickets.values())
        addresses = [(d.reply_to or "").lower() for d in batch.to_acknowledge]
        allowed = within_daily_limit(batch.session, batch.config, addresses)
        queue = Queue()
        for d, address, ok in zip(batch.to_acknowledge, addresses, allowed, strict=True):
            assert d.ticket is not None
            if ok:
                acknowledge(queue, batch.config, d.ticket, d.parsed, address, view)
                d.acknowledged = True
        if batch.to_notify:
            notifier = StaffNotifier.load(batch.session, batch.config)
            for d in batch.to_notify:
                assert d.ticket is not None
                notifier.notify(queue, d.ticket, d.parsed,
                                "new" if d.new_ticket else "reply", unverified=d.unverified)
        queue.write(batch.session)
    assign_ids(batch.session)
    batch.session.flush()
    now = utcnow()
    insert_rows(batch.session, cast(Table, ProcessedMessage.__table__), [
        {"mailbox": d.mailbox.name, "uidvalidity": d.uidvalidity, "uid": d.uid,
         "outcome": str(outcome), "message_db_id": d.message_db_id, "processed_at": now}
        for d, outcome in batch.processed])


def _link_directory(batch: Batch) -> None:
    """A new ticket from a directory user gets their organisation and its type as requester
    organisation and type; whoever of the directory wrote gets a new last contact. One query
    for the whole batch, and one update."""
    addresses = {t.requester for t in batch.new_tickets} | batch.contacts
    if not addresses:
        return
    session = batch.session
    with session.no_autoflush:  # the batch is flushed once, by _write
        found = {email: (user_id, name, kind) for user_id, email, name, kind in session.execute(
            select(DirectoryUser.id, DirectoryUser.email, Organisation.name, Organisation.kind)
            .join(Organisation, Organisation.id == DirectoryUser.organisation_id)
            .where(DirectoryUser.email.in_(sorted(addresses))))}
        if not found:
            return
        for ticket in batch.new_tickets:
            if ticket.requester in found:
                _, ticket.requester_org, ticket.requester_type = found[ticket.requester]
        contacted = sorted(found[a][0] for a in batch.contacts if a in found)
        if contacted:
            session.execute(update(DirectoryUser).where(DirectoryUser.id.in_(contacted))
                            .values(last_contact_at=utcnow())
                            .execution_options(synchronize_session=False))


def process_one_by_one(session: Session, ctx: IngestContext,
                       deliveries: list[Delivery]) -> list[IngestOutcome]:
    """The careful path: each message in its own savepoint; a failure quarantines it alone."""
    outcomes: list[IngestOutcome] = []
    for d in deliveries:
        fresh = Delivery(raw=d.raw, mailbox=d.mailbox, uidvalidity=d.uidvalidity, uid=d.uid)
        if _already_processed(session, [fresh]):
            # Committed meanwhile by another instance (the batch failed on its unique key):
            # done, not an error.
            outcomes.append(IngestOutcome.DUPLICATE)
            continue
        try:
            with session.begin_nested():
                [outcome] = process_batch(session, ctx, [fresh])
        except OperationalError:
            raise
        except Exception as exc:
            log.exception("ingest failed mailbox=%s uid=%s", d.mailbox.name, d.uid)
            with session.begin_nested():
                outcome = _quarantine(session, ctx, fresh,
                                      f"internal error: {type(exc).__name__}: {exc}")
        outcomes.append(outcome)
    return outcomes


def _already_processed(session: Session, deliveries: list[Delivery]) -> set[tuple[str, int, str]]:
    if not deliveries:
        return set()
    first = deliveries[0]
    uids = session.scalars(
        select(ProcessedMessage.uid)
        .where(ProcessedMessage.mailbox == first.mailbox.name,
               ProcessedMessage.uidvalidity == first.uidvalidity,
               ProcessedMessage.uid.in_([d.uid for d in deliveries]))
    )
    return {(first.mailbox.name, first.uidvalidity, uid) for uid in uids}


def _quarantine(session: Session, ctx: IngestContext, d: Delivery, reason: str
                ) -> IngestOutcome:
    subject, sender = peek_headers(d.raw)
    session.add(QuarantinedMessage(
        mailbox=d.mailbox.name, uidvalidity=d.uidvalidity, uid=d.uid, reason=reason[:4000],
        raw_sha256=ctx.blobs.put(d.raw), raw_size=len(d.raw), subject=subject, from_addr=sender,
    ))
    session.add(ProcessedMessage(
        mailbox=d.mailbox.name, uidvalidity=d.uidvalidity, uid=d.uid,
        outcome=IngestOutcome.QUARANTINED,
    ))
    return IngestOutcome.QUARANTINED


def _requester(ctx: IngestContext, d: Delivery) -> tuple[Requester, int | None]:
    mail = d.parsed
    if d.mailbox.kind == "fax":
        info = extract_fax(mail, ctx.config.fax)
        if info.number:
            address = fax_reply_address(info.number, ctx.config.fax.address_pattern,
                                        ctx.config.fax.region)
            return Requester(info.number, None, "fax", address), info.pages
        log.warning("fax without a sender number mailbox=%s uid=%s", d.mailbox.name, d.uid)
        return Requester(mail.from_addr or "unknown", mail.from_name, "fax", None), info.pages
    if not mail.from_addr:
        return Requester("unknown", None, "mail", None), None
    if d.unverified:  # no acknowledgement, and no Reply-To made a participant
        return Requester(mail.from_addr, mail.from_name, "mail", None), None
    reply_to = deliverable_address(acknowledgement_address(mail))
    if reply_to is None:
        log.warning("no deliverable reply address mailbox=%s uid=%s from=%r",
                    d.mailbox.name, d.uid, mail.from_addr)
    return Requester(mail.from_addr, mail.from_name, "mail", reply_to), None


def _log_outcome(d: Delivery, outcome: IngestOutcome) -> None:
    mid = d.mail.message_id if d.mail else None
    where = f"mailbox={d.mailbox.name} uid={d.uid} message_id={mid}"
    if outcome == IngestOutcome.TICKET and d.ticket is not None:
        log.info("ticket created ticket=%d channel=%s acknowledged=%s %s",
                 d.ticket.id, d.ticket.channel, d.acknowledged, where)
    elif outcome == IngestOutcome.REPLY and d.ticket is not None:
        log.info("message threaded ticket=%d how=%s %s",
                 d.ticket.id, d.match.how if d.match else "?", where)
    elif outcome == IngestOutcome.QUARANTINED:
        log.warning("quarantined %s", where)
    else:
        log.info("%s %s", outcome, where)
