"""Log a call: a phone call (or a letter, a fax typed in) becomes a ticket, in one code path.

``rnmail ticket new`` and the desk's call form (``/desk/calls/new``) both fill a ``CallForm``
— what the call taker types while the caller is on the line — and call ``log_call``, which
checks it, makes the ticket (``rnmail.tickets.lifecycle.open_by_hand``) and applies the
outcome (``rnmail.vocab.CallOutcome``), the seed's three possibilities:

- ``close``: answered at once: the ticket is closed, resolution ``first-contact``;
- ``open``: to investigate: the ticket stays open;
- ``delegate``: handed to a second-line ``service``, which is sent the ticket and its history
  exactly as ``ticket delegate`` does (``rnmail.dispatch.answer.delegate_to_service``).

Who called: a mail address, else a phone number (any notation, stored in E.164), else a
name. With both an address and a number the address is the requester (the answer can go by
mail) and the call's record comes from the number, so that search finds it by either.

**Linked to an existing ticket** of the same caller (``link``: its requester is the caller's
address or number), the call opens no ticket: it is added to that ticket as a new request —
an incoming message, as the caller's mail would be — and the outcome applies to that ticket.
A closed ticket is reopened first (as a requester's mail reopens it); ``close`` then closes it
``investigated`` (``second-line`` if it was ever delegated: a call about an earlier request is
not its first contact), ``open`` makes a pending ticket open again, ``delegate`` sends the
service the history with the call.

The staff member who logs the call (``actor``) becomes the assignee of a ticket that has
none. Every refusal is an ``RnmailError.translatable``: the desk shows it in the agent's
language, the command line in English. ``take_message`` is the other thing a call taker
does — a message for an absent colleague — from the same form.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from rnmail.config import LANGUAGES, Config
from rnmail.directory.people import directory_user_for
from rnmail.dispatch.answer import delegate_to_service, take_phone_message
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n.catalogues import N_
from rnmail.models import Message, Service, Staff, Ticket, utcnow
from rnmail.shapes import PhoneMessageJson
from rnmail.tickets.history import Actor
from rnmail.tickets.lifecycle import (
    assign,
    close,
    open_by_hand,
    removed_service,
    reopen,
    resume,
    service_named,
    set_category,
    set_requester_type,
)
from rnmail.util.addresses import deliverable_address
from rnmail.util.phone import normalise_number
from rnmail.vocab import (
    CallOutcome,
    Channel,
    RequesterType,
    Resolution,
    TicketStatus,
    normal_requester_type,
    strings,
)


@dataclass(frozen=True)
class CallForm:
    """The call form's fields, as typed (the desk's form, ``ticket new``'s options).

    ``phone``, ``email`` and ``caller`` (the caller's name): at least one. ``language``,
    ``category``, ``requester_type``: None for the default (the directory's, the rules').
    ``service`` only with the outcome ``delegate``; ``link`` the number of an existing ticket
    of the caller's to add the call to; ``organisation`` the caller's, when not the
    directory's; ``channel`` ``phone`` unless a letter or a fax is typed in."""

    phone: str = ""
    caller: str = ""
    email: str = ""
    language: str | None = None
    subject: str = ""
    text: str = ""
    category: str | None = None
    requester_type: str | None = None
    outcome: str = CallOutcome.OPEN
    service: str | None = None
    link: int | None = None
    organisation: str | None = None
    channel: str = Channel.PHONE


    @classmethod
    def for_requester(cls, requester: str, **fields: Any) -> CallForm:
        """The form from one field that is a mail address, a phone number or else a name
        (``ticket new --requester``, the demo's tickets); ``fields`` as the form's."""
        who = requester.strip()
        field = ("email" if "@" in who else "phone" if normalise_number(who) is not None
                 else "caller")
        if not fields.get(field):  # the field given on its own wins
            fields[field] = who
        return cls(**fields)


@dataclass(frozen=True)
class CallResult:
    """What became of a call: the ticket it made or was added to, the call's record in it
    (``message_id``, the database id), whether it was linked, the outcome and the service
    it went to."""

    ticket_id: int
    message_id: int
    linked: bool
    outcome: CallOutcome
    status: str
    resolution: str | None
    service: str | None


@dataclass(frozen=True)
class _Checked:
    """A form that passed every check: the values as stored."""

    requester: str
    number: str | None
    email: str | None
    outcome: CallOutcome
    service: Service | None


def _choices(values: Iterable[str]) -> str:
    return ", ".join(str(v) for v in values)


def _requester_type(value: str) -> RequesterType:
    try:
        return normal_requester_type(value)
    except RnmailError:
        raise RnmailError.translatable(
            N_("unknown requester type '{kind}' ({choices})"), kind=value,
            choices=_choices(RequesterType)) from None


def check_call(session: Session, config: Config, form: CallForm) -> _Checked:
    """The form's refusals, in the order the fields come; the values as stored."""
    if form.outcome not in strings(CallOutcome):
        raise RnmailError.translatable(N_("unknown outcome '{outcome}' ({choices})"),
                                       outcome=form.outcome, choices=_choices(CallOutcome))
    outcome = CallOutcome(form.outcome)
    if form.channel not in strings(Channel):
        raise RnmailError.translatable(N_("unknown channel '{channel}' ({choices})"),
                                       channel=form.channel, choices=_choices(Channel))
    number = None
    if form.phone.strip():
        number = normalise_number(form.phone)
        if number is None:
            raise RnmailError.translatable(N_("'{phone}' is not a phone number"),
                                           phone=form.phone.strip())
    email = None
    if form.email.strip():
        checked = deliverable_address(form.email.strip())
        if checked is None:
            raise RnmailError.translatable(N_("'{email}' is not a valid mail address"),
                                           email=form.email.strip())
        email = checked.lower()
    requester = email or number or " ".join(form.caller.split())
    if not requester:
        raise RnmailError.translatable(
            N_("who called? Give a phone number, a mail address or a name"))
    if form.link is None and not form.subject.strip():
        raise RnmailError.translatable(N_("a call needs a subject"))
    if form.language is not None and form.language not in LANGUAGES:
        raise RnmailError.translatable(N_("unknown language '{language}' ({choices})"),
                                       language=form.language, choices=_choices(LANGUAGES))
    categories = config.workflow.categories
    if form.category is not None and form.category not in categories:
        raise RnmailError.translatable(N_("unknown category '{category}' ({choices})"),
                                       category=form.category, choices=_choices(categories))
    if form.requester_type is not None:
        _requester_type(form.requester_type)
    service = None
    service_name = (form.service or "").strip()
    if outcome == CallOutcome.DELEGATE:
        if not service_name:
            raise RnmailError.translatable(N_("a call delegated needs a service"))
        service = service_named(session, service_name)
        if service is None:
            raise RnmailError.translatable(N_("no service named '{service}'"),
                                           service=form.service)
        if not service.active:
            raise removed_service(service_name)
    elif service_name:
        raise RnmailError.translatable(
            N_("a service is given only when the call is delegated"))
    return _Checked(requester, number, email, outcome, service)


def log_call(session: Session, config: Config, form: CallForm, actor: Actor) -> CallResult:
    """Log the call in the caller's transaction: a new ticket, or a new request in the ticket
    ``form.link``; then its outcome. Refusals are ``RnmailError.translatable``."""
    checked = check_call(session, config, form)
    staff = session.get(Staff, actor.staff_id) if actor.staff_id is not None else None
    hd = config.helpdesk
    if form.link is None:
        ticket = open_by_hand(
            session, config.workflow, hd.default_language, actor=actor, channel=form.channel,
            requester=checked.requester, subject=form.subject, note=form.text.strip() or None,
            requester_name=" ".join(form.caller.split()) or None,
            requester_org=(form.organisation or "").strip() or None,
            requester_type=form.requester_type, category=form.category,
            language=form.language, phone=checked.number)
        record = ticket.messages[0]
    else:
        ticket = _linked_ticket(session, form.link, checked)
        record = _add_call(session, config, ticket, form, checked, actor)
    if staff is not None and staff.active and ticket.assignee is None:
        assign(ticket, staff, actor)
    _apply_outcome(session, config, ticket, form, checked, actor, linked=form.link is not None)
    session.flush()
    return CallResult(ticket_id=ticket.id, message_id=record.id, linked=form.link is not None,
                      outcome=checked.outcome, status=ticket.status,
                      resolution=ticket.resolution,
                      service=checked.service.name if checked.service else None)


def _linked_ticket(session: Session, ticket_id: int, checked: _Checked) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound.translatable(N_("no ticket #{id}"), id=ticket_id)
    if ticket.requester not in {checked.email, checked.number, checked.requester}:
        raise RnmailError.translatable(
            N_("ticket #{id} is not a ticket of this caller (its requester is {requester})"),
            id=ticket_id, requester=ticket.requester)
    return ticket


def _add_call(session: Session, config: Config, ticket: Ticket, form: CallForm,
              checked: _Checked, actor: Actor) -> Message:
    """The call as a new request of ``ticket``: an incoming message, as the caller's mail."""
    text = form.text.strip()
    subject = " ".join(form.subject.split()) or ticket.subject
    record = Message(ticket=ticket, direction="in", kind="correspondence",
                     from_addr=checked.number or checked.requester,
                     from_name=" ".join(form.caller.split()) or ticket.requester_name,
                     to_addrs=[], cc_addrs=[], subject=subject, date=utcnow(), text=text,
                     display_text=text, mailbox=None)
    session.add(record)
    ticket.updated_at = utcnow()
    if ticket.requester_name is None and form.caller.strip():  # the caller's name, now known
        ticket.requester_name = " ".join(form.caller.split())
    if form.category is not None:
        set_category(ticket, form.category, config.workflow, actor)
    if form.requester_type is not None:
        set_requester_type(ticket, form.requester_type, actor)
    if form.language is not None:
        ticket.language = form.language
    user = directory_user_for(session, ticket.requester)
    if user is not None:
        user.last_contact_at = utcnow()
    session.flush()
    return record


def _apply_outcome(session: Session, config: Config, ticket: Ticket, form: CallForm,
                   checked: _Checked, actor: Actor, *, linked: bool) -> None:
    if linked and ticket.status == TicketStatus.CLOSED:
        reopen(ticket, actor)
    if checked.outcome == CallOutcome.CLOSE:
        # A call about an earlier request is not its first contact.
        close(ticket, actor, Resolution.FIRST_CONTACT if not linked else Resolution.SECOND_LINE
              if ticket.service_id is not None or ticket.delegated_at is not None
              else Resolution.INVESTIGATED)
    elif checked.outcome == CallOutcome.DELEGATE:
        assert checked.service is not None
        delegate_to_service(session, config, ticket, checked.service, actor)
    else:
        resume(ticket, actor)


def take_message(session: Session, config: Config, form: CallForm,
                 for_staff: str) -> PhoneMessageJson:
    """A message for an absent colleague from the call form: its caller, phone and text
    (``rnmail message take``); mailed to ``for_staff`` in their language."""
    return take_phone_message(session, config, for_staff, " ".join(form.caller.split()),
                              form.phone, form.text)
