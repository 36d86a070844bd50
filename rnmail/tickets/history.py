"""A ticket's history: every change, who made it and through what, from one recorder.

Whatever changes a ticket — the life cycle (``rnmail.tickets.lifecycle``), a staff member's
mail command, the command line, the desk, an unblocking — goes through ``change`` (a field)
or ``record_change`` (an act: a reply, a note), with the ``Actor`` its front end built: the
CLI from ``--author``/``$RNMAIL_STAFF`` and the OS user, the mail pipeline from the proven
staff sender or the requester, the desk from the signed-in staff member. Each call adds one
``ticket_event`` row in the caller's transaction.

``check_recorded`` runs before every flush (``rnmail.db.Database``) and refuses a ticket
whose status, resolution, category, requester type, assignee, service or pending day changed
without a recorded event, so a new code path cannot bypass the history unnoticed. New
tickets are not checked: their first values are their ``opened`` event.

Why a table of its own rather than the audit log (``audit_event``): the audit log records
operators' acts on the installation, read newest first across everything; the history is
read per ticket (indexed by ``ticket_id``), in order, with typed old and new values, and
grows with every mail — it would drown the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.unitofwork import UOWTransaction

from rnmail.models import Service, Staff, Ticket, TicketEvent
from rnmail.vocab import ActorKind, TicketChange, Via

if TYPE_CHECKING:  # a type only: every command imports this module (rnmail.db)
    from rnmail.shapes import TicketEventJson

MAX_VALUE = 400  # a value longer than this (a long subject, a list) is cut with "…"

# The ticket fields whose every change is history, and what the event calls them.
TRACKED: dict[str, TicketChange] = {
    "status": TicketChange.STATUS,
    "resolution": TicketChange.RESOLUTION,
    "category": TicketChange.CATEGORY,
    "requester_type": TicketChange.REQUESTER_TYPE,
    "assignee": TicketChange.ASSIGNEE,
    "assignee_id": TicketChange.ASSIGNEE,
    "service": TicketChange.SERVICE,
    "service_id": TicketChange.SERVICE,
    "pending_until": TicketChange.PENDING_UNTIL,
}


class UnrecordedChange(RuntimeError):
    """A ticket field changed without going through this module: a programming error."""


@dataclass(frozen=True)
class Actor:
    """Who changes a ticket and through what. ``name`` as people read it; ``login``: the
    OS user of a command-line change; ``staff_id`` when a staff member is known."""

    name: str
    kind: ActorKind
    via: Via
    email: str | None = None
    login: str | None = None
    staff_id: int | None = None

    @classmethod
    def of_staff(cls, staff: Staff, via: Via, login: str | None = None) -> Actor:
        return cls(name=staff.name or staff.email, kind=ActorKind.STAFF, via=via,
                   email=staff.email, login=login, staff_id=staff.id)

    @classmethod
    def requester(cls, address: str, name: str | None = None) -> Actor:
        """The requester writing (a mail, a fax): opens or reopens their ticket."""
        return cls(name=name or address, kind=ActorKind.REQUESTER, via=Via.MAIL,
                   email=address or None)

    @classmethod
    def of_service(cls, service: Service) -> Actor:
        return cls(name=service.name, kind=ActorKind.SERVICE, via=Via.MAIL,
                   email=service.email)

    @classmethod
    def system(cls, name: str = "rnmail") -> Actor:
        return cls(name=name, kind=ActorKind.SYSTEM, via=Via.SYSTEM)


def value_text(value: object) -> str | None:
    """A value as the history keeps it: a staff member by address, a service by name."""
    if value is None:
        return None
    if isinstance(value, Staff):
        text = value.email
    elif isinstance(value, Service):
        text = value.name
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def record_change(ticket: Ticket, what: TicketChange, old: object, new: object,
                  actor: Actor) -> TicketEvent:
    """Record one change or act on ``ticket`` in the caller's transaction (a new ticket's
    events are written with it)."""
    event = TicketEvent(ticket=ticket, **event_values(what, old, new, actor))
    session = object_session(ticket)
    if session is not None:  # a transient ticket takes its events along when added
        session.add(event)
    return event


def event_values(what: TicketChange, old: object, new: object, actor: Actor
                 ) -> dict[str, Any]:
    """An event's columns but its ticket and time: for ``record_change``, and for the
    first event of a ticket that ingest writes without the ORM (``rnmail.ingest.store``)."""
    return {"what": what.value, "old": value_text(old), "new": value_text(new),
            "actor": actor.name[:200], "actor_email": actor.email,
            "actor_kind": actor.kind.value, "via": actor.via.value,
            "login": actor.login[:64] if actor.login else None, "staff_id": actor.staff_id}


def change(ticket: Ticket, field: str, value: Any, actor: Actor) -> bool:
    """Set one tracked field of ``ticket`` and record it; nothing when it already has that
    value. Returns whether it changed."""
    what = TRACKED[field]
    old = getattr(ticket, field)
    if old is value or (not isinstance(old, Staff | Service) and old == value):
        return False
    setattr(ticket, field, value)
    record_change(ticket, what, old, value, actor)
    return True


def check_recorded(session: Session, flush_context: UOWTransaction,
                   instances: object) -> None:
    """Before a flush: every changed tracked field of a stored ticket has its event."""
    recorded = {(id(e.__dict__.get("ticket")), e.what) for e in session.new
                if isinstance(e, TicketEvent)}
    for obj in session.dirty:
        if not isinstance(obj, Ticket):
            continue
        state = inspect(obj)
        for field, what in TRACKED.items():
            if (id(obj), what.value) not in recorded and (
                    state.attrs[field].history.has_changes()):
                raise UnrecordedChange(
                    f"ticket #{obj.id}: {field} changed without a history event "
                    "(use rnmail.tickets.history.change)")


def ticket_history(session: Session, ticket_id: int) -> list[TicketEventJson]:
    """The events of a ticket in order, as ``ticket show --json`` prints them."""
    events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                             .order_by(TicketEvent.id))
    return [{"at": e.at.isoformat(), "what": e.what, "old": e.old, "new": e.new,
             "actor": e.actor, "actor_email": e.actor_email, "actor_kind": e.actor_kind,
             "via": e.via, "login": e.login} for e in events]
