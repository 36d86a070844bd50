"""Issue 18's desk in a real Chromium, at 1280 px and on a 390 px phone: a text module
inserted from the reply form (the requester's language, its placeholders filled), the
queue's due flags (words beside the colour), merging a ticket (the confirmation, the
target, the merged ticket's pointer) and splitting a request off again. Every page
without any script (the CSP allows none), its fields labelled, its texts at WCAG AA
contrast, nothing wider than the screen. Screenshots are kept as artifacts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from rnmail.models import Ticket
from rnmail.tickets import texts
from tests.harness.browser import Browser, chromium_or_fail
from tests.harness.desk import (
    DESKTOP,
    PHONE,
    Desk,
    desk_served,
    desk_signed_in,
    fill,
    open_ticket,
    usable,
)
from tests.harness.servers import SmtpServer

pytestmark = pytest.mark.slow
WIDTHS = ((DESKTOP, 1280, ""), (PHONE, 390, "phone-"))
NOW = datetime.now(UTC)


@pytest.fixture
def desk(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Desk]:
    with desk_served(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server) as found:
        desk_signed_in(found.agent)
        yield found


@pytest.fixture
def browser(desk: Desk) -> Iterator[Browser]:
    """Chromium with Marie's session (signed in over HTTP)."""
    base = f"http://127.0.0.1:{desk.agent.admin_port}/desk/"
    with chromium_or_fail() as found:
        found.call("Network.enable")
        for name, value in desk.agent.cookies.items():
            found.call("Network.setCookie", {"name": name, "value": value, "url": base,
                                             "httpOnly": True})
        yield found


def text(browser: Browser, selector: str) -> str:
    found: str = browser.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText"
                                  " ?? ''")
    return found


def where(browser: Browser) -> str:
    found: str = browser.evaluate("location.pathname + location.search")
    return found


def test_a_text_module_is_inserted_in_the_requesters_language(
        desk: Desk, browser: Browser, artifacts: Path) -> None:
    with desk.admin.db.transaction() as session:
        texts.add_text(session, "greeting", "fr", "Bonjour {{ requester.name }},", "test")
        texts.add_text(session, "greeting", "nl",
                       "Goedendag {{ requester.name }}, uw ticket {{ ticket.id }}:", "test")
    ticket_id = open_ticket(desk.admin, subject="Sleutel", channel="mail",
                            requester="an@citizen.example", requester_name="An Peeters",
                            language="nl", note="Mijn sleutel werkt niet meer.")
    for metrics, width, prefix in WIDTHS:
        browser.call("Emulation.setDeviceMetricsOverride", metrics)
        browser.navigate(f"{desk.base}tickets/{ticket_id}")
        assert "néerlandais" in text(browser, "#reply-text-insert")
        usable(browser, f"{prefix}reply-text-module", width, shots=artifacts / "desk")
        fill(browser, {"reply-text": "Dank u.", "reply-text-module": "greeting"})
        browser.follow("#reply-insert-text")  # the button of the fieldset, without a script
        assert where(browser) == f"/desk/tickets/{ticket_id}/reply"
        assert browser.evaluate("document.getElementById('reply-text').value") == (
            f"Dank u.\n\nGoedendag An Peeters, uw ticket {ticket_id}:")
        assert browser.evaluate("document.getElementById('reply-text-module').value") == \
            "greeting"
        assert text(browser, "#files-again")
        usable(browser, f"{prefix}reply-text-inserted", width, shots=artifacts / "desk")


def test_the_queue_flags_late_and_due_within_the_hour_in_words(
        desk: Desk, browser: Browser, artifacts: Path) -> None:
    letter = {"channel": "letter", "requester": "an@citizen.example"}
    late, soon = (open_ticket(desk.admin, subject=s, **letter) for s in ("Retard", "Bientôt"))
    with desk.admin.db.transaction() as session:
        for ticket_id, at in ((late, NOW - timedelta(hours=3)),
                              (soon, NOW + timedelta(minutes=40))):
            session.execute(update(Ticket).where(Ticket.id == ticket_id).values(due_at=at))
    for metrics, width, prefix in WIDTHS:
        browser.call("Emulation.setDeviceMetricsOverride", metrics)
        browser.navigate(f"{desk.base}?tab=open&channel=letter")
        browser.evaluate("document.getElementById('f-sort').value = 'due'")
        browser.submit("#filters")
        assert "sort=due" in where(browser)
        order = browser.evaluate("[...document.querySelectorAll('#queue tbody tr')]"
                                 ".map(r => r.id)")
        assert order == [f"ticket-{late}", f"ticket-{soon}"]
        assert text(browser, f"#late-{late}") == "en retard"
        assert text(browser, f"#soon-{soon}") == "échéance dans l'heure"
        # the flag is read as text, not only seen as a colour: its own contrast is checked
        assert browser.evaluate(f"getComputedStyle(document.getElementById('late-{late}'))"
                                ".fontWeight") in ("700", "bold")
        usable(browser, f"{prefix}queue-due", width, shots=artifacts / "desk")


def test_merging_then_splitting_in_the_browser(
        desk: Desk, browser: Browser, artifacts: Path) -> None:
    for metrics, width, prefix in WIDTHS:
        browser.call("Emulation.setDeviceMetricsOverride", metrics)
        first, again = (open_ticket(desk.admin, subject=f"Clé {n}", channel="mail",
                                    requester="an@citizen.example", note=f"Demande {n}")
                        for n in ("un", "deux"))
        browser.navigate(f"{desk.base}tickets/{again}")
        # a number that cannot be: said next to the field, on the confirmation page
        fill(browser, {"merge-target": str(again)})
        browser.submit("#merge-form")
        assert "lui-même" in text(browser, "#merge-problem")
        assert browser.evaluate("document.getElementById('merge-target')"
                                ".getAttribute('aria-describedby')") == "merge-problem"
        usable(browser, f"{prefix}merge-refused", width, shots=artifacts / "desk")
        fill(browser, {"merge-target": f"#{first}"})
        browser.submit("#merge-form")
        assert f"#{first}" in text(browser, "#merge-target-ticket")
        usable(browser, f"{prefix}merge-confirm", width, shots=artifacts / "desk")
        browser.submit("#merge-confirm-form")
        assert where(browser) == f"/desk/tickets/{first}?done=merged"
        assert text(browser, "#notice")
        usable(browser, f"{prefix}merged-target", width, shots=artifacts / "desk")
        # the merged ticket points to its target
        browser.navigate(f"{desk.base}tickets/{again}")
        assert f"#{first}" in text(browser, "#merged-into")
        usable(browser, f"{prefix}merged-source", width, shots=artifacts / "desk")
        browser.follow("#merged-into-link")
        assert where(browser) == f"/desk/tickets/{first}"
        # split the merged-in request off again: a new ticket, linked back
        buttons = browser.evaluate("[...document.querySelectorAll('form.split')].map(f => f.id)")
        assert len(buttons) == 2, buttons
        browser.submit(f"#{buttons[1]}")
        assert where(browser).endswith("?done=split")
        assert text(browser, "#linked-ticket") == f"#{first}"
        assert "Demande deux" in text(browser, "#messages")
        usable(browser, f"{prefix}split-new", width, shots=artifacts / "desk")
