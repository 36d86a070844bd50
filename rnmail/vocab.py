"""The closed vocabularies: every set of words rnmail stores, accepts or prints, named once.

Each is an ``enum.StrEnum``: a member *is* its string (``TicketStatus.CLOSED == "closed"``,
``f"{TicketStatus.CLOSED}"`` and ``json.dumps`` give ``closed``), so code may compare the
plain strings read from the database with the members, and the members may be written where
a string goes. In the database the values are stored as plain VARCHAR columns holding these
very strings (no native enum type, no migration): a model column stays ``Mapped[str]``, and
renaming a member's *value* would be a data migration, renaming its *name* is not.

- ``TicketStatus``: ``ticket.status``, where a ticket is in its life.
- ``Resolution``: ``ticket.resolution``, how a closed ticket was resolved.
- ``Channel``: ``ticket.channel``, how the request came in.
- ``RequesterType``: ``ticket.requester_type``, who asks; the organisation kinds of the
  directory (``organisation.kind``) are the same words but ``citizen``
  (``ORGANISATION_KINDS``); ``normal_requester_type`` reads either, aliases included.
- ``MessageRole``: what a message is in its ticket (derived from ``message.direction`` and
  ``kind``, shown by ``ticket show``, never stored).
- ``IngestOutcome``: ``processed_message.outcome``, what became of a received message (the
  value a stage of ``rnmail.ingest.pipeline`` returns to end its journey).
- ``OutboxState``: ``outbox_message.state``, where an outgoing mail is.
- ``QuarantineState``: ``quarantined_message.state``.
- ``SpamState``: ``spam_message.state`` (``rnmail.ingest.spam``).
- ``StatusState``: ``component_state.state`` and ``incident_update.state``, the position of
  a component of the register's system on the status page (not named ``ComponentState``:
  that is the model of the row that holds it).
- ``MaintenanceState``: ``maintenance.state`` as stored; ``MaintenancePhase``: what a
  maintenance is at a given time (derived from its state and times, shown, never stored).
- ``MaintenanceStep``: the notices of a maintenance; the timed ones (``TIMED_STEPS``) are
  scheduler jobs. Announcement kinds and audit actions of a step are
  ``maintenance-<step>``.
- ``AnnouncementKind``: ``announcement.kind`` but the maintenance steps' (above).
- ``AccessState``: ``directory_user.access_status``, a person's access to the register.
- ``UnblockAction``: what the unblocking procedure does about a blocked access key.
- ``ArchiveFormat``: the formats ``ticket export`` writes.
- ``CallOutcome``: what becomes of a logged call (``rnmail.tickets.calls``), never stored:
  the ticket's status and resolution say it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from rnmail.errors import RnmailError
from rnmail.i18n.catalogues import N_

MAX_ID = 2**63 - 1  # the largest id a database integer holds


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"  # waiting on the requester
    DELEGATED = "delegated"  # with a second-line service
    CLOSED = "closed"


class Resolution(StrEnum):
    FIRST_CONTACT = "first-contact"  # answered at once
    INVESTIGATED = "investigated"  # kept open, maybe waiting on the requester
    SECOND_LINE = "second-line"  # delegated to a service
    MERGED = "merged"  # merged into another ticket (``ticket.merged_into_id``): counted there


# The resolutions a ticket may be closed with by hand: ``merged`` is only ever set by a merge.
CLOSING_RESOLUTIONS: tuple[Resolution, ...] = tuple(
    r for r in Resolution if r is not Resolution.MERGED)


class Channel(StrEnum):
    MAIL = "mail"
    FAX = "fax"
    PHONE = "phone"
    LETTER = "letter"


class RequesterType(StrEnum):
    CITIZEN = "citizen"
    MUNICIPALITY = "municipality"
    POLICE = "police"
    NOTARY = "notary"
    PUBLIC_SERVICE = "public-service"
    COMPANY = "company"
    OTHER = "other"


# An organisation of the directory is of one of the requester types but ``citizen``: the
# type a ticket from one of its users gets.
ORGANISATION_KINDS: tuple[RequesterType, ...] = tuple(
    t for t in RequesterType if t is not RequesterType.CITIZEN)

# Other words accepted for a requester type or organisation kind, wherever one is typed
# (``ticket set --type``, a staff reply's ``#type``, the directory CSV's organisation_type).
REQUESTER_TYPE_ALIASES: dict[str, RequesterType] = {
    "police-zone": RequesterType.POLICE,
    "public service": RequesterType.PUBLIC_SERVICE,
    "commune": RequesterType.MUNICIPALITY,
    "gemeente": RequesterType.MUNICIPALITY,
}


def normal_requester_type(value: str, *, organisation: bool = False) -> RequesterType:
    """The requester type ``value`` names, in any case, aliases accepted; with
    ``organisation`` an organisation kind (every type but ``citizen``). Else an error that
    lists the accepted types."""
    word = " ".join(value.split()).lower()
    allowed = ORGANISATION_KINDS if organisation else tuple(RequesterType)
    kind = REQUESTER_TYPE_ALIASES.get(word) or next((t for t in allowed if t == word), None)
    if kind is None or kind not in allowed:
        if organisation:
            raise RnmailError(f"unknown organisation type {value!r}: use one of "
                              f"{', '.join(allowed)}")
        raise RnmailError.translatable(N_("unknown requester type '{kind}' ({choices})"),
                                       kind=value, choices=", ".join(allowed))
    return kind


class MessageRole(StrEnum):
    """What a message is in its ticket (``ticket show``), from its direction and kind."""

    REQUEST = "request"  # the requester's mail, or the call or letter logged by hand
    AUTOMATIC = "automatic"  # an automatic reply received (out of office...)
    NOTE = "note"  # an internal note
    ANSWER = "answer"  # to the requester
    ACKNOWLEDGEMENT = "acknowledgement"
    NOTIFICATION = "notification"  # to a staff member
    DELEGATION = "delegation"  # the ticket sent to a second-line service
    HELD = "held"  # an answer held back: a colleague answered just before (not sent)


class IngestOutcome(StrEnum):
    TICKET = "ticket"  # a new ticket
    REPLY = "reply"  # added to an existing ticket
    STAFF = "staff"  # a help-desk member's answer to a notification
    SERVICE = "service"  # a second-line service's answer
    STAFF_UNSENT = "staff-unsent"  # a staff address's mail that is no proven reply: kept
    DUPLICATE = "duplicate"  # seen before (other mailbox, redelivery, our own mail back)
    BOUNCE = "bounce"  # a delivery report, recorded against what we sent
    SEEN = "seen"  # committed by an earlier pass that stopped before moving it
    QUARANTINED = "quarantined"  # could not be processed, kept raw
    SPAM = "spam"  # held as spam (gateway flag or score, blocklist): no ticket, kept raw


class OutboxState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # leased by a sender
    SENT = "sent"
    FAILED = "failed"  # given up after the last attempt or a permanent refusal
    BOUNCED = "bounced"  # sent, then reported undeliverable
    SUPPRESSED = "suppressed"  # not sent: the address bounces too often


class QuarantineState(StrEnum):
    HELD = "held"
    RELEASED = "released"  # processed after all (``quarantine retry``)


class SpamState(StrEnum):
    HELD = "held"
    RELEASED = "released"  # processed after all (``spam release``)
    DELETED = "deleted"  # removed with its raw mail (``spam delete``)


class StatusState(StrEnum):
    """In order of severity: the worst one is the overall state."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    DOWN = "down"


class MaintenanceState(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class MaintenancePhase(StrEnum):
    SCHEDULED = "scheduled"  # not started yet
    IN_PROGRESS = "in-progress"
    DONE = "done"
    CANCELLED = "cancelled"


class MaintenanceStep(StrEnum):
    ANNOUNCEMENT = "announcement"  # when it is scheduled
    REMINDER = "reminder"
    START = "start"
    END = "end"
    CANCELLATION = "cancellation"


# The steps run by the scheduler at their time, in that order.
TIMED_STEPS = (MaintenanceStep.REMINDER, MaintenanceStep.START, MaintenanceStep.END)


class AnnouncementKind(StrEnum):
    OUTAGE = "outage"  # a component's state changed
    MAILING = "mailing"  # a document sent to user groups
    TEST = "test"  # a mailing sent to the operator first
    PREVIEW = "preview"  # rendered, never recorded


class AccessState(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"
    REVOKED = "revoked"  # leaves every user group


class UnblockAction(StrEnum):
    RESET = "reset"
    NEW_KEY = "new-key"


class ArchiveFormat(StrEnum):
    EML = "eml"
    MBOX = "mbox"
    JSON = "json"


class ActorKind(StrEnum):
    """Who changed a ticket (its history, ``ticket_event.actor_kind``)."""

    STAFF = "staff"  # a help-desk member (known by their address or name)
    OPERATOR = "operator"  # a technical operator (the web admin)
    USER = "user"  # someone on the command line not known as staff: a name or the OS user
    REQUESTER = "requester"  # the requester's own mail (opens, reopens)
    SERVICE = "service"  # a second-line service answering by mail
    SYSTEM = "system"  # rnmail itself (the daemon, a scheduled job)


class Via(StrEnum):
    """Through what a ticket was changed (``ticket_event.via``)."""

    DESK = "desk"
    MAIL = "mail"
    CLI = "cli"
    ADMIN = "admin"
    SYSTEM = "system"


class TicketChange(StrEnum):
    """What a ticket event records (``ticket_event.what``): a field or an act."""

    OPENED = "opened"
    STATUS = "status"
    RESOLUTION = "resolution"
    ASSIGNEE = "assignee"
    CATEGORY = "category"
    REQUESTER_TYPE = "requester-type"
    SERVICE = "service"  # delegated to a second-line service
    REPLY = "reply"  # an answer to the requester
    NOTE = "note"  # an internal note
    SERVICE_ANSWER = "service-answer"
    PARTICIPANT_ADD = "participant-add"
    PARTICIPANT_DEL = "participant-del"
    UNBLOCK = "access-unblock"
    PENDING_UNTIL = "pending-until"  # the day a pending ticket comes back by itself
    MERGED_INTO = "merged-into"  # this ticket went into the one named (new: "#N")
    MERGED_FROM = "merged-from"  # the ticket named came into this one (new: "#N")
    SPLIT_TO = "split-to"  # a message of this ticket became the ticket named (new: "#N")
    SERVICE_REMINDER = "service-reminder"  # the service was reminded (new: "NAME #N")
    OVERDUE = "overdue"  # the service never answered: the assignee or team was told
    DUE_WARNING = "due-warning"  # a due time is near (new: "response" or "resolution")
    DUE_MISSED = "due-missed"  # a due time passed, the ticket open (new: as DUE_WARNING)
    AUTO_CLOSED = "auto-closed"  # closed: no answer from the requester for (new) "10d"
    LEGAL_HOLD = "legal-hold"  # kept as it is, exempt from every purge (new: the reason)
    LEGAL_HOLD_LIFTED = "hold-lifted"  # (old: the reason it had)


class CallOutcome(StrEnum):
    CLOSE = "close"  # answered at once: closed, resolution first-contact
    OPEN = "open"  # to investigate
    DELEGATE = "delegate"  # to a second-line service


def strings(vocabulary: Iterable[StrEnum]) -> list[str]:
    """The plain strings of a vocabulary (or of some of its members), in order: for
    ``click.Choice``, which would show a member by its name, and for membership tests
    (``"x" in TicketStatus`` is an error before Python 3.12)."""
    return [member.value for member in vocabulary]

