"""User groups: the address lists announcements go to.

A group (``municipalities``, ``police-zones``, ...) is imported from a CSV file named after
it (``lists/police-zones.csv``); the database is the source of truth afterwards. Every file
is checked completely before anything is written: an import with a single problem in any of
its files imports nothing and reports every problem with its file and line.

Addresses are stored lower-cased, in the form rnmail writes to (IDNA domains in ASCII), as
everywhere else in rnmail. Addresses that keep bouncing are left out of announcements by
``rnmail.dispatch.suppression``, without changing the lists.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rnmail.config import LANGUAGES
from rnmail.db import Database
from rnmail.directory.sheets import ListProblems, Problem, open_sheet
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n import N_
from rnmail.models import GroupMember, UserGroup, utcnow
from rnmail.shapes import ListFileJson, ListImportJson
from rnmail.util import csvfile
from rnmail.util.addresses import check_address

GROUP_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
COLUMNS = ("email", "name", "language", "organisation", "code")
REQUIRED_COLUMNS = ("email", "name", "language")
# Column sizes of GroupMember: longer values are refused before PostgreSQL would.
MAX_LENGTHS = {"email": 320, "name": 200, "organisation": 200, "code": 32}
MAX_GROUP_NAME = 64


@dataclass(frozen=True)
class Entry:
    """One address of a list file, checked and normalised."""

    line: int
    email: str
    name: str
    language: str
    organisation: str | None
    code: str | None


@dataclass
class ListFile:
    """A list file as read: its group, its entries and what is wrong with it."""

    path: Path
    group: str
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def as_json(self) -> ListFileJson:
        return {"path": str(self.path), "group": self.group, "addresses": len(self.entries),
                "ok": not self.problems}


@dataclass(frozen=True)
class ImportResult:
    group: str
    added: int
    updated: int
    removed: int
    total: int
    created: bool  # the group did not exist before

    def as_json(self) -> ListImportJson:
        return {"group": self.group, "members": self.total, "added": self.added,
                "updated": self.updated, "removed": self.removed, "created": self.created}


@dataclass(frozen=True)
class Recipient:
    """One address an announcement goes to, with the group it was taken from."""

    email: str
    name: str
    language: str
    organisation: str | None
    code: str | None
    group: str


# --------------------------------------------------------------------------- reading files


def group_name_problem(name: str) -> str | None:
    if not GROUP_NAME_RE.match(name) or len(name) > MAX_GROUP_NAME:
        return (f"group name {name!r} must be lower-case letters, digits and '-', "
                f"starting with a letter or digit, at most {MAX_GROUP_NAME} characters")
    return None


def read_list(path: Path) -> ListFile:
    """Read and check one list file (see ``open_sheet``); its problems are in the result,
    never raised."""
    listed = ListFile(path=path, group=path.stem)
    shown = str(path)

    def problem(line: int | None, message: str) -> None:
        listed.problems.append(Problem(shown, line, message))

    name_problem = group_name_problem(path.stem)
    if name_problem:
        problem(None, name_problem + " (the group is named after the file)")
    sheet = open_sheet(path, REQUIRED_COLUMNS, COLUMNS, problem)
    if sheet is None:
        return listed
    first_line: dict[str, int] = {}
    for line, cells in sheet.rows:
        entry = _entry(line, cells, sheet.index, first_line, problem)
        if entry is not None:
            listed.entries.append(entry)
    return listed


def _entry(line: int, cells: list[str], index: dict[str, int], first_line: dict[str, int],
           problem: Callable[[int | None, str], None]) -> Entry | None:
    def cell(column: str) -> str:
        at = index.get(column)
        return cells[at].strip() if at is not None and at < len(cells) else ""

    ok = True
    raw_email = cell("email")
    email: str | None = None
    if not raw_email:
        problem(line, "missing email")
        ok = False
    else:
        email, why = check_address(raw_email)
        if email is None:
            problem(line, f"invalid address {raw_email!r}: {why}")
            ok = False
        else:
            email = email.lower()
            if email in first_line:
                problem(line, f"duplicate address {email} (first on line {first_line[email]})")
                ok = False
            else:
                first_line[email] = line
    language = cell("language").lower()
    if not language:
        problem(line, "missing language (fr, nl, de or en)")
        ok = False
    elif language not in LANGUAGES:
        problem(line, f"unknown language {language!r} (fr, nl, de or en)")
        ok = False
    values = {c: cell(c) for c in ("name", "organisation", "code")}
    for column, limit in MAX_LENGTHS.items():
        value = raw_email if column == "email" else values[column]
        if len(value) > limit:
            problem(line, f"{column} longer than {limit} characters")
            ok = False
    if not ok or email is None:
        return None
    return Entry(line=line, email=email, name=values["name"], language=language,
                 organisation=values["organisation"] or None, code=values["code"] or None)


def list_files(directory: Path) -> list[Path]:
    """The ``*.csv`` files of a lists directory, by name."""
    if not directory.is_dir():
        raise NotFound(f"lists directory {directory} does not exist")
    files = sorted(p for p in directory.glob("*.csv") if p.is_file())
    if not files:
        raise NotFound(f"no *.csv file in {directory}")
    return files


def validate_lists(paths: Sequence[Path]) -> tuple[list[ListFile], list[Problem]]:
    """Read every file; the problems of all of them, including two files for one group."""
    listed = [read_list(path) for path in paths]
    problems = [p for f in listed for p in f.problems]
    seen: dict[str, Path] = {}
    for f in listed:
        if f.group in seen and seen[f.group].resolve() != f.path.resolve():
            problems.append(Problem(str(f.path), None,
                                    f"group {f.group!r} also comes from {seen[f.group]}"))
        seen.setdefault(f.group, f.path)
    return listed, problems


# --------------------------------------------------------------------------- groups


def import_lists(db: Database, paths: Sequence[Path]) -> list[ImportResult]:
    """Replace each group's members with its file's, all files in one transaction.

    Nothing is written unless every file is correct: otherwise ``ListProblems`` carries the
    whole report.
    """
    if not paths:
        raise RnmailError("no list file given")
    listed, problems = validate_lists(paths)
    if problems:
        raise ListProblems(problems, len(paths))
    unique: dict[str, ListFile] = {}
    for f in listed:
        unique.setdefault(f.group, f)  # the same file given twice
    results = []
    with db.transaction() as session:
        queried = {name for name, query in session.execute(  # JSON null: not a query
            select(UserGroup.name, UserGroup.query).where(UserGroup.name.in_(list(unique))))
            if query is not None}
        for f in unique.values():
            if f.group in queried:
                raise RnmailError(f"nothing imported: group {f.group!r} is defined by a "
                                  f"directory query (lists define), not by {f.path}; "
                                  "`lists sync` refreshes it")
        for f in unique.values():
            results.append(_replace_members(session, f))
    return results


def _replace_members(session: Session, listed: ListFile) -> ImportResult:
    group = session.scalars(select(UserGroup).where(UserGroup.name == listed.group)).first()
    created = group is None
    if group is None:
        group = UserGroup(name=listed.group)
        session.add(group)
        session.flush()
    existing = {m.email: m for m in session.scalars(
        select(GroupMember).where(GroupMember.group_id == group.id))}
    added = updated = 0
    for entry in listed.entries:
        member = existing.pop(entry.email, None)
        if member is None:
            session.add(GroupMember(group_id=group.id, email=entry.email, name=entry.name,
                                    language=entry.language, organisation=entry.organisation,
                                    code=entry.code))
            added += 1
            continue
        values = (entry.name, entry.language, entry.organisation, entry.code)
        if (member.name, member.language, member.organisation, member.code) != values:
            member.name, member.language, member.organisation, member.code = values
            updated += 1
    for member in existing.values():
        session.delete(member)
    removed = len(existing)
    if added or updated or removed:
        group.updated_at = utcnow()
    session.flush()
    return ImportResult(group=listed.group, added=added, updated=updated, removed=removed,
                        total=len(listed.entries), created=created)


def _known_groups(session: Session) -> str:
    names = list(session.scalars(select(UserGroup.name).order_by(UserGroup.name)))
    return ", ".join(names) if names else "none; import them with `rnmail lists import`"


def find_group(session: Session, name: str) -> UserGroup:
    group = session.scalars(select(UserGroup).where(UserGroup.name == name)).first()
    if group is None:
        raise NotFound(f"no group {name!r} (known: {_known_groups(session)})")
    return group


def _address(email: str) -> str:
    address, why = check_address(email.strip())
    if address is None:
        raise RnmailError(f"{email!r} is not a valid mail address: {why}")
    return address.lower()


def add_member(session: Session, group_name: str, email: str, name: str, language: str,
               organisation: str | None = None, code: str | None = None,
               create: bool = False) -> GroupMember:
    """Add one address to a group; an unknown group is refused unless ``create``."""
    if language not in LANGUAGES:
        raise RnmailError(f"unknown language {language!r} (fr, nl, de or en)")
    address = _address(email)
    group = session.scalars(select(UserGroup).where(UserGroup.name == group_name)).first()
    if group is None:
        if not create:
            raise NotFound(f"no group {group_name!r} (known: {_known_groups(session)}); "
                           f"--create makes it")
        problem = group_name_problem(group_name)
        if problem:
            raise RnmailError(problem)
        group = UserGroup(name=group_name)
        session.add(group)
        session.flush()
    _check_hand_edit(group)
    already = session.scalars(select(GroupMember).where(
        GroupMember.group_id == group.id, GroupMember.email == address)).first()
    if already is not None:
        raise RnmailError(f"{address} is already in group {group_name!r}")
    for column, value in (("name", name), ("organisation", organisation), ("code", code)):
        if value and len(value) > MAX_LENGTHS[column]:
            raise RnmailError(f"{column} longer than {MAX_LENGTHS[column]} characters")
    member = GroupMember(group_id=group.id, email=address, name=name, language=language,
                         organisation=organisation or None, code=code or None)
    session.add(member)
    group.updated_at = utcnow()
    session.flush()
    return member


def remove_member(session: Session, group_name: str, email: str) -> str:
    """Take an address out of a group; returns the address as stored."""
    group = find_group(session, group_name)
    _check_hand_edit(group)
    address = email.strip().lower()
    member = session.scalars(select(GroupMember).where(
        GroupMember.group_id == group.id, GroupMember.email == address)).first()
    if member is None:
        raise NotFound(f"{address} is not in group {group_name!r}")
    session.delete(member)
    group.updated_at = utcnow()
    session.flush()
    return address


def _check_hand_edit(group: UserGroup) -> None:
    if group.query is not None:
        raise RnmailError(f"group {group.name!r} is defined by a directory query: its "
                          "members come from `lists sync`, not by hand")


def _member_dict(m: GroupMember) -> dict[str, Any]:
    return {"email": m.email, "name": m.name, "language": m.language,
            "organisation": m.organisation, "code": m.code}


def list_members(session: Session, group_name: str) -> list[dict[str, Any]]:
    """The group's members by address: email, name, language, organisation, code."""
    group = find_group(session, group_name)
    rows = session.scalars(select(GroupMember).where(GroupMember.group_id == group.id)
                           .order_by(GroupMember.email))
    return [_member_dict(m) for m in rows]


def export_group(session: Session, group_name: str) -> str:
    """The group as a CSV file ``lists import`` reads back to the same members."""
    return csvfile.to_csv([COLUMNS, *([m[c] or "" for c in COLUMNS]
                                      for m in list_members(session, group_name))])


def list_groups(session: Session) -> list[dict[str, Any]]:
    """Every group by name, with its member count and the count per language."""
    counts: dict[int, Counter[str]] = {}
    for group_id, language, n in session.execute(
        select(GroupMember.group_id, GroupMember.language, func.count())
        .group_by(GroupMember.group_id, GroupMember.language)
    ):
        counts.setdefault(group_id, Counter())[language] = n
    rows = []
    for group in session.scalars(select(UserGroup).order_by(UserGroup.name)):
        languages = counts.get(group.id, Counter())
        rows.append({
            "name": group.name,
            "members": sum(languages.values()),
            "languages": {lang: languages[lang] for lang in LANGUAGES if languages[lang]},
            "updated_at": group.updated_at.isoformat(),
        })
    return rows


def recipients(session: Session, group_names: Sequence[str]) -> list[Recipient]:
    """The members of the groups, each address once: the first group given that holds it
    wins; groups in the order given, addresses by address within a group. Suppressed
    addresses are included (see ``suppressed_addresses``)."""
    groups: list[UserGroup] = []
    unknown: list[str] = []
    for name in dict.fromkeys(group_names):
        group = session.scalars(select(UserGroup).where(UserGroup.name == name)).first()
        if group is None:
            unknown.append(name)
        else:
            groups.append(group)
    if unknown:
        raise NotFound.translatable(N_("no group {names} (known: {known})"),
                                    names=", ".join(repr(n) for n in unknown),
                                    known=_known_groups(session))
    chosen: dict[str, Recipient] = {}
    for group in groups:
        # columns, not GroupMember objects: a mailing to every municipality reads thousands
        for email, name, language, organisation, code in session.execute(
                select(GroupMember.email, GroupMember.name, GroupMember.language,
                       GroupMember.organisation, GroupMember.code)
                .where(GroupMember.group_id == group.id).order_by(GroupMember.email)):
            if email not in chosen:
                chosen[email] = Recipient(email=email, name=name, language=language,
                                          organisation=organisation, code=code,
                                          group=group.name)
    return list(chosen.values())
