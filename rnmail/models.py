"""The database schema as typed SQLAlchemy 2 models.

Changing a model means adding an Alembic revision under ``rnmail/migrations/versions``;
``tests/test_migrations.py`` fails when the two disagree. The module is long for one job: the
whole schema in one metadata, which Alembic compares with the revisions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from rnmail.util.folding import fold
from rnmail.util.phone import numbers_in

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite keeps no zone), always returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Ticket(Base):
    """A request to the help desk; its number is the id, shown as ``[RN #id]``."""

    __tablename__ = "ticket"
    # Covers every column the statistics read (migration 0006).
    __table_args__ = (Index("ix_ticket_stats", "created_at", "channel", "requester_type",
                            "category", "resolution", "status", "service_id", "assignee_id",
                            "first_response_at", "closed_at"),
                      # the agents' queue (migration 0013, rnmail.tickets.queue)
                      Index("ix_ticket_queue_age", "status", "created_at"),
                      Index("ix_ticket_queue_activity", "status", "updated_at"),
                      Index("ix_ticket_queue_count", "status", "assignee_id", "channel",
                            "category", "requester_type", "service_id"),
                      Index("ix_ticket_queue_closed", "status", "closed_at", "channel",
                            "category", "requester_type", "assignee_id", "service_id"),
                      # the queue sorted by due time (migration 0018, rnmail.tickets.due)
                      Index("ix_ticket_queue_due", "status", "due_at"))
    # Not "auto": the two columns with a server default (requester_type, sender_unverified)
    # get their Python default at the INSERT, so there is nothing to read back; with "auto"
    # the ORM asked for RETURNING, which SQLite can only give one row per statement, and a
    # batch's new tickets were inserted one by one although ``assign_ids`` gave them ids.
    __mapper_args__ = {"eager_defaults": False}  # noqa: RUF012 (SQLAlchemy reads it once)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(998))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    # first-contact | investigated | second-line; set when the ticket is closed
    resolution: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))  # mail | fax | phone | letter
    requester: Mapped[str] = mapped_column(String(320), index=True)
    requester_name: Mapped[str | None] = mapped_column(String(200))
    # The name folded (rnmail.util.folding) for the caller lookup, so that a name is matched
    # in plain SQL (migration 0013); written from requester_name on every insert and update.
    requester_name_folded: Mapped[str | None] = mapped_column(
        String(200), default=lambda context: _folded(context, "requester_name"))
    # indexed for the desk's requester card: the organisation's other tickets (0017)
    requester_org: Mapped[str | None] = mapped_column(String(200), index=True)
    requester_type: Mapped[str] = mapped_column(
        String(16), default="other", server_default="other", index=True
    )
    category: Mapped[str | None] = mapped_column(String(64), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    delegated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Opened by a mail the trusted gateway found unverified (``rnmail.ingest.authres``):
    # not attributed to the directory user of its From, never acknowledged (migration 0026).
    sender_unverified: Mapped[bool] = mapped_column(Boolean, default=False,
                                                    server_default=false())
    # The day (in [helpdesk].timezone) a pending ticket comes back to the queue by itself
    # (``rnmail.tickets.reminders``); only while it is pending (migration 0018).
    pending_until: Mapped[date | None] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(2))
    mailbox: Mapped[str | None] = mapped_column(String(100))
    fax_pages: Mapped[int | None] = mapped_column(Integer)
    linked_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    # The ticket this one was merged into (rnmail.tickets.merge, migration 0018): closed as
    # ``merged``, its mail threads into that one; never a chain.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Due times (rnmail.tickets.due), kept up to date at every flush that changes what they
    # depend on: the first answer's and the resolution's (the latter as it stood when the
    # clock last stopped while pending or closed), and ``due_at``, the earlier of those
    # still to meet while the clock runs (NULL while pending or closed): the queue's sort.
    due_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_resolution_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Storage limitation (rnmail.privacy, migration 0024): when the ticket's personal data
    # was removed (``anonymise``), and its legal hold, which exempts it from every purge.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    hold_by: Mapped[str | None] = mapped_column(String(200))
    hold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.id", foreign_keys="Message.ticket_id"
    )
    merged_into: Mapped[Ticket | None] = relationship(
        remote_side="Ticket.id", foreign_keys="Ticket.merged_into_id")
    participants: Mapped[list[Participant]] = relationship(back_populates="ticket")
    assignee: Mapped[Staff | None] = relationship()
    service: Mapped[Service | None] = relationship()
    # Its history (rnmail.tickets.history): appended to, never loaded to add one.
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan",
        passive_deletes=True)


class Staff(Base):
    """A help-desk member: notified by mail, answers by replying to the notification."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2), default="fr")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Signing in to the desk (rnmail.auth.staff): as the operators' (argon2id; the TOTP
    # secret encrypted, its last step accepted once). None: not set up yet.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # May answer a person's access and erasure requests on the desk (``/desk/privacy``,
    # ``rnmail staff privacy``; migration 0025).
    privacy_officer: Mapped[bool] = mapped_column(Boolean, default=False,
                                                  server_default=false())


class Service(Base):
    """A second-line service of the register, with the contact tickets are delegated to, in
    the language its contact reads (None: the help desk's ``default_language``). Removed,
    it is never deleted (its tickets keep pointing at it) but no longer offered."""

    __tablename__ = "service"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    description: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Participant(Base):
    """An address that takes part in a ticket; only these may thread by subject tag alone."""

    __tablename__ = "participant"
    __table_args__ = (UniqueConstraint("ticket_id", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(16))  # requester | cc

    ticket: Mapped[Ticket] = relationship(back_populates="participants")


class Message(Base):
    """One mail, note or call record of a ticket, in or out, with its full and display text."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    kind: Mapped[str] = mapped_column(String(16), default="correspondence")
    # Not unique: some mailers reuse Message-IDs for different mails (dedupe_key decides).
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[str | None] = mapped_column(Text)
    from_addr: Mapped[str] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(200))
    to_addrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    cc_addrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(998))
    date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text, default="")
    display_text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    raw_size: Mapped[int | None] = mapped_column(BigInteger)
    mailbox: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The staff member who wrote it (an answer or a note, by mail or on the command line);
    # null for the requester's mail, rnmail's own and the second line's (migration 0012).
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # The phone and fax numbers of the message and of its ticket's requester as search words
    # (E.164 digits), set on every write by ``_index_numbers`` below; the full-text index
    # reads it with the text (migration 0012).
    search_numbers: Mapped[str | None] = mapped_column(Text)
    # The trusted gateway's verdict on an incoming mail's sender: pass | fail | none; null
    # when no gateway is configured or the message is not an incoming mail (migration 0026).
    sender_verdict: Mapped[str | None] = mapped_column(String(8))

    ticket: Mapped[Ticket] = relationship(back_populates="messages", foreign_keys=[ticket_id])
    author: Mapped[Staff | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id"
    )


@event.listens_for(Message, "before_insert")
@event.listens_for(Message, "before_update")
def _index_numbers(_mapper: Any, _connection: Any, message: Message) -> None:
    """Every message written through the ORM gets its numbers for search, whatever wrote it.
    Not our acknowledgements and notifications: they repeat the requester's mail (indexed
    with its own numbers) and our contact block, and are most of what an ingest writes."""
    ticket = message.__dict__.get("ticket")  # as given: nothing is loaded during a flush
    requester = ticket.requester if isinstance(ticket, Ticket) else None
    message.search_numbers = search_numbers(message.direction, message.kind, message.subject,
                                            message.display_text, message.from_addr, requester)


def search_numbers(direction: str, kind: str, subject: str, display_text: str | None,
                   from_addr: str, requester: str | None) -> str | None:
    """A message's ``search_numbers``: also for the mail ingest writes without the ORM."""
    if direction == "out" and kind != "correspondence":
        return None
    return numbers_in(subject, display_text, from_addr, requester)


class TicketEvent(Base):
    """One change to a ticket: what, from what to what, by whom and through what
    (``rnmail.tickets.history``, the only writer)."""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"),
                                           index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    what: Mapped[str] = mapped_column(String(32))  # rnmail.vocab.TicketChange
    old: Mapped[str | None] = mapped_column(String(400))
    new: Mapped[str | None] = mapped_column(String(400))
    actor: Mapped[str] = mapped_column(String(200))  # a name, as it was when it acted
    actor_email: Mapped[str | None] = mapped_column(String(320))
    actor_kind: Mapped[str] = mapped_column(String(16))  # rnmail.vocab.ActorKind
    via: Mapped[str] = mapped_column(String(16))  # rnmail.vocab.Via
    login: Mapped[str | None] = mapped_column(String(64))  # the OS user of a CLI change
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TicketView(Base):
    """A staff member had the ticket's page open on the desk, last at ``seen_at``: the
    page names the colleagues who have it open (``rnmail.tickets.presence``)."""

    __tablename__ = "ticket_view"
    __table_args__ = (Index("ix_ticket_view_ticket_seen", "ticket_id", "seen_at"),)

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"),
                                          primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"),
                                           primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduledStep(Base):
    """A step of a scheduled job that must happen once, ever: a reminder to a service, a
    warning before a due time, an automatic close, a fetch alert. ``key`` names it
    (``delegation-reminder:42:2``); it is written in the same transaction as what the step
    does (its outbox mail, its history entry), so a restart, a retry or a second instance
    finds it and does nothing (``rnmail.tickets.reminders``)."""

    __tablename__ = "scheduled_step"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FetchFailure(Base):
    """A mailbox whose fetching fails: since when (the first failure) and the last error.
    Kept in the database so the time survives a restart and is shared by instances; the
    row goes when fetching works again (``rnmail.daemon.fetch_monitor``)."""

    __tablename__ = "fetch_failure"

    mailbox: Mapped[str] = mapped_column(String(100), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    error: Mapped[str] = mapped_column(Text)


def _folded(context: Any, column: str) -> str | None:
    """The folded value of ``column`` in the row being inserted (Core inserts included)."""
    return folded_name(context.get_current_parameters().get(column))


def folded_name(value: str | None) -> str | None:
    """A name as its ``*_folded`` column keeps it (also for rows written without the ORM)."""
    return fold(value)[:200] or None


@event.listens_for(Ticket, "before_update")
def _fold_requester_name(_mapper: Any, _connection: Any, ticket: Ticket) -> None:
    ticket.requester_name_folded = folded_name(ticket.requester_name)


class Attachment(Base):

    """A file of a message, stored content-addressed; ``omitted`` ones are only described."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)
    filename: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    content_id: Mapped[str | None] = mapped_column(String(500))
    omitted_reason: Mapped[str | None] = mapped_column(String(200))

    message: Mapped[Message] = relationship(back_populates="attachments")


class ProcessedMessage(Base):
    """What became of each mailbox message, keyed on (mailbox, UIDVALIDITY, UID).

    Written in the same transaction as what the message produced, so after a crash between
    that commit and the IMAP move the message is recognised and only moved.
    """

    __tablename__ = "processed_message"
    __table_args__ = (UniqueConstraint("mailbox", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(100))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[str] = mapped_column(String(200))
    # ticket | reply | staff | service | staff-unsent | duplicate | bounce | seen |
    # quarantined
    outcome: Mapped[str] = mapped_column(String(16))
    message_db_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[Message | None] = relationship()


class OutboxMessage(Base):
    """One outgoing mail to one recipient: the durable queue between compose and send.

    ``raw`` is rendered once at enqueue time, so a retry sends the very same bytes with the
    same Message-ID.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_state_next", "state", "next_attempt_at"),
        # Partial, with the conditions migration 0029 writes: a mailing's rows, without a
        # ticket and not automatic, stay out of the two indexes below, which only the
        # ticket's and the automatic mails are read from. Not declared here: a model's
        # ``postgresql_where``/``sqlite_where`` load both dialects' modules when the models
        # are imported (+116 ms for every command), and the schema comparison does not
        # read index conditions; tests/test_outbox_indexes.py checks them.
        Index("ix_outbox_message_ticket_id", "ticket_id"),
        # the daily limit of automatic mails (rnmail.ingest.respond): the day's, from the
        # index alone; the condition as that query writes it (SQLite matches it literally)
        Index("ix_outbox_message_automatic_day", "automatic", "created_at", "to_addr"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    purpose: Mapped[str] = mapped_column(String(32))  # acknowledgement | reply | ...
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)  # counts for loop limits
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    mail_from: Mapped[str] = mapped_column(String(320))
    to_addr: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(String(998))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_reply: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A mailing's rows share one body (the personal headers are in ``raw``): see OutboxBody.
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcement.id"),
                                                        index=True)
    body_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_body.id"))

    ticket: Mapped[Ticket | None] = relationship()


class OutboxBody(Base):
    """The shared part of a mailing (MIME body after the personal headers), stored once per
    language instead of once per recipient: a letter with a PDF to 589 municipalities is one
    copy of the PDF, not 589."""

    __tablename__ = "outbox_body"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class SendThrottle(Base):
    """The system-wide send rate: one row per limiter; every sender, whatever its process,
    reserves its time slots here, so the rate holds for the whole installation."""

    __tablename__ = "send_throttle"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float)  # Unix time of the next free slot


class Bounce(Base):
    """A delivery failure report, recorded against the outgoing mail and recipient it concerns."""

    __tablename__ = "bounce"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    permanent: Mapped[bool] = mapped_column(Boolean)
    original_message_id: Mapped[str | None] = mapped_column(String(998))
    report_message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    diagnostic: Mapped[str | None] = mapped_column(Text)
    mailbox: Mapped[str | None] = mapped_column(String(100))
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuarantinedMessage(Base):
    """A message that could not be processed, kept raw with the reason until retried."""

    __tablename__ = "quarantined_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(100))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    raw_size: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str | None] = mapped_column(String(998))
    from_addr: Mapped[str | None] = mapped_column(String(998))
    state: Mapped[str] = mapped_column(String(16), default="held")  # held | released
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)


class SpamMessage(Base):
    """A mail held as spam (gateway flag or score, or the blocklist): no ticket, no mail
    sent; kept raw until released (then processed normally) or deleted (migration 0026)."""

    __tablename__ = "spam_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(100))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    raw_size: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str | None] = mapped_column(String(998))
    from_addr: Mapped[str | None] = mapped_column(String(998))
    state: Mapped[str] = mapped_column(String(16), default="held", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(Text)


class BlockedSender(Base):
    """An address (``x@example.org``) or a domain (``example.org``, its subdomains too)
    whose mail goes straight to the spam state (migration 0026)."""

    __tablename__ = "blocked_sender"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pattern: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserGroup(Base):
    """An address list (municipalities, police zones, notaries, ...) announcements go to."""

    __tablename__ = "user_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # A group defined by a directory query instead of a CSV list, e.g.
    # {"kinds": ["municipality"], "languages": ["nl"], "states": ["active"]}: `lists sync`
    # replaces its members with the directory users that match.
    query: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    members: Mapped[list[GroupMember]] = relationship(
        back_populates="group", order_by="GroupMember.email", cascade="all, delete-orphan"
    )


class GroupMember(Base):
    """One address of a user group, with the language it is written to."""

    __tablename__ = "group_member"
    __table_args__ = (UniqueConstraint("group_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("user_group.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(2))
    organisation: Mapped[str | None] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(32))

    group: Mapped[UserGroup] = relationship(back_populates="members")


class Organisation(Base):
    """An organisation with access to the register: a municipality, a police zone, a
    notary, a public service, a company..."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    # rnmail.vocab.ORGANISATION_KINDS: the requester types but citizen
    kind: Mapped[str] = mapped_column(String(16), index=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)  # e.g. the NIS code
    language: Mapped[str] = mapped_column(String(2))
    address: Mapped[str | None] = mapped_column(Text)
    contact_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    users: Mapped[list[DirectoryUser]] = relationship(
        back_populates="organisation", order_by="DirectoryUser.email")


class DirectoryUser(Base):
    """A person with access to the register, and the state of that access."""

    __tablename__ = "directory_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The name folded for the caller lookup, matched in plain SQL (migration 0015); written
    # from name on every insert (bulk ones too) and update.
    name_folded: Mapped[str | None] = mapped_column(
        String(200), index=True, default=lambda context: _folded(context, "name"))
    # E.164; indexed for the caller lookup (migration 0015)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    language: Mapped[str] = mapped_column(String(2))
    role: Mapped[str | None] = mapped_column(String(64))
    access_status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    status_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    key_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # access key sent
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="users")


@event.listens_for(DirectoryUser, "before_update")
def _fold_user_name(_mapper: Any, _connection: Any, user: DirectoryUser) -> None:
    user.name_folded = fold(user.name)[:200]


class Suppression(Base):
    """An address no announcement is sent to any more (too many hard bounces)."""

    __tablename__ = "suppression"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    hard_bounces: Mapped[int] = mapped_column(Integer, default=0)
    suppressed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Operator(Base):
    """Technical staff allowed to change the system status and send announcements."""

    __tablename__ = "operator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The second factor (RFC 6238 TOTP, base32 secret) and the last time step accepted, so
    # that a code seen once cannot be used again.
    # Encrypted (operators.TotpCipher: "enc1:" and a Fernet token); in clear from an
    # older version until its next use.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class AuditEvent(Base):
    """Who did what and when: status changes, maintenance, announcements, refused logins."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)  # operator name or "scheduler"
    action: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recipients: Mapped[int | None] = mapped_column(Integer)
    success: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where the act came from: the web admin's client address (None: the command line).
    client: Mapped[str | None] = mapped_column(String(64), index=True)


class AdminSession(Base):
    """A signed-in operator of the web admin, or staff member of the desk (``kind``). The
    cookie holds a random token; only its SHA-256 is stored, so a copy of the database
    cannot be used to sign in."""

    __tablename__ = "admin_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The principal: an operator's name, or a staff member's address (kind "staff").
    operator: Mapped[str] = mapped_column(String(320), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="operator",
                                      server_default="operator")
    csrf_token: Mapped[str] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ComponentState(Base):
    """The position set by hand for one component of the register's system."""

    __tablename__ = "component_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # operational | degraded | down
    comment: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # language → text
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class Incident(Base):
    """An unplanned outage: from the first component leaving ``operational`` until all are
    back; its updates are the history shown on the status page."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    updates: Mapped[list[IncidentUpdate]] = relationship(
        back_populates="incident", order_by="IncidentUpdate.id", cascade="all, delete-orphan"
    )


class IncidentUpdate(Base):
    __tablename__ = "incident_update"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"),
                                             index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(16))
    components: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    operator: Mapped[str | None] = mapped_column(String(64))

    incident: Mapped[Incident] = relationship(back_populates="updates")


class IncidentTicket(Base):
    """A ticket received while an incident was open: its requester is told when it ends."""

    __tablename__ = "incident_ticket"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"),
                                             primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Maintenance(Base):
    """Planned maintenance: its components count as down between ``starts_at`` and
    ``ends_at`` (derived from the times, whether or not a scheduler job ran)."""

    __tablename__ = "maintenance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    components: Mapped[list[str]] = mapped_column(JSON, default=list)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    remind_seconds: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled|cancelled
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Announcement(Base):
    """One mailing: an outage notice, a maintenance step or a document sent to user groups.

    ``step_key`` names a notification step once and for all (``maintenance:7:reminder``):
    the unique constraint is what keeps a restart, a retry or a second instance from sending
    it twice.
    """

    __tablename__ = "announcement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    step_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    template: Mapped[str] = mapped_column(String(100))
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    maintenance_id: Mapped[int | None] = mapped_column(ForeignKey("maintenance.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    operator: Mapped[str | None] = mapped_column(String(64))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def include_object(
    obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any
) -> bool:
    """What schema comparison looks at: not the full-text search objects of migration 0003,
    which are written in SQL because no model describes them, nor APScheduler's job table
    (created by migration 0005 in APScheduler's own shape)."""
    return not (name or "").startswith(
        ("search_index", "search_vector", "ix_message_search", "apscheduler_jobs",
         "ix_apscheduler_jobs"))


class FaqEntry(Base):
    """A question the help desk answers often, with its answer per language."""

    __tablename__ = "faq_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str | None] = mapped_column(String(64))
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    source_ticket_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    texts: Mapped[list[FaqText]] = relationship(
        back_populates="entry", order_by="FaqText.language", cascade="all, delete-orphan"
    )


class FaqText(Base):
    """One language's wording of an FAQ entry: written, never machine-translated."""

    __tablename__ = "faq_text"
    __table_args__ = (UniqueConstraint("entry_id", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("faq_entry.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(2))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)

    entry: Mapped[FaqEntry] = relationship(back_populates="texts")


class TextModule(Base):
    """A reusable piece of an answer in one language, with Jinja2 placeholders
    (``rnmail.tickets.texts``): written by staff, rendered in a sandbox."""

    __tablename__ = "text_module"
    __table_args__ = (UniqueConstraint("name", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(2))
    text: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(320))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
