"""The help desk's figures: contacts by period and by who, what and how, and times in
business hours.

Every figure is an aggregate computed by the database (GROUP BY, window functions), never by
loading tickets into Python, and the same SQL runs on SQLite and PostgreSQL, on the clock of
``rnmail.stats.hours`` (Brussels local time and business time as SQL expressions); median and
90th percentile are nearest-rank, from ``ROW_NUMBER()`` over each group.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from rnmail.config import Config
from rnmail.errors import RnmailError
from rnmail.models import Message, Service, Staff, Ticket
from rnmail.shapes import StatsJson
from rnmail.stats.hours import BRUSSELS, DAY, Clock
from rnmail.vocab import Resolution

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

TIME_DIMENSIONS = ("month", "week", "day", "weekday", "hour")
TIMED = (*TIME_DIMENSIONS, "weekday-hour", "local")  # "local": the local epoch itself
DIMENSIONS = (*TIME_DIMENSIONS, "weekday-hour", "channel", "requester-type", "organisation",
              "category", "resolution", "service", "staff")
NONE = "(none)"
UNASSIGNED = "(unassigned)"
WIDTH = 36  # seconds: durations are counted in 0.01 h bins


@dataclass(frozen=True)
class Period:
    """Local (Brussels) dates, both included; None: from the first / up to the last ticket."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise RnmailError(f"--from {self.start} is after --to {self.end}")

    def utc_bounds(self, zone: tzinfo = BRUSSELS) -> tuple[datetime | None, datetime | None]:
        """[start, end) in UTC: local midnight (in ``zone``, ``[helpdesk].timezone``) of the
        first day, of the day after the last."""
        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(), zone).astimezone(UTC)
        return (midnight(self.start) if self.start else None,
                midnight(self.end + timedelta(days=1)) if self.end else None)


@dataclass
class Table:
    """A result: one row per combination of ``dimensions``, with the ``measures``."""

    dimensions: list[str]
    measures: list[str]
    rows: list[tuple[tuple[str, ...], tuple[Any, ...]]]
    period: Period
    excluded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inside_hours: int | None = None  # contacts created while open (weekday/hour tables)
    merged: int = 0  # tickets of the period not counted: merged into another

    def as_json(self) -> StatsJson:
        shape: StatsJson = {
            "period": {"from": _iso(self.period.start), "to": _iso(self.period.end)},
            "dimensions": self.dimensions,
            "measures": self.measures,
            "excluded_categories": self.excluded,
            "rows": [dict(zip(self.dimensions, keys, strict=True))
                     | dict(zip(self.measures, values, strict=True))
                     for keys, values in self.rows],
            "totals": {m: self.total(m) for m in self.measures
                       if not m.endswith(("_h", "_pct"))},
            "notes": self.notes,
            "merged": self.merged,
        }
        for measure in self.measures:  # x_met_pct: the share of x_due that was x_met
            if measure.endswith("_met_pct"):
                shape["totals"][measure] = self.share_met(measure.removesuffix("_met_pct"))
        if self.inside_hours is not None:
            shape["inside_opening_hours"] = self.inside_hours
        return shape

    def share_met(self, name: str) -> float | None:
        due = self.total(f"{name}_due")
        return round(100 * self.total(f"{name}_met") / due, 1) if due else None

    def total(self, measure: str = "tickets") -> int:
        index = self.measures.index(measure)
        return int(sum(v[index] or 0 for _k, v in self.rows))


_MONTH_OR_DAY = re.compile(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?")


def period_of(start: str, end: str) -> Period:
    """A period as people write its ends: a day (``2026-02-01``) or a month (``2026-02``:
    from its first day, to its last); an empty end is open. RnmailError for anything
    else, a day that does not exist, a year before 1970 or after 2999, or an end before
    the start."""
    def day(text: str, last: bool) -> date | None:
        text = text.strip()
        if not text:
            return None
        match = _MONTH_OR_DAY.fullmatch(text)
        if match is None:
            raise RnmailError(f"{text!r} is not a month (YYYY-MM) nor a day (YYYY-MM-DD)")
        year, month = int(match.group(1)), int(match.group(2))
        if not (1970 <= year <= 2999 and 1 <= month <= 12):
            raise RnmailError(f"no such month: {text}")
        days = calendar.monthrange(year, month)[1]
        number = int(match.group(3)) if match.group(3) else (days if last else 1)
        if not 1 <= number <= days:
            raise RnmailError(f"no such day: {text}")
        return date(year, month, number)

    return Period(day(start, False), day(end, True))


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


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
    the tickets assigned to each staff member and the answers each one wrote in the period
    (by mail, ``ticket reply`` or ``access unblock``), assigned or not. A period without
    tickets gives no rows and totals of 0."""
    check_categories(config, query.exclude_categories)
    clock = _clock(session, config, query.period)
    counted, merged = _count_tickets(session, clock, query, 3600)
    measures = ["tickets"]
    answers: dict[tuple[Any, ...], int] = {}
    if "staff" in query.by:
        measures.append("answers")
        answers = _answers(session, clock, query)
    keys = {**counted, **answers}
    rows: list[tuple[tuple[str, ...], tuple[Any, ...]]] = []
    for raw_keys in _ordered({k: counted.get(k, 0) + answers.get(k, 0) for k in keys},
                             query.by):
        values: tuple[int, ...] = (counted.get(raw_keys, 0),)
        if "staff" in query.by:
            values += (answers.get(raw_keys, 0),)
        rows.append((_labels(query.by, raw_keys), values))
    notes = []
    if merged:
        notes.append(f"{merged} merged ticket(s) not counted: each counts as the ticket it "
                     "was merged into")
    inside = None
    if {"weekday", "hour", "weekday-hour"} & set(query.by):
        inside = _inside_hours(session, clock, query) if counted else 0
        notes.append(f"{inside} of {sum(counted.values())} contacts inside opening hours "
                     f"({config.stats.opens:%H:%M}-{config.stats.closes:%H:%M}, working days)")
    return Table(list(query.by), measures, rows, query.period,
                 list(query.exclude_categories), notes, inside, merged)


def _count_tickets(session: Session, clock: Clock, query: Query, bucket: int,
                   by: Sequence[str] | None = None) -> tuple[dict[tuple[Any, ...], int], int]:
    """The tickets of the period counted by ``by``, merged ones left out, and how many
    were merged.

    Every ticket is counted, then the merged ones (few) counted the same way are
    subtracted: ``resolution IS NULL OR resolution <> 'merged'`` in the first count would
    keep SQLite from answering it from a narrow index (requester type on 300,000 tickets:
    84 ms without, 291 ms with; docs/performance.md).
    """
    counted = _count(session, clock, query, _tickets(clock, query, merged=None), bucket, by)
    merged = _count(session, clock, query, _tickets(clock, query, merged=True), bucket, by)
    for key, n in merged.items():
        counted[key] -= n
        if not counted[key]:
            del counted[key]
    return counted, sum(merged.values())


def _count(session: Session, clock: Clock, query: Query, source: Any,
           bucket: int, by: Sequence[str] | None = None) -> dict[tuple[Any, ...], int]:
    """Count the rows of ``source`` (its ``at`` column: a UTC datetime) by ``by``.

    With a time dimension, in two steps: the rows counted per ``bucket`` seconds of UTC
    time (one cheap integer per row), then the buckets moved to local time and counted
    again — Brussels' offsets are whole hours, so a bucket never straddles a change.
    """
    by = query.by if by is None else by
    timed = any(name in TIMED for name in by)
    inner = source.subquery()
    categorical = [inner.c[n.replace("-", "_")] for n in by if n not in TIMED]
    if not timed:
        statement = select(*categorical, func.count()).group_by(*categorical)
        return {tuple(row[:-1]): row[-1] for row in session.execute(statement)}
    slot = (clock.utc_epoch(inner.c.at) // bucket).label("slot")
    buckets = (select(*categorical, slot, func.count().label("n"))
               .group_by(*categorical, slot).subquery())
    local = clock.localize(buckets.c.slot * bucket)
    keys = _keys(clock, local, buckets, by)
    statement = select(*keys, func.sum(buckets.c.n)).group_by(*keys)
    return {tuple(row[:-1]): int(row[-1]) for row in session.execute(statement)}


def times(session: Session, config: Config, query: Query) -> Table:
    """First response and resolution times in business hours: count, median and 90th
    percentile per group, for tickets created in the period.

    Each step is a subquery behind ``OFFSET 0``, which neither SQLite nor PostgreSQL
    flattens into the next: every local time and business measure is computed once per
    ticket instead of once per mention in the formulas above it.
    """
    check_categories(config, query.exclude_categories)
    clock = _clock(session, config, query.period)
    locals_ = _tickets(clock, query).add_columns(
        clock.local_epoch(Ticket.first_response_at).label("local_first"),
        clock.local_epoch(Ticket.closed_at).label("local_closed"),
    ).offset(0).subquery()
    created = clock.local_epoch(locals_.c.at)
    instants = select(
        *[k.label(f"k{i}") for i, k in enumerate(_keys(clock, created, locals_, query.by))],
        created.label("created"), locals_.c.local_first, locals_.c.local_closed,
    ).offset(0).subquery()
    key_columns = [c for c in instants.c if c.name.startswith("k")]

    def business(local: Any) -> ColumnElement[int]:
        return clock.business(local // DAY, local % DAY)

    start = business(instants.c.created)
    durations = select(
        *key_columns,
        (business(instants.c.local_first) - start).label("first"),
        (business(instants.c.local_closed) - start).label("closed"),
    ).cte("durations")
    # Histograms, 0.01 h (36 s) wide: the database counts the durations per group and
    # width; the percentiles are read off the cumulative counts (nearest rank).
    group = [durations.c[c.name] for c in key_columns]
    def bin_of(column: Any) -> Any:  # inline numbers: PostgreSQL matches
        return ((column + literal_column(str(WIDTH // 2), Integer))  # GROUP BY expressions
                // literal_column(str(WIDTH), Integer))               # by their text

    histograms = union_all(*[
        select(*group, literal(index, Integer).label("measure"), bin_of(column).label("width"),
               func.count().label("n"))
        .where(column.is_not(None)).group_by(*group, bin_of(column))
        for index, column in enumerate((durations.c.first, durations.c.closed))
    ])
    counts: dict[tuple[Any, ...], list[list[tuple[int, int]]]] = {}
    for row in session.execute(histograms):
        keys, measure, width, n = tuple(row[:len(group)]), *row[len(group):]
        counts.setdefault(keys, [[], []])[measure].append((width, n))
    figures = {keys: (*_percentiles(first), *_percentiles(closed))
               for keys, (first, closed) in counts.items()}
    rows = [(_labels(query.by, k), figures[k])
            for k in _ordered({k: f[0] + f[3] for k, f in figures.items()}, query.by)]
    return Table(list(query.by), ["answered", "first_response_median_h",
                                  "first_response_p90_h", "closed", "resolution_median_h",
                                  "resolution_p90_h"],
                 rows, query.period, list(query.exclude_categories),
                 [f"business hours: {config.stats.opens:%H:%M}-{config.stats.closes:%H:%M} "
                  "on working days"
                  + (f", {config.stats.holidays} public holidays excluded"
                     if config.stats.holidays else "")])


def _percentiles(histogram: list[tuple[int, int]]) -> tuple[int, float | None, float | None]:
    """(count, median, 90th percentile in hours) of a histogram of ``WIDTH`` seconds wide
    bins, nearest rank: the smallest value with at least that share of the counts."""
    total = sum(n for _w, n in histogram)
    if not total:
        return 0, None, None
    ranks = [math.ceil(total * share) for share in (0.5, 0.9)]
    found: list[float] = []
    seen = 0
    for width, n in sorted(histogram):
        seen += n
        while len(found) < len(ranks) and seen >= ranks[len(found)]:
            found.append(round(width * WIDTH / 3600, 2))
    return total, found[0], found[1]


def shown_period(session: Session, period: Period, zone: tzinfo) -> Period:
    """``period`` as people read it: an open start or end is the local day (in ``zone``) of
    the first or the last ticket (still open without tickets)."""
    if period.start is not None and period.end is not None:
        return period
    first, last = session.execute(select(func.min(Ticket.created_at),
                                         func.max(Ticket.created_at))).one()

    def day(moment: datetime | None) -> date | None:
        return moment.astimezone(zone).date() if moment else None

    return Period(period.start or day(first), period.end or day(last))


def _clock(session: Session, config: Config, period: Period) -> Clock:
    """A clock for the dates concerned: the period, or the tickets' own range."""
    low, high = period.utc_bounds(config.stats.zone)
    if low is None or high is None:
        first, last = session.execute(select(func.min(Ticket.created_at),
                                             func.max(Ticket.created_at))).one()
        low = low or first or datetime.now(UTC)
        high = high or last or datetime.now(UTC)
    dialect = session.get_bind().dialect.name
    # Answers and closings come after creation: a year more covers them.
    return Clock(dialect, low, max(high, datetime.now(UTC)), config.stats)


def _tickets(clock: Clock, query: Query, merged: bool | None = False) -> Select[Any]:
    """The tickets of the period: their creation time (``at``) and the categorical
    dimensions ``query.by`` asks for, as columns (joins only when needed). Only those not
    merged into another (``merged=False``: a merged ticket is counted as the one it went
    into, rnmail.tickets.merge), only the merged ones (True), or all (None)."""
    assignee = aliased(Staff)
    statement = select(Ticket.created_at.label("at")).select_from(Ticket)
    if "staff" in query.by:
        statement = statement.outerjoin(assignee, assignee.id == Ticket.assignee_id)
    statement = _categorical(statement, clock, query.by,
                             func.coalesce(assignee.name, UNASSIGNED))
    filters = _filters(query, clock.zone)
    if merged:
        # By id: grouped by a column with its own index (requester type), SQLite would walk
        # that index and read every ticket's row for its resolution; the ids come from the
        # statistics' covering index (resolution is in it, merged_into_id is not).
        return statement.where(Ticket.id.in_(
            select(Ticket.id).where(Ticket.resolution == Resolution.MERGED, *filters)))
    if merged is False:
        statement = statement.where(or_(Ticket.resolution.is_(None),
                                        Ticket.resolution != Resolution.MERGED))
    return statement.where(*filters)


def _categorical(statement: Select[Any], clock: Clock, by: Sequence[str],
                 staff: ColumnElement[Any]) -> Select[Any]:
    """``statement`` (over Ticket) with a column per categorical dimension of ``by``;
    ``staff`` is the staff column (the assignee, or an answer's author)."""
    for name in by:
        if name in TIMED:
            continue
        if name == "staff":
            statement = statement.add_columns(staff.label("staff"))
            continue
        if name == "service":
            statement = statement.outerjoin(Service, Service.id == Ticket.service_id)
        statement = statement.add_columns(_column(clock, name).label(name.replace("-", "_")))
    return statement


def _column(clock: Clock, name: str) -> Any:
    if name == "organisation":
        domain = (func.substr(Ticket.requester, func.instr(Ticket.requester, "@") + 1)
                  if clock.dialect == "sqlite" else func.split_part(Ticket.requester, "@", 2))
        return func.coalesce(Ticket.requester_org,
                             case((Ticket.requester_type == "citizen", "(citizens)"),
                                  (Ticket.requester.contains("@"), func.lower(domain)),
                                  else_=NONE))
    if name == "resolution":
        return func.coalesce(Ticket.resolution,
                             case((Ticket.status == "closed", NONE), else_="(not closed)"))
    return {
        "channel": Ticket.channel,
        "requester-type": Ticket.requester_type,
        "category": func.coalesce(Ticket.category, NONE),
        "service": func.coalesce(Service.name, NONE),
    }[name]


def _filters(query: Query, zone: tzinfo) -> list[ColumnElement[bool]]:
    low, high = query.period.utc_bounds(zone)
    conditions: list[ColumnElement[bool]] = []
    if low is not None:
        conditions.append(Ticket.created_at >= low)
    if high is not None:
        conditions.append(Ticket.created_at < high)
    if query.exclude_categories:
        conditions.append(or_(Ticket.category.is_(None),
                              Ticket.category.not_in(query.exclude_categories)))
    return conditions


def _keys(clock: Clock, local: Any, inner: Any, by: Sequence[str]
          ) -> list[ColumnElement[Any]]:
    """The group keys for ``by``: computed from the local epoch ``local`` for the time
    dimensions, the columns of ``inner`` for the others."""
    columns: dict[str, list[ColumnElement[Any]]] = {
        "month": [clock.month(local)],
        "week": [clock.day(local) - clock.weekday(local)],  # the Monday of the week
        "day": [clock.day(local)],
        "weekday": [clock.weekday(local)],
        "hour": [clock.hour(local)],
        "weekday-hour": [clock.weekday(local), clock.hour(local)],
        "local": [local],
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
            timed = name in TIMED
            parts.append(part if timed else (-per[part], str(part)))
            position += width
        return tuple(parts)

    return sorted(groups, key=sort_key)


def _answers(session: Session, clock: Clock, query: Query) -> dict[tuple[Any, ...], int]:
    """Answers written in the period by each staff member, keyed like the ticket groups
    (the other dimensions are those of the answered ticket). An answer's author is the
    name on its record (``Message.from_name``): the staff member's for an answer by mail,
    the ``--author``/``--by`` of ``ticket reply``/``access unblock`` (resolved to the
    staff member's name by ``rnmail.tickets.lifecycle.staff_author``). Answers whose author
    is not on the staff (the second line's relayed answers, rnmail's own mails, a
    ``--author`` that names nobody) are not counted."""
    low, high = query.period.utc_bounds(clock.zone)
    sent = select(Message.created_at.label("at")).select_from(Message).join(
        Ticket, Ticket.id == Message.ticket_id)
    sent = _categorical(sent, clock, query.by, Message.from_name.expression).where(
        Message.direction == "out", Message.kind == "correspondence",
        Message.from_name.in_(select(Staff.name)))
    if low is not None:
        sent = sent.where(Message.created_at >= low)
    if high is not None:
        sent = sent.where(Message.created_at < high)
    if query.exclude_categories:
        sent = sent.where(or_(Ticket.category.is_(None),
                              Ticket.category.not_in(query.exclude_categories)))
    return _count(session, clock, query, sent, 3600)


def _inside_hours(session: Session, clock: Clock, query: Query) -> int:
    """Contacts created while the help desk was open, counted per slot of local time as
    fine as the opening hours need (half hours for 08:30)."""
    slot = math.gcd(3600, clock.opens, clock.closes)
    counted, _ = _count_tickets(session, clock, query, slot, by=("local",))
    closed = set(clock.closed)
    return sum(n for (local,), n in counted.items()
               if (local // DAY + 3) % 7 < 5 and local // DAY not in closed
               and clock.opens <= local % DAY < clock.closes)
