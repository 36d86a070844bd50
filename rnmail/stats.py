"""The help desk's figures: contacts by period and by who, what and how, and times in
business hours.

Every figure is an aggregate computed by the database (GROUP BY, window functions), never by
loading tickets into Python, and the same SQL runs on SQLite and PostgreSQL:

- Local time: tickets are stored in UTC; periods, weekdays and hours are those of Brussels.
  A ticket's instant becomes a *local epoch* (seconds since 1970 on the Brussels wall
  clock) by adding the UTC offset in force, chosen by a ``CASE`` over the zone's transitions
  in the years concerned (from ``zoneinfo``). Days, weekdays, hours and ISO weeks are then
  integer arithmetic; months are formatted by the database.
- Business time: ``B(t)``, the opening seconds from a reference Monday up to local instant
  ``t``, is a closed formula: working days before ``t``'s day (weekdays minus the public
  holidays and closing days falling on weekdays, a ``CASE`` over their sorted list) times the
  opening length, plus the part of ``t``'s own day inside opening hours when it is a working
  day. A duration in business hours is ``B(end) - B(start)``; median and 90th percentile
  are nearest-rank, from ``ROW_NUMBER()`` over each group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from rnmail.config import Config, StatsConfig
from rnmail.errors import RnmailError
from rnmail.models import Message, Service, Staff, Ticket

BRUSSELS = ZoneInfo("Europe/Brussels")
DAY = 86400
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Day 4 of the Unix epoch (1970-01-05) is a Monday: weekday = (day + 3) % 7, Monday = 0.
MONDAY = 4

TIME_DIMENSIONS = ("month", "week", "day", "weekday", "hour")
DIMENSIONS = (*TIME_DIMENSIONS, "weekday-hour", "channel", "requester-type", "organisation",
              "category", "resolution", "service", "staff")
NONE = "(none)"


@dataclass(frozen=True)
class Period:
    """Local (Brussels) dates, both included; None: from the first / up to the last ticket."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise RnmailError(f"--from {self.start} is after --to {self.end}")

    def utc_bounds(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) in UTC: local midnight of the first day, of the day after the last."""
        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(), BRUSSELS).astimezone(UTC)
        return (midnight(self.start) if self.start else None,
                midnight(self.end + timedelta(days=1)) if self.end else None)

    def describe(self) -> str:
        return f"{self.start or 'the first ticket'} to {self.end or 'the last ticket'}"


@dataclass
class Table:
    """A result: one row per combination of ``dimensions``, with the ``measures``."""

    dimensions: list[str]
    measures: list[str]
    rows: list[tuple[tuple[str, ...], tuple[float | int | None, ...]]]
    period: Period
    excluded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "period": {"from": _iso(self.period.start), "to": _iso(self.period.end)},
            "dimensions": self.dimensions,
            "measures": self.measures,
            "excluded_categories": self.excluded,
            "rows": [dict(zip(self.dimensions, keys, strict=True))
                     | dict(zip(self.measures, values, strict=True))
                     for keys, values in self.rows],
            "notes": self.notes,
        }

    def total(self, measure: str = "tickets") -> int:
        index = self.measures.index(measure)
        return int(sum(v[index] or 0 for _k, v in self.rows))


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# --- local time and business time as SQL -------------------------------------------------

def utc_offsets(first: datetime, last: datetime) -> list[tuple[int, int]]:
    """The Brussels UTC offsets in force from a year before ``first`` to a year after
    ``last``: [(from Unix time, offset in seconds)], the first entry from the beginning."""
    day = date(first.year - 1, 1, 1)
    end = date(last.year + 2, 1, 1)

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(BRUSSELS).utcoffset()
        assert delta is not None
        return int(delta.total_seconds())

    noon = datetime.combine(day, time(12), UTC)
    changes = [(0, offset(noon))]
    while noon.date() < end:
        following = noon + timedelta(days=1)
        if offset(following) != changes[-1][1]:
            moment = noon
            while offset(moment) == changes[-1][1]:  # the hour it changed (zones move on hours)
                moment += timedelta(hours=1)
            changes.append((int(moment.timestamp()), offset(moment)))
        noon = following
    return changes


class Clock:
    """SQL expressions for local time and business time, for one dialect and date range."""

    def __init__(self, dialect: str, first: datetime, last: datetime, cfg: StatsConfig) -> None:
        self.dialect = dialect
        self.offsets = utc_offsets(first, last)
        self.opens = cfg.opens.hour * 3600 + cfg.opens.minute * 60
        self.closes = cfg.closes.hour * 3600 + cfg.closes.minute * 60
        self.closed = sorted(_day_number(d) for d in closed_days(cfg, first.year - 1,
                                                                   last.year + 2)
                             if d.weekday() < 5)

    def utc_epoch(self, column: Any) -> ColumnElement[int]:
        if self.dialect == "sqlite":
            return cast(func.strftime("%s", column), BigInteger)
        return cast(func.floor(extract("epoch", column)), BigInteger)

    def local_epoch(self, column: Any) -> ColumnElement[int]:
        """Seconds since 1970-01-01 00:00 on the Brussels wall clock; NULL stays NULL."""
        epoch = self.utc_epoch(column)
        if len(self.offsets) == 1:
            return epoch + self.offsets[0][1]
        whens = [(epoch < start, literal(previous, Integer))
                 for (start, _o), (_s, previous) in zip(self.offsets[1:], self.offsets,
                                                        strict=False)]
        return epoch + case(*whens, else_=literal(self.offsets[-1][1], Integer))

    def month(self, local: Any) -> ColumnElement[str]:
        if self.dialect == "sqlite":
            return func.strftime("%Y-%m", local, "unixepoch")
        return func.to_char(func.timezone("UTC", func.to_timestamp(local)), "YYYY-MM")

    @staticmethod
    def day(local: ColumnElement[int]) -> ColumnElement[int]:
        return local // DAY

    @staticmethod
    def weekday(local: ColumnElement[int]) -> ColumnElement[int]:
        return (local // DAY + 3) % 7

    @staticmethod
    def hour(local: ColumnElement[int]) -> ColumnElement[int]:
        return local % DAY // 3600

    def business(self, local: ColumnElement[int]) -> ColumnElement[int]:
        """B(local): opening seconds from the reference Monday up to this local instant."""
        day = local // DAY
        second = local % DAY
        since = day - MONDAY
        weekdays_before = since // 7 * 5 + case((since % 7 > 5, 5), else_=since % 7)
        if self.closed:
            closed_before: Any = case(
                *[(day <= closed, index) for index, closed in enumerate(self.closed)],
                else_=len(self.closed))
            working = and_(self.weekday(local) < 5, day.not_in(self.closed))
        else:
            closed_before, working = 0, self.weekday(local) < 5
        length = self.closes - self.opens
        today = case((second <= self.opens, 0), (second >= self.closes, length),
                     else_=second - self.opens)
        business: ColumnElement[int] = ((weekdays_before - closed_before) * length
                                        + case((working, today), else_=0))
        return business


def closed_days(cfg: StatsConfig, first_year: int, last_year: int) -> set[date]:
    """Public holidays of ``cfg.holidays`` and the extra closing days, in those years."""
    days = set(cfg.closed_days)
    if cfg.holidays:
        import holidays

        days |= set(holidays.country_holidays(cfg.holidays,
                                              years=range(first_year, last_year + 1)))
    return days


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def business_seconds(start: datetime, end: datetime, cfg: StatsConfig) -> int:
    """The same measure in Python, one interval at a time: for tests and single tickets."""
    closed = closed_days(cfg, start.year - 1, end.year + 1)
    a, b = start.astimezone(BRUSSELS), end.astimezone(BRUSSELS)
    total = 0
    day = a.date()
    while day <= b.date():
        if day.weekday() < 5 and day not in closed:
            opens = datetime.combine(day, cfg.opens, BRUSSELS)
            closes = datetime.combine(day, cfg.closes, BRUSSELS)
            lo, hi = max(a, opens), min(b, closes)
            if hi > lo:
                total += int((hi - lo).total_seconds())
        day += timedelta(days=1)
    return total


# --- the figures ------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    by: tuple[str, ...]
    period: Period = Period()
    exclude_categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.by:
            raise RnmailError("give at least one --by: " + ", ".join(DIMENSIONS))
        for name in self.by:
            if name not in DIMENSIONS:
                raise RnmailError(f"unknown --by {name!r}: use one of {', '.join(DIMENSIONS)}")
        if len(set(self.by)) != len(self.by):
            raise RnmailError("each --by may be given once")


def check_categories(config: Config, categories: Iterable[str]) -> None:
    known = config.workflow.categories
    for category in categories:
        if category not in known:
            raise RnmailError(f"unknown category {category!r}: the categories are "
                              f"{', '.join(known)} ([workflow].categories)")


def contacts(session: Session, config: Config, query: Query) -> Table:
    """Tickets (contacts) created in the period, counted by ``query.by``; with ``staff``,
    the replies each staff member sent in the period as well."""
    check_categories(config, query.exclude_categories)
    clock = _clock(session, config, query.period)
    base = _tickets(session, clock, query)
    inner = base.add_columns(clock.local_epoch(Ticket.created_at).label("local")).subquery()
    keys = _keys(clock, inner, query.by)
    statement = select(*keys, func.count().label("n")).group_by(*keys)
    counted = {tuple(row[:-1]): row[-1] for row in session.execute(statement)}
    if not counted:
        raise RnmailError(f"no tickets from {query.period.describe()}")
    measures = ["tickets"]
    replies: dict[tuple[Any, ...], int] = {}
    if "staff" in query.by:
        measures.append("replies")
        replies = _replies(session, clock, query)
    rows: list[tuple[tuple[str, ...], tuple[float | int | None, ...]]] = []
    for raw_keys in _ordered(counted, query.by):
        values: tuple[int, ...] = (counted[raw_keys],)
        if replies:
            values += (replies.get(raw_keys, 0),)
        rows.append((_labels(query.by, raw_keys), values))
    notes = []
    if {"weekday", "hour", "weekday-hour"} & set(query.by):
        inside = _inside_hours(session, clock, query)
        notes.append(f"{inside} of {sum(counted.values())} contacts inside opening hours "
                     f"({config.stats.opens:%H:%M}-{config.stats.closes:%H:%M}, working days)")
    return Table(list(query.by), measures, rows, query.period,
                 list(query.exclude_categories), notes)


def times(session: Session, config: Config, query: Query) -> Table:
    """First response and resolution times in business hours: count, median and 90th
    percentile per group, for tickets created in the period."""
    check_categories(config, query.exclude_categories)
    clock = _clock(session, config, query.period)
    base = _tickets(session, clock, query).add_columns(
        clock.local_epoch(Ticket.created_at).label("local"),
        clock.local_epoch(Ticket.first_response_at).label("local_first"),
        clock.local_epoch(Ticket.closed_at).label("local_closed"))
    inner = base.subquery()
    keys = _keys(clock, inner, query.by)
    figures: dict[tuple[Any, ...], list[Any]] = {}
    for index, end in enumerate((inner.c.local_first, inner.c.local_closed)):
        duration = (clock.business(end) - clock.business(inner.c.local)).label("d")
        ranked = select(*[k.label(f"k{i}") for i, k in enumerate(keys)], duration).where(
            end.is_not(None)).subquery()
        group = [ranked.c[f"k{i}"] for i in range(len(keys))]
        numbered = select(*group, ranked.c.d,
                          func.row_number().over(partition_by=group, order_by=ranked.c.d)
                          .label("rn"),
                          func.count().over(partition_by=group).label("n")).subquery()
        group = [numbered.c[f"k{i}"] for i in range(len(keys))]
        n, rn, d = numbered.c.n, numbered.c.rn, numbered.c.d
        statement = select(
            *group, func.count(),
            func.max(case((rn == (n + 1) // 2, d))),
            func.max(case((rn == (9 * n + 9) // 10, d))),
        ).group_by(*group)
        for row in session.execute(statement):
            entry = figures.setdefault(tuple(row[:len(keys)]), [0, None, None] * 2)
            entry[index * 3:index * 3 + 3] = [row[-3], _hours(row[-2]), _hours(row[-1])]
    if not figures:
        raise RnmailError(f"no answered or closed tickets from {query.period.describe()}")
    rows = [(_labels(query.by, k), tuple(figures[k])) for k in _ordered(figures, query.by)]
    return Table(list(query.by), ["answered", "first_response_median_h",
                                  "first_response_p90_h", "closed", "resolution_median_h",
                                  "resolution_p90_h"],
                 rows, query.period, list(query.exclude_categories),
                 [f"business hours: {config.stats.opens:%H:%M}-{config.stats.closes:%H:%M} "
                  "on working days"
                  + (f", {config.stats.holidays} public holidays excluded"
                     if config.stats.holidays else "")])


def _hours(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _clock(session: Session, config: Config, period: Period) -> Clock:
    """A clock for the dates concerned: the period, or the tickets' own range."""
    low, high = period.utc_bounds()
    if low is None or high is None:
        first, last = session.execute(select(func.min(Ticket.created_at),
                                             func.max(Ticket.created_at))).one()
        low = low or first or datetime.now(UTC)
        high = high or last or datetime.now(UTC)
    dialect = session.get_bind().dialect.name
    # Answers and closings come after creation: a year more covers them.
    return Clock(dialect, low, max(high, datetime.now(UTC)), config.stats)


def _tickets(session: Session, clock: Clock, query: Query) -> Select[Any]:
    """The tickets of the period and their categorical dimensions, as columns."""
    assignee = aliased(Staff)
    domain = (func.substr(Ticket.requester, func.instr(Ticket.requester, "@") + 1)
              if clock.dialect == "sqlite" else func.split_part(Ticket.requester, "@", 2))
    organisation = func.coalesce(
        Ticket.requester_org,
        case((Ticket.requester_type == "citizen", "(citizens)"),
             (Ticket.requester.contains("@"), func.lower(domain)),
             else_=NONE))
    statement = (
        select(Ticket.channel.label("channel"),
               Ticket.requester_type.label("requester_type"),
               organisation.label("organisation"),
               func.coalesce(Ticket.category, NONE).label("category"),
               func.coalesce(Ticket.resolution,
                             case((Ticket.status == "closed", NONE), else_="(not closed)"))
               .label("resolution"),
               func.coalesce(Service.name, NONE).label("service"),
               func.coalesce(assignee.name, "(unassigned)").label("staff"))
        .select_from(Ticket)
        .outerjoin(Service, Service.id == Ticket.service_id)
        .outerjoin(assignee, assignee.id == Ticket.assignee_id)
    )
    return statement.where(*_filters(query))  # type: ignore[return-value]


def _filters(query: Query) -> list[ColumnElement[bool]]:
    low, high = query.period.utc_bounds()
    conditions: list[ColumnElement[bool]] = [true()]
    if low is not None:
        conditions.append(Ticket.created_at >= low)
    if high is not None:
        conditions.append(Ticket.created_at < high)
    if query.exclude_categories:
        conditions.append(or_(Ticket.category.is_(None),
                              Ticket.category.not_in(query.exclude_categories)))
    return conditions


def _keys(clock: Clock, inner: Any, by: Sequence[str]) -> list[ColumnElement[Any]]:
    local = inner.c.local
    columns: dict[str, list[ColumnElement[Any]]] = {
        "month": [clock.month(local)],
        "week": [clock.day(local) - clock.weekday(local)],  # the Monday of the week
        "day": [clock.day(local)],
        "weekday": [clock.weekday(local)],
        "hour": [clock.hour(local)],
        "weekday-hour": [clock.weekday(local), clock.hour(local)],
    }
    keys: list[ColumnElement[Any]] = []
    for name in by:
        keys.extend(columns.get(name) or [inner.c[name.replace("-", "_")]])
    return keys


def _labels(by: Sequence[str], raw: tuple[Any, ...]) -> tuple[str, ...]:
    """Raw group keys (day numbers, weekday indexes...) as the labels people read."""
    labels: list[str] = []
    values = iter(raw)
    for name in by:
        value = next(values)
        if name == "week":
            year, week, _ = (date(1970, 1, 1) + timedelta(days=int(value))).isocalendar()
            labels.append(f"{year}-W{week:02d}")
        elif name == "day":
            labels.append((date(1970, 1, 1) + timedelta(days=int(value))).isoformat())
        elif name == "weekday":
            labels.append(WEEKDAYS[int(value)])
        elif name == "hour":
            labels.append(f"{int(value):02d}")
        elif name == "weekday-hour":
            labels.append(f"{WEEKDAYS[int(value)]} {int(next(values)):02d}")
        else:
            labels.append(str(value))
    return tuple(labels)


def _ordered(groups: dict[tuple[Any, ...], Any], by: Sequence[str]) -> list[tuple[Any, ...]]:
    """Time dimensions in time order; the others by their total, largest first."""
    totals: list[dict[Any, int]] = []
    position = 0
    widths = [2 if name == "weekday-hour" else 1 for name in by]
    for width in widths:
        per: dict[Any, int] = {}
        for key, value in groups.items():
            part = key[position:position + width]
            per[part] = per.get(part, 0) + (value if isinstance(value, int) else value[0])
        totals.append(per)
        position += width

    def sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
        parts: list[Any] = []
        position = 0
        for name, width, per in zip(by, widths, totals, strict=True):
            part = key[position:position + width]
            timed = name in TIME_DIMENSIONS or name == "weekday-hour"
            parts.append(part if timed else (-per[part], str(part)))
            position += width
        return tuple(parts)

    return sorted(groups, key=sort_key)


def _replies(session: Session, clock: Clock, query: Query) -> dict[tuple[Any, ...], int]:
    """Replies sent by each staff member (their name on the outgoing message), keyed like
    the ticket groups when ``staff`` is the only dimension besides time ones."""
    if any(name not in (*TIME_DIMENSIONS, "weekday-hour", "staff") for name in query.by):
        return {}  # replies are not split by ticket attributes other than time
    low, high = query.period.utc_bounds()
    sent = (select(Message.from_name.label("staff"),
                   clock.local_epoch(Message.created_at).label("local"))
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(Message.direction == "out", Message.kind == "correspondence",
                   Message.from_name.is_not(None)))
    if low is not None:
        sent = sent.where(Message.created_at >= low)
    if high is not None:
        sent = sent.where(Message.created_at < high)
    if query.exclude_categories:
        sent = sent.where(or_(Ticket.category.is_(None),
                              Ticket.category.not_in(query.exclude_categories)))
    inner = sent.subquery()
    keys = _keys(clock, inner, query.by)
    return {tuple(row[:-1]): row[-1]
            for row in session.execute(select(*keys, func.count()).group_by(*keys))}


def _inside_hours(session: Session, clock: Clock, query: Query) -> int:
    inner = _tickets(session, clock, query).add_columns(
        clock.local_epoch(Ticket.created_at).label("local")).subquery()
    second = inner.c.local % DAY
    inside = and_(clock.weekday(inner.c.local) < 5, second >= clock.opens,
                  second < clock.closes, clock.day(inner.c.local).not_in(clock.closed or [-1]))
    return int(session.scalar(select(func.count()).where(inside).select_from(inner)) or 0)

