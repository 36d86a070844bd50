"""The directory as a CSV file: ``directory import`` (checked whole first, then
organisations and users upserted and audited) and ``directory export`` (which import reads
back to the same directory)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, selectinload

from rnmail import audit
from rnmail.config import LANGUAGES
from rnmail.db import assign_ids
from rnmail.directory.people import (
    leave_groups,
    set_access_status,
    user_snapshot,
)
from rnmail.directory.sheets import ListProblems, Problem, open_sheet
from rnmail.errors import NotFound, RnmailError
from rnmail.models import (
    AuditEvent,
    Base,
    DirectoryUser,
    Organisation,
    utcnow,
)
from rnmail.util import csvfile
from rnmail.util.addresses import check_address
from rnmail.util.phone import normalise_number
from rnmail.vocab import AccessState, normal_requester_type, strings

#
# The CSV file: one line per user, with their organisation. Organisations are matched by
# code when the file gives one (else by name and type), users by address. Users who are
# not in the file are left alone: the file adds and updates, it never removes.

COLUMNS = ("organisation", "organisation_type", "organisation_code", "name", "email", "phone",
           "language", "role", "access_status")
OPTIONAL_COLUMNS = ("organisation_language", "organisation_address", "organisation_contacts",
                    "key_sent")
EXPORT_COLUMNS = COLUMNS + OPTIONAL_COLUMNS
# Columns whose value every line needs.
NEEDED = ("organisation", "organisation_type", "name", "email", "language", "access_status")
# Column sizes of Organisation and DirectoryUser: longer values are refused up front.
MAX_LENGTHS = {"organisation": 200, "organisation_code": 32, "name": 200, "email": 320,
               "role": 64}
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_SPLIT_RE = re.compile(r"[;,\s]+")

OrgKey = tuple[str, ...]  # ("code", CODE) or ("name", NAME, KIND)


@dataclass(frozen=True)
class DirectoryRow:
    """One line of a directory file, checked and normalised."""

    line: int
    org: OrgKey
    email: str
    name: str
    phone: str | None
    language: str
    role: str | None
    access_status: str
    key_sent: date | None


@dataclass
class OrgSpec:
    """An organisation as the file describes it (merged over its lines)."""

    key: OrgKey
    name: str
    kind: str
    code: str | None
    line: int  # its first line
    language: str | None = None
    address: str | None = None
    contacts: list[str] | None = None  # None: the file has no such column
    first_user_language: str = "fr"


@dataclass
class DirectoryFile:
    path: Path
    columns: frozenset[str] = frozenset()
    rows: list[DirectoryRow] = field(default_factory=list)
    orgs: dict[OrgKey, OrgSpec] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class DirectoryImport:
    """What an import did (or, with ``dry_run``, would do)."""

    path: str
    rows: int = 0
    organisations_created: int = 0
    organisations_updated: int = 0
    users_created: int = 0
    users_updated: int = 0
    users_unchanged: int = 0
    status_changes: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_directory(path: Path) -> DirectoryFile:
    """Read and check a directory file (see ``sheets.open_sheet``); its problems are in the
    result, never raised."""
    listed = DirectoryFile(path=path)
    shown = str(path)

    def problem(line: int | None, message: str) -> None:
        listed.problems.append(Problem(shown, line, message))

    sheet = open_sheet(path, COLUMNS, EXPORT_COLUMNS, problem)
    if sheet is None:
        return listed
    listed.columns = frozenset(sheet.index)
    raw_orgs: list[tuple[int, dict[str, str]]] = []
    first_line: dict[str, int] = {}
    for line, cells in sheet.rows:
        got = _row(line, cells, sheet.index, first_line, problem)
        if got is not None:
            listed.rows.append(got[0])
            raw_orgs.append((line, got[1]))
    _merge_organisations(listed, raw_orgs, problem)
    return listed


def _row(line: int, cells: list[str], index: dict[str, int], first_line: dict[str, int],
         problem: Callable[[int | None, str], None],
         ) -> tuple[DirectoryRow, dict[str, str]] | None:
    values = {column: cells[at].strip() for column, at in index.items() if at < len(cells)}

    def cell(column: str) -> str:
        return values.get(column, "")

    ok = True

    def bad(message: str) -> None:
        nonlocal ok
        problem(line, message)
        ok = False

    for column in NEEDED:
        if not cell(column):
            bad(f"missing {column}")
    for column, limit in MAX_LENGTHS.items():
        if len(cell(column)) > limit:
            bad(f"{column} longer than {limit} characters")
    email = ""
    if cell("email"):
        checked, why = _check_email(cell("email"))
        if checked is None:
            bad(f"invalid address {cell('email')!r}: {why}")
        else:
            email = checked.lower()
            if email in first_line:
                bad(f"duplicate address {email} (first on line {first_line[email]})")
            else:
                first_line[email] = line
    kind = ""
    if cell("organisation_type"):
        try:
            kind = normal_requester_type(cell("organisation_type"), organisation=True).value
        except RnmailError as exc:
            bad(str(exc))
    language = cell("language").lower()
    if language and language not in LANGUAGES:
        bad(f"unknown language {language!r} (fr, nl, de or en)")
    org_language = cell("organisation_language").lower()
    if org_language and org_language not in LANGUAGES:
        bad(f"unknown organisation_language {org_language!r} (fr, nl, de or en)")
    state = cell("access_status").lower()
    if state and state not in strings(AccessState):
        bad(f"unknown access_status {state!r} ({', '.join(AccessState)})")
    phone: str | None = None
    if cell("phone"):
        phone = normalise_number(cell("phone"))
        if phone is None:
            bad(f"phone {cell('phone')!r} is not a phone number")
    key_sent: date | None = None
    if cell("key_sent"):
        try:
            if not _DATE_RE.match(cell("key_sent")):
                raise ValueError
            key_sent = date.fromisoformat(cell("key_sent"))
        except ValueError:
            bad(f"key_sent {cell('key_sent')!r} is not a date (YYYY-MM-DD)")
    contacts: list[str] = []
    for raw in _SPLIT_RE.split(cell("organisation_contacts")):
        if raw:
            address, why = _check_contact(raw)
            if address is None:
                bad(f"invalid organisation contact {raw!r}: {why}")
            elif address.lower() not in contacts:
                contacts.append(address.lower())
    if not ok:
        return None
    code = cell("organisation_code") or None
    org_key: OrgKey = ("code", code) if code else ("name", cell("organisation"), kind)
    org = {"name": cell("organisation"), "kind": kind, "code": code or "",
           "language": org_language, "address": cell("organisation_address"),
           "contacts": " ".join(contacts), "user_language": language}
    return (DirectoryRow(line=line, org=org_key, email=email, name=cell("name"), phone=phone,
                         language=language, role=cell("role") or None, access_status=state,
                         key_sent=key_sent), org)


@lru_cache(maxsize=4096)
def _check_contact(raw: str) -> tuple[str | None, str | None]:
    """check_address, once per address: every line of an organisation repeats its contacts."""
    return _check_email(raw)


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_LOCAL_RE = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*\Z")


@lru_cache(maxsize=4096)
def _check_domain(domain: str) -> tuple[str | None, str | None]:
    return check_address(f"x@{domain}")


def _check_email(raw: str) -> tuple[str | None, str | None]:
    """check_address, with the domain checked once per file: most of its cost is the
    domain, and thousands of users share a few hundred. A local part that is not a plain
    ASCII dot-atom goes the whole way."""
    local, at, domain = raw.rpartition("@")
    if at and len(local) <= 64 and _PLAIN_LOCAL_RE.match(local):
        checked, why = _check_domain(domain)
        if checked is None:
            return None, why
        address = f"{local}@{checked.split('@', 1)[1]}"
        if len(address) <= 254:
            return address, None
    return check_address(raw)


def _merge_organisations(listed: DirectoryFile, raw_orgs: list[tuple[int, dict[str, str]]],
                         problem: Callable[[int | None, str], None]) -> None:
    """One OrgSpec per organisation of the file; its lines must agree (an empty cell agrees
    with anything). A line without a code belongs to the organisation with a code of the
    same name and type, when the file has exactly one."""
    coded: dict[tuple[str, str], set[str]] = {}
    for _line, org in raw_orgs:
        if org["code"]:
            coded.setdefault((org["name"], org["kind"]), set()).add(org["code"])
    keys: list[OrgKey] = []
    for row, (line, org) in zip(listed.rows, raw_orgs, strict=True):
        key = row.org
        if key[0] == "name" and len(coded.get((org["name"], org["kind"]), ())) == 1:
            [code] = coded[(org["name"], org["kind"])]
            key = ("code", code)
        keys.append(key)
        spec = listed.orgs.get(key)
        if spec is None:
            listed.orgs[key] = OrgSpec(
                key=key, name=org["name"], kind=org["kind"], code=org["code"] or None,
                line=line, first_user_language=org["user_language"])
            spec = listed.orgs[key]
        elif spec.name != org["name"]:
            problem(line, f"organisation code {spec.code} is used for two organisations: "
                    f"{spec.name!r} (line {spec.line}) and {org['name']!r}")
            continue
        elif spec.kind != org["kind"]:
            problem(line, f"organisation {spec.name!r} is of type {org['kind']} here but of "
                    f"type {spec.kind} on line {spec.line}")
            continue
        for attribute, column in (("language", "organisation_language"),
                                  ("address", "organisation_address"),
                                  ("contacts", "organisation_contacts")):
            value = org[attribute]
            if not value:
                continue
            known = getattr(spec, attribute)
            known = " ".join(known) if isinstance(known, list) else known
            if known and known != value:
                problem(line, f"{column} of {spec.name!r} differs from an earlier line's "
                        f"({known!r})")
            elif not known:
                setattr(spec, attribute, value.split() if attribute == "contacts" else value)
    for spec in listed.orgs.values():
        if spec.contacts is None and "organisation_contacts" in listed.columns:
            spec.contacts = []
    listed.rows = [replace(row, org=key) for row, key in zip(listed.rows, keys, strict=True)]


def _org_snapshot(org: Organisation) -> dict[str, Any]:
    return {"name": org.name, "type": org.kind, "code": org.code, "language": org.language,
            "address": org.address, "contact_emails": list(org.contact_emails or [])}


def _audit_snapshot(user: DirectoryUser) -> dict[str, Any]:
    return {**user_snapshot(user),
            "key_sent": user.key_sent_at.date().isoformat() if user.key_sent_at else None}


def _key_sent_at(day: date | None) -> datetime | None:
    return datetime.combine(day, time(0), tzinfo=UTC) if day else None


def _match_organisations(session: Session, listed: DirectoryFile,
                         problem: Callable[[int | None, str], None],
                         ) -> dict[OrgKey, Organisation | None]:
    """The existing organisation of each OrgSpec, or None for a new one."""
    orgs = list(session.scalars(select(Organisation)))
    by_code = {o.code: o for o in orgs if o.code}
    by_name: dict[tuple[str, str], list[Organisation]] = {}
    for o in orgs:
        by_name.setdefault((o.name, o.kind), []).append(o)
    matched: dict[OrgKey, Organisation | None] = {}
    claimed: set[int] = set()
    # Those with a code first: a code-less line may not take an organisation they match.
    for key, spec in sorted(listed.orgs.items(), key=lambda item: item[1].code is None):
        same_name = [o for o in by_name.get((spec.name, spec.kind), []) if o.id not in claimed]
        codeless = [o for o in same_name if o.code is None]
        found: Organisation | None = None
        if spec.code:
            found = by_code.get(spec.code)
            if found is None and len(codeless) == 1:  # an organisation that gets its code
                found = codeless[0]
        elif len(codeless) == 1:
            found = codeless[0]
        elif len(same_name) == 1:
            found = same_name[0]
        elif same_name:
            codes = ", ".join(sorted(o.code or "none" for o in same_name))
            problem(spec.line, f"organisation {spec.name!r} ({spec.kind}) without a code "
                    f"matches several organisations (codes {codes}): give its code")
        if found is not None:
            claimed.add(found.id)
        matched[key] = found
    return matched


def _table(model: type[Base]) -> Table:
    return model.metadata.tables[str(model.__tablename__)]


def import_directory(session: Session, path: Path, actor: str,
                     dry_run: bool = False) -> DirectoryImport:
    """Add and update the directory from a CSV file, in the caller's transaction.

    Every line is checked first, against the file and the directory: with any problem,
    ``ListProblems`` carries them all (``file:line: what``) and nothing is written. Then
    organisations are matched by code (else name and type) and users by address; a line
    that changes nothing writes nothing (importing a file twice changes nothing the second
    time). New users are audited as ``directory-add``, changed ones as ``directory-update``
    with ``before`` and ``after``; a new access status goes through ``set_access_status``
    (reason ``import FILE:LINE``). Users absent from the file are left as they are.
    """
    if not path.is_file():
        raise NotFound(f"no file {path}")
    listed = read_directory(path)
    problems = listed.problems

    def problem(line: int | None, message: str) -> None:
        problems.append(Problem(str(path), line, message))

    matched = _match_organisations(session, listed, problem) if not problems else {}
    if problems:
        raise ListProblems(sorted(problems, key=lambda p: p.line or 0), 1)
    report = DirectoryImport(path=str(path), rows=len(listed.rows), dry_run=dry_run)
    columns = listed.columns
    has_address = "organisation_address" in columns
    has_contacts = "organisation_contacts" in columns
    has_key = "key_sent" in columns

    # Organisations: what changes.
    org_updates: list[tuple[Organisation, dict[str, Any]]] = []
    for key, spec in listed.orgs.items():
        org = matched[key]
        if org is None:
            report.organisations_created += 1
            continue
        want: dict[str, Any] = {"name": spec.name, "kind": spec.kind}
        if spec.code:
            want["code"] = spec.code
        if spec.language:
            want["language"] = spec.language
        if has_address:
            want["address"] = spec.address or None
        if has_contacts:
            want["contact_emails"] = spec.contacts or []
        changes = {k: v for k, v in want.items() if getattr(org, k) != v}
        if changes:
            org_updates.append((org, changes))
    report.organisations_updated = len(org_updates)

    # Users: compared as plain rows, loaded as objects only when they change.
    existing = {r.email: r for r in session.execute(select(
        DirectoryUser.id, DirectoryUser.email, DirectoryUser.organisation_id, DirectoryUser.name,
        DirectoryUser.phone, DirectoryUser.language, DirectoryUser.role,
        DirectoryUser.access_status, DirectoryUser.key_sent_at))}
    new_rows: list[DirectoryRow] = []
    changed: list[tuple[DirectoryRow, int, bool, bool]] = []  # row, id, fields?, status?
    for row in listed.rows:
        old = existing.get(row.email)
        if old is None:
            new_rows.append(row)
            continue
        org = matched[row.org]
        fields = (org is None or old.organisation_id != org.id or old.name != row.name
                  or old.phone != row.phone or old.language != row.language
                  or old.role != row.role
                  or (has_key and (old.key_sent_at.date() if old.key_sent_at else None)
                      != row.key_sent))
        status = old.access_status != row.access_status
        if fields or status:
            changed.append((row, old.id, fields, status))
    report.users_created = len(new_rows)
    report.users_updated = len(changed)
    report.users_unchanged = len(listed.rows) - len(new_rows) - len(changed)
    report.status_changes = sum(1 for c in changed if c[3])
    if dry_run:
        return report

    now = utcnow()
    source = str(path)
    # The users that change, with their state before anything (their organisation too).
    users: dict[int, DirectoryUser] = {}
    ids = [user_id for _row, user_id, _f, _s in changed]
    for start in range(0, len(ids), 500):
        for user in session.scalars(select(DirectoryUser)
                                    .where(DirectoryUser.id.in_(ids[start:start + 500]))
                                    .options(selectinload(DirectoryUser.organisation))):
            users[user.id] = user
    befores = {user_id: _audit_snapshot(user) for user_id, user in users.items()}

    # Organisations first: new users need their ids.
    created: list[tuple[OrgSpec, Organisation]] = []
    for key, spec in listed.orgs.items():
        if matched[key] is None:
            org = Organisation(name=spec.name, kind=spec.kind, code=spec.code,
                               language=spec.language or spec.first_user_language,
                               address=spec.address or None,
                               contact_emails=spec.contacts or [], created_at=now,
                               updated_at=now)
            session.add(org)
            matched[key] = org
            created.append((spec, org))
    for org, changes in org_updates:
        before = _org_snapshot(org)
        for attribute, value in changes.items():
            setattr(org, attribute, value)
        audit.record(session, actor, "directory-org-update",
                     {"organisation": org.name, "code": org.code, "before": before,
                      "after": _org_snapshot(org)})
    assign_ids(session)
    session.flush()
    audits: list[dict[str, Any]] = [
        {"at": now, "actor": actor, "action": "directory-org-add", "success": True,
         "recipients": None,
         "detail": {"organisation": org.name, "code": org.code,
                    "source": f"{source}:{spec.line}", "after": _org_snapshot(org)}}
        for spec, org in created]

    # New users: one bulk insert, and their audit rows another. Core inserts on the tables:
    # the ORM's bulk insert would split the rows on which of them hold a NULL.
    values: list[dict[str, Any]] = []
    for row in new_rows:
        org = matched[row.org]
        assert org is not None
        values.append({
            "organisation_id": org.id, "email": row.email, "name": row.name,
            "phone": row.phone, "language": row.language, "role": row.role,
            "access_status": row.access_status, "status_since": now,
            "key_sent_at": _key_sent_at(row.key_sent), "last_contact_at": None,
            "created_at": now, "updated_at": now})
        after = {"email": row.email, "name": row.name, "phone": row.phone,
                 "language": row.language, "role": row.role,
                 "access_status": row.access_status, "organisation": org.name,
                 "organisation_code": org.code,
                 "key_sent": row.key_sent.isoformat() if row.key_sent else None}
        audits.append({"at": now, "actor": actor, "action": "directory-add",
                       "success": True, "recipients": None,
                       "detail": {"email": row.email, "source": f"{source}:{row.line}",
                                  "after": after}})
    for start in range(0, len(values), 5000):
        session.execute(insert(_table(DirectoryUser)), values[start:start + 5000])
    for start in range(0, len(audits), 5000):
        session.execute(insert(_table(AuditEvent)), audits[start:start + 5000])
    for row in new_rows:
        if row.access_status == AccessState.REVOKED:  # no announcements to them from any group
            leave_groups(session, row.email)

    # Changed users, one by one (few, and each one audited).
    for row, user_id, fields, status in changed:
        user = users[user_id]
        if fields:
            org = matched[row.org]
            assert org is not None
            if user.organisation_id != org.id:
                user.organisation = org
            user.name, user.phone, user.language, user.role = (
                row.name, row.phone, row.language, row.role)
            if has_key and (user.key_sent_at.date() if user.key_sent_at else None) \
                    != row.key_sent:
                user.key_sent_at = _key_sent_at(row.key_sent)
            audit.record(session, actor, "directory-update",
                         {"email": user.email, "source": f"{source}:{row.line}",
                          "before": befores[user_id], "after": _audit_snapshot(user)})
        if status:
            set_access_status(session, user, row.access_status,
                              f"import {source}:{row.line}", actor)
    session.flush()
    return report


def export_directory(session: Session) -> str:
    """Every user with their organisation, as the CSV file ``directory import`` reads back
    to the same directory (organisations without users are not in it)."""
    out = io.StringIO()
    writer = csvfile.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    rows = session.execute(select(DirectoryUser, Organisation)
                           .join(Organisation, Organisation.id == DirectoryUser.organisation_id)
                           .order_by(Organisation.name, Organisation.code, DirectoryUser.email))
    for user, org in rows:
        writer.writerow([
            org.name, org.kind, org.code or "", user.name, user.email, user.phone or "",
            user.language, user.role or "", user.access_status, org.language,
            org.address or "", " ".join(org.contact_emails or []),
            user.key_sent_at.date().isoformat() if user.key_sent_at else ""])
    return out.getvalue()
