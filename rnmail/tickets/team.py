"""The people rnmail works for: help-desk staff and the second-line services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.auth.sessions import end_sessions
from rnmail.config import LANGUAGES
from rnmail.directory.sheets import one_line
from rnmail.errors import NotFound, RnmailError
from rnmail.models import Service, Staff, Ticket
from rnmail.tickets.lifecycle import find_staff, service_named
from rnmail.util.addresses import deliverable_address
from rnmail.vocab import TicketStatus


def _address(email: str, own: frozenset[str] = frozenset()) -> str:
    """``email`` checked; ``own``: the help desk's own addresses, refused (a member or a
    service at the info mailbox would get its notifications back as new mail: a loop)."""
    address = deliverable_address(email.strip())
    if address is None:
        raise RnmailError(f"{email!r} is not a valid mail address")
    if address.lower() in own:
        raise RnmailError(f"{address.lower()} is the help desk itself")
    return address.lower()


def add_staff(session: Session, email: str, name: str, language: str = "fr",
              own: frozenset[str] = frozenset()) -> Staff:
    """A new staff member (``own``: the help desk's addresses, refused)."""
    if language not in LANGUAGES:
        raise RnmailError(f"unknown language {language!r} ({', '.join(LANGUAGES)})")
    address = _address(email, own)
    staff = session.scalars(select(Staff).where(Staff.email == address)).first()
    if staff is not None and staff.active:
        raise RnmailError(f"{address} is already on the staff")
    name = one_line(name)
    if staff is None:
        staff = Staff(email=address, name=name, language=language)
        session.add(staff)
    else:  # came back: same row, so their old tickets stay theirs
        staff.name, staff.language, staff.active = name, language, True
    session.flush()
    return staff


def remove_staff(session: Session, email: str) -> Staff:
    """Deactivate (never delete: tickets and history keep pointing at them); their desk
    sessions end at once."""
    staff = find_staff(session, email)
    if not staff.active:
        raise RnmailError(f"{staff.email} is not on the staff")
    staff.active = False
    end_sessions(session, staff.email, "staff")
    audit.record(session, staff.email[:64], "staff-remove", {"staff": staff.email})
    return staff


def list_staff(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(Staff.id, Staff.email, Staff.name, Staff.language)
                           .where(Staff.active.is_(True)).order_by(Staff.name))
    return [dict(row._mapping) for row in rows]  # rows, not objects: every page reads it


def add_service(session: Session, name: str, email: str, description: str | None,
                language: str | None = None, own: frozenset[str] = frozenset()) -> Service:
    """A new second-line service; ``language``: its contact's (None: the help desk's);
    ``own``: the help desk's addresses, refused."""
    if not name.strip() or any(ch.isspace() for ch in name):
        raise RnmailError("a service name is one word, e.g. population-registers")
    service = service_named(session, name)
    if service is not None and service.active:
        raise RnmailError(f"there is already a service named {name!r}")
    if service is None:
        service = Service(name=name)
        session.add(service)
    # a removed service added again: the same row, so its old tickets stay its own
    service.email, service.description = _address(email, own), description
    service.language, service.active = _language(language), True
    session.flush()
    return service


def remove_service(session: Session, name: str) -> tuple[Service, int]:
    """Take a service off every choice (never delete it: its tickets keep pointing at it);
    returns it and how many open tickets are still delegated to it, which stay so."""
    service = _service(session, name)
    if not service.active:
        raise RnmailError(f"the service {name!r} was removed already")
    service.active = False
    session.flush()
    waiting = session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.service_id == service.id, Ticket.status == TicketStatus.DELEGATED))
    return service, waiting or 0


def edit_service(session: Session, name: str, email: str | None = None,
                 description: str | None = None, language: str | None = None,
                 own: frozenset[str] = frozenset()) -> Service:
    """Change what is given of a service; an empty description or language clears it (the
    language then falls back to the help desk's). Tickets delegated to it stay so."""
    service = _service(session, name)
    if email is not None:
        service.email = _address(email, own)
    if description is not None:
        service.description = description or None
    if language is not None:
        service.language = _language(language or None)
    session.flush()
    return service


def _service(session: Session, name: str) -> Service:
    service = service_named(session, name)
    if service is None:
        raise NotFound(f"no service named {name!r}")
    return service


def _language(language: str | None) -> str | None:
    if language is not None and language not in LANGUAGES:
        raise RnmailError(f"unknown language {language!r} ({', '.join(LANGUAGES)})")
    return language


def list_services(session: Session, removed: bool = False) -> list[dict[str, Any]]:
    """The services to choose from; with ``removed``, the removed ones too (``active``
    false): what tickets may still be delegated to."""
    rows = session.execute(select(Service.id, Service.name, Service.email,
                                  Service.description, Service.language, Service.active)
                           .where(true() if removed else Service.active)
                           .order_by(Service.name))
    return [dict(row._mapping) for row in rows]
