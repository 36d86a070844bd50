"""The directory: organisations with access to the register and their users.

Every change is audited (``audit_event``: who, when, before and after). This module holds
what every directory feature shares; import/export, search and the access procedure build
on it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from rnmail import audit
from rnmail.errors import NotFound, RnmailError
from rnmail.models import ACCESS_STATES, DirectoryUser, GroupMember, Organisation, utcnow

# Organisation kinds: the requester types a ticket from one of their users gets.
KINDS = ("municipality", "police", "notary", "public-service", "company", "other")
KIND_ALIASES = {"police-zone": "police", "public service": "public-service",
                "commune": "municipality", "gemeente": "municipality"}


def normal_kind(value: str) -> str:
    kind = KIND_ALIASES.get(value.strip().lower(), value.strip().lower())
    if kind not in KINDS:
        raise RnmailError(f"unknown organisation type {value!r}: use one of {', '.join(KINDS)}")
    return kind


def find_user(session: Session, email: str) -> DirectoryUser:
    user = session.scalars(
        select(DirectoryUser).where(DirectoryUser.email == email.strip().lower())
        .options(selectinload(DirectoryUser.organisation))).first()
    if user is None:
        raise NotFound(f"no user {email!r} in the directory")
    return user


def user_snapshot(user: DirectoryUser) -> dict[str, Any]:
    """The fields of a user as the audit log keeps them (before/after a change)."""
    return {
        "email": user.email, "name": user.name, "phone": user.phone,
        "language": user.language, "role": user.role, "access_status": user.access_status,
        "organisation": user.organisation.name if user.organisation else None,
        "organisation_code": user.organisation.code if user.organisation else None,
    }


def user_detail(user: DirectoryUser) -> dict[str, Any]:
    """A user for ``directory show`` and ``ticket show``."""
    org: Organisation = user.organisation
    return {
        **user_snapshot(user),
        "organisation_type": org.kind,
        "status_since": user.status_since.isoformat(),
        "key_sent_at": user.key_sent_at.isoformat() if user.key_sent_at else None,
        "last_contact_at": user.last_contact_at.isoformat() if user.last_contact_at else None,
    }


def set_access_status(session: Session, user: DirectoryUser, state: str, reason: str,
                      actor: str) -> bool:
    """Change a user's access; audited with the reason. A revoked user leaves every user
    group at once. Returns False (and records nothing) when the state is already that."""
    if state not in ACCESS_STATES:
        raise RnmailError(f"unknown access state {state!r}: use one of "
                          f"{', '.join(ACCESS_STATES)}")
    if not reason.strip():
        raise RnmailError("give the reason for the change (--reason)")
    if user.access_status == state:
        return False
    before = user_snapshot(user)
    user.access_status = state
    user.status_since = utcnow()
    left = 0
    if state == "revoked":
        left = leave_groups(session, user.email)
    audit.record(session, actor, "directory-status",
                 {"email": user.email, "reason": reason, "before": before,
                  "after": user_snapshot(user), "groups_left": left})
    return True


def leave_groups(session: Session, email: str) -> int:
    """Remove an address from every user group; returns how many it was in."""
    members = list(session.scalars(select(GroupMember).where(GroupMember.email == email)))
    for member in members:
        session.delete(member)
    return len(members)
