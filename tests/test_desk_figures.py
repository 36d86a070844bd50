"""The desk's figures (``/desk/figures``) over HTTP, on SQLite and PostgreSQL (the figures
are SQL of each dialect): the counts of known tickets (by hand and as the core's table),
charts served as images, the report downloaded, bad periods refused; and one Chromium
visit of the FAQ and the figures (accessibility at 1280 and 390 px, screenshots kept)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path

import pytest

from rnmail.config import load_config
from rnmail.models import Ticket
from rnmail.stats.figures import Period, Query, contacts
from rnmail.stats.hours import BRUSSELS
from rnmail.stats.words import LANGUAGES as FIGURE_LANGUAGES
from rnmail.tickets import faq
from rnmail.web.desk.base import DESK_LANGUAGES
from tests.harness.admin import PASSWORD
from tests.harness.browser import chromium_or_fail
from tests.harness.desk import AGENT, HOSTILE, Desk, desk_served, desk_signed_in, usable
from tests.harness.servers import SmtpServer, fresh_postgres_schema, postgres_problem

DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
PERIOD = "from=2026-02&to=2026-03"


def brussels(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=BRUSSELS).astimezone(UTC)


# (created, channel, requester type, organisation, category); 31 March 23:30 Brussels is
# still March (21:30 UTC), 1 February 00:30 is February (31 January in UTC).
TICKETS = [
    (brussels(2, 1, 0) .replace(minute=30), "mail", "municipality", "Commune de Sud",
     "access-key"),
    (brussels(2, 2, 10), "phone", "citizen", None, "certificate"),
    (brussels(2, 3, 14), "mail", "municipality", "Commune de Sud", "access-key"),
    (brussels(2, 9, 9), "fax", "notary", HOSTILE, "legal"),
    (brussels(3, 2, 10), "phone", "police", "Zone de police Nord", "access-key"),
    (brussels(3, 31, 23).replace(minute=30), "mail", "citizen", None, "certificate"),
    (brussels(4, 1, 9), "mail", "citizen", None, "certificate"),  # April: outside
]


def seed(desk: Desk) -> None:
    with desk.admin.db.transaction() as session:
        for index, (created, channel, kind, org, category) in enumerate(TICKETS):
            session.add(Ticket(subject=f"question {index}", channel=channel,
                               requester=f"r{index}@citizen.example", requester_type=kind,
                               requester_org=org, category=category, language="fr",
                               created_at=created, status="open"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("figures")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{root}/rnmail.db"
        else:
            problem = postgres_problem()
            if problem:
                pytest.fail(problem, pytrace=False)
            url = stack.enter_context(fresh_postgres_schema())
        smtp = stack.enter_context(SmtpServer())
        found = stack.enter_context(desk_served(root, url, smtp))
        seed(found)
        desk_signed_in(found.agent)
        yield found


def section_rows(page: str, section: str) -> list[list[str]]:
    """The rows (head, body, foot) of the tables of a section, as text."""
    match = re.search(rf'<section class="figures" id="{section}".*?</section>', page, re.S)
    assert match, section
    return [[unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", match.group(0), re.S)]


def test_the_figures_of_known_tickets(desk: Desk) -> None:
    page = desk.agent.get(f"/desk/figures?{PERIOD}")
    assert page.status == 200, page.text
    assert 'lang="fr"' in page.text and "du 01/02/2026 au 31/03/2026" in page.text
    # Contacts per month and channel: February 4 (2 mail, 1 phone, 1 fax), March 2.
    rows = section_rows(page.text, "contacts")
    assert rows[0][0] == "Mois" and rows[0][-1] == "Total"
    by_month = {row[0]: row[1:] for row in rows[1:]}
    head = rows[0][1:-1]
    february = dict(zip(head, by_month["févr. 2026"], strict=False))
    assert (february["courriel"], february["téléphone"], february["fax"]) == ("2", "1", "1")
    assert by_month["févr. 2026"][-1] == "4" and by_month["mars 2026"][-1] == "2"
    assert by_month["Total"][-1] == "6"
    # The same as the core's table.
    config = load_config(desk.admin.path)
    with desk.admin.db.transaction() as session:
        table = contacts(session, config, Query(("month", "channel"),
                                                Period(date(2026, 2, 1), date(2026, 3, 31))))
    assert table.total() == 6
    months = {"2026-02": "févr. 2026", "2026-03": "mars 2026"}
    per_month: dict[str, int] = {}
    for (month, _channel), (count,) in table.rows:
        per_month[month] = per_month.get(month, 0) + count
    assert {months[m]: str(n) for m, n in per_month.items()} == {
        name: cells[-1] for name, cells in by_month.items() if name != "Total"}
    # Per requester type: 2 municipalities, 2 citizens, 1 notary, 1 police.
    types = {row[0]: row[1] for row in section_rows(page.text, "requesters")[1:6]}
    assert types == {"commune": "2", "citoyen": "2", "notaire": "1", "police": "1",
                     "Total": "6"}, types
    # The hostile organisation is text.
    assert HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    # Per category: access-key 3, certificate 2, legal 1.
    categories = {row[0]: row[1] for row in section_rows(page.text, "categories")[1:]}
    assert categories == {"clé d'accès": "3", "certificat": "2", "juridique": "1",
                          "Total": "6"}, categories


def test_only_what_is_asked_and_the_times(desk: Desk) -> None:
    page = desk.agent.get(f"/desk/figures?{PERIOD}&show=times&show=load")
    assert page.status == 200
    assert 'id="times"' in page.text and 'id="load"' in page.text
    assert 'id="contacts"' not in page.text and 'id="requesters"' not in page.text
    assert 'name="show" value="times" checked' in page.text
    # No ticket was answered: said, not a failure.
    assert "Pas de données pour cette période." in section_text(page.text, "times")


def section_text(page: str, section: str) -> str:
    match = re.search(rf'<section class="figures" id="{section}".*?</section>', page, re.S)
    assert match, section
    return match.group(0)


def test_in_german_the_page_and_the_figures(desk: Desk) -> None:
    try:
        page = desk.agent.get(f"/desk/figures?{PERIOD}&show=categories&lang=de")
        assert page.status == 200 and '<html lang="de">' in page.text
        assert "Zahlen anzeigen" in page.text
        assert "Tickets nach Kategorie" in page.text and "Tickets par catégorie" not in page.text
        assert '<option value="de" selected>Deutsch</option>' in page.text
        assert 'lang="de" aria-labelledby="categories-title"' in page.text
        reply = desk.agent.get("/desk/figures/report.html?from=2026-02-01&to=2026-03-31"
                               "&staff=no")  # the reader's language
        assert reply.header("Content-Disposition") == (
            'attachment; filename="report-2026-02-01-2026-03-31-de.html"')
        assert "Tätigkeitsbericht" in reply.body.decode()
    finally:
        desk.agent.get("/desk/figures?lang=fr")


def test_every_language_of_the_desk_has_its_figures() -> None:
    """The page shows the figures in the reader's language, never another one."""
    assert {code for code, _name in DESK_LANGUAGES} <= set(FIGURE_LANGUAGES)


def test_charts_are_images_of_the_desk(desk: Desk) -> None:
    page = desk.agent.get(f"/desk/figures?{PERIOD}")
    sources = [unescape(s) for s in re.findall(r'<img src="([^"]+)"', page.text)]
    assert sources and all(s.startswith("/desk/figures/chart.png?") for s in sources)
    png = desk.agent.get(sources[0])
    assert png.status == 200 and png.header("Content-Type") == "image/png"
    assert png.body.startswith(b"\x89PNG")
    assert png.header("X-Content-Type-Options") == "nosniff"
    assert "max-age" in png.header("Cache-Control")
    assert desk.agent.get(sources[0]).body == png.body  # kept, the same
    svg = desk.agent.get(sources[0].replace("chart.png", "chart.svg"))
    assert svg.header("Content-Type") == "image/svg+xml" and b"<svg" in svg.body
    assert svg.header("Content-Disposition") == 'attachment; filename="contacts.svg"'
    assert b"<script" not in svg.body
    for bad in ("section=contacts&n=9&language=fr", "section=nothing&n=0&language=fr",
                "section=contacts&n=x&language=fr", "section=contacts&n=0&language=it"):
        url = f"/desk/figures/chart.png?{PERIOD}&{bad}"
        assert desk.agent.get(url).status == 404, bad
    assert desk.agent.get("/desk/figures/chart.png?from=2026-13&section=contacts&n=0"
                          "&language=fr").status == 400
    # Not signed in: no chart.
    stranger = desk.agent.__class__(desk.admin.root, desk.admin.db, desk.admin.smtp,
                                    desk.admin.public_port, desk.admin.admin_port, "")
    assert stranger.get(sources[0]).header("Location") == "/desk/login"


def test_the_report_downloads(desk: Desk) -> None:
    reply = desk.agent.get("/desk/figures/report.html?from=2026-02-01&to=2026-03-31"
                           "&language=nl&staff=no")
    assert reply.status == 200
    assert reply.header("Content-Disposition") == (
        'attachment; filename="report-2026-02-01-2026-03-31-nl.html"')
    assert reply.header("Content-Type") == "text/html; charset=utf-8"
    assert reply.header("X-Content-Type-Options") == "nosniff"
    text = reply.body.decode()
    assert "Activiteitenverslag" in text and "6 contacten" in text
    assert HOSTILE not in text
    assert desk.agent.get("/desk/figures/report.html?language=it").status == 400


@pytest.mark.parametrize("query", [
    "from=2026-13", "from=abc", "to=2026-02-30", "from=2026-03&to=2026-02", "from=1969-12",
    "from=99999-01", "show=everything", "from=2026-02-01T00:00",
])
def test_a_bad_period_or_choice_is_a_400_page(desk: Desk, query: str) -> None:
    page = desk.agent.get(f"/desk/figures?{query}")
    assert page.status == 400 and 'id="problem"' in page.text, query
    assert "La période est illisible" in page.text or "Ces chiffres n&#39;existent pas" \
        in page.text
    if not query.startswith("show"):  # the report is the whole report
        assert desk.agent.get(f"/desk/figures/report.html?{query}").status == 400


# --- in a browser ------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("desk", ["sqlite"], indirect=True)
def test_in_a_browser_the_faq_and_the_figures(desk: Desk, artifacts: Path) -> None:
    shots = artifacts / "desk"
    with desk.admin.db.transaction() as session:
        entry = faq.add_entry(session, "fr", f"Clé d'accès bloquée ? {HOSTILE}",
                              "Appelez le help desk au 02/518 21 31.", "access-key")
        entry_id = entry.id
    with chromium_or_fail() as browser:
        browser.call("Emulation.setDeviceMetricsOverride", DESKTOP)
        browser.navigate(f"{desk.base}login")
        for field, value in (("email", AGENT), ("password", PASSWORD),
                             ("code", desk.agent.code())):
            browser.evaluate(f"document.getElementById('{field}').value = {value!r}")
        browser.submit("#login")
        assert browser.evaluate("location.pathname") == "/desk/"
        browser.follow("#nav-faq")
        assert browser.evaluate("location.pathname") == "/desk/faq/"
        assert "<script>" in browser.evaluate("document.querySelector('#faq-entries')"
                                               ".innerText")
        usable(browser, "faq", 1280, shots)
        browser.navigate(f"{desk.base}faq/{entry_id}")
        usable(browser, "faq-entry", 1280, shots)
        browser.follow("#nav-figures")
        browser.navigate(f"{desk.base}figures?{PERIOD}")
        assert browser.evaluate("document.querySelectorAll('img').length") >= 4
        loaded = browser.evaluate("[...document.images].every(i => i.complete && "
                                  "i.naturalWidth > 100)")
        assert loaded
        usable(browser, "figures", 1280, shots)
        pdf = desk.agent.get(f"/desk/figures/report.pdf?{PERIOD}&language=fr")
        assert pdf.status == 200 and pdf.body.startswith(b"%PDF-")
        assert pdf.header("Content-Type") == "application/pdf"
        assert pdf.header("Content-Disposition") == (
            'attachment; filename="report-2026-02-01-2026-03-31-fr.pdf"')
        browser.call("Emulation.setDeviceMetricsOverride", PHONE)
        browser.navigate(f"{desk.base}faq/")
        usable(browser, "phone-faq", 390, shots)
        browser.navigate(f"{desk.base}figures?{PERIOD}")
        usable(browser, "phone-figures", 390, shots)
