"""The desk's spam page and "sender not verified" (issue 19), served, on both databases.

Held mail is listed with its reason (its subject as text, never markup); *Release* makes it
a ticket once (a second press is refused), *Delete* removes it and its raw mail; both need
the session's CSRF token and are audited. An unverified ticket says so on its page and in
its queue row, in the member's language. In Chromium: the page is usable (contrast, labels,
width).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.config import load_config
from rnmail.ingest.blocklist import hold
from rnmail.models import SpamMessage, Ticket
from rnmail.util.blobs import BlobStore
from tests.harness import corpus
from tests.harness.admin import PASSWORD
from tests.harness.browser import chromium_or_fail
from tests.harness.desk import (
    AGENT,
    DESKTOP,
    HOSTILE,
    Desk,
    desk_served_apart,
    desk_signed_in,
    fill,
    open_ticket,
    usable,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desk]:
    with desk_served_apart(tmp_path, request.param) as served:
        yield served


def held(desk: Desk, subject: str, sender: str) -> int:
    config = load_config(desk.admin.path)
    raw = corpus.simple(subject, "Gagnez un iPhone maintenant !", from_addr=sender,
                        extra_headers={"X-Spam-Flag": "YES"})
    blobs = BlobStore(config.helpdesk.attachments_dir)
    digest = blobs.put(raw)
    blobs.sync()
    with desk.admin.db.transaction() as session:
        row = hold(session, "info", 1, subject, raw, digest, None, "spam flag (YES)")
        row.subject, row.from_addr = subject, sender
        session.flush()
        return row.id


def test_release_and_delete_from_the_desk(desk: Desk) -> None:
    agent = desk.agent
    csrf = desk_signed_in(agent)
    first = held(desk, f"Offre {HOSTILE}", "promo@spam.example")
    second = held(desk, "Deuxième offre", "promo@spam.example")
    page = agent.get("/desk/spam")
    assert page.status == 200
    assert f'id="spam-{first}"' in page.text and f'id="spam-{second}"' in page.text
    assert "Libérer" in page.text and "Supprimer" in page.text  # Marie reads French
    assert "&lt;script&gt;" in page.text and HOSTILE not in page.text
    assert 'id="nav-spam"' in page.text

    # without the token: refused, nothing done
    assert agent.post(f"/desk/spam/{first}/release", []).status == 403
    reply = agent.post(f"/desk/spam/{first}/release", [("csrf", csrf)])
    assert reply.status == 303 and reply.header("Location") == "/desk/spam?done=spam-released"
    again = agent.post(f"/desk/spam/{first}/release", [("csrf", csrf)])
    assert again.status == 409  # released once
    with desk.admin.db.transaction() as session:
        tickets = list(session.scalars(select(Ticket.subject).where(
            Ticket.subject.like("Offre%"))))
    assert tickets == [f"Offre {HOSTILE}"]
    assert [e.detail["spam"] for e in desk.admin.audit("desk-spam-release")] == [first]
    assert [e.actor for e in desk.admin.audit("spam-release")] == [AGENT]

    with desk.admin.db.transaction() as session:
        digest = session.get(SpamMessage, second).raw_sha256  # type: ignore[union-attr]
    blobs = BlobStore(load_config(desk.admin.path).helpdesk.attachments_dir)
    assert blobs.path(digest).exists()
    reply = agent.post(f"/desk/spam/{second}/delete", [("csrf", csrf)])
    assert reply.status == 303 and reply.header("Location") == "/desk/spam?done=spam-deleted"
    assert not blobs.path(digest).exists()
    page = agent.get("/desk/spam?done=spam-deleted")
    assert 'id="no-spam"' in page.text and "Le courriel a été supprimé." in page.text


def test_an_unverified_sender_is_flagged(desk: Desk) -> None:
    agent = desk.agent
    desk_signed_in(agent)
    ticket_id = open_ticket(desk.admin, "Clé bloquée", "Débloquez ma clé.", channel="mail",
                            requester="an.claes@zuidhoven.example", requester_name="An Claes")
    with desk.admin.db.transaction() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.sender_unverified = True
    page = agent.get(f"/desk/tickets/{ticket_id}")
    assert 'id="sender-unverified"' in page.text and "Expéditeur non vérifié." in page.text
    queue = agent.get("/desk/")
    row = queue.text.split(f'<tr id="ticket-{ticket_id}"', 1)[1].split("</tr>", 1)[0]
    assert "expéditeur non vérifié" in row
    other = queue.text.split(f'<tr id="ticket-{desk.ticket_id}"', 1)[1].split("</tr>", 1)[0]
    assert "non vérifié" not in other
    assert 'id="sender-unverified"' not in agent.get(f"/desk/tickets/{desk.ticket_id}").text


@pytest.mark.slow
def test_the_spam_page_in_a_browser(tmp_path: Path, artifacts: Path) -> None:
    with desk_served_apart(tmp_path) as served:
        held(served, "Offre spéciale", "promo@spam.example")
        with chromium_or_fail() as browser:
            browser.call("Emulation.setDeviceMetricsOverride", DESKTOP)
            browser.navigate(f"{served.base}login")
            fill(browser, {"email": AGENT, "password": PASSWORD, "code": served.agent.code()})
            browser.submit("#login")
            browser.navigate(f"{served.base}spam")
            assert browser.evaluate("document.querySelectorAll('#spam tbody tr').length") == 1
            usable(browser, "spam", 1280, artifacts / "desk")
            browser.submit("#spam tbody form")
            assert browser.evaluate("location.search") == "?done=spam-released"
            assert browser.evaluate("!!document.getElementById('no-spam')")
