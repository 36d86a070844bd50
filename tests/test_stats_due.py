"""`rnmail stats due`: the share of due times met, by month and category (issue 18), on
SQLite and PostgreSQL through the real command. The tickets' times are written with Core
updates (the due-time hook recomputes only on ORM flushes), so each case is worked out by
hand: met, missed, closed at once without an answer (a call), not yet due, merged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from rnmail.models import Ticket
from tests.harness.install import Installation, install


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url)
    yield site
    site.close()


MARCH = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
APRIL = datetime(2026, 4, 7, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def ticket(site: Installation, category: str, created: datetime, *, response: datetime,
           resolution: datetime, answered: datetime | None = None,
           closed: datetime | None = None, resolution_code: str | None = None) -> None:
    number = site.json("ticket", "new", "--email", "x@citizen.example", "--subject", "Q",
                       "--author", "Accueil", "--category", category)["id"]
    with site.db.transaction() as session:
        session.execute(update(Ticket).where(Ticket.id == number).values(
            created_at=created, due_response_at=response, due_resolution_at=resolution,
            first_response_at=answered, closed_at=closed,
            status="closed" if closed else "open", resolution=resolution_code))


def test_shares_met_by_month_and_category(site: Installation) -> None:
    far = datetime(2099, 1, 1, tzinfo=UTC)
    # March, access-key: met and on time; answered late and closed late; never answered
    # (passed) and resolution still ahead.
    ticket(site, "access-key", MARCH, response=MARCH + 2 * H, resolution=MARCH + 9 * H,
           answered=MARCH + H, closed=MARCH + 8 * H)
    ticket(site, "access-key", MARCH, response=MARCH + 2 * H, resolution=MARCH + 9 * H,
           answered=MARCH + 3 * H, closed=MARCH + 30 * H)
    ticket(site, "access-key", MARCH, response=MARCH + 2 * H, resolution=far)
    # March, web-services: a call closed at once (no answer by mail): met twice
    ticket(site, "web-services", MARCH, response=MARCH + 2 * H, resolution=MARCH + 9 * H,
           closed=MARCH)
    # merged: not counted, although it missed everything
    ticket(site, "web-services", MARCH, response=MARCH + H, resolution=MARCH + 2 * H,
           closed=MARCH + 50 * H, resolution_code="merged")
    # April, access-key: answered on time, resolution ahead and not passed
    ticket(site, "access-key", APRIL, response=APRIL + 2 * H, resolution=far,
           answered=APRIL + H)

    shown = site.json("stats", "due", "--from", "2026-03-01", "--to", "2026-04-30")
    rows = {(r["month"], r["category"]): [r[m] for m in shown["measures"]]
            for r in shown["rows"]}
    assert shown["dimensions"] == ["month", "category"]
    assert rows == {
        ("2026-03", "access-key"): [3, 1, 33.3, 2, 1, 50.0],
        ("2026-03", "web-services"): [1, 1, 100.0, 1, 1, 100.0],
        ("2026-04", "access-key"): [1, 1, 100.0, 0, 0, None],
    }
    assert shown["totals"] == {"response_due": 5, "response_met": 3, "response_met_pct": 60.0,
                               "resolution_due": 3, "resolution_met": 2,
                               "resolution_met_pct": 66.7}

    by_type: Any = json.loads(site.ok("stats", "due", "--by", "requester-type", "--format",
                                      "json", "--exclude-category", "web-services"))
    assert by_type["totals"]["response_due"] == 4 and by_type["totals"]["response_met"] == 2

    text = site.ok("stats", "due", "--from", "2026-03-01", "--to", "2026-03-31",
                   "--lang", "fr")
    assert "Premières réponses échues" in text and "33,3" in text and "Total" in text
    assert "50,0" in text and "les tickets fusionnés ne sont pas comptés" in text
    nl = site.ok("stats", "due", "--by", "category", "--lang", "nl")
    assert "Aandeel op tijd" in nl and "60,0 %" in nl
    chart = site.root / "due.svg"
    site.ok("stats", "due", "--chart", str(chart))
    assert chart.read_text().startswith("<?xml") and "share on time" not in chart.read_text()
