"""The directory: organisations with access to the register and their users.

Every change is audited (``audit_event``: who, when, before and after). This module holds
what every directory feature shares, with show, search and the access state; the CSV file is
``rnmail.directory.import_export``, the unblocking procedure ``rnmail.directory.unblock``.
"""

from __future__ import annotations

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from rnmail import audit
from rnmail.db import READING
from rnmail.directory.lookup import phone_condition, searched
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n.catalogues import N_
from rnmail.models import (
    DirectoryUser,
    GroupMember,
    Organisation,
    Ticket,
    utcnow,
)
from rnmail.shapes import (
    AccessChange,
    OrganisationDetail,
    OrganisationEntry,
    OrganisationHit,
    UserDetail,
    UserEntry,
    UserHit,
    UserLine,
    UserSnapshot,
)
from rnmail.util.folding import fold
from rnmail.vocab import AccessState, TicketStatus, strings

# Organisation kinds (rnmail.vocab.ORGANISATION_KINDS) are the requester types a ticket
# from one of their users gets: read them with normal_requester_type(..., organisation=True).


def find_user(session: Session, email: str) -> DirectoryUser:
    user = session.scalars(
        select(DirectoryUser).where(DirectoryUser.email == email.strip().lower())
        .options(selectinload(DirectoryUser.organisation))).first()
    if user is None:
        raise NotFound(f"no user {email!r} in the directory")
    return user


def user_snapshot(user: DirectoryUser) -> UserSnapshot:
    """The fields of a user as the audit log keeps them (before/after a change)."""
    return {
        "email": user.email, "name": user.name, "phone": user.phone,
        "language": user.language, "role": user.role, "access_status": user.access_status,
        "organisation": user.organisation.name if user.organisation else None,
        "organisation_code": user.organisation.code if user.organisation else None,
    }


def user_detail(user: DirectoryUser) -> UserDetail:
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
    if state not in strings(AccessState):
        raise RnmailError.translatable(N_("unknown access state {state}: use one of {states}"),
                                       state=repr(state), states=", ".join(AccessState))
    if not reason.strip():
        raise RnmailError.translatable(N_("give the reason for the change (--reason)"))
    if user.access_status == state:
        return False
    before = user_snapshot(user)
    user.access_status = state
    user.status_since = utcnow()
    left = 0
    if state == AccessState.REVOKED:
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


def directory_user_for(session: Session, requester: str) -> DirectoryUser | None:
    """The directory user a ticket's requester is: by address, or for a phone ticket by
    E.164 number when exactly one user has it. None when not in the directory."""
    who = requester.strip().lower()
    # A page reads it up to three times (the thread, the card, the forms): once per reading
    # session, where nothing changes.
    memo = session.info.setdefault("directory_user_for", {}) if session.info.get(READING) \
        else None
    if memo is not None and who in memo:
        known: DirectoryUser | None = memo[who]
        return known
    found = _directory_user(session, who)
    if memo is not None:
        memo[who] = found
    return found


def _directory_user(session: Session, who: str) -> DirectoryUser | None:
    if "@" in who:
        query = select(DirectoryUser).where(DirectoryUser.email == who)
    elif who.startswith("+") and who[1:].isdigit():
        query = select(DirectoryUser).where(DirectoryUser.phone == who)
    else:
        return None
    users = list(session.scalars(query.options(selectinload(DirectoryUser.organisation))
                                 .limit(2)))
    return users[0] if len(users) == 1 else None


# --------------------------------------------------------------------------- show, search


def organisation_detail(org: Organisation) -> OrganisationDetail:
    return {"entry": "organisation", "name": org.name, "type": org.kind, "code": org.code,
            "language": org.language, "address": org.address,
            "contact_emails": list(org.contact_emails or []),
            "created_at": org.created_at.isoformat(), "updated_at": org.updated_at.isoformat()}


def _user_line(user: DirectoryUser) -> UserLine:
    return {"id": user.id, "email": user.email, "name": user.name, "phone": user.phone,
            "language": user.language, "role": user.role,
            "access_status": user.access_status,
            "status_since": user.status_since.isoformat()}


def find_organisation(session: Session, key: str) -> Organisation:
    """An organisation by code, else by its exact name in any case; a name that several
    organisations share is an error that lists them."""
    key = key.strip()
    org = session.scalars(select(Organisation).where(Organisation.code == key)).first()
    if org is not None:
        return org
    wanted = key.casefold()
    ids = [i for i, name in session.execute(select(Organisation.id, Organisation.name))
           if name.casefold() == wanted]
    if not ids:
        raise NotFound(f"no organisation or user {key!r} in the directory "
                       f"(try `rnmail directory search`)")
    orgs = list(session.scalars(select(Organisation).where(Organisation.id.in_(ids))
                                .order_by(Organisation.code, Organisation.id)))
    if len(orgs) > 1:
        listed = "; ".join(f"{o.name} ({o.kind}, code {o.code or 'none'})" for o in orgs)
        raise RnmailError(f"{len(orgs)} organisations are named {key!r}: {listed}; "
                          f"give the code")
    return orgs[0]


def show_entry(session: Session, key: str) -> UserEntry | OrganisationEntry:
    """A user (``key`` with an ``@``): their detail and open tickets. Else an organisation,
    by code or exact name (any case), with its users."""
    if "@" in key:
        return user_entry(session, find_user(session, key))
    return organisation_entry(session, find_organisation(session, key))


def user_entry(session: Session, user: DirectoryUser) -> UserEntry:
    """A user with their open tickets (``directory show``)."""
    tickets = session.scalars(select(Ticket).where(Ticket.requester == user.email,
                                                   Ticket.status != TicketStatus.CLOSED)
                              .order_by(Ticket.id))
    return {"entry": "user", **user_detail(user),
            "open_tickets": [{"id": t.id, "subject": t.subject, "status": t.status,
                              "created_at": t.created_at.isoformat()} for t in tickets]}


def organisation_entry(session: Session, org: Organisation) -> OrganisationEntry:
    """An organisation with its users (``directory show``)."""
    users = session.scalars(select(DirectoryUser)
                            .where(DirectoryUser.organisation_id == org.id)
                            .order_by(DirectoryUser.email))
    return {**organisation_detail(org), "users": [_user_line(u) for u in users]}


def search_directory(session: Session, query: str, limit: int = 50
                     ) -> list[OrganisationHit | UserHit]:
    """Organisations (by name or code), then users (by name or address) whose text holds
    every word of ``query``, case and accents ignored, or (by phone) whose number ``query``
    is, in any notation, or ends with its four digits or more; at most ``limit`` entries
    in all."""
    text = searched(query)
    words, by_phone = fold(text).split(), phone_condition(text)
    if not words:
        raise RnmailError.translatable(N_("give something to search for"))
    found: list[OrganisationHit | UserHit] = []
    counts: dict[int, int] = {org_id: n for org_id, n in session.execute(
        select(DirectoryUser.organisation_id, func.count())
        .group_by(DirectoryUser.organisation_id))}
    orgs = session.scalars(
        select(Organisation)
        .where(*(or_(func.rn_fold(Organisation.name).contains(word, autoescape=True),
                     func.rn_fold(Organisation.code).contains(word, autoescape=True))
                 for word in words))
        .order_by(Organisation.name, Organisation.code).limit(limit))
    for org in orgs:
        found.append({"entry": "organisation", "id": org.id, "name": org.name, "type": org.kind,
                      "code": org.code, "language": org.language,
                      "users": counts.get(org.id, 0)})
    if len(found) < limit:
        users = session.scalars(
            select(DirectoryUser)
            .where(or_(and_(*(or_(DirectoryUser.name_folded.contains(word, autoescape=True),
                                  DirectoryUser.email.contains(word, autoescape=True))
                              for word in words)),
                       by_phone if by_phone is not None else false()))
            .options(selectinload(DirectoryUser.organisation))
            .order_by(DirectoryUser.name, DirectoryUser.email).limit(limit - len(found)))
        for user in users:
            found.append({"entry": "user", "id": user.id, "email": user.email, "name": user.name,
                          "phone": user.phone,
                          "organisation": user.organisation.name,
                          "organisation_code": user.organisation.code,
                          "organisation_type": user.organisation.kind,
                          "access_status": user.access_status})
    return found


def change_access(session: Session, email: str, state: str, reason: str,
                  actor: str) -> AccessChange:
    """``directory set-status``: a user's new access state, audited with the reason."""
    user = find_user(session, email)
    before = user.access_status
    groups = 0
    if state == AccessState.REVOKED:
        groups = len(list(session.scalars(select(GroupMember.id)
                                          .where(GroupMember.email == user.email))))
    changed = set_access_status(session, user, state, reason, actor)
    session.flush()
    return {"email": user.email, "before": before, "after": user.access_status,
            "changed": changed, "groups_left": groups if changed else 0,
            "status_since": user.status_since.isoformat()}
