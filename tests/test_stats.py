"""Statistics: figures from SQL compared with truths computed independently in Python, on
a generated dataset that crosses month ends, DST changes, weekends, holidays and opening-hour
edges, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from rnmail.config import StatsConfig, load_config
from rnmail.errors import RnmailError
from rnmail.models import Message, Service, Staff, Ticket
from rnmail.stats.figures import Period, Query, contacts, times
from rnmail.stats.hours import BRUSSELS, business_seconds, utc_offsets
from tests.harness.factories import Desk, write_config
from tests.harness.install import rnmail

CHANNELS = ("mail", "phone", "fax", "letter")
TYPES = ("citizen", "municipality", "police", "notary", "public-service", "company", "other")
CATEGORIES = ("access-key", "certificate", "address-change", None)


def brussels(*args: int) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS).astimezone(UTC)  # type: ignore[misc]


# Hand-picked instants: (created, answered) in Brussels time, with the business hours
# between them worked out by hand (opening 08:30-16:30, Monday-Friday, BE holidays).
EDGES = [
    # Friday 16:00 → Monday 09:00: half an hour on Friday, half an hour on Monday.
    (brussels(2026, 1, 9, 16, 0), brussels(2026, 1, 12, 9, 0), 1.0),
    # Saturday → Monday 08:30 sharp: nothing yet.
    (brussels(2026, 1, 10, 11, 0), brussels(2026, 1, 12, 8, 30), 0.0),
    # Before opening → after closing, same day: the whole day.
    (brussels(2026, 1, 13, 7, 0), brussels(2026, 1, 13, 18, 0), 8.0),
    # Thursday 2 April 2026 15:30 → Tuesday 7 April 10:30: Easter Monday (6 April) is a
    # holiday: 1 h Thursday + 8 h Friday + 2 h Tuesday.
    (brussels(2026, 4, 2, 15, 30), brussels(2026, 4, 7, 10, 30), 11.0),
    # Across the switch to summer time (Sunday 29 March 2026): Friday 16:00 → Monday 9:30.
    (brussels(2026, 3, 27, 16, 0), brussels(2026, 3, 30, 9, 30), 1.5),
    # New Year: Wednesday 31 Dec 2025 16:00 → Friday 2 Jan 2026 9:00 (1 Jan holiday).
    (brussels(2025, 12, 31, 16, 0), brussels(2026, 1, 2, 9, 0), 1.0),
    # 21 July 2026 (Tuesday, national day) created and answered the same day: 0.
    (brussels(2026, 7, 21, 10, 0), brussels(2026, 7, 21, 12, 0), 0.0),
    # Across the switch back to winter time (Sunday 25 October 2026), 2 weeks.
    # 1 November is a Sunday: 10 working days.
    (brussels(2026, 10, 23, 12, 0), brussels(2026, 11, 6, 12, 0), 80.0),
]


def test_hand_worked_business_hours_match_the_python_reference() -> None:
    for start, end, hours in EDGES:
        assert business_seconds(start, end, StatsConfig()) == hours * 3600, (start, end)


def test_brussels_offsets_change_on_the_last_sundays_of_march_and_october() -> None:
    changes = utc_offsets(datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
    moments = [datetime.fromtimestamp(t, UTC) for t, _ in changes[1:]]
    assert datetime(2026, 3, 29, 1, 0, tzinfo=UTC) in moments
    assert datetime(2026, 10, 25, 1, 0, tzinfo=UTC) in moments
    assert [o for _, o in changes[:3]] == [3600, 7200, 3600]


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Desk:
    return Desk(load_config(write_config(tmp_path, db_url)))


def generate(desk: Desk, n: int = 400, seed: int = 7) -> list[dict[str, Any]]:
    """Tickets at random instants over 2025-2026 (biased towards edges), with known
    attributes and answer/close instants; returns what was stored. About one in ten is
    closed as merged into another ticket: the figures must leave those out."""
    rng = random.Random(seed)
    made: list[dict[str, Any]] = []
    edges = [e for e, _a, _h in EDGES] + [brussels(2026, 1, 31, 23, 59), brussels(2026, 2, 1),
                                          brussels(2026, 3, 31, 23, 30)]
    with desk.db.transaction() as session:
        staff = [Staff(email=f"agent{i}@rn.example", name=f"Agent {i}") for i in range(3)]
        services = [Service(name=f"service-{i}", email=f"s{i}@rn.example") for i in range(2)]
        session.add_all(staff + services)
        session.flush()
        for i in range(n):
            if i < len(edges):
                created = edges[i]
            else:
                created = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(
                    seconds=rng.randrange(2 * 365 * 86400))
            answered = (created + timedelta(minutes=rng.randrange(1, 9000))
                        if rng.random() < 0.8 else None)
            if i < len(EDGES):
                answered = EDGES[i][1]
            closed = (created + timedelta(minutes=rng.randrange(0, 30000))
                      if rng.random() < 0.7 else None)
            resolution = rng.choice(("first-contact", "investigated", "second-line"))
            if i >= len(edges) and rng.random() < 0.1:
                closed, resolution = closed or created, "merged"
            service = rng.choice(services) if closed and resolution == "second-line" else None
            row = {
                "created": created, "answered": answered, "closed": closed,
                "channel": rng.choice(CHANNELS), "type": rng.choice(TYPES),
                "category": rng.choice(CATEGORIES),
                "org": rng.choice(("Commune de Namur", "Gemeente Gent", None)),
                "resolution": resolution if closed else None,
                "service": service.name if service else None,
                "staff": rng.choice([*staff, None]),
            }
            ticket = Ticket(
                subject=f"t{i}", channel=row["channel"], requester=f"r{i}@example.org",
                requester_type=row["type"], requester_org=row["org"],
                category=row["category"], language="fr", created_at=created,
                first_response_at=answered, closed_at=closed,
                status="closed" if closed else "open", resolution=row["resolution"],
                service_id=service.id if service else None,
                assignee_id=row["staff"].id if row["staff"] else None)
            session.add(ticket)
            if row["staff"] is not None and answered is not None and not merged(row):
                session.flush()
                session.add(Message(ticket_id=ticket.id, direction="out",
                                    from_addr="info@rn.example", from_name=row["staff"].name,
                                    subject="re", created_at=answered))
            row["staff"] = row["staff"].name if row["staff"] else "(unassigned)"
            made.append(row)
    return made


def merged(row: dict[str, Any]) -> bool:
    return bool(row["resolution"] == "merged")


def counted(made: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tickets the figures count: all but the merged ones."""
    return [r for r in made if not merged(r)]


def local(moment: datetime) -> datetime:
    return moment.astimezone(BRUSSELS)


def rows(table: Any) -> dict[tuple[str, ...], tuple[Any, ...]]:
    return {keys: values for keys, values in table.rows}


def test_counts_by_month_and_channel_in_brussels_time(desk: Desk) -> None:
    stored = generate(desk)
    made = counted(stored)
    truth = Counter((f"{local(r['created']):%Y-%m}", r["channel"]) for r in made)
    with desk.db.transaction() as session:
        table = contacts(session, desk.config, Query(("month", "channel")))
    assert rows(table) == {k: (v,) for k, v in truth.items()}
    assert table.total() == len(made)
    assert table.merged == len(stored) - len(made) > 20
    assert f"{table.merged} merged ticket(s) not counted" in table.notes[0]
    # 31 January 23:59 in Brussels is 22:59 UTC: January, not February.
    assert ("2026-01", made[len(EDGES)]["channel"]) in rows(table)


def test_a_period_is_local_days_both_included(desk: Desk) -> None:
    made = counted(generate(desk))
    start, end = date(2026, 2, 1), date(2026, 7, 31)  # the team's first report
    truth = Counter(r["type"] for r in made if start <= local(r["created"]).date() <= end)
    with desk.db.transaction() as session:
        table = contacts(session, desk.config, Query(("requester-type",), Period(start, end)))
    assert rows(table) == {(k,): (v,) for k, v in truth.items()}
    assert [v for _k, (v,) in table.rows] == sorted(truth.values(), reverse=True)


def test_weeks_days_weekdays_hours(desk: Desk) -> None:
    made = counted(generate(desk))
    with desk.db.transaction() as session:
        for by, key in (
            ("week", lambda t: "{}-W{:02d}".format(*t.isocalendar()[:2])),
            ("day", lambda t: t.date().isoformat()),
            ("weekday", lambda t: f"{t:%a}"),
            ("hour", lambda t: f"{t:%H}"),
            ("weekday-hour", lambda t: f"{t:%a %H}"),
        ):
            truth = Counter(key(local(r["created"])) for r in made)
            table = contacts(session, desk.config, Query((by,)))
            assert rows(table) == {(k,): (v,) for k, v in truth.items()}, by
        table = contacts(session, desk.config, Query(("weekday-hour",)))
    inside = sum(1 for r in made
                 if local(r["created"]).weekday() < 5
                 and time(8, 30) <= local(r["created"]).time() < time(16, 30)
                 and local(r["created"]).date() not in _holidays())
    assert table.inside_hours == inside
    assert f"{inside} of {len(made)} contacts inside opening hours" in table.notes[-1]


def _holidays() -> set[date]:
    import holidays

    return set(holidays.country_holidays("BE", years=range(2024, 2028)))


def test_who_what_and_how_with_a_category_left_out(desk: Desk) -> None:
    made = counted(generate(desk))
    kept = [r for r in made if r["category"] != "access-key"]
    with desk.db.transaction() as session:
        by_org = contacts(session, desk.config, Query(("organisation",), exclude_categories=(
            "access-key",)))
        by_category = contacts(session, desk.config, Query(("category",)))
        by_path = contacts(session, desk.config, Query(("resolution", "service")))
        with pytest.raises(RnmailError, match="unknown category 'nope'"):
            contacts(session, desk.config, Query(("category",), exclude_categories=("nope",)))
    org_truth = Counter(r["org"] or ("(citizens)" if r["type"] == "citizen" else "example.org")
                        for r in kept)
    assert rows(by_org) == {(k,): (v,) for k, v in org_truth.items()}
    assert rows(by_category) == {(k or "(none)",): (v,) for k, v in
                                 Counter(r["category"] for r in made).items()}
    path_truth = Counter((r["resolution"] or "(not closed)", r["service"] or "(none)")
                         for r in made)
    assert rows(by_path) == {k: (v,) for k, v in path_truth.items()}


def test_per_staff_tickets_and_answers(desk: Desk) -> None:
    made = counted(generate(desk))
    with desk.db.transaction() as session:
        table = contacts(session, desk.config, Query(("staff",)))
    assert table.measures == ["tickets", "answers"]
    for name, tickets in Counter(r["staff"] for r in made).items():
        replies = sum(1 for r in made if r["staff"] == name and r["answered"]
                      and name != "(unassigned)")
        assert rows(table)[(name,)] == (tickets, replies), name


def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(share * len(ordered)) - 1]


def test_business_hour_times_median_and_p90_match_python(desk: Desk) -> None:
    made = counted(generate(desk))
    cfg = desk.config.stats
    with desk.db.transaction() as session:
        table = times(session, desk.config, Query(("channel",)))
    for (channel,), values in table.rows:
        group = [r for r in made if r["channel"] == channel]
        first = [business_seconds(r["created"], r["answered"], cfg) / 3600 for r in group
                 if r["answered"]]
        done = [business_seconds(r["created"], r["closed"], cfg) / 3600 for r in group
                if r["closed"]]
        expected = (len(first), round(nearest_rank(first, 0.5), 2),
                    round(nearest_rank(first, 0.9), 2), len(done),
                    round(nearest_rank(done, 0.5), 2), round(nearest_rank(done, 0.9), 2))
        assert values == expected, channel


def test_the_hand_worked_edges_through_sql(desk: Desk) -> None:
    generate(desk, n=len(EDGES))
    with desk.db.transaction() as session:
        table = times(session, desk.config, Query(("day",)))
    got = rows(table)
    for start, _end, hours in EDGES:
        values = got[(local(start).date().isoformat(),)]
        assert values[0] == 1 and values[1] == hours, (start, values)


def test_an_empty_period_is_zeros_and_wrong_ones_are_clear_errors(desk: Desk) -> None:
    generate(desk, n=20)
    empty = Period(date(2030, 1, 1), date(2030, 12, 31))
    with desk.db.transaction() as session:
        for by in (("month",), ("month", "channel"), ("staff",), ("weekday-hour",)):
            table = contacts(session, desk.config, Query(by, empty))
            assert table.rows == [] and table.total() == 0, by
            assert table.as_json()["rows"] == []
        assert contacts(session, desk.config, Query(("hour",), empty)).inside_hours == 0
        timing = times(session, desk.config, Query(("month",), empty))
        assert timing.rows == [] and timing.total("answered") == 0
    with pytest.raises(RnmailError, match="is after"):
        Period(date(2026, 3, 1), date(2026, 2, 1))
    with pytest.raises(RnmailError, match="unknown --by"):
        Query(("colour",))


def cli(config: Path, *args: str) -> tuple[int, str]:
    """Exit status and output (standard output, then error) of ``rnmail ARGS``."""
    ran = rnmail(config, *args)
    return ran.code, ran.output


def test_the_cli_formats_and_refusals(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url)
    made = counted(generate(Desk(load_config(config)), n=60))
    code, out = cli(config, "stats", "--by", "month", "--by", "channel")
    total_line = next(line for line in out.splitlines() if line.startswith(("Total", "Totaal")))
    assert code == 0 and total_line.split()[-1] == str(len(made))  # grand total
    days = sorted(local(r["created"]).date() for r in made)
    code, out = cli(config, "stats", "--by", "channel", "--lang", "en")
    assert out.splitlines()[0] == f"Channel — from {days[0]} to {days[-1]}"  # as in the data
    code, out = cli(config, "stats", "--by", "channel", "--format", "csv")
    parsed = list(csv.reader(io.StringIO(out)))
    assert parsed[0] == ["channel", "tickets"]
    assert {row[0]: int(row[1]) for row in parsed[1:]} == Counter(r["channel"] for r in made)
    code, out = cli(config, "stats", "times", "--by", "requester-type", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["measures"][1] == "first_response_median_h"
    assert sum(r["answered"] for r in data["rows"]) == sum(1 for r in made if r["answered"])
    for args, message in (
        (("stats", "--from", "2026-03-01", "--to", "2026-02-01"), "is after --to"),
        (("stats", "--by", "colour"), "Invalid value for '--by'"),
        (("stats", "--from", "2026-13-01"), "no such date: 2026-13-01 (there is no month 13)"),
        (("stats", "--exclude-category", "nope"), "unknown category 'nope'"),
    ):
        code, out = cli(config, *args)
        assert code != 0 and message in out and "Traceback" not in out, args


def test_a_day_that_does_not_exist_is_called_so(tmp_path: Path, db_url: str) -> None:
    """`stats --from 2026-02-30` said "does not match the format"; every date option of the
    command line (stats, stats times, report, archive export) shares the one type."""
    config = write_config(tmp_path, db_url)
    generate(Desk(load_config(config)), n=5)
    for command in (("stats",), ("stats", "times"), ("report", "--out", str(tmp_path / "r.html"))):
        code, out = cli(config, *command, "--from", "2026-02-30")
        assert code == 2 and "Traceback" not in out, command
        assert "Invalid value for '--from': no such date: 2026-02-30 (February 2026 has 28 " \
               "days)" in out, command
        assert "does not match the format" not in out
    code, out = cli(config, "stats", "--to", "2028-02-30")
    assert code == 2 and "no such date: 2028-02-30 (February 2028 has 29 days)" in out
    code, out = cli(config, "archive", "export", "--before", "2026-04-31", "--out",
                    str(tmp_path / "archive"))
    assert code == 2 and "no such date: 2026-04-31 (April 2026 has 30 days)" in out
    code, out = cli(config, "stats", "--from", "1/2/2026")
    assert code == 2 and "'1/2/2026' is not a day: write it YYYY-MM-DD" in out
    code, out = cli(config, "stats", "--from", "2026-2-1", "--to", "2026-02-28", "--json")
    assert code == 0 and json.loads(out)["period"] == {"from": "2026-02-01",
                                                       "to": "2026-02-28"}


def test_an_empty_period_in_text_json_and_csv(tmp_path: Path, db_url: str) -> None:
    """An empty period is a result with zeros, not an error (exit status 0)."""
    config = write_config(tmp_path, db_url)
    generate(Desk(load_config(config)), n=20)
    period = ("--from", "2030-01-01", "--to", "2030-01-31")
    code, out = cli(config, "stats", *period, "--by", "channel", "--lang", "en")
    assert code == 0
    assert out.splitlines() == ["Channel — from 2030-01-01 to 2030-01-31",
                                "Channel  Tickets  Share", "Total          0      –"]
    code, out = cli(config, "stats", *period, "--by", "month", "--by", "channel", "--lang", "fr")
    assert code == 0 and out.splitlines()[-1].split() == ["Total", "0"]
    code, out = cli(config, "stats", *period, "--by", "hour", "--json")
    data = json.loads(out)
    assert code == 0 and data["rows"] == [] and data["inside_opening_hours"] == 0
    assert data["totals"] == {"tickets": 0}
    code, out = cli(config, "stats", "times", *period, "--json")
    assert code == 0 and json.loads(out)["totals"] == {"answered": 0, "closed": 0}
    code, out = cli(config, "stats", "times", *period, "--lang", "nl")
    assert code == 0 and out.splitlines()[0] == "Maand — van 01/01/2030 tot 31/01/2030"
    code, out = cli(config, "stats", *period, "--format", "csv")
    assert code == 0 and out.splitlines() == ["month,tickets"]


# What `rnmail stats` prints is in the language asked for (issue 16, E): every heading,
# column head, total and note, and the labels of the translated dimensions. Rendered in
# English and in French or Dutch, the same place holds a different text unless the word
# is the same in both languages.
SAME = {"fr": {"Contacts", "Organisation", "Tickets", "Total", "fax", "police"},
        "nl": {"Tickets", "Week", "fax"}}
TRANSLATED_VALUES = ("channel", "requester-type", "resolution", "category", "weekday",
                     "month", "weekday-hour")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("  ") if cell.strip()]


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_heading_of_stats_is_in_the_language_asked(desk: Desk, language: str) -> None:
    from rnmail.stats.figures import DIMENSIONS
    from rnmail.stats.text import to_text

    generate(desk, n=80)
    queries = [Query((name,)) for name in DIMENSIONS] + [
        Query(("month", "channel")), Query(("staff",), exclude_categories=("access-key",)),
        Query(("month", "staff"))]
    with desk.db.transaction() as session:
        tables = [contacts(session, desk.config, q) for q in queries]
        tables += [times(session, desk.config, Query(("channel",))),
                   times(session, desk.config, Query(("weekday",)))]
    untranslated: list[tuple[str, str]] = []
    for table in tables:
        english = to_text(table, "en", desk.config.stats).splitlines()
        other = to_text(table, language, desk.config.stats).splitlines()
        assert len(english) == len(other), table.dimensions
        pairs = [(english[0].split(" — ")[0], other[0].split(" — ")[0])]
        pairs += zip(_cells(english[1]), _cells(other[1]), strict=True)  # column heads
        rows = english[2:len(table.rows) + 2], other[2:len(table.rows) + 2]
        if table.dimensions[0] in TRANSLATED_VALUES:
            pairs += [(_cells(e)[0], _cells(o)[0]) for e, o in zip(*rows, strict=True)]
        pairs += zip(english[len(table.rows) + 2:], other[len(table.rows) + 2:],
                     strict=True)  # the totals and the notes
        untranslated += [(e, o) for e, o in pairs if e == o and e not in SAME[language]
                         and not e.split()[0].isdigit()]
    assert untranslated == []


def test_the_stats_chart_speaks_the_language_asked(tmp_path: Path, db_url: str) -> None:
    import xml.etree.ElementTree as ET

    config = write_config(tmp_path, db_url)
    generate(Desk(load_config(config)), n=40)
    chart = tmp_path / "staff.svg"
    code, out = cli(config, "stats", "--by", "staff", "--chart", str(chart), "--lang", "nl")
    assert code == 0 and f"grafiek geschreven naar {chart}" in out
    texts = {"".join(t.itertext()) for t in ET.parse(chart).getroot().iter(
        "{http://www.w3.org/2000/svg}text")}
    assert {"Toegewezen tickets", "Geschreven antwoorden", "(niet toegewezen)"} <= \
        {t.capitalize() if t.islower() else t for t in texts} | texts
    assert not {"tickets assigned", "answers written", "(unassigned)"} & texts
