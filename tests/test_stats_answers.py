"""`rnmail stats --by staff` and the report's staff table count the answers each staff
member wrote, by mail or from the command line, not only the tickets assigned to them: in
the answer-by-mail workflow nobody is assigned (issue 16, D3). On SQLite and PostgreSQL,
through the real commands on a Maildir and file-transport installation."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.models import DirectoryUser, Message, Organisation
from tests.harness import corpus
from tests.harness.install import Installation, install
from tests.harness.mail import reply_to

MARIE, JAN = "marie.lambert@rn.example", "jan.peeters@rn.example"


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url)
    site.ok("staff", "add", MARIE, "--name", "Marie Lambert")
    site.ok("staff", "add", JAN, "--name", "Jan Peeters", "--language", "nl")
    yield site
    site.close()


def sent_to(desk: Installation, address: str) -> list[EmailMessage]:
    """The mails the file transport wrote for ``address``, oldest first."""
    paths = sorted((desk.root / "outgoing").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in paths]
    return [m for m in mails if isinstance(m, EmailMessage) and address in str(m["To"])]


def ask(desk: Installation, number: int) -> EmailMessage:
    """A citizen's question becomes ticket ``number``; returns its notification to Marie."""
    desk.deliver(corpus.simple(f"Question {number}", "Bonjour, une question.",
                               from_addr=f"citizen{number}@example.org",
                               message_id=f"<q{number}@example.org>"))
    desk.ok("outbox", "send")
    return sent_to(desk, MARIE)[-1]


def test_answers_by_mail_and_cli_count_for_their_authors(desk: Installation) -> None:
    # Nobody is assigned: Marie answers two tickets by replying to the notification, Jan
    # one from the command line, named by his address.
    for number in (1, 2):
        notification = ask(desk, number)
        desk.deliver(reply_to(notification, MARIE, "Bonjour, voici la réponse."))
    ask(desk, 3)
    desk.ok("ticket", "reply", "3", "-m", "Goedendag, hier is het antwoord.",
            "--author", JAN.upper())
    # A fourth ticket is assigned to Jan and not answered yet.
    ask(desk, 4)
    desk.ok("ticket", "assign", "4", JAN)
    # The second line's relayed answers and rnmail's own mails are nobody's.
    with desk.db.transaction() as session:
        authors = sorted(m.from_name or "" for m in session.scalars(select(Message).where(
            Message.direction == "out", Message.kind == "correspondence")))
    assert authors == ["Jan Peeters", "Marie Lambert", "Marie Lambert"]

    data = desk.json("stats", "--by", "staff", "--format", "json")
    assert data["measures"] == ["tickets", "answers"]
    rows = {r["staff"]: (r["tickets"], r["answers"]) for r in data["rows"]}
    # The first who answers becomes the assignee (issue 17): Marie has 1 and 2, Jan 3 and 4.
    assert rows == {"Marie Lambert": (2, 2), "Jan Peeters": (2, 1)}
    assert data["totals"] == {"tickets": 4, "answers": 3}

    text = desk.ok("stats", "--by", "staff", "--lang", "en")
    lines = [line.split("  ") for line in text.splitlines()]
    assert text.splitlines()[1].split() == ["Staff", "member", "Tickets", "assigned",
                                            "Answers", "written", "Share"]
    assert any(line[0] == "Marie Lambert" and line[-3:] == ["2", "2", "50.0 %"]
               for line in [[c.strip() for c in line if c.strip()] for line in lines])
    dutch = desk.ok("stats", "--by", "staff", "--lang", "nl")
    assert "Toegewezen tickets" in dutch and "Geschreven antwoorden" in dutch

    # By month too: the answers fall in the month they were written.
    by_month = desk.json("stats", "--by", "month", "--by", "staff", "--format", "json")
    assert sum(r["answers"] for r in by_month["rows"]) == 3

    out = desk.root / "report.html"
    desk.ok("report", "--out", str(out), "--staff", "--lang", "en")
    html = out.read_text(encoding="utf-8")
    staff = html[html.index('<section id="staff"'):]
    staff = staff[:staff.index("</section>")]
    assert "Tickets assigned" in staff and "Answers written" in staff
    assert "<th scope=\"row\">Marie Lambert</th><td class=\"n\">2</td><td class=\"n\">2</td>" \
        in staff
    assert "<th scope=\"row\">Jan Peeters</th><td class=\"n\">2</td><td class=\"n\">1</td>" \
        in staff


def test_an_access_unblock_counts_for_the_staff_member_named(desk: Installation) -> None:
    """The confirmation `access unblock --by` sends the requester is an answer too."""
    with desk.db.transaction() as session:
        town = Organisation(name="Gemeente Zuidhoven", kind="municipality", code="99001",
                            language="nl")
        session.add(DirectoryUser(organisation=town, email="an@zuidhoven.example",
                                  name="An Claes", language="nl", access_status="blocked"))
    desk.deliver(corpus.simple("Toegang geblokkeerd", "Mijn toegang is geblokkeerd.",
                               from_addr="an@zuidhoven.example"))
    desk.ok("access", "unblock", "an@zuidhoven.example", "--ticket", "1",
            "--identity-confirmed", "--entitled", "--action", "reset", "--by", "jan peeters")
    data = desk.json("stats", "--by", "staff")
    assert {r["staff"]: (r["tickets"], r["answers"]) for r in data["rows"]} == {
        "(unassigned)": (1, 0), "Jan Peeters": (0, 1)}


def test_an_author_who_is_not_on_the_staff_is_kept_as_given(desk: Installation) -> None:
    ask(desk, 1)
    detail = json.loads(desk.ok("ticket", "reply", "1", "-m", "Réponse.", "--json"))
    assert detail["from_name"] == "help desk"
    data = desk.json("stats", "--by", "staff", "--format", "json")
    assert {r["staff"]: r["answers"] for r in data["rows"]} == {"(unassigned)": 0}
