"""A pending ticket that waits until a day: ``ticket pending --until``, ``#pending DAY`` by
mail (Maildir in, aiosmtpd out), the daemon's job that brings it back that day (run twice,
and by two schedulers at once on PostgreSQL, it changes the ticket once), and the day's
parsing with its refusals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from rnmail.db import Database
from rnmail.errors import RnmailError
from rnmail.i18n.formats import BRUSSELS
from rnmail.models import TicketEvent
from rnmail.tickets.lifecycle import local_today, parse_pending_day
from rnmail.tickets.reminders import wake_pending
from tests.harness import corpus
from tests.harness.install import Installation, install
from tests.harness.mail import MARIE, REQUESTER, reply_to
from tests.harness.servers import SmtpServer

TODAY = date(2026, 12, 8)


@pytest.fixture
def site(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Installation]:
    site = install(tmp_path, db_url, smtp_server)
    site.ok("staff", "add", MARIE, "--name", "Marie Lambert")
    yield site
    site.close()


def new_ticket(site: Installation) -> str:
    return str(site.json("ticket", "new", "--email", REQUESTER, "--subject", "Clé bloquée",
                         "--author", "Marie Lambert")["id"])


def soon(days: int) -> str:
    """A day ``days`` after today in Brussels, as written on the command line."""
    return (local_today(BRUSSELS)
            + timedelta(days=days)).isoformat()


def events(site: Installation, ticket_id: str, what: str) -> list[dict[str, Any]]:
    return [e for e in site.json("ticket", "show", ticket_id)["history"] if e["what"] == what]


@pytest.mark.parametrize(("text", "day"), [
    ("2026-12-09", date(2026, 12, 9)), (" 2027-12-08 ", date(2027, 12, 8)),
])
def test_days_accepted(text: str, day: date) -> None:
    assert parse_pending_day(text, TODAY) == day


@pytest.mark.parametrize(("text", "why"), [
    ("20/12/2026", "use YYYY-MM-DD"), ("2026-12-32", "use YYYY-MM-DD"), ("demain", "YYYY"),
    ("", "YYYY-MM-DD"), ("2026-12-08", "after today"), ("2026-12-07", "after today"),
    ("2027-12-10", "more than a year"), ("2062-12-20", "more than a year"),
])
def test_days_refused(text: str, why: str) -> None:
    with pytest.raises(RnmailError) as refused:
        parse_pending_day(text, TODAY)
    assert why in str(refused.value)


def test_cli_until_shown_and_woken_once_by_the_scheduler(site: Installation) -> None:
    ticket = new_ticket(site)
    assert "after today" in site.fails("ticket", "pending", ticket, "--until", soon(0))
    assert "YYYY-MM-DD" in site.fails("ticket", "pending", ticket, "--until", "20/12")
    assert site.json("ticket", "show", ticket)["status"] == "open"  # refused: nothing changed
    day = soon(3)
    shown = site.json("ticket", "pending", ticket, "--until", day, "--author", "Marie Lambert")
    assert (shown["status"], shown["pending_until"]) == ("pending", day)
    assert f"pending until {day}" in site.ok("ticket", "show", ticket)
    [event] = events(site, ticket, "pending-until")
    assert (event["old"], event["new"], event["actor"]) == (None, day, "Marie Lambert")

    assert wake_pending(site.db, site.config, date.fromisoformat(day) - timedelta(days=1)) == []
    assert site.json("ticket", "show", ticket)["status"] == "pending"
    assert wake_pending(site.db, site.config, date.fromisoformat(day)) == [int(ticket)]
    assert wake_pending(site.db, site.config, date.fromisoformat(day)) == []  # run twice
    detail = site.json("ticket", "show", ticket)
    assert (detail["status"], detail["pending_until"]) == ("open", None)
    back = events(site, ticket, "status")[-1]
    assert (back["old"], back["new"], back["actor"], back["actor_kind"], back["via"]) == (
        "pending", "open", "scheduler", "system", "system")
    assert len(events(site, ticket, "pending-until")) == 2  # set, then cleared once

    # pending without a day, after one: the day goes (the ticket waits for a mail only)
    site.ok("ticket", "pending", ticket, "--until", day)
    site.ok("ticket", "pending", ticket)
    assert site.json("ticket", "show", ticket)["pending_until"] is None
    assert wake_pending(site.db, site.config, date.fromisoformat(day) + timedelta(days=9)) == []


def test_mail_command_with_a_day_and_its_refusal(site: Installation) -> None:
    site.deliver(corpus.simple("Clé d'accès bloquée", "Bonjour, ma clé est bloquée.",
                               from_addr=REQUESTER, message_id="<q1@citizen.example>"))
    site.ok("outbox", "send")
    [notification] = site.mails(MARIE)
    site.deliver(reply_to(notification, MARIE, "#pending 20/12/2026\nBonjour,\nUn instant."))
    site.ok("outbox", "send")
    refused = [m for m in site.mails(MARIE) if "#pending 20/12/2026" in m.get_content()]
    [error] = refused
    assert "AAAA-MM-JJ" in error.get_content() or "YYYY-MM-DD" in error.get_content()
    assert site.json("ticket", "show", "1")["status"] == "open"

    day = soon(5)
    site.deliver(reply_to(notification, MARIE, f"#pending {day}\nBonjour,\nUn instant."))
    detail = site.json("ticket", "show", "1")
    assert (detail["status"], detail["pending_until"]) == ("pending", day)


def test_two_schedulers_at_once_bring_it_back_once(site: Installation) -> None:
    ticket = new_ticket(site)
    day = soon(2)
    site.ok("ticket", "pending", ticket, "--until", day)
    woken: list[list[int]] = []
    start = threading.Barrier(2)
    databases = [Database(site.config.database.url) for _ in range(2)]

    def scheduler(db: Database) -> None:
        start.wait()
        woken.append(wake_pending(db, site.config, date.fromisoformat(day)))

    threads = [threading.Thread(target=scheduler, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for db in databases:
        db.dispose()
    assert sorted(woken) == [[], [int(ticket)]]
    with site.db.transaction() as session:
        assert session.scalars(select(TicketEvent.new).where(
            TicketEvent.ticket_id == int(ticket), TicketEvent.what == "status",
            TicketEvent.actor == "scheduler")).all() == ["open"]
