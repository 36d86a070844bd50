"""The desk in a real Chromium: an agent signs in with password and code, sees the queue,
opens a ticket (a hostile mail shows as text), switches language, signs out; every page
without any script (the CSP allows none), its fields labelled, its texts at WCAG AA
contrast, at 1280 px and on a 390 px phone. Screenshots are kept as artifacts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.admin import PASSWORD
from tests.harness.browser import Browser, chromium_or_fail
from tests.harness.desk import (
    AGENT,
    AGENT_NAME,
    DESKTOP,
    PHONE,
    Desk,
    desk_served,
    fill,
    usable,
)
from tests.harness.servers import SmtpServer


@pytest.fixture
def desk(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Desk]:
    with desk_served(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server) as found:
        yield found


def text(browser: Browser, selector: str = "main") -> str:
    found: str = browser.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText"
                                  " ?? ''")
    return found


@pytest.mark.slow
def test_in_a_browser_an_agent_signs_in_works_the_queue_and_signs_out(
        desk: Desk, artifacts: Path) -> None:
    shots = artifacts / "desk"
    with chromium_or_fail() as browser:
        browser.call("Emulation.setDeviceMetricsOverride", DESKTOP)
        browser.navigate(desk.base)
        assert browser.evaluate("location.pathname") == "/desk/login"
        usable(browser, "login", 1280, shots)
        # A wrong code first: refused, said, still on the sign-in page.
        fill(browser, {"email": AGENT, "password": PASSWORD, "code": "000000"})
        browser.submit("#login")
        assert browser.evaluate("location.pathname") == "/desk/login"
        assert text(browser, "#problem")
        # Password and code: the queue, in Marie's language (French).
        fill(browser, {"email": AGENT, "password": PASSWORD, "code": desk.agent.code()})
        browser.submit("#login")
        assert browser.evaluate("location.pathname") == "/desk/"
        assert browser.evaluate("document.documentElement.lang") == "fr"
        assert AGENT_NAME in text(browser, "#member")
        assert browser.evaluate("document.cookie") == ""  # HttpOnly
        assert "Jean Dupont" in text(browser, "#queue")
        assert browser.evaluate(  # the desk's own script only (the queue's view kept)
            "[...document.scripts].map(s => new URL(s.src).pathname)") == ["/desk/desk.js"]
        usable(browser, "queue", 1280, shots)
        # The ticket: the hostile markup is text, nothing ran.
        browser.follow(f"#ticket-{desk.ticket_id} a")
        assert browser.evaluate("location.pathname") == f"/desk/tickets/{desk.ticket_id}"
        shown = text(browser, "#messages")
        assert "<script>alert(1)</script>" in shown and 'onerror="alert(2)"' in shown
        assert browser.evaluate("document.querySelectorAll('#messages img').length") == 0
        usable(browser, "ticket", 1280, shots)
        # The switch: Dutch, then German; the page stays the same.
        browser.follow("#languages a[hreflang=nl]")
        assert browser.evaluate("document.documentElement.lang") == "nl"
        assert "Terug naar de wachtrij" in text(browser)
        browser.follow("#languages a[hreflang=de]")
        assert "Zurück zur Warteschlange" in text(browser)
        usable(browser, "ticket-de", 1280, shots)
        # On a phone: the queue and the ticket fit 390 px.
        browser.call("Emulation.setDeviceMetricsOverride", PHONE)
        browser.navigate(desk.base)
        usable(browser, "phone-queue", 390, shots)
        browser.navigate(f"{desk.base}tickets/{desk.ticket_id}")
        usable(browser, "phone-ticket", 390, shots)
        # Keyboard: the sign-out button is reachable by Tab and works with Enter (a form).
        browser.navigate(desk.base)
        assert browser.evaluate("document.querySelector('#logout').tabIndex") == 0
        browser.submit("#logout-form")
        assert browser.evaluate("location.pathname") == "/desk/login"
        browser.navigate(desk.base)
        assert browser.evaluate("location.pathname") == "/desk/login"
    logouts = desk.admin.audit("logout")
    assert logouts and logouts[-1].actor == AGENT and logouts[-1].client == "127.0.0.1"
