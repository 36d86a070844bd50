"""Charts and the management report (rnmail report), on SQLite and PostgreSQL, from a small
dataset whose figures are known by hand; the report is also opened in a real Chromium."""

from __future__ import annotations

import base64
import re
import time
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from rnmail.config import load_config
from rnmail.errors import RnmailError
from rnmail.models import Message, Service, Staff, Ticket
from rnmail.stats.charts import write_chart
from rnmail.stats.figures import Period, Query, Table, contacts, times
from rnmail.stats.hours import BRUSSELS
from rnmail.stats.report import build_report, write_report
from rnmail.stats.words import labeller
from tests.harness.browser import chromium_or_fail, page_file
from tests.harness.factories import Desk, write_config
from tests.harness.install import rnmail

SCRIPT = "<script>window.pwned = 1</script> & Co"
PERIOD = Period(date(2026, 2, 1), date(2026, 3, 31))
SVG = "{http://www.w3.org/2000/svg}"


def brussels(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BRUSSELS).astimezone(UTC)


# (created in Brussels time, channel, requester type, organisation, category, resolution,
#  service, assignee, business hours to the first answer, to the closing)
TICKETS: list[tuple[Any, ...]] = [
    (brussels(2, 2, 9), "mail", "municipality", "Commune de Schaerbeek", "access-key",
     "first-contact", None, "Anne Martin", 1.0, 2.0),
    (brussels(2, 2, 10), "phone", "citizen", None, "certificate", "first-contact", None,
     "Bert Peeters", 0.5, 0.5),
    (brussels(2, 3, 14), "fax", "notary", "Notaire Dupont", "address-change", "investigated",
     None, "Anne Martin", 3.5, 4.0),
    (brussels(2, 4, 18), "mail", "police", "Police Bruxelles", "legal", "second-line",
     "Juridique", None, 0.5, 16.0),  # Wednesday evening: outside opening hours
    (brussels(2, 7, 11), "mail", "citizen", None, "access-key", None, None, None, None, None),
    (brussels(2, 10, 11), "mail", "company", SCRIPT, "web-services", None, None, None, None,
     None),
    (brussels(3, 2, 10), "letter", "public-service", "SPF Intérieur", "data-correction",
     "second-line", "Population", "Anne Martin", 2.0, 8.0),
    (brussels(3, 3, 15), "mail", "municipality", "Commune de Schaerbeek", "access-key",
     "first-contact", None, "Bert Peeters", 0.25, 0.25),
    (brussels(3, 16, 12), "phone", "citizen", None, "other", None, None, None, None, None),
    (brussels(3, 31, 8), "mail", "municipality", "Gemeente Gent", "access-key", None, None,
     None, None, None),  # before opening, summer time
]
# 7 of the 10 arrived inside opening hours (not the Wednesday evening, the Saturday, 08:00).


def later(start: datetime, hours: float | None) -> datetime | None:
    """``start`` plus this many business hours (08:30-16:30, Mon-Fri; no holiday here)."""
    if hours is None:
        return None
    moment = start.astimezone(BRUSSELS)
    left = timedelta(hours=hours)
    while True:
        opens = moment.replace(hour=8, minute=30, second=0)
        closes = moment.replace(hour=16, minute=30, second=0)
        if moment.weekday() < 5 and moment < closes:
            moment = max(moment, opens)
            if moment + left <= closes:
                return (moment + left).astimezone(UTC)
            left -= closes - moment
        moment = (moment + timedelta(days=1)).replace(hour=0, minute=0)


def seed(desk: Desk) -> None:
    with desk.db.transaction() as session:
        staff = {name: Staff(email=f"{name.split()[0].lower()}@rn.example", name=name)
                 for name in ("Anne Martin", "Bert Peeters")}
        services = {name: Service(name=name, email=f"{name.lower()}@rn.example")
                    for name in ("Juridique", "Population")}
        session.add_all([*staff.values(), *services.values()])
        session.flush()
        for index, (created, channel, kind, org, category, resolution, service, assignee,
                    answer, close) in enumerate(TICKETS):
            answered, closed = later(created, answer), later(created, close)
            ticket = Ticket(
                subject=f"question {index}", channel=channel, requester=f"r{index}@example.be",
                requester_type=kind, requester_org=org, category=category, language="fr",
                created_at=created, first_response_at=answered, closed_at=closed,
                status="closed" if closed else "open", resolution=resolution,
                service_id=services[service].id if service else None,
                assignee_id=staff[assignee].id if assignee else None)
            session.add(ticket)
            session.flush()
            if assignee and answered:
                session.add(Message(ticket_id=ticket.id, direction="out",
                                    from_addr="info@rn.example", from_name=assignee,
                                    subject="re", created_at=answered))


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Desk:
    desk = Desk(load_config(write_config(tmp_path, db_url)))
    seed(desk)
    return desk


@pytest.fixture
def undrawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """For the tests of the report's words: each chart an empty SVG, which the report still
    gives its title (the text of every chart is a <title>, its table a <table>). What a
    chart looks like is the business of the tests that draw (about 0.1 s each chart)."""
    monkeypatch.setattr("rnmail.stats.report.draw_chart",
                        lambda *_args: b'<svg xmlns="http://www.w3.org/2000/svg"></svg>')


def report(desk: Desk, language: str = "fr", staff: bool = False,
           period: Period = PERIOD) -> str:
    with desk.db.transaction() as session:
        return build_report(session, desk.config, period, language, staff)


def cli(config: Path, *args: str) -> tuple[int, str]:
    """Exit status and output (standard output, then error) of ``rnmail ARGS``."""
    ran = rnmail(config, *args)
    return ran.code, ran.output


def section(html: str, name: str) -> str:
    match = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    assert match, name
    return match.group(0)


def text_of(html: str) -> str:
    """The text of some HTML, SVG charts left out, spaces collapsed."""
    html = re.sub(r"<(svg|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# Charts


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # drawing, not storage
def test_png_and_svg_charts_are_real(desk: Desk, tmp_path: Path) -> None:
    with desk.db.transaction() as session:
        tables = {
            "month-channel": contacts(session, desk.config, Query(("month", "channel"),
                                                                  PERIOD)),
            "organisation": contacts(session, desk.config, Query(("organisation",), PERIOD)),
            "weekday-hour": contacts(session, desk.config, Query(("weekday-hour",), PERIOD)),
            "staff": contacts(session, desk.config, Query(("staff",), PERIOD)),
            "times": times(session, desk.config, Query(("month",), PERIOD)),
        }
    for name, table in tables.items():
        png, svg = tmp_path / f"{name}.png", tmp_path / f"{name}.svg"
        write_chart(table, png)
        write_chart(table, svg)
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000, name
        root = ET.parse(svg).getroot()
        assert root.tag == f"{SVG}svg"
        assert root.findall(f".//{SVG}path") or root.findall(f".//{SVG}rect"), name
        texts = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
        if name == "organisation":
            assert SCRIPT in texts  # text, escaped by the SVG writer
        if name == "weekday-hour":
            assert "opening hours 08:30–16:30" in texts
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_many_organisations_are_cut_to_the_top_20_and_other(tmp_path: Path) -> None:
    table = Table(["organisation"], ["tickets"],
                  [((f"Commune {i:02d}",), (100 - i,)) for i in range(30)], PERIOD)
    write_chart(table, tmp_path / "orgs.svg")
    texts = [("".join(t.itertext())) for t in ET.parse(tmp_path / "orgs.svg").getroot().iter(
        f"{SVG}text")]
    assert "Commune 19" in texts and "Commune 20" not in texts and "other" in texts
    assert str(sum(100 - i for i in range(20, 30))) in texts  # the rest, summed


def test_a_bad_chart_name_writes_nothing(desk: Desk, tmp_path: Path) -> None:
    with desk.db.transaction() as session:
        table = contacts(session, desk.config, Query(("channel",), PERIOD))
    for path, message in ((tmp_path / "chart.gif", "--chart: use a .png or .svg file name"),
                          (tmp_path / "chart", "--chart: use a .png or .svg file name"),
                          (tmp_path / "missing" / "chart.png", "does not exist")):
        with pytest.raises(RnmailError, match=message):
            write_chart(table, path)
    assert not (tmp_path / "chart.gif").exists() and not (tmp_path / "missing").exists()
    code, out = cli(desk.config.path, "stats", "--from", "2026-02-01", "--to", "2026-03-31",
                    "--by", "channel", "--chart", str(tmp_path / "out.jpg"))
    assert code == 1 and "--chart: use a .png or .svg file name" in out
    assert "Traceback" not in out and not (tmp_path / "out.jpg").exists()
    code, out = cli(desk.config.path, "stats", "--by", "channel", "--chart",
                    str(tmp_path / "out.svg"))
    assert code == 0 and ET.parse(tmp_path / "out.svg").getroot().tag == f"{SVG}svg"


# The report


def test_the_report_holds_the_figures(desk: Desk) -> None:
    started = time.perf_counter()
    html = report(desk, "fr")
    elapsed = time.perf_counter() - started
    print(f"report built in {elapsed:.2f} s")  # shown with -s
    assert elapsed < 30
    assert html.startswith("<!DOCTYPE html>") and '<html lang="fr">' in html
    # Self-contained: no script, no external resource.
    assert not re.search(r"<script|<link|<img|\bsrc=|@import|url\((?!#)", html)
    assert len(re.findall(r"<svg\b", html)) >= 6
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # several charts, one page: ids stay unique
    head = text_of(html[:html.index("<main>")])
    assert "Rapport d'activité" in head and "du 01/02/2026 au 31/03/2026" in head
    assert "(heure de Bruxelles)" in head

    contacts_text = text_of(section(html, "contacts"))
    assert "10 contacts (tickets créés) sur la période." in contacts_text
    # Months × channels, largest channel first (ties by name), with totals.
    assert "Mois courriel téléphone fax courrier Total" in contacts_text
    assert "févr. 2026 4 1 1 0 6" in contacts_text
    assert "mars 2026 2 1 0 1 4" in contacts_text
    assert "Total 6 2 1 1 10" in contacts_text

    who = text_of(section(html, "requesters"))
    # All contacts, share; outside access-key requests (4 of the 10), share.
    assert "commune 3 30,0 % 0 0,0 %" in who.replace("\u202f", " ")
    assert "citoyen 3 30,0 % 2 33,3 %" in who.replace("\u202f", " ")
    assert "Total 10 100,0 % 6 100,0 %" in who.replace("\u202f", " ")
    assert "Commune de Schaerbeek 2" in who and "(citoyens) 3" in who

    assert "clé d'accès 4" in text_of(section(html, "categories"))
    resolution = text_of(section(html, "resolution"))
    assert "premier contact 3" in resolution and "deuxième ligne 2" in resolution
    assert "(pas encore clôturé) 4" in resolution
    assert "Juridique 1" in resolution and "Population 1" in resolution

    load = text_of(section(html, "load"))
    assert "7 des 10 contacts (70,0 %) sont arrivés pendant les heures d'ouverture" in \
        load.replace("\u202f", " ")
    assert "(08:30–16:30" in load
    assert "lun 4" in load and "sam 1" in load and "dim 0" in load

    # February: answers after 1, 0.5, 3.5 and 0.5 business hours: median 0.5, p90 3.5.
    timing = text_of(section(html, "times"))
    assert "févr. 2026 4 0,5 h 3,5 h 4 2,0 h 16,0 h" in timing
    assert "mars 2026 2 0,3 h 2,0 h 2 0,3 h 8,0 h" in timing  # 0.25 h, rounded half up
    assert 'id="staff"' not in html and "Anne Martin" not in html


def test_dutch_english_and_the_staff_section(desk: Desk, undrawn: None) -> None:
    html = report(desk, "nl", staff=True)
    assert '<html lang="nl">' in html
    text = text_of(html)
    assert "Activiteitenverslag" in text and "van 01/02/2026 tot 31/03/2026" in text
    assert "Contacten per maand en per kanaal" in text and "Totaal" in text
    assert "gemeente 3" in text and "burger 3" in text and "telefoon" in text
    assert "eerste contact 3" in text and "Rapport d'activité" not in text
    # "Belasting" reads as "tax": the load section is "Drukte".
    assert "Drukte per dag en per uur" in text and "elasting" not in text
    staff = text_of(section(html, "staff"))
    assert "Per teamlid" in staff
    assert "Teamlid Toegewezen tickets Geschreven antwoorden" in staff
    # Anne: 3 tickets, 3 answers; Bert: 2 and 2; 5 tickets unassigned.
    assert "Anne Martin 3 3" in staff and "Bert Peeters 2 2" in staff
    assert "(niet toegewezen) 5 0" in staff and "Totaal 10 5" in staff
    english = text_of(report(desk, "en"))
    assert "Activity report" in english and "from 2026-02-01 to 2026-03-31" in english
    assert "Outside access-key requests" in english and "first-contact 3" in english
    with pytest.raises(RnmailError, match="--lang"):
        report(desk, "it")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # words, not storage
def test_in_german(desk: Desk, undrawn: None) -> None:
    """German, Belgium's third official language: the report's words, labels, dates and
    numbers; a heading of several words keeps its capitals ("Art des Anfragenden")."""
    html = report(desk, "de", staff=True)
    assert '<html lang="de">' in html
    head = text_of(html[:html.index("<main>")])
    assert "Tätigkeitsbericht" in head and "vom 01.02.2026 bis 31.03.2026" in head
    assert "(Brüsseler Zeit)" in head
    contacts_text = text_of(section(html, "contacts"))
    assert "10 Kontakte (erstellte Tickets) im Zeitraum." in contacts_text
    assert "Monat E-Mail Telefon Fax Brief Gesamt" in contacts_text
    who = text_of(section(html, "requesters")).replace("\u202f", " ")
    assert "Wer uns kontaktiert" in who
    assert "Art des Anfragenden Alle Kontakte Anteil Ohne Zugangsschlüssel Anteil" in who
    assert "Gemeinde 3 30,0 % 0 0,0 %" in who and "(Bürger) 3" in who
    resolution = text_of(section(html, "resolution"))
    assert "beim ersten Kontakt 3" in resolution and "(noch nicht geschlossen) 4" in resolution
    assert "Dienst der zweiten Linie" in resolution
    assert "7 der 10 Kontakte (70,0 %) gingen während der Öffnungszeiten ein" in text_of(
        section(html, "load")).replace("\u202f", " ")
    assert "Feb. 2026 4 0,5 h 3,5 h 4 2,0 h 16,0 h" in text_of(section(html, "times"))
    staff = text_of(section(html, "staff"))
    assert "Mitarbeiter Zugewiesene Tickets Geschriebene Antworten" in staff
    assert "(nicht zugewiesen) 5 0" in staff and "Gesamt 10 5" in staff
    assert "Rapport d'activité" not in html and "Activity report" not in html


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", "lun 09h"), ("nl", "ma 09u"), ("de", "Mo 09 Uhr"), ("en", "Mon 09:00")])
def test_an_hour_of_the_week_is_written_as_each_language_writes_hours(
        language: str, expected: str) -> None:
    assert labeller(language)("weekday-hour", "Mon 09") == expected


def test_user_data_is_escaped(desk: Desk) -> None:
    html = report(desk)
    assert "<script" not in html
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt; &amp; Co" in html
    assert html.count("&lt;script&gt;") == 2  # in the table and in the organisations chart


def test_an_empty_period_is_a_report_of_zeros(desk: Desk, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    code, output = cli(desk.config.path, "report", "--from", "2030-01-01", "--to",
                       "2030-01-31", "--out", str(out), "--staff", "--lang", "en")
    assert code == 0 and output == f"report written to {out}\n"
    html = out.read_text(encoding="utf-8")
    assert "from 2030-01-01 to 2030-01-31" in text_of(html[:html.index("<main>")])
    contacts_text = text_of(section(html, "contacts"))
    assert "0 contacts (tickets created) in the period." in contacts_text
    assert "No data for this period." in contacts_text
    for name in ("requesters", "categories", "resolution", "load", "times", "staff"):
        assert 'data-empty="true"' in section(html, name), name
    assert "<svg" not in html


def test_without_from_and_to_the_report_covers_every_ticket(desk: Desk, tmp_path: Path,
                                                            undrawn: None) -> None:
    """`report` without --from/--to covers the whole period, as `stats` does; the header
    names the days of the first and the last ticket."""
    out = tmp_path / "all.html"
    code, output = cli(desk.config.path, "report", "--out", str(out), "--lang", "nl")
    assert code == 0 and output == f"report written to {out}\n"
    html = out.read_text(encoding="utf-8")
    assert "van 02/02/2026 tot 31/03/2026" in text_of(html[:html.index("<main>")])
    assert "10 contacten" in text_of(section(html, "contacts"))
    code, _ = cli(desk.config.path, "report", "--from", "2026-03-01", "--out", str(out),
                  "--lang", "en")
    html = out.read_text(encoding="utf-8")
    assert code == 0 and "from 2026-03-01 to 2026-03-31" in text_of(html)
    assert "4 contacts (tickets created)" in text_of(section(html, "contacts"))


def test_a_section_without_data_says_so(desk: Desk, undrawn: None) -> None:
    # Only the Saturday ticket: never answered nor closed, so no times, and no replies.
    html = report(desk, "fr", staff=True, period=Period(date(2026, 2, 7), date(2026, 2, 7)))
    assert "(non attribué) 1 0 Total 1 0" in text_of(section(html, "staff"))
    assert 'data-empty="true"' in section(html, "times")
    assert "Pas de données pour cette période." in text_of(section(html, "times"))
    assert "1 contacts (tickets créés)" in text_of(section(html, "contacts"))
    assert 'data-empty' not in section(html, "contacts")


def test_the_cli(desk: Desk, tmp_path: Path) -> None:
    """--lang, --staff, the default language and the refusals. A period without tickets:
    both options shape every report alike, and its charts (seconds each to draw) are
    the other tests' business."""
    config = desk.config.path
    out = tmp_path / "report.html"
    code, output = cli(config, "report", "--from", "2030-01-01", "--to", "2030-01-31",
                       "--out", str(out), "--lang", "nl")
    assert code == 0 and output == f"report written to {out}\n"
    html = out.read_text(encoding="utf-8")
    assert '<html lang="nl">' in html and 'id="staff"' not in html
    code, output = cli(config, "report", "--from", "2030-01-01", "--to", "2030-01-31",
                       "--out", str(out), "--staff")
    assert code == 0 and 'id="staff"' in out.read_text(encoding="utf-8")
    assert '<html lang="fr">' in out.read_text(encoding="utf-8")  # [helpdesk] default
    for args, message in (
        (("--from", "2026-03-01", "--to", "2026-02-01", "--out", str(out)),
         "--from 2026-03-01 is after --to 2026-02-01"),
        (("--from", "2026-02-01", "--to", "2026-03-31", "--out",
          str(tmp_path / "nope" / "r.html")), "does not exist"),
        (("--from", "2026-02-01", "--to", "2026-03-31", "--out", str(out), "--lang", "it"),
         "Invalid value for '--lang'"),
        (("--from", "2026-02-31", "--to", "2026-03-31", "--out", str(out)),
         "Invalid value for '--from': no such date: 2026-02-31 (February 2026 has 28 days)"),
    ):
        code, output = cli(config, "report", *args)
        assert code != 0 and message in output and "Traceback" not in output, args


@pytest.mark.slow
def test_pdf(tmp_path: Path) -> None:
    """The PDF, printed by Chromium (SQLite only: the database plays no part here)."""
    desk = Desk(load_config(write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db")))
    seed(desk)
    out = tmp_path / "report.html"
    with desk.db.transaction() as session:
        written = write_report(session, desk.config, PERIOD, out, "fr", pdf=True)
        with pytest.raises(RnmailError, match=r"give the \.html file name"):
            write_report(session, desk.config, PERIOD, tmp_path / "r.pdf", pdf=True)
    assert written == [out, tmp_path / "report.pdf"]
    data = written[1].read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 20_000
    assert sorted(p.name for p in tmp_path.glob("report*")) == ["report.html", "report.pdf"]


# In a real browser

SEEN = """(() => {
  const svgs = [...document.querySelectorAll('svg')];
  return {
    title: document.title,
    lang: document.documentElement.lang,
    pwned: window.pwned === undefined ? null : window.pwned,
    sections: [...document.querySelectorAll('main > section')].map(s => s.id),
    svgs: svgs.map(s => {
      const box = s.getBoundingClientRect();
      return {width: box.width, height: box.height,
              title: s.querySelector('title') ? s.querySelector('title').textContent : ''};
    }),
    organisation: [...document.querySelectorAll('#requesters tbody th')]
      .map(th => th.textContent).filter(t => t.includes('pwned')),
    height: document.documentElement.scrollHeight,
    width: document.documentElement.scrollWidth,
  };
})()"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # drawing, not storage
@pytest.mark.slow
def test_the_report_in_a_browser(desk: Desk, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    with desk.db.transaction() as session:
        write_report(session, desk.config, PERIOD, out, "nl", staff=True)
    with chromium_or_fail() as browser:
        browser.navigate(page_file(out))
        seen = browser.evaluate(SEEN)
        shot = browser.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": seen["width"], "height": seen["height"],
                     "scale": 1}})
    assert seen["lang"] == "nl" and seen["pwned"] is None
    assert "Activiteitenverslag" in seen["title"] and "01/02/2026" in seen["title"]
    assert seen["sections"] == ["contacts", "requesters", "categories", "resolution", "load",
                                "times", "staff"]
    assert len(seen["svgs"]) >= 5
    for svg in seen["svgs"]:
        assert svg["width"] > 200 and svg["height"] > 100, svg
        assert svg["width"] <= 1024  # scaled to the page, not wider
        assert svg["title"]
    assert seen["organisation"] == [SCRIPT]  # shown as text, never run
    png = base64.b64decode(shot["data"])
    screenshot = tmp_path / "report.png"
    screenshot.write_bytes(png)
    assert png.startswith(b"\x89PNG") and len(png) > 50_000
    assert seen["height"] > 2000  # the whole report, not an empty page


# Every heading of the report is in its language (issue 16, E): built in English and in
# French, Dutch or German, the same heading differs unless the word is the same in both.
SAME = {"fr": {"Contacts", "Organisation", "Total", "fax"}, "nl": {"fax"},
        "de": {"Organisation"}}
HEADINGS = re.compile(r'<(h2|caption|th scope="col"[^>]*|p class="(?:lead|subtitle|note|no-data)"'
                      r'|title id="[^"]+"|a href="#[^"]+")>(.*?)</', re.S)


def headings(html: str) -> list[str]:
    return [" ".join(unescape(text).split()) for _tag, text in HEADINGS.findall(html)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # words, not storage
def test_every_heading_of_the_report_is_translated(desk: Desk, undrawn: None) -> None:
    for period in (PERIOD, Period(date(2030, 1, 1), date(2030, 1, 2))):
        english = headings(report(desk, "en", staff=True, period=period))
        for language in ("fr", "nl", "de"):
            other = headings(report(desk, language, staff=True, period=period))
            assert len(english) == len(other) > 10
            untranslated = [e for e, o in zip(english, other, strict=True)
                            if e == o and e not in SAME[language]]
            assert untranslated == [], (language, period)
