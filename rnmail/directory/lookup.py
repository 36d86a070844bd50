"""Who is calling: the caller lookup of the call form (``rnmail directory lookup``).

While the caller is on the line the call taker types what they have — the number the phone
shows, a name, an address, an organisation — and ``lookup_caller`` offers the candidates,
each with what fills the call form (name, organisation, requester type, language, phone,
address), the access status for a directory user, and the caller's open tickets (to add the
call to one of them instead of opening another):

- **directory users**, by phone number in any notation (``+3287591111``, ``087/59.11.11``:
  E.164, ``rnmail.util.phone``), by name (accents and case folded, any part of it), by
  address (whole or part), and the users of the organisations found;
- **organisations**, by name (folded, any part) or code;
- **earlier callers**: requesters of earlier tickets who are not in the directory (a citizen
  who called or wrote before), by the same number, address or name, with the name,
  organisation, type and language of their latest ticket.

Fast on a large installation: a number or an address is looked up by index (the ticket's
``requester``, the user's ``email`` and ``phone``: migration 0013); a name is matched on the
names stored folded (``name_folded``, ``requester_name_folded``: plain SQL, no function per
row) in the directory and, for earlier callers, in the newest ``EARLIER_SCAN`` tickets only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, selectinload

from rnmail.errors import RnmailError
from rnmail.i18n.catalogues import N_
from rnmail.models import DirectoryUser, Organisation, Ticket
from rnmail.shapes import CallerCandidate, OpenTicket
from rnmail.util.folding import fold
from rnmail.util.phone import normalise_number
from rnmail.vocab import RequesterType, TicketStatus

# A query typed as a number: digits and the separators people write numbers with.
_NUMBER = re.compile(r"[+\d\s./()\-]+")
# How many of the newest tickets a name is looked for in (earlier callers): the callers who
# matter called in the last months, and a name must not read 200,000 tickets.
EARLIER_SCAN = 50_000
_OPEN = (TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.DELEGATED)


MAX_QUERY = 200  # longer is no name, number or address (SQLite: "LIKE pattern too complex")


def searched(query: str) -> str:
    """``query`` with its spaces folded, refused when longer than ``MAX_QUERY``."""
    text = " ".join(query.split())
    if len(text) > MAX_QUERY:
        raise RnmailError.translatable(N_("a search is at most {count} characters"),
                                       count=MAX_QUERY)
    return text


def lookup_caller(session: Session, query: str, limit: int = 10) -> list[CallerCandidate]:
    """The candidates for ``query``, at most ``limit``: directory users, organisations, then
    earlier callers, each with their open tickets."""
    text = searched(query)
    if not text:
        raise RnmailError.translatable(
            N_("give a phone number, a name, a mail address or an organisation"))
    number = normalise_number(text) if _NUMBER.fullmatch(text) else None
    by_phone = phone_condition(text)
    needle = fold(text)
    users: list[DirectoryUser] = []
    orgs: list[Organisation] = []
    if by_phone is not None:  # a number, or the end of one ("@" is never in a number)
        users = _users(session, by_phone, limit)
    elif "@" in text:
        users = _users(session, DirectoryUser.email.contains(needle, autoescape=True), limit)
    else:
        users = _users(session, or_(
            DirectoryUser.name_folded.contains(needle, autoescape=True),
            DirectoryUser.email.contains(needle, autoescape=True)), limit)
        orgs = list(session.scalars(
            select(Organisation)
            .where(or_(func.rn_fold(Organisation.name).contains(needle, autoescape=True),
                       Organisation.code == text))
            .order_by(Organisation.name, Organisation.id).limit(limit)))
        if orgs and len(users) < limit:  # the people of the organisations named
            seen = {u.id for u in users}
            users += [u for u in _users(session, DirectoryUser.organisation_id.in_(
                [o.id for o in orgs]), limit) if u.id not in seen][:limit - len(users)]
    found: list[CallerCandidate] = [_user(u) for u in users]
    found += [_organisation(o) for o in orgs]
    known = {i for u in users for i in (u.email, u.phone) if i}
    if len(found) < limit:
        found += _earlier(session, text, number, needle, known, limit - len(found))
    _add_open_tickets(session, found[:limit])
    return found[:limit]


def phone_condition(text: str) -> ColumnElement[bool] | None:
    """The directory users whose phone ``text`` names: the whole number in any notation, or
    at least four digits of its end; None when ``text`` is not written as a number."""
    if not _NUMBER.fullmatch(text):
        return None
    number = normalise_number(text)
    if number is not None:
        return DirectoryUser.phone == number
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 4:  # part of a number: the end of a directory user's
        return DirectoryUser.phone.endswith(digits, autoescape=True)
    return None


def _users(session: Session, where: ColumnElement[bool], limit: int) -> list[DirectoryUser]:
    return list(session.scalars(
        select(DirectoryUser).where(where).options(selectinload(DirectoryUser.organisation))
        .order_by(DirectoryUser.name, DirectoryUser.email).limit(limit)))


def _user(user: DirectoryUser) -> CallerCandidate:
    org = user.organisation
    return {"entry": "user", "name": user.name, "organisation": org.name,
            "organisation_code": org.code, "requester_type": org.kind,
            "language": user.language, "phone": user.phone, "email": user.email,
            "access_status": user.access_status,
            "status_since": user.status_since.isoformat(), "last_ticket_id": None,
            "open_tickets": []}


def _organisation(org: Organisation) -> CallerCandidate:
    return {"entry": "organisation", "name": None, "organisation": org.name,
            "organisation_code": org.code, "requester_type": org.kind,
            "language": org.language, "phone": None,
            "email": next(iter(org.contact_emails or []), None), "access_status": None,
            "status_since": None, "last_ticket_id": None, "open_tickets": []}


def _earlier(session: Session, text: str, number: str | None, needle: str, known: set[str],
             limit: int) -> list[CallerCandidate]:
    """Requesters of earlier tickets, not in the directory, from their latest ticket."""
    columns = select(Ticket.id, Ticket.requester, Ticket.requester_name, Ticket.requester_org,
                     Ticket.requester_type, Ticket.language)
    if number is not None:
        query = columns.where(Ticket.requester == number)
    elif "@" in text:
        address = text.lower()  # the whole address, or its start: both by index
        query = columns.where(Ticket.requester >= address, Ticket.requester < address + "\uffff")
    elif len(needle) >= 2:
        newest = select(Ticket.id).order_by(Ticket.id.desc()).offset(EARLIER_SCAN).limit(1)
        floor = session.scalar(newest) or 0
        query = columns.where(Ticket.id > floor,
                              Ticket.requester_name_folded.contains(needle, autoescape=True))
    else:
        return []
    latest: dict[str, CallerCandidate] = {}
    for tid, requester, name, org, kind, language in session.execute(
            query.order_by(Ticket.id.desc()).limit(20 * limit)):
        if requester in known or requester in latest:
            continue
        latest[requester] = {
            "entry": "caller", "name": name, "organisation": org,
            "organisation_code": None, "requester_type": kind or RequesterType.OTHER,
            "language": language,
            "phone": requester if requester.startswith("+") else None,
            "email": requester if "@" in requester else None, "access_status": None,
            "status_since": None, "last_ticket_id": tid, "open_tickets": []}
        if len(latest) == limit:
            break
    # A requester who is in the directory after all (a name on the ticket other than the
    # directory's): offered as the directory user.
    users = {} if not latest else {i: u for u in session.scalars(
        select(DirectoryUser).where(or_(DirectoryUser.email.in_(list(latest)),
                                        DirectoryUser.phone.in_(list(latest))))
        .options(selectinload(DirectoryUser.organisation))) for i in (u.email, u.phone) if i}
    found, seen = [], set()
    for requester, candidate in latest.items():
        user = users.get(requester)
        if user is None:
            found.append(candidate)
        elif user.id not in seen:
            seen.add(user.id)
            found.append(_user(user))
    return found


def _identities(candidate: CallerCandidate) -> Iterable[str]:
    if candidate["entry"] == "caller" and not (candidate["email"] or candidate["phone"]):
        return [candidate["name"] or ""]  # a requester known by name only
    return [i for i in (candidate["email"], candidate["phone"]) if i]


def _add_open_tickets(session: Session, found: list[CallerCandidate]) -> None:
    """Each candidate's tickets not closed (their own; an organisation's: its people's)."""
    people = {i for c in found if c["entry"] != "organisation" for i in _identities(c)}
    names = {c["organisation"] for c in found if c["entry"] == "organisation"}
    if not people and not names:
        return
    columns = select(Ticket.id, Ticket.subject, Ticket.status, Ticket.created_at,
                     Ticket.requester, Ticket.requester_org)
    tickets = []
    if people:  # by the requester's index
        tickets += list(session.execute(columns.where(
            Ticket.requester.in_(people), Ticket.status.in_(_OPEN)).limit(500)))
    if names:  # among the tickets not closed (the status index)
        tickets += list(session.execute(columns.where(
            Ticket.requester_org.in_(names), Ticket.status.in_(_OPEN)).limit(500)))
    tickets = sorted({row[0]: row for row in tickets}.values(), key=lambda row: -row[0])
    for candidate in found:
        mine = set(_identities(candidate))
        for tid, subject, status, created, requester, org in tickets:
            if (requester in mine if candidate["entry"] != "organisation"
                    else org == candidate["organisation"]):
                line: OpenTicket = {"id": tid, "subject": subject, "status": status,
                                    "created_at": created.isoformat()}
                candidate["open_tickets"].append(line)
