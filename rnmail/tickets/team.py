"""The people rnmail works for: help-desk staff and the second-line services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.auth.sessions import end_sessions
from rnmail.config import LANGUAGES
from rnmail.errors import NotFound, RnmailError
from rnmail.models import Service, Staff
from rnmail.tickets.lifecycle import find_staff
from rnmail.util.addresses import deliverable_address


def _address(email: str) -> str:
    address = deliverable_address(email)
    if address is None:
        raise RnmailError(f"{email!r} is not a valid mail address")
    return address.lower()


def add_staff(session: Session, email: str, name: str, language: str = "fr") -> Staff:
    if language not in LANGUAGES:
        raise RnmailError(f"unknown language {language!r} ({', '.join(LANGUAGES)})")
    address = _address(email)
    staff = session.scalars(select(Staff).where(Staff.email == address)).first()
    if staff is not None and staff.active:
        raise RnmailError(f"{address} is already on the staff")
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
                language: str | None = None) -> Service:
    """A new second-line service; ``language``: its contact's (None: the help desk's)."""
    if not name.strip() or any(ch.isspace() for ch in name):
        raise RnmailError("a service name is one word, e.g. population-registers")
    if session.scalars(select(Service).where(Service.name == name)).first() is not None:
        raise RnmailError(f"there is already a service named {name!r}")
    service = Service(name=name, email=_address(email), description=description,
                      language=_language(language))
    session.add(service)
    session.flush()
    return service


def edit_service(session: Session, name: str, email: str | None = None,
                 description: str | None = None, language: str | None = None) -> Service:
    """Change what is given of a service; an empty description or language clears it (the
    language then falls back to the help desk's). Tickets delegated to it stay so."""
    service = session.scalars(select(Service).where(Service.name == name)).first()
    if service is None:
        raise NotFound(f"no service named {name!r}")
    if email is not None:
        service.email = _address(email)
    if description is not None:
        service.description = description or None
    if language is not None:
        service.language = _language(language or None)
    session.flush()
    return service


def _language(language: str | None) -> str | None:
    if language is not None and language not in LANGUAGES:
        raise RnmailError(f"unknown language {language!r} ({', '.join(LANGUAGES)})")
    return language


def list_services(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(Service.id, Service.name, Service.email,
                                  Service.description, Service.language)
                           .order_by(Service.name))
    return [dict(row._mapping) for row in rows]
