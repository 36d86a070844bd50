"""The life of a ticket: open → pending / delegated → closed, and how it was resolved.

Every request ends one of three ways, recorded as the resolution when it is closed:
``first-contact`` (answered at once), ``investigated`` (kept open, maybe waiting on the
requester) or ``second-line`` (delegated to a service). These functions change a ticket
inside the caller's transaction and refuse what makes no sense with an ``RnmailError``; each
takes the ``Actor`` who acts and records the change in the ticket's history
(``rnmail.tickets.history``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta, tzinfo
from fnmatch import fnmatchcase

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from rnmail.config import LANGUAGES, WorkflowConfig
from rnmail.db import Database
from rnmail.directory.people import directory_user_for
from rnmail.directory.sheets import one_line
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n.catalogues import N_
from rnmail.i18n.labels import Term
from rnmail.models import Message, Participant, Service, Staff, Ticket, utcnow
from rnmail.shapes import TicketSummary
from rnmail.tickets.history import Actor, change, record_change
from rnmail.tickets.notes import note_subject
from rnmail.tickets.views import ticket_summary
from rnmail.util.addresses import deliverable_address
from rnmail.util.phone import normalise_number
from rnmail.vocab import (
    CLOSING_RESOLUTIONS,
    ActorKind,
    Channel,
    RequesterType,
    Resolution,
    TicketChange,
    TicketStatus,
    Via,
    normal_requester_type,
    strings,
)


def get_ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound.translatable(N_("no ticket #{id}"), id=ticket_id)
    return ticket


def requester_type_for(address: str, workflow: WorkflowConfig) -> str:
    """The requester type given by the first matching address rule, else ``other``."""
    address = address.lower()
    for pattern, kind in workflow.requester_types:
        if fnmatchcase(address, pattern):
            return kind
    return RequesterType.OTHER


def close(ticket: Ticket, actor: Actor, resolution: str | None = None) -> None:
    _closable(ticket, resolution)
    change(ticket, "resolution", resolution or default_resolution(ticket), actor)
    change(ticket, "status", TicketStatus.CLOSED, actor)
    change(ticket, "pending_until", None, actor)
    ticket.closed_at = utcnow()


def _closable(ticket: Ticket, resolution: str | None) -> None:
    if ticket.status == TicketStatus.CLOSED:
        raise RnmailError.translatable(N_("ticket #{id} is already closed"), id=ticket.id)
    if resolution is not None and resolution not in strings(CLOSING_RESOLUTIONS):
        raise RnmailError.translatable(N_("unknown resolution '{resolution}' ({choices})"),
                                       resolution=resolution,
                                       choices=", ".join(CLOSING_RESOLUTIONS))


def close_as(ticket: Ticket, workflow: WorkflowConfig, actor: Actor,
             resolution: str | None = None, category: str | None = None) -> None:
    """Close, first giving the ticket ``category`` when one is given (the desk's close
    form: the figures count closed tickets by category)."""
    _closable(ticket, resolution)  # refused before anything changes
    if category is not None:
        set_category(ticket, category, workflow, actor)
    close(ticket, actor, resolution)


def default_resolution(ticket: Ticket) -> Resolution:
    """Second line if it was ever delegated; first contact if it is closed straight from
    ``open`` within 24 hours of coming in; investigated otherwise (it waited, or took longer)."""
    if ticket.service_id is not None or ticket.delegated_at is not None:
        return Resolution.SECOND_LINE
    same_day = utcnow() - ticket.created_at < timedelta(hours=24)
    if same_day and ticket.status == TicketStatus.OPEN:
        return Resolution.FIRST_CONTACT
    return Resolution.INVESTIGATED


def reopen(ticket: Ticket, actor: Actor) -> None:
    if ticket.status != TicketStatus.CLOSED:
        raise RnmailError.translatable(N_("ticket #{id} is not closed (it is {status})"),
                                       id=ticket.id, status=Term(ticket.status, "ticket-status"))
    change(ticket, "status", _holder_status(ticket), actor)
    change(ticket, "resolution", None, actor)
    ticket.closed_at = None


def set_pending(ticket: Ticket, actor: Actor, until: date | None = None) -> None:
    """Waiting on the requester (investigated): the requester's next mail reopens it, and so
    does the daemon on the day ``until`` if one is given (``parse_pending_day``)."""
    _check_open(ticket)
    change(ticket, "status", TicketStatus.PENDING, actor)
    change(ticket, "pending_until", until, actor)


def resume(ticket: Ticket, actor: Actor) -> None:
    """The requester wrote (or its waiting day came): a pending ticket is back with whoever
    holds it (the second line if it was delegated, else the help desk); a delegated one
    stays delegated."""
    if ticket.status == TicketStatus.PENDING:
        change(ticket, "status", _holder_status(ticket), actor)
        change(ticket, "pending_until", None, actor)


def local_today(zone: tzinfo) -> date:
    """Today in ``zone`` (``[helpdesk].timezone``): the day a waiting day is compared with."""
    return utcnow().astimezone(zone).date()


MAX_PENDING_DAYS = 366  # further than a year is a typo (2062 for 2026), not a plan


def parse_pending_day(text: str, today: date) -> date:
    """``2026-12-20`` → the day a pending ticket comes back; refused unless it is after
    ``today`` (in ``[helpdesk].timezone``) and within a year."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise RnmailError.translatable(N_("day {text}: use YYYY-MM-DD, e.g. 2026-12-20"),
                                       text=repr(text)) from None
    if day <= today:
        raise RnmailError.translatable(N_("day {day}: the ticket can wait only until a day "
                                          "after today ({today})"),
                                       day=day.isoformat(), today=today.isoformat())
    if day > today + timedelta(days=MAX_PENDING_DAYS):
        raise RnmailError.translatable(N_("day {day} is more than a year away"),
                                       day=day.isoformat())
    return day


def _holder_status(ticket: Ticket) -> TicketStatus:
    """Delegated while a service holds the ticket, else open (with the help desk)."""
    return TicketStatus.DELEGATED if ticket.service_id is not None else TicketStatus.OPEN


def may_reopen_by_mail(ticket: Ticket, workflow: WorkflowConfig) -> bool:
    """Whether a requester's reply to this closed ticket reopens it (else: a new ticket)."""
    if ticket.closed_at is None:
        return True
    return utcnow() - ticket.closed_at <= timedelta(days=workflow.reopen_days)


def assign(ticket: Ticket, staff: Staff, actor: Actor) -> None:
    if not staff.active:
        raise RnmailError.translatable(N_("{email} is no longer on the staff"),
                                       email=staff.email)
    change(ticket, "assignee", staff, actor)


def delegate(ticket: Ticket, service: Service, actor: Actor) -> None:
    _check_open(ticket)
    change(ticket, "service", service, actor)
    change(ticket, "status", TicketStatus.DELEGATED, actor)
    change(ticket, "pending_until", None, actor)
    ticket.delegated_at = utcnow()


def set_category(ticket: Ticket, category: str, workflow: WorkflowConfig, actor: Actor) -> None:
    if category not in workflow.categories:
        raise RnmailError.translatable(N_("unknown category '{category}' ({choices})"),
                                       category=category,
                                       choices=", ".join(workflow.categories))
    change(ticket, "category", category, actor)


def set_requester_type(ticket: Ticket, kind: str, actor: Actor) -> None:
    """Any requester type, in any case, or one of its aliases (``gemeente``: municipality),
    as the directory's organisation types."""
    change(ticket, "requester_type", normal_requester_type(kind), actor)


def classify(ticket: Ticket, workflow: WorkflowConfig, actor: Actor,
             category: str | None = None, requester_type: str | None = None) -> None:
    """Set the category and/or the requester type (``ticket set``, the desk's form)."""
    if category is not None:
        set_category(ticket, category, workflow, actor)
    if requester_type is not None:
        set_requester_type(ticket, requester_type, actor)


HELP_DESK = "help desk"  # ``--author``'s default: no one in particular


def cli_actor(session: Session, author: str | None, login: str) -> Actor:
    """Who acts on the command line: the staff member ``--author`` (or ``$RNMAIL_STAFF``)
    names, else that name, else the OS user ``login``; ``login`` is kept either way."""
    named = author.strip() if author and author.strip().lower() != HELP_DESK else None
    staff = staff_author(session, named) if named else None
    if staff is not None:
        return Actor.of_staff(staff, Via.CLI, login=login)
    return Actor(name=named or login, kind=ActorKind.USER, via=Via.CLI, login=login)


def staff_author(session: Session, author: str) -> Staff | None:
    """The active staff member ``author`` names (their address or their name, in any case),
    or None: then it is kept as given (``help desk``, a name)."""
    wanted = author.strip().lower()
    found = list(session.scalars(select(Staff).where(Staff.active.is_(True), or_(
        Staff.email == wanted, func.lower(Staff.name) == wanted)).limit(2)))
    return found[0] if len(found) == 1 else None


def add_comment(session: Session, ticket: Ticket, text: str, author: str | Staff, *,
                language: str, actor: Actor) -> Message:
    """An internal note: kept in the ticket, never sent to the requester. Its author is a
    staff member or a name (``help desk``, the actor of an unblocking); its subject in
    ``language``, the help desk's (``[helpdesk].default_language``)."""
    if not text.strip():
        raise RnmailError.translatable(N_("an empty comment"))
    staff = author if isinstance(author, Staff) else staff_author(session, author)
    message = Message(ticket=ticket, direction="in", kind="comment",
                      from_addr=staff.email if staff else author,
                      from_name=staff.name if staff else None, author=staff,
                      to_addrs=[], cc_addrs=[], subject=note_subject(language, ticket.id),
                      date=utcnow(), text=text, display_text=text.strip())
    session.add(message)
    record_change(ticket, TicketChange.NOTE, None, _gist(text), actor)
    ticket.updated_at = utcnow()
    return message


def _gist(text: str, width: int = 80) -> str:
    """The start of a text on one line, for the history."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[:width - 1] + "…"


def add_participant(ticket: Ticket, address: str, actor: Actor,
                    own: frozenset[str] = frozenset()) -> str:
    """Make ``address`` a participant of ``ticket`` (its mail may then thread by the
    subject tag and by the Message-IDs of the ticket); returns it as stored. Only staff do
    this: an incoming mail's To and Cc make nobody a participant."""
    checked = deliverable_address(address.strip())
    if checked is None:
        raise RnmailError(f"{address!r} is not a mail address")
    checked = checked.lower()
    if checked in own:
        raise RnmailError(f"{checked} is the help desk itself")
    if all(p.address != checked for p in ticket.participants):
        ticket.participants.append(Participant(address=checked, role="cc"))
        record_change(ticket, TicketChange.PARTICIPANT_ADD, None, checked, actor)
        ticket.updated_at = utcnow()
    return checked


def remove_participant(session: Session, ticket: Ticket, address: str, actor: Actor) -> str:
    """Take ``address`` off the participants of ``ticket`` (not the requester)."""
    wanted = address.strip().lower()
    for participant in ticket.participants:
        if participant.address == wanted:
            if wanted == ticket.requester.lower():
                raise RnmailError(f"{wanted} is the requester of ticket #{ticket.id}")
            ticket.participants.remove(participant)
            session.delete(participant)
            record_change(ticket, TicketChange.PARTICIPANT_DEL, wanted, None, actor)
            ticket.updated_at = utcnow()
            return wanted
    raise NotFound(f"{wanted} is not a participant of ticket #{ticket.id}")


def find_staff(session: Session, email: str) -> Staff:
    staff = session.scalars(select(Staff).where(Staff.email == email.lower())).first()
    if staff is None:
        raise NotFound.translatable(N_("no staff member {email}"), email=email)
    return staff


def service_named(session: Session, name: str) -> Service | None:
    """The service called ``name``, removed or not."""
    return session.scalars(select(Service).where(Service.name == name)).first()


def find_service(session: Session, name: str) -> Service:
    """The service a ticket is to be delegated to: one that exists and was not removed."""
    service = service_named(session, name)
    if service is None:
        raise NotFound.translatable(N_("no service named '{service}' (see `rnmail service "
                                       "list`)"), service=name)
    if not service.active:
        raise removed_service(name)
    return service


def removed_service(name: str) -> RnmailError:
    return RnmailError.translatable(N_("the service '{service}' was removed"), service=name)


def _check_open(ticket: Ticket) -> None:
    if ticket.status == TicketStatus.CLOSED:
        raise closed_ticket(ticket)


def closed_ticket(ticket: Ticket) -> RnmailError:
    """The refusal of what a closed ticket cannot take (an answer, a delegation)."""
    return RnmailError.translatable(N_("ticket #{id} is closed; reopen it first"), id=ticket.id)


def open_by_hand(
    session: Session,
    workflow: WorkflowConfig,
    default_language: str,
    *,
    actor: Actor,
    channel: str,
    requester: str,
    subject: str,
    note: str | None = None,
    requester_name: str | None = None,
    requester_org: str | None = None,
    requester_type: str | None = None,
    category: str | None = None,
    language: str | None = None,
    phone: str | None = None,
) -> Ticket:
    """A ticket for a phone call, a letter or a fax typed in by hand (through
    ``rnmail.tickets.calls.log_call``, which checks the form first).

    The requester may be a mail address or a phone number in any national format (stored in
    E.164); the note becomes the ticket's first message. ``phone`` (E.164), when the
    requester is an address: the number the call came from, which the first message comes
    from (so search finds the ticket by it) and which finds the directory user when the
    address does not.
    """
    if channel not in strings(Channel):
        raise RnmailError(f"unknown channel {channel!r} ({', '.join(Channel)})")
    if not subject.strip():
        raise RnmailError("a ticket needs a subject")
    who = requester.strip()
    number = normalise_number(who) if "@" not in who else None
    if "@" in who:
        address = deliverable_address(who)
        if address is None:
            raise RnmailError(f"{who!r} is neither a valid mail address nor a phone number")
        who = address.lower()
    elif number is not None:
        who = number
    elif not who:
        raise RnmailError("a ticket needs a requester (mail address, phone number or name)")
    ticket = Ticket(subject=one_line(subject), status=TicketStatus.OPEN, channel=channel,
                    requester=who, requester_name=one_line(requester_name or "") or None,
                    requester_org=requester_org,
                    language=language or default_language,
                    requester_type=requester_type_for(who, workflow))
    if language is not None and language not in LANGUAGES:
        raise RnmailError(f"unknown language {language!r} ({', '.join(LANGUAGES)})")
    user = directory_user_for(session, who)
    if user is None and phone is not None and phone != who:
        user = directory_user_for(session, phone)
    if user is not None:  # a directory user: their organisation, unless --org says otherwise
        ticket.requester_org = requester_org or user.organisation.name
        ticket.requester_type = user.organisation.kind
        ticket.requester_name = requester_name or user.name
        ticket.language = language or user.language
        user.last_contact_at = utcnow()
    if requester_type is not None:
        ticket.requester_type = normal_requester_type(requester_type)
    if category is not None and category not in workflow.categories:
        raise RnmailError(f"unknown category {category!r} ({', '.join(workflow.categories)})")
    ticket.category = category
    record_change(ticket, TicketChange.OPENED, None, channel, actor)
    session.add(ticket)
    # The call itself is the first message, note or not: the ticket's history (and search)
    # starts with it.
    session.add(Message(ticket=ticket, direction="in", kind="correspondence",
                        from_addr=phone or who,
                        from_name=requester_name, to_addrs=[], cc_addrs=[],
                        subject=ticket.subject, date=utcnow(), text=note or "",
                        display_text=(note or "").strip(), mailbox=None))
    session.flush()
    return ticket


def update_ticket(db: Database, ticket_id: int, act: Callable[[Session, Ticket, Actor], object],
                  actor: Actor | Callable[[Session], Actor]) -> TicketSummary:
    """Apply ``act`` to one ticket in one transaction, by ``actor`` (or the actor a function
    finds in the session, such as ``cli_actor``); returns the ticket as listed."""
    with db.transaction() as session:
        ticket = get_ticket(session, ticket_id)
        act(session, ticket, actor if isinstance(actor, Actor) else actor(session))
        session.flush()
        return ticket_summary(ticket)
