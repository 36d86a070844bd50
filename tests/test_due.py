"""Due times (SLA, issue 18) on the Belgian business calendar: the calendar's edge cases (a
ticket opened on Friday at 16:00, a public holiday, time pending not counted), the targets
per category, ``ticket show --json``'s ``due``, ``ticket list --late``, ``ticket due
--recompute`` and the queue sorted by due time, on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from rnmail.config import StatsConfig
from rnmail.models import Ticket, TicketEvent
from rnmail.stats.hours import Calendar
from rnmail.tickets.due import stopped_business
from rnmail.tickets.history import Actor
from rnmail.tickets.lifecycle import resume, set_pending
from tests.harness.install import Installation, install

CAL = Calendar(StatsConfig(), 2024, 2027)  # 8:30-16:30, Belgium, Europe/Brussels
HOUR = 3600
TARGETS = """[due]
first_response = "4h"
resolution = "2d"

[[due.target]]
category = "access-key"
first_response = "1h"
"""


def local(moment: datetime) -> str:
    return moment.astimezone(CAL.zone).strftime("%a %Y-%m-%d %H:%M")


def test_friday_afternoon_runs_over_the_weekend() -> None:
    friday = datetime(2025, 3, 7, 15, 0, tzinfo=UTC)  # Friday 16:00 CET
    assert local(CAL.add(friday, 4 * HOUR)) == "Mon 2025-03-10 12:00"
    assert local(CAL.add(friday, HOUR // 2)) == "Fri 2025-03-07 16:30"  # its closing
    assert local(CAL.add(friday, 2 * 8 * HOUR)) == "Tue 2025-03-11 16:00"  # two days
    night = datetime(2025, 3, 8, 23, 0, tzinfo=UTC)  # Sunday, closed: from Monday 8:30
    assert local(CAL.add(night, HOUR)) == "Mon 2025-03-10 09:30"


def test_public_holiday_and_closed_day_do_not_count() -> None:
    friday = datetime(2025, 4, 18, 13, 30, tzinfo=UTC)  # 15:30 CEST; Easter Monday 21st
    assert local(CAL.add(friday, 3 * HOUR)) == "Tue 2025-04-22 10:30"
    bridge = Calendar(StatsConfig(closed_days=(datetime(2025, 4, 22).date(),)), 2024, 2026)
    assert local(bridge.add(friday, 3 * HOUR)) == "Wed 2025-04-23 10:30"
    # the inverse of B everywhere, over summer time changes and holidays
    start = datetime(2024, 12, 20, 10, 7, tzinfo=UTC)
    for hours in range(1, 400, 7):
        assert CAL.seconds(start, CAL.add(start, hours * HOUR + 59)) == hours * HOUR + 59


def test_pending_and_closed_time_stop_the_clock() -> None:
    monday = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)  # 9:30 CET
    changes = [(monday, "open", "pending"), (monday + timedelta(hours=2), "pending", "open"),
               (monday + timedelta(days=1), "open", "closed"),
               (monday + timedelta(days=1, hours=1), "closed", "open"),
               (monday + timedelta(days=2), "open", "pending")]  # not ended: not counted
    assert stopped_business(CAL, changes) == 3 * HOUR


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    installed = install(tmp_path, db_url, extra=TARGETS)
    yield installed
    installed.close()


def _new(site: Installation, category: str | None = None) -> int:
    args = ["--category", category] if category else []
    out = json.loads(site.ok("ticket", "new", "--requester", "02/518.21.31", "--subject",
                             "Appel", *args, "--json"))
    return int(out["id"])


def test_due_times_stored_shown_listed_and_sorted(site: Installation) -> None:
    now = datetime.now(UTC)
    plain, key, pending = _new(site), _new(site, "access-key"), _new(site)
    shown = json.loads(site.ok("ticket", "show", str(key), "--json"))["due"]
    opened = datetime.fromisoformat(
        json.loads(site.ok("ticket", "show", str(key), "--json"))["created_at"])
    assert CAL.seconds(opened, datetime.fromisoformat(shown["first_response"])) == HOUR
    assert CAL.seconds(opened, datetime.fromisoformat(shown["resolution"])) == 16 * HOUR
    assert shown["next"] == shown["first_response"] and not shown["paused"]
    # Opened on Friday 7 March 2025 at 16:00; pending on Monday 9:30 to 11:30 (CET)
    friday = datetime(2025, 3, 7, 15, 0, tzinfo=UTC)
    monday = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)
    with site.db.transaction() as session:
        session.execute(update(Ticket).values(created_at=friday))
        ticket = session.get(Ticket, pending)
        assert ticket is not None
        set_pending(ticket, Actor.system())
    with site.db.transaction() as session:
        ticket = session.get(Ticket, pending)
        assert ticket is not None and ticket.due_at is None  # paused: not in the sort
        session.execute(update(TicketEvent).where(TicketEvent.ticket_id == pending,
                                                  TicketEvent.what == "status")
                        .values(at=monday))
        resume(ticket, Actor.system())
    with site.db.transaction() as session:
        session.execute(update(TicketEvent).where(TicketEvent.ticket_id == pending,
                                                  TicketEvent.new == "open")
                        .values(at=monday + timedelta(hours=2)))
    assert "3 tickets" in site.ok("ticket", "due", "--recompute")
    due = json.loads(site.ok("ticket", "show", str(pending), "--json"))["due"]
    # 4 business hours: Monday 12:00; resolution 2 days (Tuesday 16:00) + 2 hours pending
    assert local(datetime.fromisoformat(due["first_response"])) == "Mon 2025-03-10 12:00"
    assert local(datetime.fromisoformat(due["resolution"])) == "Wed 2025-03-12 10:00"
    assert due["late"] and not due["soon"] and not due["paused"]
    text = site.ok("ticket", "show", str(key))
    assert "due:        first response 2025-03-10 09:00 CET" in text and "LATE" in text
    # all three late now: the most overdue first (the access key's hour)
    late = json.loads(site.ok("ticket", "list", "--late", "--json"))
    assert [row["id"] for row in late] == [key, plain, pending]
    with site.db.transaction() as session:  # one is no longer late: due in half an hour
        session.execute(update(Ticket).where(Ticket.id == plain)
                        .values(due_at=now + timedelta(minutes=30)))
    late = json.loads(site.ok("ticket", "list", "--late", "--json"))
    assert [row["id"] for row in late] == [key, pending]
    listed = site.ok("ticket", "list")
    assert listed.count("LATE") == 2 and listed.count("soon") == 1
    found = json.loads(site.ok("ticket", "queue", "--tab", "open", "--sort", "due", "--json"))
    assert [r["id"] for r in found["rows"]] == [key, pending, plain]
    assert [(r["late"], r["due_soon"]) for r in found["rows"]] == [
        (True, False), (True, False), (False, True)]
    asc = json.loads(site.ok("ticket", "queue", "--tab", "open", "--sort", "due", "--order",
                             "asc", "--json"))
    assert [r["id"] for r in asc["rows"]] == [plain, pending, key]
    # closing stops it: no next due time, the resolution kept for the figures
    site.ok("ticket", "close", str(plain))
    with site.db.transaction() as session:
        row = session.execute(select(Ticket.due_at, Ticket.due_resolution_at)
                              .where(Ticket.id == plain)).one()
    assert row.due_at is None and row.due_resolution_at is not None
    assert [r["id"] for r in json.loads(site.ok("ticket", "list", "--late", "--json"))] == [
        key, pending]


def test_bad_target_refused(tmp_path: Path) -> None:
    from rnmail.errors import ConfigError
    from tests.harness.factories import make_config

    for bad in ({"first_response": "4 weeks"}, {"resolution": "0d"},
                {"target": [{"first_response": "1h"}]},
                {"target": [{"category": "access-key"}]}):
        with pytest.raises(ConfigError, match=r"\[due|due\.|business hours"):
            make_config(tmp_path, "sqlite://", due=bad)
    config = make_config(tmp_path, "sqlite://", due={"target": [
        {"requester_type": "police", "resolution": "3h"}]})
    assert [str(s) for s in config.due.spans(None, "police")] == ["4h", "3h"]
    assert [str(s) for s in config.due.spans("x", "citizen")] == ["4h", "5d"]
