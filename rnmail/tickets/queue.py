"""The agents' queue: the tickets of one tab, a page at a time, and how many each tab holds.

The tabs are *new* (open, nobody's), *mine* (not closed, assigned to the staff member who
looks), *open*, *pending* (waiting for the requester), *delegated* (at the second line) and
*closed* (in the last ``[workflow].recently_closed_days``). The filters are those of
``ticket list`` (``rnmail.tickets.views.TicketFilter``); they narrow the counts too, so a tab
says how many tickets clicking it shows.

Two statements, whatever the page: one counts every tab (and gives the page's total), one
reads the page. The page statement picks the page's ticket ids first (a materialized CTE,
sorted and cut by the indexes of migration 0013), then looks up for those rows only the
requester in the directory and whether the requester wrote last. The age in business hours
is worked out for the page's rows in Python (``rnmail.stats.hours.Calendar``: the figures'
Belgian calendar, opening hours and public holidays).
``rnmail ticket queue`` prints it; the desk's queue page renders it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Executable, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from rnmail.config import Config, StatsConfig
from rnmail.errors import RnmailError
from rnmail.models import DirectoryUser, Organisation, Service, Staff, Ticket
from rnmail.stats.hours import Calendar
from rnmail.tickets.due import SOON
from rnmail.tickets.tabs import QueueSort, QueueTab
from rnmail.tickets.views import TicketFilter, ticket_filters, waits_on_answer
from rnmail.vocab import TicketStatus


@dataclass(frozen=True)
class QueueRow:
    """One ticket as the queue shows it."""

    id: int
    subject: str
    status: str
    requester: str
    """The address or E.164 number."""
    requester_name: str | None
    """From the directory when the requester is known there, else as the ticket has it."""
    organisation: str | None
    """Idem."""
    requester_type: str
    channel: str
    language: str
    category: str | None
    assignee: str | None
    """The assignee's address."""
    assignee_name: str | None
    service: str | None
    created_at: datetime
    last_activity: datetime
    age_business_seconds: int
    """Opening seconds of the help desk from its creation to now (to its closing when
    closed): weekends, public holidays and closing days do not count."""
    unanswered: bool
    """The requester wrote last and nobody has answered yet."""
    due_at: datetime | None = None
    """Its next due time (None while pending or closed)."""
    late: bool = False
    """``due_at`` has passed."""
    due_soon: bool = False
    """``due_at`` is within the hour."""
    sender_unverified: bool = False
    """The trusted gateway did not verify the sender of the mail that opened it."""

    @property
    def age_business_hours(self) -> float:
        return self.age_business_seconds / 3600

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["last_activity"] = self.last_activity.isoformat()
        data["due_at"] = self.due_at.isoformat() if self.due_at else None
        data["age_business_hours"] = round(self.age_business_hours, 2)
        return data


@dataclass(frozen=True)
class QueuePage:
    tab: QueueTab
    counts: dict[QueueTab, int | None]
    """Tickets per tab under the filters; ``mine`` is None when nobody is looking."""
    rows: list[QueueRow]
    page: int
    per_page: int
    total: int
    """Tickets in the tab under the filters: ``counts[tab]``."""
    sort: QueueSort
    descending: bool

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def as_json(self) -> dict[str, Any]:
        return {"tab": self.tab.value, "counts": {t.value: n for t, n in self.counts.items()},
                "page": self.page, "per_page": self.per_page, "pages": self.pages,
                "total": self.total, "sort": self.sort.value,
                "order": "desc" if self.descending else "asc",
                "rows": [row.as_json() for row in self.rows]}


def tab_clause(tab: QueueTab, staff_id: int | None, since: Any) -> ColumnElement[bool]:
    """Which tickets a tab holds; each condition leads with an indexed column."""
    if tab == QueueTab.NEW:
        return and_(Ticket.status == TicketStatus.OPEN, Ticket.assignee_id.is_(None))
    if tab == QueueTab.MINE:
        return and_(Ticket.assignee_id == staff_id,
                    Ticket.status.in_([TicketStatus.OPEN, TicketStatus.PENDING,
                                       TicketStatus.DELEGATED]))
    if tab == QueueTab.CLOSED:
        return and_(Ticket.status == TicketStatus.CLOSED, Ticket.closed_at >= since)
    return Ticket.status == {QueueTab.OPEN: TicketStatus.OPEN,
                             QueueTab.PENDING: TicketStatus.PENDING,
                             QueueTab.DELEGATED: TicketStatus.DELEGATED}[tab]


@lru_cache(maxsize=8)
def _calendar(cfg: StatsConfig, first_year: int, last_year: int) -> Calendar:
    """The figures' calendar for those years: the public holidays are worked out once per
    process, not per page."""
    return Calendar(cfg, first_year, last_year)


def _order(sort: QueueSort, descending: bool, columns: Any, fenced: bool = False) -> list[Any]:
    key = {QueueSort.AGE: columns.created_at, QueueSort.ACTIVITY: columns.updated_at,
           QueueSort.NUMBER: columns.id, QueueSort.DUE: columns.due_at}[sort]
    # an older ticket is a greater age: "age descending" is the earliest creation first;
    # likewise "due descending" is the most urgent (earliest due time) first
    later_first = descending != (sort in (QueueSort.AGE, QueueSort.DUE))
    if sort == QueueSort.DUE and fenced:
        # One agent's tickets mix those without a due time (pending): last, the same on
        # both databases. The other tabs are read in the index's order (status, due_at):
        # every ticket of a tab has a due time there, or none (pending, closed).
        return ([key.is_(None), key.desc(), columns.id.desc()] if later_first
                else [key.is_(None), key.asc(), columns.id.asc()])
    return [key.desc(), columns.id.desc()] if later_first else [key.asc(), columns.id.asc()]


def _directory(what: Any) -> ColumnElement[Any]:
    """``what`` of the directory user a ticket's requester is (correlated to ``Ticket``):
    by address, or by E.164 number when exactly one user has it (as ``ticket show``); none
    when the trusted gateway found the sender unverified (``rnmail.ingest.authres``)."""
    who = Ticket.requester
    return (select(func.max(what)).select_from(DirectoryUser)
            .join(Organisation, Organisation.id == DirectoryUser.organisation_id)
            .where(or_(DirectoryUser.email == who,
                       and_(who.startswith("+"), DirectoryUser.phone == who)),
                   Ticket.sender_unverified.is_(False))
            .having(func.count() == 1).correlate(Ticket).scalar_subquery())


def queue(session: Session, config: Config, *, tab: QueueTab | str = QueueTab.NEW,
          staff_id: int | None = None, filters: TicketFilter | None = None,
          sort: QueueSort | str = QueueSort.AGE, descending: bool = True, page: int = 1,
          per_page: int = 25, now: datetime | None = None) -> QueuePage:
    """A page of ``tab`` with every tab's count, in two statements."""
    tab, sort = QueueTab(tab), QueueSort(sort)
    if tab == QueueTab.MINE and staff_id is None:
        raise RnmailError("the tab mine needs a staff member (--staff)")
    if page < 1 or per_page < 1:
        raise RnmailError("pages are numbered from 1 and hold at least one ticket")
    now = now or datetime.now(UTC)
    since = now - timedelta(days=config.workflow.recently_closed_days)
    where = tuple(ticket_filters(session, filters or TicketFilter()))
    tabs = tuple(t for t in QueueTab if t != QueueTab.MINE or staff_id is not None)
    counting = _counts(tabs, staff_id) if not where else _counts.__wrapped__(
        tabs, staff_id, where)
    counted = session.execute(counting, {"since": since}).one()
    counts: dict[QueueTab, int | None] = {t: None for t in QueueTab}
    counts.update({t: int(counted[i]) for i, t in enumerate(tabs)})
    total = counts[tab] or 0
    rows: list[QueueRow] = []
    if total > (page - 1) * per_page:
        materialized = (session.get_bind().dialect.name != "sqlite"
                        or sqlite3.sqlite_version_info >= (3, 35))
        shape = (tab, staff_id, sort, descending, page, per_page, materialized)
        reading = _page(*shape) if not where else _page.__wrapped__(*shape, where)
        read = list(session.execute(reading, {"since": since}))
        first = min(r.created_at for r in read)
        calendar = _calendar(config.stats, first.year, now.year)
        rows = [_row(r, calendar.seconds(r.created_at, r.closed_at or now), now)
                for r in read]
    return QueuePage(tab=tab, counts=counts, rows=rows, page=page, per_page=per_page,
                     total=total, sort=sort, descending=descending)


# The statements are built once per shape, the time a parameter (``since``): building and
# keying a statement costs SQLAlchemy more than SQLite takes to run it. Filtered ones
# (``where``: clauses, not hashable) are built at each call.

@lru_cache(maxsize=16)
def _counts(tabs: tuple[QueueTab, ...], staff_id: int | None,
            where: tuple[ColumnElement[bool], ...] = ()) -> Executable:
    """Every tab's count, one scalar subquery each (each found by its own index)."""
    since: Any = bindparam("since")
    return select(*(select(func.count()).select_from(Ticket)
                    .where(tab_clause(t, staff_id, since), *where)
                    .scalar_subquery().label(t) for t in tabs))


@lru_cache(maxsize=256)
def _page(tab: QueueTab, staff_id: int | None, sort: QueueSort, descending: bool, page: int,
          per_page: int, materialized: bool,
          where: tuple[ColumnElement[bool], ...] = ()) -> Executable:
    return _page_statement(tab_clause(tab, staff_id, bindparam("since")), list(where), sort,
                           descending, page, per_page, materialized,
                           tab in (QueueTab.MINE, QueueTab.CLOSED))


def _page_statement(in_tab: ColumnElement[bool], where: list[ColumnElement[bool]],
                    sort: QueueSort, descending: bool, page: int, per_page: int,
                    materialized: bool, fenced: bool) -> Executable:
    cols: Any = Ticket
    conditions = [in_tab, *where]
    if fenced:
        # One agent's tickets and the recently closed are few, at the end of a long
        # history: found first by their index (a fence), then sorted. Left to itself, a
        # planner that takes them for many walks every ticket in creation order.
        fence = (select(Ticket.id, Ticket.created_at, Ticket.updated_at, Ticket.due_at)
                 .where(*conditions).cte("fenced"))
        cols = (fence.prefix_with("MATERIALIZED") if materialized else fence).c
        conditions = []
    picked = (select(cols.id, cols.created_at, cols.updated_at, cols.due_at)
              .where(*conditions).order_by(*_order(sort, descending, cols, fenced))
              .limit(per_page).offset((page - 1) * per_page)
              .cte("page"))
    if materialized:  # computed apart, so the subqueries below run for these rows only
        picked = picked.prefix_with("MATERIALIZED")  # (SQLite 3.35 and later)
    return (select(
        Ticket.id, Ticket.subject, Ticket.status, Ticket.requester,
        func.coalesce(_directory(DirectoryUser.name), Ticket.requester_name).label("name"),
        func.coalesce(_directory(Organisation.name), Ticket.requester_org).label("org"),
        Ticket.requester_type, Ticket.channel, Ticket.language, Ticket.category,
        Staff.email.label("assignee"), Staff.name.label("assignee_name"),
        Service.name.label("service"), Ticket.created_at, Ticket.updated_at,
        Ticket.closed_at, Ticket.due_at, waits_on_answer().label("unanswered"),
        Ticket.sender_unverified)
        .select_from(picked).join(Ticket, Ticket.id == picked.c.id)
        .outerjoin(Staff, Staff.id == Ticket.assignee_id)
        .outerjoin(Service, Service.id == Ticket.service_id)
        .order_by(*_order(sort, descending, picked.c, fenced)))


def _row(r: Any, age: int, now: datetime) -> QueueRow:
    return QueueRow(
        id=r.id, subject=r.subject, status=r.status, requester=r.requester,
        requester_name=r.name, organisation=r.org, requester_type=r.requester_type,
        channel=r.channel, language=r.language, category=r.category, assignee=r.assignee,
        assignee_name=r.assignee_name, service=r.service, created_at=r.created_at,
        last_activity=r.updated_at or r.created_at, age_business_seconds=max(0, age),
        unanswered=bool(r.unanswered), due_at=r.due_at,
        sender_unverified=bool(r.sender_unverified),
        late=r.due_at is not None and r.due_at < now,
        due_soon=r.due_at is not None and now <= r.due_at < now + SOON)
