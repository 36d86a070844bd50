"""WCAG 2.1 AA of every page people read, checked in a real Chromium with axe-core
(``tests/harness/axe.py``): the public status page in each position and language, the
FAQ, the accessibility statement, the status administration and the desk. One installation
served and one browser for the module; several pages per test.

Besides axe: the status page never reloads itself but offers a link that does, the time of
its last change and the feed; each language section says its language; the position is
written next to its colour; the statement says whom to tell about a problem.
"""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from rnmail.config import load_config
from rnmail.db import Database
from rnmail.status.components import set_status
from rnmail.status.notices import publish
from rnmail.status.page import publish_status
from rnmail.status.statement import EVALUATED, STATEMENT_LANGUAGES
from rnmail.tickets import faq
from tests.harness.admin import PASSWORD
from tests.harness.axe import allow_injection, page_violations, violations
from tests.harness.browser import Browser, chromium_or_fail
from tests.harness.desk import AGENT, DESKTOP, PHONE, Desk, desk_served_apart, fill
from tests.harness.factories import make_config
from tests.harness.install import add_members
from tests.harness.statuspage import VERBATIM, make_view
from tests.harness.web import request

LANGS = ("nl", "fr", "de")
pytestmark = pytest.mark.xdist_group("accessibility")  # one installation, one browser

WORDS = {  # the position as written next to its colour
    "operational": {"nl": "Operationeel", "fr": "Opérationnel", "de": "Betriebsbereit"},
    "degraded": {"nl": "Verstoord", "fr": "Perturbé", "de": "Gestört"},
    "down": {"nl": "Buiten dienst", "fr": "Hors service", "de": "Ausser Betrieb"},
}
# Landmarks, headings and the language of each part, as a person's tools find them.
STRUCTURE = """(() => ({
  landmarks: ['header', 'nav', 'main', 'footer'].filter(t => document.querySelector(
    t === 'footer' ? 'body > footer' : t === 'header' ? 'body > header' : t)),
  headings: [...document.querySelectorAll('h1, h2, h3')].map(h => Number(h.tagName[1])),
  sections: [...document.querySelectorAll('main > section')].map(s => s.lang),
  wide: document.documentElement.scrollWidth > document.documentElement.clientWidth,
}))()"""


# Tab through the page as a keyboard user: each element reached, and whether its focus is
# drawn (an outline of 2 px at least, or the browser's own ring).
def tab_focus(browser: Browser, presses: int) -> list[dict[str, str]]:
    seen = []
    for _ in range(presses):
        for kind in ("rawKeyDown", "keyUp"):
            browser.call("Input.dispatchKeyEvent", {
                "type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9})
        seen.append(browser.evaluate("""(() => {
          const el = document.activeElement, style = getComputedStyle(el);
          return {text: el.innerText || el.tagName, outline: style.outlineStyle,
                  width: style.outlineWidth, visible: el.matches(':focus-visible')};
        })()"""))
    return seen


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with desk_served_apart(tmp_path_factory.mktemp("a11y")) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_or_fail() as chromium:
        allow_injection(chromium)
        yield chromium


def test_axe_finds_what_it_is_meant_to(browser: Browser, tmp_path: Path) -> None:
    """The check can fail: a page that reloads itself, an image without a text and a
    field without a label are each found."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><meta http-equiv="refresh" content="60">'
                   "<title>x</title></head><body><main><img src='x.png'>"
                   "<input type=text></main></body></html>")
    found = " ".join(page_violations(browser, bad.as_uri()))
    for rule in ("meta-refresh", "image-alt", "label", "html-has-lang"):
        assert rule in found, found


def set_position(desk: Desk, state: str) -> None:
    config = load_config(desk.admin.path)
    with desk.admin.db.transaction() as session:
        set_status(session, config.status, state,
                   [] if state == "operational" else ["web-services"],
                   {"fr": "Réponses lentes.", "nl": "Trage antwoorden."}, "alice")
    publish(desk.admin.db, config)


def test_the_status_page_in_each_position_and_language(desk: Desk, browser: Browser) -> None:
    public = desk.admin.public_url
    found: list[str] = []
    try:
        for state in ("degraded", "down", "operational"):
            set_position(desk, state)
            browser.navigate("about:blank")
            for width in (DESKTOP, PHONE):
                browser.call("Emulation.setDeviceMetricsOverride", width)
                for lang in LANGS:
                    browser.navigate(f"{public}#{lang}")
                    found += [f"{state} {lang} {width['width']}: {line}"
                              for line in violations(browser)]
                    shown = browser.evaluate(f"document.getElementById('{lang}').innerText")
                    assert VERBATIM[state][lang] in shown
                    assert WORDS[state][lang] in shown  # not colour alone
                    structure = browser.evaluate(STRUCTURE)
                    assert structure["landmarks"] == ["header", "nav", "main", "footer"]
                    assert structure["sections"] == list(LANGS)
                    assert not structure["wide"], (state, lang, width)
            # Headings in order within each section: h1, then h2s, h3s under them.
            levels = browser.evaluate(STRUCTURE)["headings"]
            assert levels[0] == 1 and all(
                b - a <= 1 for a, b in itertools.pairwise(levels))
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")
    assert found == [], "\n".join(found)


def test_the_status_page_does_not_reload_itself_but_offers_to(desk: Desk,
                                                               browser: Browser) -> None:
    public = desk.admin.public_url
    set_position(desk, "operational")
    browser.navigate(f"{public}#de")
    html = request(desk.admin.public_port, "/").body.decode()
    assert 'http-equiv="refresh"' not in html and "<script" not in html
    assert browser.evaluate("document.querySelector('#de .updated time') !== null")
    # The page changes on the server; the reader's page stays as it was until asked.
    set_position(desk, "down")
    assert VERBATIM["operational"]["de"] in browser.evaluate(
        "document.getElementById('de').innerText")
    assert browser.evaluate("document.querySelector('#de .reload').innerText") == (
        "Seite neu laden")
    browser.follow("#de .reload")
    assert browser.evaluate("location.hash") == "#de"
    assert VERBATIM["down"]["de"] in browser.evaluate(
        "document.getElementById('de').innerText")
    shown = browser.evaluate("[...document.querySelectorAll('main > section')]"
                             ".filter(s => getComputedStyle(s).display !== 'none')"
                             ".map(s => s.id)")
    assert shown == ["de"]  # the reader's language, as before
    # Those who want to follow: the feed the page links to is there and is Atom.
    feed = browser.evaluate("document.querySelector('#de a.feed').href")
    reply = request(desk.admin.public_port, "/" + feed.rpartition("/")[2])
    assert reply.status == 200 and reply.header("Content-Type").startswith(
        "application/atom+xml")
    assert ET.fromstring(reply.body).tag == "{http://www.w3.org/2005/Atom}feed"
    assert browser.evaluate("document.querySelector('#de a.feed').innerText") == (
        "Den Änderungen folgen (Atom-Feed)")


def test_the_statement_and_the_faq(desk: Desk, browser: Browser) -> None:
    config = load_config(desk.admin.path)
    with desk.admin.db.transaction() as session:
        faq.add_entry(session, "fr", "Ma clé d'accès est bloquée ?",
                      "Appelez le helpdesk.", publish=True)
        faq.add_entry(session, "nl", "Hoe vraag ik een toegangssleutel aan?",
                      "Via uw dienst bevolking.", publish=True)
        faq.publish(session, config)
    public = desk.admin.public_url
    found: list[str] = []
    for lang in STATEMENT_LANGUAGES:
        browser.navigate(f"{public}accessibility.html#{lang}")
        found += [f"statement {lang}: {line}" for line in violations(browser)]
        section = browser.evaluate(f"document.getElementById('{lang}').innerText")
        assert "WCAG 2.1" in section and "axe-core" in section
        assert config.helpdesk.address in section and config.helpdesk.phone in section
        assert browser.evaluate(f"document.querySelector('#{lang} time').dateTime") == (
            EVALUATED.isoformat())
        browser.navigate(f"{public}faq/{lang}.html")
        found += [f"faq {lang}: {line}" for line in violations(browser)]
        link = browser.evaluate("document.querySelector('footer a').href")
        assert link == f"{config.status.public_url}/accessibility.html#{lang}"
        structure = browser.evaluate(STRUCTURE)
        assert structure["landmarks"] == ["header", "nav", "main", "footer"]
        assert browser.evaluate("[...document.querySelectorAll('nav a')]"
                                ".map(a => a.lang)") == ["fr", "nl", "de", "en"]
    # On a phone (390 px) nothing is wider than the screen; the keyboard's focus is drawn.
    browser.call("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        for page in (f"accessibility.html#{lang}", f"faq/{lang}.html", f"#{lang}"):
            browser.navigate("about:blank")
            browser.navigate(public + page)
            assert not browser.evaluate(STRUCTURE)["wide"], page
            focused = tab_focus(browser, 3)
            assert all(f["visible"] and f["outline"] != "none"
                       and float(f["width"].removesuffix("px")) >= 2 for f in focused), (
                page, focused)
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")
    reply = request(desk.admin.public_port, "/accessibility.html")
    assert reply.status == 200 and reply.header("Content-Language") == "nl, fr, de, en"
    # Every language of the status page links to the statement in it.
    browser.navigate(public)
    assert browser.evaluate("[...document.querySelectorAll('body > footer a')]"
                            ".map(a => a.getAttribute('href'))") == [
        f"accessibility.html#{lang}" for lang in LANGS]
    browser.follow("body > footer a[hreflang=fr]")
    assert browser.evaluate("document.querySelector('#fr h1').innerText") == (
        "Déclaration d'accessibilité")
    assert found == [], "\n".join(found)


@pytest.mark.slow
def test_the_admin_and_the_desk(desk: Desk, browser: Browser) -> None:
    admin, base = desk.admin, desk.admin.base
    found: list[str] = []

    def check(url: str) -> None:
        found.extend(page_violations(browser, url))

    # The status administration: sign-in, dashboard in each of its languages, audit log.
    check(f"{base}login")
    fill(browser, {"operator-name": "alice", "password": PASSWORD, "code": admin.code()})
    browser.submit("#login")
    assert browser.evaluate("location.pathname") == "/admin/"
    for lang in ("fr", "nl", "de", "en"):
        check(f"{base}?lang={lang}")
    check(f"{base}audit")
    # Setting the status: the preview, then the announcement's progress page (which does
    # not reload itself either).
    add_members(admin.path, "municipalities", ("population@sud.example", "fr"))
    browser.navigate(f"{base}?lang=fr")
    browser.evaluate("document.getElementById('state-degraded').checked = true")
    browser.evaluate("document.getElementById('status-group-municipalities').checked = true")
    fill(browser, {"status-comment-fr": "Lenteurs."})
    browser.submit("#status-form")
    found.extend(f"confirm: {line}" for line in violations(browser))
    browser.submit("#confirm-form")
    assert browser.evaluate("location.pathname").startswith("/admin/announcements/")
    assert browser.evaluate("document.querySelector('meta[http-equiv=refresh]')") is None
    found.extend(f"progress: {line}" for line in violations(browser))
    statement = browser.evaluate("document.getElementById('statement-link').href")
    check(statement)
    assert "WCAG 2.1" in browser.evaluate("document.body.innerText")
    # The desk: sign-in, queue, ticket, call form and the other pages of its menu.
    check(desk.base)
    fill(browser, {"email": AGENT, "password": PASSWORD, "code": desk.agent.code()})
    browser.submit("#login")
    assert browser.evaluate("location.pathname") == "/desk/"
    for path in ("", "?lang=nl", "?lang=de", "?lang=fr", f"tickets/{desk.ticket_id}",
                 "calls/new", "search?q=Dupont", "directory/", "faq/", "figures"):
        check(desk.base + path)
    browser.call("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        for path in ("", f"tickets/{desk.ticket_id}", "calls/new"):
            check(desk.base + path)
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")
    assert browser.evaluate("document.getElementById('statement-link').getAttribute('href')"
                            ) == "/desk/accessibility#fr"
    assert found == [], "\n".join(found)


def test_the_statement_names_the_configured_contact(tmp_path: Path, db_url: str) -> None:
    """``[status].accessibility_contact`` in the statement, published with the FAQ and
    the status page, on both databases."""
    config = make_config(tmp_path, db_url, status={
        "public_dir": str(tmp_path / "status"), "accessibility_contact": "Toegang@RN.example"})
    db = Database(config.database.url)
    try:
        db.upgrade()
        with db.transaction() as session:
            written = faq.publish(session, config)
    finally:
        db.dispose()
    statement = (tmp_path / "status" / "accessibility.html").read_text()
    assert statement.count('href="mailto:toegang@rn.example"') == len(STATEMENT_LANGUAGES)
    for lang in STATEMENT_LANGUAGES:
        assert f'<section lang="{lang}" id="{lang}"' in statement
    page = next(p for p in written if p.name == "de.html").read_text()
    assert 'href="../accessibility.html#de"' in page  # no public_url: as the site lays it out
    # Without the key: the help desk's own address.
    publish_status(make_view(), replace(config.status, accessibility_contact=""),
                   config.helpdesk)
    statement = (tmp_path / "status" / "accessibility.html").read_text()
    assert re.findall(r'href="mailto:([^"]+)" class="report-email"', statement) == [
        config.helpdesk.address] * 4
    assert json.loads((tmp_path / "status" / "status.json").read_text())["overall"]
