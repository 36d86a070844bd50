"""Local time and business time, as SQL expressions the figures group and subtract.

- Local time: tickets are stored in UTC; periods, weekdays and hours are those of the
  help desk's zone, ``[helpdesk].timezone`` (Europe/Brussels; ``StatsConfig.zone``).
  A ticket's instant becomes a *local epoch* (seconds since 1970 on the local wall
  clock) by adding the UTC offset in force, chosen by a ``CASE`` over the zone's transitions
  in the years concerned (from ``zoneinfo``). Days, weekdays, hours and ISO weeks are then
  integer arithmetic; months are formatted by the database.
- Business time: ``B(t)``, the opening seconds from a reference Monday up to local instant
  ``t``, is a closed formula: working days before ``t``'s day (weekdays minus the public
  holidays and closing days falling on weekdays, a ``CASE`` over their sorted list) times the
  opening length, plus the part of ``t``'s own day inside opening hours when it is a working
  day. A duration in business hours is ``B(end) - B(start)``. ``Calendar`` is the same
  formula in Python, for a few rows already read (the agents' queue, a page at a time).
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_left
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
)

from rnmail.config import StatsConfig

BRUSSELS = ZoneInfo("Europe/Brussels")  # the default of [helpdesk].timezone (cfg.zone)
DAY = 86400
# Day 4 of the Unix epoch (1970-01-05) is a Monday: weekday = (day + 3) % 7, Monday = 0.
MONDAY = 4


def utc_offsets(first: datetime, last: datetime,
                zone: tzinfo = BRUSSELS) -> list[tuple[int, int]]:
    """The UTC offsets of ``zone`` in force from a year before ``first`` to a year after
    ``last``: [(from Unix time, offset in seconds)], the first entry from the beginning."""
    day = date(first.year - 1, 1, 1)
    end = date(last.year + 2, 1, 1)

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(zone).utcoffset()
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
        self.zone = cfg.zone  # [helpdesk].timezone
        self.offsets = utc_offsets(first, last, self.zone)
        self.opens = cfg.opens.hour * 3600 + cfg.opens.minute * 60
        self.closes = cfg.closes.hour * 3600 + cfg.closes.minute * 60
        self.closed = sorted(_day_number(d) for d in closed_days(cfg, first.year - 1,
                                                                   last.year + 2)
                             if d.weekday() < 5)

    def utc_epoch(self, column: Any) -> ColumnElement[int]:
        if self.dialect == "sqlite":
            if sqlite3.sqlite_version_info >= (3, 38):
                return func.unixepoch(column, type_=BigInteger)
            return cast(func.strftime("%s", column), BigInteger)
        return cast(func.floor(func.date_part("epoch", column)), BigInteger)  # float: fast

    def local_epoch(self, column: Any) -> ColumnElement[int]:
        """Seconds since 1970-01-01 00:00 on the Brussels wall clock; NULL stays NULL."""
        return self.localize(self.utc_epoch(column))

    def localize(self, epoch: ColumnElement[int]) -> ColumnElement[int]:
        """A Unix time as a local epoch: plus the UTC offset in force at that moment."""
        return epoch + step(epoch, [start for start, _o in self.offsets[1:]],
                            [offset for _s, offset in self.offsets])

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

    def business(self, day: Any, second: Any) -> ColumnElement[int]:
        """B: opening seconds from the reference Monday up to ``second`` (of the local day)
        of local ``day`` (days since 1970-01-01)."""
        since = day - MONDAY
        weekdays_before = since // 7 * 5 + case((since % 7 > 5, 5), else_=since % 7)
        if self.closed:
            closed_before = step(day, [closed + 1 for closed in self.closed],
                                 list(range(len(self.closed) + 1)))
            working = and_((day + 3) % 7 < 5, day.not_in(self.closed))
        else:
            closed_before, working = literal(0, Integer), (day + 3) % 7 < 5
        length = self.closes - self.opens
        today = case((second <= self.opens, 0), (second >= self.closes, length),
                     else_=second - self.opens)
        business: ColumnElement[int] = ((weekdays_before - closed_before) * length
                                        + case((working, today), else_=0))
        return business


class Calendar:
    """``Clock.business`` in Python, for a few instants already read (the queue's page):
    B(t) by the same closed formula, the closed days of ``first_year``..``last_year``."""

    def __init__(self, cfg: StatsConfig, first_year: int, last_year: int) -> None:
        self.zone = cfg.zone
        self.opens = cfg.opens.hour * 3600 + cfg.opens.minute * 60
        self.length = cfg.closes.hour * 3600 + cfg.closes.minute * 60 - self.opens
        self.closed = sorted(_day_number(d) for d in closed_days(cfg, first_year, last_year)
                             if d.weekday() < 5)
        self.closed_set = frozenset(self.closed)

    def business(self, moment: datetime) -> int:
        """Opening seconds from the reference Monday up to ``moment`` (aware, or naive UTC)."""
        local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(self.zone)
        day = _day_number(local.date())
        since = day - MONDAY
        weekdays_before = since // 7 * 5 + min(since % 7, 5)
        before = weekdays_before - bisect_left(self.closed, day)
        today = 0
        if local.weekday() < 5 and day not in self.closed_set:
            second = local.hour * 3600 + local.minute * 60 + local.second
            today = min(max(second - self.opens, 0), self.length)
        return before * self.length + today

    def seconds(self, start: datetime, end: datetime) -> int:
        """Business seconds from ``start`` to ``end``."""
        return self.business(end) - self.business(start)

    def moment(self, business: int) -> datetime:
        """The instant (UTC) at which B reaches ``business``: the inverse of ``business``.
        A value at a day's boundary is that day's closing, not the next opening: a target
        of one business day from 8:30 is due at 16:30 the same day."""
        working_days, rest = divmod(business, self.length)
        if rest == 0 and working_days > 0:
            working_days, rest = working_days - 1, self.length
        # the day with ``working_days`` working days before it that is itself one: from
        # the first weekday with that many weekdays before, forward over the closed days
        day = MONDAY + working_days // 5 * 7 + working_days % 5
        while True:
            since = day - MONDAY
            before = since // 7 * 5 + min(since % 7, 5) - bisect_left(self.closed, day)
            if before == working_days and since % 7 < 5 and day not in self.closed_set:
                break
            day += 1
        local = datetime.combine(date(1970, 1, 1) + timedelta(days=day), time(),
                                 self.zone) + timedelta(seconds=self.opens + rest)
        return local.astimezone(UTC)

    def add(self, start: datetime, seconds: int) -> datetime:
        """The instant ``seconds`` business seconds after ``start``."""
        return self.moment(self.business(start) + seconds)


def step(value: Any, thresholds: list[int], results: list[int]) -> ColumnElement[int]:
    """``results[i]`` where ``i`` is how many of the sorted ``thresholds`` are at most
    ``value``: nested ``CASE`` halving the list, so a row makes log2(n) comparisons."""
    if not thresholds:
        return literal(results[0], Integer)
    middle = len(thresholds) // 2
    return case((value < thresholds[middle],
                 step(value, thresholds[:middle], results[:middle + 1])),
                else_=step(value, thresholds[middle + 1:], results[middle + 1:]))


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
    zone = cfg.zone
    a, b = start.astimezone(zone), end.astimezone(zone)
    total = 0
    day = a.date()
    while day <= b.date():
        if day.weekday() < 5 and day not in closed:
            opens = datetime.combine(day, cfg.opens, zone)
            closes = datetime.combine(day, cfg.closes, zone)
            lo, hi = max(a, opens), min(b, closes)
            if hi > lo:
                total += int((hi - lo).total_seconds())
        day += timedelta(days=1)
    return total
