"""User groups defined by a directory query instead of a CSV list.

A query group (``lists define``) keeps its filter in ``UserGroup.query``, e.g.
``{"kinds": ["municipality"], "languages": ["nl"], "states": ["active"], "roles": []}``:
the directory users whose organisation is of one of the kinds, whose own language is one of
the languages, whose access state is one of the states and, when roles are given, whose role
is one of them (case-insensitive). An empty list means any.

``sync_groups`` (``lists sync``) replaces every query group's members with the users that
match now (name, language, organisation name and code from the directory), and takes every
user whose access is ``revoked`` out of every group, CSV lists included. A query group is
never imported from a CSV file (``groups.import_lists`` refuses it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rnmail.config import LANGUAGES
from rnmail.directory.groups import MAX_LENGTHS, group_name_problem
from rnmail.errors import RnmailError
from rnmail.models import DirectoryUser, GroupMember, Organisation, UserGroup, utcnow
from rnmail.util.addresses import deliverable_address
from rnmail.vocab import AccessState, normal_requester_type

# The states a query may select: a revoked user is in no group at all.
QUERY_STATES = (AccessState.ACTIVE, AccessState.BLOCKED)


@dataclass(frozen=True)
class SyncResult:
    """What a sync (or a definition) did to one group."""

    group: str
    query: bool  # a query group (else a CSV list, only cleared of revoked users)
    added: int
    updated: int
    removed: int
    revoked_removed: int  # of ``removed``: revoked directory users
    skipped: int  # matching users whose address cannot be written to
    total: int
    created: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _clean(values: Iterable[str]) -> list[str]:
    return sorted({v.strip().lower() for v in values if v.strip()})


def make_query(kinds: Sequence[str], languages: Sequence[str],
               states: Sequence[str] = ("active",), roles: Sequence[str] = ()
               ) -> dict[str, list[str]]:
    """The checked, normalised filter as stored in ``UserGroup.query``."""
    kind_list = sorted({normal_requester_type(k, organisation=True).value for k in kinds})
    language_list = _clean(languages)
    bad = [lang for lang in language_list if lang not in LANGUAGES]
    if bad:
        raise RnmailError(f"unknown language {', '.join(map(repr, bad))} "
                          f"(use {', '.join(LANGUAGES)})")
    state_list = _clean(states)
    if not state_list:
        raise RnmailError("a query group needs at least one access state "
                          f"({', '.join(QUERY_STATES)})")
    if AccessState.REVOKED in state_list:
        raise RnmailError("a query group cannot select revoked users: they leave every group")
    bad = [s for s in state_list if s not in QUERY_STATES]
    if bad:
        raise RnmailError(f"unknown access state {', '.join(map(repr, bad))} "
                          f"(use {', '.join(QUERY_STATES)})")
    role_list = _clean(roles)
    return {"kinds": kind_list, "languages": language_list, "states": state_list,
            "roles": role_list}


def describe_query(query: dict[str, Any]) -> str:
    """``municipality; nl; active`` — what ``lists list`` shows; ``any`` for an empty part."""
    parts = [", ".join(query.get(key) or []) or "any" for key in ("kinds", "languages", "states")]
    if query.get("roles"):
        parts.append("roles " + ", ".join(query["roles"]))
    return "; ".join(parts)


def _matching(session: Session, query: dict[str, Any]) -> tuple[dict[str, tuple[
        str, str, str | None, str | None]], int]:
    """The members a query selects now: address → (name, language, organisation, code),
    and how many matching users were skipped (no address rnmail can write to)."""
    stmt = (select(DirectoryUser.email, DirectoryUser.name, DirectoryUser.language,
                   Organisation.name, Organisation.code)
            .join(Organisation, Organisation.id == DirectoryUser.organisation_id)
            .where(DirectoryUser.access_status != AccessState.REVOKED)
            .order_by(DirectoryUser.email))
    if query.get("kinds"):
        stmt = stmt.where(Organisation.kind.in_(query["kinds"]))
    if query.get("languages"):
        stmt = stmt.where(DirectoryUser.language.in_(query["languages"]))
    states = query.get("states") or ["active"]
    stmt = stmt.where(DirectoryUser.access_status.in_(states))
    if query.get("roles"):
        stmt = stmt.where(func.lower(DirectoryUser.role).in_(query["roles"]))
    found: dict[str, tuple[str, str, str | None, str | None]] = {}
    skipped = 0
    for email, name, language, organisation, code in session.execute(stmt):
        address = deliverable_address(email)
        if address is None or language not in LANGUAGES:
            skipped += 1
            continue
        found.setdefault(address.lower(), (
            name[:MAX_LENGTHS["name"]], language,
            organisation[:MAX_LENGTHS["organisation"]] if organisation else None,
            code[:MAX_LENGTHS["code"]] if code else None))
    return found, skipped


def _refresh(session: Session, group: UserGroup, revoked: set[str],
             created: bool = False) -> SyncResult:
    """Bring one group up to date: a query group to its query, any group without the
    revoked users."""
    existing = {m.email: m for m in session.scalars(
        select(GroupMember).where(GroupMember.group_id == group.id))}
    added = updated = removed = revoked_removed = skipped = 0
    if group.query is not None:
        wanted, skipped = _matching(session, group.query)
        for email, values in wanted.items():
            member = existing.pop(email, None)
            if member is None:
                name, language, organisation, code = values
                session.add(GroupMember(group_id=group.id, email=email, name=name,
                                        language=language, organisation=organisation,
                                        code=code))
                added += 1
            elif (member.name, member.language, member.organisation, member.code) != values:
                member.name, member.language, member.organisation, member.code = values
                updated += 1
        for email, member in existing.items():
            session.delete(member)
            removed += 1
            revoked_removed += email in revoked
        total = len(wanted)
    else:
        for email, member in existing.items():
            if email in revoked:
                session.delete(member)
                removed += 1
                revoked_removed += 1
        total = len(existing) - removed
    if added or updated or removed:
        group.updated_at = utcnow()
    session.flush()
    return SyncResult(group=group.name, query=group.query is not None, added=added,
                      updated=updated, removed=removed, revoked_removed=revoked_removed,
                      skipped=skipped, total=total, created=created)


def _revoked(session: Session) -> set[str]:
    """The revoked users' addresses, as stored and in the form groups keep them."""
    found: set[str] = set()
    for email in session.scalars(
            select(DirectoryUser.email).where(DirectoryUser.access_status == AccessState.REVOKED)):
        found.add(email.lower())
        found.add((deliverable_address(email) or email).lower())
    return found


def define_group(session: Session, name: str, kinds: Sequence[str], languages: Sequence[str],
                 states: Sequence[str] = ("active",), roles: Sequence[str] = ()
                 ) -> SyncResult:
    """Create or redefine a query group and fill it from the directory. A group of that
    name that comes from a CSV list is refused (its members would be lost)."""
    problem = group_name_problem(name)
    if problem:
        raise RnmailError(problem)
    query = make_query(kinds, languages, states, roles)
    group = session.scalars(select(UserGroup).where(UserGroup.name == name)).first()
    created = group is None
    if group is None:
        group = UserGroup(name=name, query=query)
        session.add(group)
        session.flush()
    elif group.query is None:
        raise RnmailError(f"group {name!r} is a CSV list (lists import): choose another name "
                          "for the query group")
    elif group.query != query:
        group.query = query
        group.updated_at = utcnow()
    return _refresh(session, group, _revoked(session), created=created)


def sync_groups(session: Session) -> list[SyncResult]:
    """Refresh every query group from the directory and take revoked users out of every
    group; one result per group, by name."""
    revoked = _revoked(session)
    groups = list(session.scalars(select(UserGroup).order_by(UserGroup.name)))
    return [_refresh(session, group, revoked) for group in groups]


def query_groups(session: Session) -> dict[str, dict[str, Any]]:
    """The query groups' filters, by group name."""
    return {name: query for name, query in session.execute(
        select(UserGroup.name, UserGroup.query).where(UserGroup.query.is_not(None)))
        if query is not None}
