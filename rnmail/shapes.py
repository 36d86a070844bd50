"""The shapes of what ``--json`` prints: one ``TypedDict`` per object, for scripts to rely on.

They live together in this one module rather than next to their builders because together
they are the command line's JSON contract, read (and changed) as one: a script writer finds
every shape here, and a change to one shows in review as a change to this file. The
builders (``rnmail.tickets.views``, ``rnmail.directory.people``, ...) return these types, so
``mypy --strict`` checks that each builds exactly its shape; the module imports nothing of
rnmail, so any module may use it. It is long for that reason: one contract, one file.

Conventions for every shape: times are ISO 8601 strings with their offset (UTC), or null;
a field named after a vocabulary of ``rnmail.vocab`` holds one of its values, as stored. The
key order of the output is the order the builder writes them in (the tests compare bytes).
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

# --------------------------------------------------------------------------- tickets


class DueJson(TypedDict):
    """A ticket's due times (rnmail.tickets.due), ISO 8601 UTC: ``next`` the earlier still to
    meet (None while pending or closed); ``late`` it has passed; ``soon`` within the hour;
    ``paused`` pending (the resolution clock stands still); ``first_response_met`` None
    until answered."""

    first_response: str | None
    first_response_met: bool | None
    resolution: str | None
    next: str | None
    paused: bool
    late: bool
    soon: bool


class TicketSummary(TypedDict):
    """A ticket as ``ticket list`` and the ticket commands (``close``, ``set``...) print it."""

    id: int
    subject: str
    status: str
    """A ``TicketStatus``."""
    resolution: str | None
    """A ``Resolution``, once closed."""
    channel: str
    """A ``Channel``."""
    requester: str
    """A mail address, an E.164 phone number or a name."""
    requester_name: str | None
    requester_org: str | None
    requester_type: str
    """A ``RequesterType``."""
    category: str | None
    assignee: str | None
    """The staff member's address."""
    service: str | None
    """The name of the second-line service it is delegated to."""
    delegated_at: str | None
    due: DueJson
    language: str
    created_at: str | None
    updated_at: str | None
    first_response_at: str | None
    closed_at: str | None
    pending_until: str | None
    """The day (YYYY-MM-DD, Brussels) a pending ticket comes back to the queue by itself."""
    linked_ticket_id: int | None
    """The older (closed) ticket a new one follows up, or the one it was split from."""
    fax_pages: int | None
    merged_into_id: int | None
    """The ticket this one was merged into (closed with the resolution ``merged``)."""
    sender_verified: bool
    """False when the trusted gateway found the mail that opened it unverified: it is not
    attributed to the directory user of its From (``[ingest] trusted_authserv_id``)."""


class PhoneMessageJson(TypedDict):
    """``message take --json``: a phone message queued to an absent colleague."""

    to: str
    """The colleague's address."""
    staff: str
    """The colleague's name."""
    caller: str
    phone: str
    """E.164."""
    text: str
    message_id: str
    outbox_id: int
    queued_at: str


class AttachmentInfo(TypedDict):
    filename: str
    content_type: str
    size: int
    sha256: str | None
    """The stored content, null when omitted."""
    inline: bool
    omitted: str | None
    """Why the file was not kept (too large...), else null."""


# Functional syntax: "from" is a keyword.
MessageDetail = TypedDict("MessageDetail", {
    "id": int,
    "direction": str,  # in | out
    "kind": str,  # correspondence | comment | auto | notification
    "role": str,  # a MessageRole: what the message is in the ticket
    "author": str | None,  # who wrote it: the staff member of an answer or note, the sender
    "author_email": str | None,  # their address, when known
    "from": str,
    "from_name": str | None,
    "to": list[str],
    "cc": list[str],
    "subject": str,
    "message_id": str | None,
    "date": str | None,  # the Date header, else when it was stored
    "text": str,  # the text as displayed (quotes and signatures trimmed)
    "full_text": str,
    "has_html": bool,
    "raw_sha256": str | None,  # the raw message in the blob store
    "sender_verdict": str | None,  # the trusted gateway's: pass | fail | none (null: none read)
    "attachments": list[AttachmentInfo],
})
"""One message of ``ticket show``."""


class ParticipantInfo(TypedDict):
    address: str
    role: str
    """requester | cc"""


class UserSnapshot(TypedDict):
    """A directory user as the audit log keeps them, before and after a change."""

    email: str
    name: str
    phone: str | None
    """E.164."""
    language: str
    role: str | None
    access_status: str
    """An ``AccessState``."""
    organisation: str | None
    organisation_code: str | None


class UserDetail(UserSnapshot):
    """A directory user for ``directory show`` and ``ticket show``."""

    organisation_type: str
    """One of ``ORGANISATION_KINDS``."""
    status_since: str
    key_sent_at: str | None
    """When the access key was last sent."""
    last_contact_at: str | None


class ArchivedTicket(TicketSummary):
    """An entry of ``ticket archive``'s index (printed, and written as index.json)."""

    mbox: str
    """The file of its messages, next to the index."""
    messages: int


class TicketRow(TicketSummary):
    """A line of ``ticket list`` and ``ticket search``."""

    unanswered: bool
    """Not closed, and its last mail (or call) is the requester's: no answer since."""
    caller_name: str | None
    """The requester's name: the ticket's, else, for a phone or fax number, the directory
    user's who has it."""
    assignee_name: str | None


class TicketDetail(TicketSummary):
    """``ticket show`` (and ``ticket new --json``): the summary with the whole history."""

    assignee_name: str | None
    participants: list[ParticipantInfo]
    messages: list[MessageDetail]
    directory: UserDetail | None
    """The requester in the directory, if they are in it."""
    history: list[TicketEventJson]
    """Every change, in order (rnmail.tickets.history)."""
    anonymised_at: str | None
    """When its personal data was removed (rnmail.privacy.anonymise)."""
    legal_hold: LegalHoldJson | None
    """Its legal hold (``ticket hold``), which exempts it from every purge."""


class LegalHoldJson(TypedDict):
    reason: str | None
    by: str | None
    at: str


class TicketEventJson(TypedDict):
    """One change in a ticket's history: ``at`` ISO 8601 with offset; ``what`` a
    ``TicketChange``; ``actor_kind`` an ``ActorKind``; ``via`` a ``Via``; ``login`` the OS
    user of a command-line change."""

    at: str
    what: str
    old: str | None
    new: str | None
    actor: str
    actor_email: str | None
    actor_kind: str
    via: str
    login: str | None


# --------------------------------------------------------------------------- directory


class OpenTicket(TypedDict):
    id: int
    subject: str
    status: str
    created_at: str


class CallerCandidate(TypedDict):
    """``directory lookup``: a possible caller — a directory ``user``, an ``organisation``,
    or a ``caller`` of earlier tickets not in the directory (from their latest ticket,
    ``last_ticket_id``) — with what fills the call form and their tickets not closed."""

    entry: Literal["user", "organisation", "caller"]
    name: str | None
    organisation: str | None
    organisation_code: str | None
    requester_type: str
    language: str
    phone: str | None
    email: str | None
    access_status: str | None
    status_since: str | None
    last_ticket_id: int | None
    open_tickets: list[OpenTicket]


class UserEntry(UserDetail):
    """``directory show ADDRESS``."""

    entry: Literal["user"]
    open_tickets: list[OpenTicket]


class OrganisationDetail(TypedDict):
    entry: Literal["organisation"]
    name: str
    type: str
    """One of ``ORGANISATION_KINDS``."""
    code: str | None
    """E.g. the NIS code of a municipality."""
    language: str
    address: str | None
    contact_emails: list[str]
    created_at: str
    updated_at: str


class UserLine(TypedDict):
    """A user in the list of their organisation's users."""

    id: int
    email: str
    name: str
    phone: str | None
    language: str
    role: str | None
    access_status: str
    status_since: str


class OrganisationEntry(OrganisationDetail):
    """``directory show CODE-OR-NAME``."""

    users: list[UserLine]


class OrganisationHit(TypedDict):
    """An organisation found by ``directory search``."""

    entry: Literal["organisation"]
    id: int
    name: str
    type: str
    code: str | None
    language: str
    users: int
    """How many users it has."""


class UserHit(TypedDict):
    """A user found by ``directory search``."""

    entry: Literal["user"]
    id: int
    email: str
    name: str
    phone: str | None
    """E.164 (``+3287591111``)."""
    organisation: str
    organisation_code: str | None
    organisation_type: str
    access_status: str


class AccessChange(TypedDict):
    """``directory set-status``."""

    email: str
    before: str
    after: str
    changed: bool
    """False when the user already had that state (nothing recorded)."""
    groups_left: int
    """User groups a revoked user was taken out of."""
    status_since: str


# --------------------------------------------------------------------------- mail


class OutboxSummary(TypedDict):
    """A row of ``outbox list``: one outgoing mail to one recipient."""

    id: int
    to: str
    subject: str
    state: str
    """An ``OutboxState``."""
    attempts: int
    ticket_id: int | None
    purpose: str
    """acknowledgement, reply, notification, an ``AnnouncementKind``..."""
    message_id: str
    last_reply: str | None
    """The SMTP server's last reply."""
    created_at: str
    sent_at: str | None
    bounced: bool
    """A delivery report came back for it."""


class IngestJson(TypedDict):
    """``ingest once --json``: what one pass over the mailboxes did."""

    total: int
    """Messages processed."""
    outcomes: dict[str, int]
    """How many of each ``IngestOutcome`` (ticket, reply, staff, bounce...)."""
    errors: list[str]
    """Mailboxes that could not be read, one line each (the exit status is then 1)."""


class SendJson(TypedDict):
    """``outbox send --json``: what one run of the outbox did."""

    sent: int
    deferred: int
    """Failed for now, tried again later."""
    failed: int
    """Refused for good."""


class ListProblemJson(TypedDict):
    """One thing wrong in a user-group CSV file."""

    path: str
    line: int | None
    message: str


class ListImportJson(TypedDict):
    """One group as ``lists import --json`` replaced it."""

    group: str
    members: int
    added: int
    updated: int
    removed: int
    created: bool
    """The group did not exist before."""


class ListsImportJson(TypedDict):
    """``lists import --json``: every group, or (nothing imported) every problem."""

    groups: list[ListImportJson]
    problems: list[ListProblemJson]


class ListFileJson(TypedDict):
    """One checked file of ``lists validate --json``."""

    path: str
    group: str
    addresses: int
    ok: bool


class ListsValidateJson(TypedDict):
    """``lists validate --json``: the files and every problem (exit status 1 if any)."""

    files: list[ListFileJson]
    problems: list[ListProblemJson]


class FaqPageJson(TypedDict):
    """A page ``faq publish --json`` wrote."""

    language: str
    path: str


QuarantineRow = TypedDict("QuarantineRow", {
    "id": int,
    "mailbox": str,
    "uid": str | None,
    "reason": str,  # why it could not be processed
    "subject": str | None,
    "from": str | None,
    "size": int,
    "raw_sha256": str,
    "state": str,  # a QuarantineState
    "created_at": str,
    "deleted_after": str | None,  # held: when the retention run deletes it (or never: None)
    "result": str | None,  # an IngestOutcome once retried, or "still quarantined"
})
"""A row of ``quarantine list``."""


class AnnouncementInfo(TypedDict):
    """A row of ``announce list``: one mailing."""

    id: int
    kind: str
    """An ``AnnouncementKind`` or ``maintenance-<MaintenanceStep>``."""
    template: str
    groups: list[str]
    operator: str | None
    """Null when sent by the scheduler."""
    recipients: int
    step: str | None
    """The step key (``maintenance:7:reminder``) that keeps it from being sent twice."""
    maintenance_id: int | None
    incident_id: int | None
    note: str | None
    created_at: str


class AnnouncementStatus(AnnouncementInfo):
    """``announce status``."""

    counts: dict[str, int]
    """Recipients per ``OutboxState``, every state present."""
    finished: bool
    """No row is queued or sending any more."""


class RecipientCounts(TypedDict):
    """Whom a notice to user groups mails: each address once, suppressed ones left out."""

    total: int
    languages: dict[str, int]
    """Language → addresses."""
    suppressed: int


class NoticePreviewJson(TypedDict):
    """What a notice to user groups does (or did): the ``preview`` of ``announce``,
    ``maintenance schedule`` and ``maintenance cancel`` ``--json``."""

    groups: dict[str, dict[str, int]]
    """Group → language → addresses mailed (an address in several groups counts in the
    first group given that holds it)."""
    languages: dict[str, int]
    """Language → addresses mailed, all groups together."""
    recipients: int
    suppressed: int
    """Addresses left out because they keep bouncing."""
    subjects: dict[str, str]
    """Language of the recipients → the subject they get."""
    fallbacks: dict[str, dict[str, str]]
    """Language of the recipients → {text: the language it is written in} for the texts
    they get in another language (``template``, ``body``, ``subject``, ``comment``)."""


class PreviewRecipient(TypedDict):
    email: str
    name: str
    language: str
    group: str


class AnnounceJson(TypedDict):
    """``announce --json``: the mailing queued (or, with ``--dry-run``, what would be)."""

    dry_run: bool
    test: bool
    """Sent with ``--test-to``: one sample per language to one address."""
    announcement_id: int | None
    """Null with ``--dry-run``."""
    template: str
    preview: NoticePreviewJson
    recipient_list: NotRequired[list[PreviewRecipient]]
    """With ``--recipients``: every address, in the order queued."""


class MaintenanceScheduleJson(TypedDict):
    """``maintenance schedule --json``: the maintenance recorded and its announcement
    queued (or, with ``--dry-run``, what would be)."""

    dry_run: bool
    maintenance_id: int | None
    announcement_id: int | None
    """Null without groups or with ``--dry-run``."""
    starts_at: str
    ends_at: str
    components: list[str]
    groups: list[str]
    reminder: bool
    """A reminder will be sent (``--remind`` given and its time not passed)."""
    preview: NoticePreviewJson


class MaintenanceCancelJson(TypedDict):
    """``maintenance cancel --json``: the cancellation and its notice."""

    dry_run: bool
    maintenance_id: int
    announcement_id: int | None
    """Null without groups or with ``--dry-run``."""
    preview: NoticePreviewJson


# --------------------------------------------------------------------------- status


class ComponentJson(TypedDict):
    name: str
    state: str
    """A ``StatusState``."""
    comment: str
    """The comment in one language (French first), "" without one."""
    comments: dict[str, str]
    """Language → comment."""
    labels: dict[str, str]
    """Language → the component's name."""
    updated_at: str | None
    maintenance_id: int | None
    """The maintenance its position comes from, while one runs."""


class MaintenanceJson(TypedDict):
    id: int
    starts_at: str | None
    ends_at: str | None
    components: list[str]
    state: str
    """A ``MaintenancePhase``."""
    comments: dict[str, str]


class IncidentUpdateJson(TypedDict):
    at: str | None
    state: str
    """A ``StatusState``."""
    components: list[str]
    comments: dict[str, str]


class IncidentJson(TypedDict):
    id: int
    started_at: str | None
    resolved_at: str | None
    updates: list[IncidentUpdateJson]


class StatusJson(TypedDict):
    """``status show --json`` and the public ``status.json``."""

    overall: str
    """The worst ``StatusState`` of the components."""
    updated_at: str | None
    components: list[ComponentJson]
    maintenance: list[MaintenanceJson]
    """Upcoming and running, soonest first."""
    incidents: list[IncidentJson]
    """Open and recently resolved, newest first."""
    generated_at: str | None


class StatusSetJson(StatusJson):
    """``status set --json``: the new status and what the change did."""

    incident_id: int | None
    resolved: bool
    """This change ended the incident."""
    announcement_id: int | None
    linked_notified: int
    """Requesters told that the incident they wrote during is over."""


class StatusPreviewJson(TypedDict):
    """``status set --dry-run --json``: what the change would do, nothing changed."""

    dry_run: bool
    state: str
    """A ``StatusState``."""
    components: list[str]
    preview: NoticePreviewJson
    linked_requesters: int
    """How many requesters ``--notify-linked`` tells that the incident is over."""


class MaintenanceNotice(TypedDict):
    step: str
    """A ``MaintenanceStep``."""
    announcement: int
    queued_at: str
    recipients: int
    note: str | None
    """E.g. that it ran late."""


class MaintenanceRow(TypedDict):
    """A row of ``maintenance list``."""

    id: int
    state: str
    """A ``MaintenancePhase``."""
    starts_at: str
    ends_at: str
    components: list[str]
    groups: list[str]
    comment: dict[str, str]
    reminder_before_seconds: int | None
    created_by: str
    notices: list[MaintenanceNotice]


# --------------------------------------------------------------------------- figures


# Functional syntax: "from" is a keyword.
StatsPeriod = TypedDict("StatsPeriod", {"from": str | None, "to": str | None})
"""The first and the last day counted (null: from the first, to the last ticket)."""


class StatsJson(TypedDict):
    """``stats ... --format json``."""

    period: StatsPeriod
    dimensions: list[str]
    """What the rows are grouped by (channel, month...)."""
    measures: list[str]
    """What is counted per row (tickets, first response...)."""
    excluded_categories: list[str]
    rows: list[dict[str, object]]
    """One object per row: each dimension and each measure by name."""
    totals: dict[str, int | float | None]
    """The sum of each count measure (tickets, answers, answered, closed) over the rows:
    0 for a period without tickets; for a share (``stats due``: ``response_met_pct``), the
    share over all the rows, null when nothing came due."""
    notes: list[str]
    merged: int
    """The tickets of the period left out because they were merged into another (each
    counts as the ticket it went into)."""
    inside_opening_hours: NotRequired[int]
    """Contacts created while the desk was open: weekday and hour tables only."""
