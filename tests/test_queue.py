"""The agents' queue (issue 17, the desk's first page) through ``rnmail ticket queue``, on both
databases: the tabs and their counts, each filter, the sorts, pages, the marker of a
requester who wrote last, the requester from the directory, and the age in business hours
(the figures' Belgian calendar: no weekend, no public holiday)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from rnmail.models import Ticket
from rnmail.stats.hours import business_seconds
from rnmail.tickets.queue import queue
from tests.harness import corpus
from tests.harness.install import Installation, install

REQUESTER = "jean.dupont@citizen.example"
KOEN = "koen@pz-5999.police.example"
MARIE = "marie.lambert@rn.example"
AGENT = "agent1@rn.example"
RULES = """[workflow]
[workflow.requester_types]
"*@citizen.example" = "citizen"
"""
DIRECTORY = ("organisation,organisation_type,organisation_code,name,email,phone,language,role,"
             "access_status\nPolitiezone Oosterheide,police-zone,5999,Koen Maes,"
             f"{KOEN},09/266.61.11,nl,,active\n")
NOW = datetime.now(UTC)


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url, extra=RULES)
    (tmp_path / "maildir/new").mkdir(parents=True)
    yield site
    site.close()


def opened(out: str) -> int:
    match = re.match(r"ticket #(\d+) opened", out)
    assert match, out
    return int(match.group(1))


def set_times(desk: Installation, ticket_id: int, **times: datetime) -> None:
    with desk.db.transaction() as session:
        session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**times))


def scene(desk: Installation) -> dict[str, int]:
    """Seven tickets, one or more per tab; the open ones opened and last touched in an order
    that differs from their numbers."""
    desk.ok("staff", "add", MARIE, "--name", "Marie Lambert")
    desk.ok("staff", "add", AGENT, "--name", "Agent Un")
    desk.ok("service", "add", "population-registers", "--email", "pop@second.example")
    desk.deliver(corpus.simple("Attestation", "Bonjour, une attestation svp.",
                               from_addr=f"Jean Dupont <{REQUESTER}>"))
    desk.deliver(corpus.simple("Toegangssleutel", "Onze sleutel is geblokkeerd.",
                               from_addr=KOEN, lang="nl"))
    # a call from a number not yet in the directory: no name given
    call = opened(desk.ok("ticket", "new", "--requester", "09/266.61.11", "--subject",
                          "Appel clé"))
    (desk.root / "directory.csv").write_text(DIRECTORY, encoding="utf-8")
    desk.ok("directory", "import", str(desk.root / "directory.csv"))
    pending = opened(desk.ok("ticket", "new", "--requester", "02/518.21.31", "--name",
                             "An Peeters", "--subject", "Appel", "--category", "access-key",
                             "--requester-type", "gemeente"))
    desk.ok("ticket", "pending", str(pending))
    desk.deliver(corpus.simple("Adresse", "Mon adresse est fausse.", from_addr=REQUESTER))
    delegated = pending + 1
    desk.ok("ticket", "delegate", str(delegated), "population-registers")
    closed = opened(desk.ok("ticket", "new", "--requester", "09/123.45.67", "--subject",
                            "Question", "--close"))
    old = opened(desk.ok("ticket", "new", "--requester", "09/123.45.67", "--subject",
                         "Ancienne", "--close"))
    set_times(desk, old, closed_at=NOW - timedelta(days=30))
    desk.ok("ticket", "assign", "2", MARIE)
    desk.ok("ticket", "reply", "2", "-m", "De sleutel is gedeblokkeerd.", "--author", MARIE)
    day = timedelta(days=1)
    set_times(desk, 1, created_at=NOW - 5 * day, updated_at=NOW - 4 * day)
    set_times(desk, 2, created_at=NOW - 6 * day, updated_at=NOW - 1 * day)
    set_times(desk, call, created_at=NOW - 2 * day, updated_at=NOW - 3 * day)
    return {"call": call, "pending": pending, "delegated": delegated, "closed": closed,
            "old": old}


def ids(desk: Installation, *args: str) -> list[int]:
    return [row["id"] for row in desk.json("ticket", "queue", *args, "--json")["rows"]]


def test_queue_tabs_counts_filters_sorts_pages(desk: Installation) -> None:
    t = scene(desk)
    call = t["call"]
    page = desk.json("ticket", "queue", "--json")
    # without a staff member there is no "mine"
    assert page["counts"] == {"new": 2, "mine": None, "open": 3, "pending": 1,
                              "delegated": 1, "closed": 1}
    assert page["tab"] == "new" and [r["id"] for r in page["rows"]] == [1, call]
    mine = desk.json("ticket", "queue", "--tab", "mine", "--staff", MARIE, "--json")
    assert mine["counts"]["mine"] == 1 and [r["id"] for r in mine["rows"]] == [2]
    assert desk.json("ticket", "queue", "--staff", AGENT, "--json")["counts"]["mine"] == 0
    assert "needs a staff member" in desk.fails("ticket", "queue", "--tab", "mine")
    assert ids(desk, "--tab", "pending") == [t["pending"]]
    assert ids(desk, "--tab", "delegated") == [t["delegated"]]
    assert ids(desk, "--tab", "closed") == [t["closed"]]  # not the one closed 30 days ago

    # sorting: opened 2, 1, call; last touched 1, call, 2
    assert ids(desk, "--tab", "open") == [2, 1, call]  # age, oldest first
    assert ids(desk, "--tab", "open", "--order", "asc") == [call, 1, 2]
    assert ids(desk, "--tab", "open", "--sort", "activity") == [2, call, 1]
    assert ids(desk, "--tab", "open", "--sort", "activity", "--order", "asc") == [1, call, 2]
    assert ids(desk, "--tab", "open", "--sort", "number") == [call, 2, 1]
    assert ids(desk, "--tab", "open", "--sort", "number", "--order", "asc") == [1, 2, call]

    # pages
    first = desk.json("ticket", "queue", "--tab", "open", "--per-page", "2", "--json")
    assert [r["id"] for r in first["rows"]] == [2, 1]
    assert (first["page"], first["pages"], first["total"]) == (1, 2, 3)
    assert ids(desk, "--tab", "open", "--per-page", "2", "--page", "2") == [call]
    assert ids(desk, "--tab", "open", "--per-page", "2", "--page", "3") == []

    # filters narrow the page and every count
    phone = desk.json("ticket", "queue", "--tab", "open", "--channel", "phone", "--json")
    assert [r["id"] for r in phone["rows"]] == [call]
    assert phone["counts"] == {"new": 1, "mine": None, "open": 1, "pending": 1,
                               "delegated": 0, "closed": 1}
    assert ids(desk, "--tab", "pending", "--category", "access-key") == [t["pending"]]
    assert ids(desk, "--tab", "open", "--category", "none") == [2, 1, call]
    assert ids(desk, "--tab", "open", "--type", "citizen") == [1]
    assert ids(desk, "--tab", "pending", "--type", "gemeente") == [t["pending"]]
    assert ids(desk, "--tab", "open", "--assignee", MARIE) == [2]
    assert ids(desk, "--tab", "open", "--assignee", "Marie Lambert") == [2]
    assert ids(desk, "--tab", "open", "--assignee", "none") == [1, call]
    assert ids(desk, "--tab", "delegated", "--service", "population-registers") == [
        t["delegated"]]
    assert ids(desk, "--tab", "open", "--service", "population-registers") == []
    assert ids(desk, "--tab", "delegated", "--service", "none") == []
    assert ids(desk, "--tab", "open", "--unanswered") == [1, call]
    assert "no service" in desk.fails("ticket", "queue", "--service", "nowhere")
    # ticket list shares the filters, --service included
    assert [r["id"] for r in desk.json("ticket", "list", "--service", "population-registers",
                                       "--json")] == [t["delegated"]]


def test_queue_columns_marker_and_directory(desk: Installation) -> None:
    t = scene(desk)
    call = t["call"]
    rows = {r["id"]: r for r in desk.json("ticket", "queue", "--tab", "open", "--json")["rows"]}
    # the requester wrote last and nobody answered: 1 and the call; Marie answered 2
    assert rows[1]["unanswered"] and rows[call]["unanswered"] and not rows[2]["unanswered"]
    # the call came before the number was in the directory: named from the directory now
    assert (rows[call]["requester"], rows[call]["requester_name"],
            rows[call]["organisation"]) == ("+3292666111", "Koen Maes",
                                            "Politiezone Oosterheide")
    assert (rows[2]["requester_name"], rows[2]["organisation"]) == (
        "Koen Maes", "Politiezone Oosterheide")
    assert (rows[1]["requester_name"], rows[1]["organisation"]) == ("Jean Dupont", None)
    assert rows[2]["assignee"] == MARIE and rows[2]["assignee_name"] == "Marie Lambert"
    assert (rows[2]["channel"], rows[2]["language"]) == ("mail", "nl")
    assert rows[call]["channel"] == "phone"
    delegated = desk.json("ticket", "queue", "--tab", "delegated", "--json")["rows"][0]
    assert delegated["service"] == "population-registers"
    # the age: the help desk's opening hours since it was opened (it runs on, so a range)
    opened_at = datetime.fromisoformat(rows[2]["created_at"])
    before = business_seconds(opened_at, NOW, desk.config.stats)
    after = business_seconds(opened_at, datetime.now(UTC), desk.config.stats)
    assert before - 1 <= rows[2]["age_business_seconds"] <= after + 1  # whole seconds
    assert datetime.fromisoformat(rows[2]["last_activity"]) > NOW - timedelta(days=1, minutes=1)

    out = desk.ok("ticket", "queue", "--tab", "open", "--staff", MARIE)
    lines = out.splitlines()
    assert lines[0] == "new 2  mine 1  open 3  pending 1  delegated 1  closed 1"
    assert lines[1] == "open: 1-3 of 3 (page 1 of 1), oldest first"
    assert lines[2].split()[:4] == ["#", "age", "channel", "lang"]
    by_id = {int(line.split()[0][1:]): line for line in lines if line.startswith("#")
             and line[1].isdigit()}
    assert re.match(rf"#{call}\s+\*\s", by_id[call]) and re.match(r"#1\s+\*\s", by_id[1])
    assert not re.match(r"#2\s+\*", by_id[2])
    assert "Koen Maes (Politiezone Oosterheide)" in by_id[call]
    assert "Marie Lambert" in by_id[2] and "Toegangssleutel" in by_id[2]
    assert lines[-1].startswith("age: business hours")


def _age(desk: Installation, opened_at: datetime, now: datetime, **query: Any) -> int:
    set_times(desk, 1, created_at=opened_at, updated_at=opened_at)
    with desk.db.transaction() as session:
        found = queue(session, desk.config, tab="open", now=now, **query)
    return next(r.age_business_seconds for r in found.rows if r.id == 1)


def test_age_in_business_hours_skips_weekend_and_holiday(desk: Installation) -> None:
    """Opened on Friday 18 April 2025 at 15:30 in Brussels; Easter Monday the 21st is a
    public holiday: at 9:30 on Tuesday the ticket is two business hours old (the help desk
    opens 8:30-16:30)."""
    desk.deliver(corpus.simple("Attestation", "Bonjour.", from_addr=REQUESTER))
    friday = datetime(2025, 4, 18, 13, 30, tzinfo=UTC)  # 15:30 CEST
    tuesday = datetime(2025, 4, 22, 7, 30, tzinfo=UTC)  # 9:30 CEST
    assert _age(desk, friday, tuesday) == 2 * 3600
    assert business_seconds(friday, tuesday, desk.config.stats) == 2 * 3600
    # a weekend alone: Friday 7 March 2025 15:30 to Monday 9:30 (CET)
    assert _age(desk, datetime(2025, 3, 7, 14, 30, tzinfo=UTC),
                datetime(2025, 3, 10, 8, 30, tzinfo=UTC)) == 2 * 3600
    # opened at 6:00 (CET): nothing before opening time at 8:30, a quarter at 8:45
    night = datetime(2025, 3, 10, 5, 0, tzinfo=UTC)
    assert _age(desk, night, datetime(2025, 3, 10, 7, 15, tzinfo=UTC)) == 0
    assert _age(desk, night, datetime(2025, 3, 10, 7, 45, tzinfo=UTC)) == 900
    # a ticket from years ago: the calendar reaches back to it
    long_ago = datetime(2019, 12, 20, 14, 30, tzinfo=UTC)
    assert _age(desk, long_ago, tuesday) == business_seconds(long_ago, tuesday,
                                                             desk.config.stats)


def test_calendar_agrees_with_the_day_by_day_count() -> None:
    """The queue's ``Calendar`` (the figures' closed formula) and ``business_seconds``
    (day by day) agree, across years, summer time changes and holidays (the defaults:
    8:30-16:30, Belgium, Europe/Brussels)."""
    import random

    from rnmail.config import StatsConfig
    from rnmail.stats.hours import Calendar

    cfg = StatsConfig()
    calendar = Calendar(cfg, 2018, 2027)
    rng = random.Random(17)
    base = datetime(2019, 1, 1, tzinfo=UTC)
    for _ in range(200):
        start = base + timedelta(minutes=rng.randrange(0, 8 * 365 * 24 * 60))
        end = start + timedelta(minutes=rng.randrange(0, 40 * 24 * 60))
        assert calendar.seconds(start, end) == business_seconds(start, end, cfg), (start, end)


def test_two_statements_whatever_the_page(desk: Installation) -> None:
    """The counts and the page: two statements, not one more per row (the directory, the
    last mail, the assignee and the age come with the page)."""
    from sqlalchemy import event

    scene(desk)
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(desk.db.engine, "before_cursor_execute", count)
    for tab in ("open", "closed", "delegated", "mine"):
        for per_page in (1, 25):
            seen.clear()
            with desk.db.transaction() as session:
                found = queue(session, desk.config, tab=tab, staff_id=1, per_page=per_page)
            assert found.rows
            assert len([s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]
                       ) == 2, (tab, seen)
