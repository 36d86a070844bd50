"""The public status page: status.json, feed.atom and index.html as a person sees them.

The page is checked in a real headless Chromium (tests/harness/browser.py): the text each language
section shows, the banner's colour, the data-state attributes, the layout on a phone and in
print. Chromium missing is a failure, never a skip: CI installs it (scripts/test).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rnmail.config import HelpdeskConfig, StatusConfig
from rnmail.db import Database
from rnmail.i18n.banners import BANNER_LANGUAGES, banner
from rnmail.models import Maintenance
from rnmail.status.components import (
    ComponentView,
    IncidentView,
    MaintenanceView,
    StatusView,
    UpdateView,
    current_status,
    set_status,
)
from rnmail.status.page import publish_status
from tests.harness.browser import Browser, chromium_or_fail, page_file
from tests.harness.factories import make_config
from tests.harness.statuspage import SCRIPT, SEEN, T0, VERBATIM, component, make_view, rgb

# The register's banners, read through the catalogue API (rnmail.i18n.banners).
BANNERS = {state: {lang: banner(state, lang) for lang in BANNER_LANGUAGES}
           for state in ("operational", "degraded", "down")}

ATOM = "{http://www.w3.org/2005/Atom}"
LANGS = ("nl", "fr", "de")


def helpdesk(tmp_path: Path) -> HelpdeskConfig:
    return HelpdeskConfig(address="info@rn.example", name="Help Desk RN & Rijksregister",
                          tag="RN", secret="s", default_language="fr",
                          attachments_dir=tmp_path / "attachments", max_attachment_mb=25)


def status_cfg(tmp_path: Path, name: str = "status", url: str = "") -> StatusConfig:
    return StatusConfig(public_dir=tmp_path / name, public_url=url)


def publish(tmp_path: Path, view: StatusView, name: str = "status",
            url: str = "https://www.rn.example/status") -> Path:
    publish_status(view, status_cfg(tmp_path, name, url), helpdesk(tmp_path))
    return tmp_path / name


# status.json and the files


def test_status_json_is_the_view(tmp_path: Path) -> None:
    view = make_view()
    out = tmp_path / "public" / "status"  # missing: created
    written = publish_status(view, StatusConfig(public_dir=out), helpdesk(tmp_path))
    assert written == [out / "status.json", out / "feed.atom", out / "accessibility.html",
                       out / "index.html"]
    raw = (out / "status.json").read_bytes()
    data = json.loads(raw)
    assert data == view.as_json()
    assert "Réponses lentes".encode() in raw  # ensure_ascii=False, UTF-8
    assert data["overall"] == "degraded" and data["updated_at"] == T0.isoformat()
    assert [(c["name"], c["state"], c["comment"]) for c in data["components"]] == [
        ("natural-persons", "operational", ""),
        ("web-services", "degraded", "Trage antwoorden, ongeveer een uur."),
    ]


def test_publish_is_atomic(tmp_path: Path) -> None:
    out = publish(tmp_path, make_view("degraded"))
    names = ("status.json", "feed.atom", "index.html")
    statement = (out / "accessibility.html").stat().st_ino
    before = {name: (out / name).stat().st_ino for name in names}
    publish(tmp_path, make_view("down"))
    after = {name: (out / name).stat() for name in names}
    assert all(after[name].st_ino != before[name] for name in names)  # replaced, not rewritten
    assert (out / "accessibility.html").stat().st_ino == statement  # the same: left alone
    assert sorted(p.name for p in out.iterdir()) == sorted(
        (*names, "accessibility.html"))  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert all(after[name].st_mode & 0o777 == 0o644 & ~umask for name in names)  # servable
    assert json.loads((out / "status.json").read_text())["overall"] == "down"
    # The page goes last: it is never newer than the files it links to.
    assert after["index.html"].st_mtime_ns >= after["feed.atom"].st_mtime_ns \
        >= after["status.json"].st_mtime_ns


def test_html_head_and_escaping(tmp_path: Path) -> None:
    html = (publish(tmp_path, make_view()) / "index.html").read_text()
    assert html.startswith("<!DOCTYPE html>\n<html lang=\"fr\">")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    # Never reloads itself (WCAG 2.2.1): a link reloads each section, the feed follows it.
    assert 'http-equiv="refresh"' not in html and "location.reload" not in html
    for lang in LANGS:
        assert f'<a class="reload" href="{lang}">' in html
    assert html.count('<a class="feed" href="feed.atom" type="application/atom+xml">') == 3
    assert html.count('href="accessibility.html#') == 3
    for lang in LANGS:
        assert f'<section lang="{lang}" id="{lang}"' in html
        assert f'<a href="#{lang}" hreflang="{lang}"' in html
    # Inline CSS only; no script, no external resource to fetch.
    assert "<script" not in html and "&lt;script&gt;window.pwned" in html
    assert not re.search(r"<(img|iframe|link[^>]*stylesheet)|\bsrc=|@import|url\(", html)
    assert 'data-state="degraded"' in html


def test_publish_is_fast(tmp_path: Path) -> None:
    """Well under 50 ms: it runs on every status change. The usual page by its median; the
    largest page the view can hold (20 incidents) by its best time, as machine load adds
    noise that is not the code's."""
    usual = make_view()
    updates = [UpdateView(T0 - timedelta(minutes=n), "degraded", ["web-services"],
                          {"fr": f"Mise à jour {n}", "nl": f"Update {n}"}) for n in range(8)]
    large = replace(usual, incidents=[
        IncidentView(n, T0 - timedelta(days=n), T0, updates) for n in range(20)])
    cfg, desk = status_cfg(tmp_path), helpdesk(tmp_path)
    publish_status(usual, cfg, desk)  # templates compiled once

    def timings(view: StatusView) -> list[float]:
        times = []
        for _ in range(9):
            start = time.perf_counter()
            publish_status(view, cfg, desk)
            times.append(time.perf_counter() - start)
        return times

    assert statistics.median(times := timings(usual)) < 0.050, times
    assert min(times := timings(large)) < 0.050, times


# feed.atom


def test_feed_entries(tmp_path: Path) -> None:
    out = publish(tmp_path, make_view())
    feed = ET.parse(out / "feed.atom").getroot()
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") == "tag:rn.example,2026:status"
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == "Help Desk RN & Rijksregister"
    # The newest entry not in the future: the maintenance starts later.
    assert feed.findtext(f"{ATOM}updated") == "2026-11-28T13:05:00Z"
    assert {(link.get("rel"), link.get("href")) for link in feed.findall(f"{ATOM}link")} == {
        ("alternate", "https://www.rn.example/status/"),
        ("self", "https://www.rn.example/status/feed.atom")}
    entries = {e.findtext(f"{ATOM}id"): e for e in feed.findall(f"{ATOM}entry")}
    assert list(entries) == [
        "tag:rn.example,2026:maintenance-7",
        "tag:rn.example,2026:incident-3-update-2",
        "tag:rn.example,2026:incident-3-update-1",
        "tag:rn.example,2026:incident-2-update-2",
        "tag:rn.example,2026:incident-2-update-1",
    ]
    for entry in entries.values():
        updated = entry.findtext(f"{ATOM}updated") or ""
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", updated)
        assert datetime.fromisoformat(updated).tzinfo is not None
        assert len((entry.findtext(f"{ATOM}title") or "").split(" / ")) == 3
        assert entry.find(f"{ATOM}link").get("href") == (  # type: ignore[union-attr]
            "https://www.rn.example/status/")
    update = entries["tag:rn.example,2026:incident-3-update-2"]
    assert update.findtext(f"{ATOM}title") == (
        "Incident #3: Webdiensten — Verstoord / Incident #3 : Services web — Perturbé / "
        "Störung #3: Webdienste — Gestört")
    assert update.findtext(f"{ATOM}updated") == "2026-11-28T13:05:00Z"
    content = update.findtext(f"{ATOM}content") or ""
    assert "[nl] Incident #3" in content and "Nog steeds traag" in content
    assert "Toujours lent (nur auf Französisch verfügbar)" in content
    resolved = entries["tag:rn.example,2026:incident-2-update-2"]
    assert (resolved.findtext(f"{ATOM}title") or "").endswith(
        "Störung #2: Zugang zu natürlichen Personen — Behoben")
    maintenance = entries["tag:rn.example,2026:maintenance-7"]
    assert "du 28/11/2026 16:05 au 28/11/2026 18:05 (heure de Bruxelles)" in (
        maintenance.findtext(f"{ATOM}title") or "")
    assert maintenance.findtext(f"{ATOM}updated") == "2026-11-28T15:05:00Z"


def test_feed_escapes_and_stays_valid_xml(tmp_path: Path) -> None:
    nasty = "a < b & c > d ]]> \"q\" 'a' \x0b\x00 <script>x</script>"
    view = replace(make_view(), incidents=[IncidentView(
        9, T0, None, [UpdateView(T0, "down", ["web-services"], {"fr": nasty})])],
        maintenance=[])
    out = tmp_path / "plain"
    publish_status(view, StatusConfig(public_dir=out), replace(helpdesk(tmp_path),
                                                               name="<Desk & Co>"))
    feed = ET.parse(out / "feed.atom").getroot()
    assert feed.findall(f"{ATOM}link") == []  # no public_url: no link
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}link") is None
    assert "a < b & c > d ]]> \"q\" 'a' \ufffd\ufffd <script>x</script>" in (
        entry.findtext(f"{ATOM}content") or "")
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == "<Desk & Co>"


def test_feed_of_a_quiet_register(tmp_path: Path) -> None:
    view = StatusView("operational", None, [component("natural-persons", at=None)], [], [],
                      T0)
    out = publish(tmp_path, view)
    feed = ET.parse(out / "feed.atom").getroot()
    assert feed.findall(f"{ATOM}entry") == []
    assert feed.findtext(f"{ATOM}updated") == "2026-11-28T13:05:00Z"  # generated_at


# From the database


def test_publish_from_database(tmp_path: Path, db_url: str) -> None:
    config = make_config(tmp_path, db_url, status={"public_dir": str(tmp_path / "status"),
                                                   "public_url": "https://www.rn.example/st"})
    db = Database(config.database.url)
    try:
        db.upgrade()
        with db.transaction() as session:
            set_status(session, config.status, "down", ["natural-persons"],
                       {"fr": "Panne du serveur", "nl": "Serverpanne"}, "op")
            session.add(Maintenance(
                starts_at=datetime.now(UTC) + timedelta(days=1),
                ends_at=datetime.now(UTC) + timedelta(days=1, hours=2),
                components=["web-services"], comment={"de": "Wartung"}, created_by="op"))
            session.flush()
            view = current_status(session, config.status)
        publish_status(view, config.status, config.helpdesk)
    finally:
        db.dispose()
    out = tmp_path / "status"
    data = json.loads((out / "status.json").read_text())
    assert data == json.loads(json.dumps(view.as_json()))
    assert data["overall"] == "down"
    assert {c["name"]: (c["state"], c["comment"]) for c in data["components"]} == {
        "natural-persons": ("down", "Serverpanne"), "web-services": ("operational", "")}
    feed = ET.parse(out / "feed.atom").getroot()
    ids = [e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")]
    incident = view.incidents[0].id
    assert ids[1:] == [f"tag:rn.example,{datetime.now(UTC).year}:incident-{incident}-update-1"]
    assert ids[0] and ids[0].endswith(f":maintenance-{view.maintenance[0].id}")
    html = (out / "index.html").read_text()
    assert VERBATIM["down"]["de"] in html and "(nur auf Französisch verfügbar)" in html
    assert "(uniquement disponible en allemand)" in html  # the maintenance comment


# In a real browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module (about 1 s to start)."""
    with chromium_or_fail() as chromium:
        yield chromium


def seen(browser: Browser, directory: Path, fragment: str = "") -> dict[str, Any]:
    browser.navigate(page_file(directory / "index.html") + fragment)
    result: dict[str, Any] = browser.evaluate(SEEN)
    return result


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    def luminance(colour: tuple[int, int, int]) -> float:
        def channel(c: int) -> float:
            s = c / 255
            return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
        r, g, b_ = (channel(c) for c in colour)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_banner_in_each_language_and_state(browser: Browser, tmp_path: Path) -> None:
    backgrounds = {}
    for state in ("operational", "degraded", "down"):
        assert BANNERS[state] == VERBATIM[state]
        sections = seen(browser, publish(tmp_path, make_view(state), name=state))
        assert list(sections) == list(LANGS)
        for lang, section in sections.items():
            assert section["id"] == lang and section["shown"]
            assert section["banner"] == VERBATIM[state][lang]
            assert VERBATIM[state][lang] in section["text"]
            assert section["state"] == state
            width, height = section["size"]
            assert width > 200 and height > 20
            ratio = contrast(rgb(section["background"]), rgb(section["color"]))
            assert ratio >= 4.5, (state, section["background"], section["color"], ratio)
        # Every other language's banner text is absent from a section.
        for lang in LANGS:
            others = [VERBATIM[state][o] for o in LANGS if o != lang]
            assert not any(text in sections[lang]["text"] for text in others)
        assert len({s["background"] for s in sections.values()}) == 1
        backgrounds[state] = rgb(sections["nl"]["background"])
    assert len(set(backgrounds.values())) == 3, backgrounds
    green, orange, red = (backgrounds[s] for s in ("operational", "degraded", "down"))
    assert green[1] > green[0] and green[1] > green[2]
    assert red[0] > 150 and red[1] < 80 and red[2] < 80
    assert orange[0] > 200 and 100 < orange[1] < 200 and orange[2] < 80
    # Not colour alone: the state is written in the banner too.
    sections = seen(browser, tmp_path / "down")
    assert [sections[lang]["label"] for lang in LANGS] == [
        "✕ Buiten dienst", "✕ Hors service", "✕ Ausser Betrieb"]


def test_components_comments_and_fallback(browser: Browser, tmp_path: Path) -> None:
    sections = seen(browser, publish(tmp_path, make_view("degraded")))
    web = {lang: sections[lang]["components"]["web-services"] for lang in LANGS}
    assert all(w["state"] == "degraded" for w in web.values())
    assert all(s["components"]["natural-persons"]["state"] == "operational"
               for s in sections.values())
    assert "Webdiensten" in web["nl"]["text"] and "Verstoord" in web["nl"]["text"]
    assert "Trage antwoorden, ongeveer een uur." in web["nl"]["text"]
    assert "(alleen beschikbaar" not in web["nl"]["text"]
    assert "Services web" in web["fr"]["text"] and "Perturbé" in web["fr"]["text"]
    assert "Réponses lentes, environ une heure." in web["fr"]["text"]
    assert "(uniquement disponible" not in web["fr"]["text"]
    # No German comment: the French one, with the visible note, in the German section.
    assert "Webdienste" in web["de"]["text"] and "Gestört" in web["de"]["text"]
    assert "Réponses lentes, environ une heure." in web["de"]["text"]
    assert "(nur auf Französisch verfügbar)" in web["de"]["text"]
    assert "Letzte Änderung: 28.11.2026 14:05 (Brüsseler Zeit)" in sections["de"]["text"]
    assert "Dernière modification : 28/11/2026 14:05 (heure de Bruxelles)" in (
        sections["fr"]["text"])
    assert "Laatste wijziging: 28/11/2026 14:05 (Brusselse tijd)" in sections["nl"]["text"]


def test_maintenance_in_brussels_time(browser: Browser, tmp_path: Path) -> None:
    summer = MaintenanceView(8, datetime(2026, 6, 15, 20, 0, tzinfo=UTC),
                             datetime(2026, 6, 15, 23, 30, tzinfo=UTC), ["web-services"], [],
                             {"nl": "Onderhoud van de webdiensten"}, "in-progress")
    base = make_view()
    web = ComponentView("web-services", base.components[1].labels, "down", summer.comment,
                        summer.starts_at, summer.id)  # down for the running maintenance
    view = replace(base, overall="down", components=[base.components[0], web],
                   maintenance=[*base.maintenance, summer])
    sections = seen(browser, publish(tmp_path, view))
    assert sections["nl"]["components"]["web-services"] == {
        "state": "down", "maintenance": "8",
        "text": "Webdiensten\n✕ Buiten dienst\n\nGepland onderhoud: Onderhoud van de "
                "webdiensten (sinds 15/06/2026 22:00)"}
    winter_fr, summer_fr = sections["fr"]["maintenance"]
    assert "Planifiée : du 28/11/2026 16:05 au 28/11/2026 18:05 (heure de Bruxelles)" in (
        winter_fr["text"])
    assert "Accès aux personnes physiques, Services web" in winter_fr["text"]
    assert "Mise à jour de la base" in winter_fr["text"]
    assert winter_fr["times"] == ["2026-11-28T16:05:00+01:00", "2026-11-28T18:05:00+01:00"]
    assert "En cours : du 15/06/2026 22:00 au 16/06/2026 01:30 (heure de Bruxelles)" in (
        summer_fr["text"])
    assert summer_fr["times"] == ["2026-06-15T22:00:00+02:00", "2026-06-16T01:30:00+02:00"]
    assert "Onderhoud van de webdiensten (uniquement disponible en néerlandais)" in (
        summer_fr["text"])
    winter_de, summer_de = sections["de"]["maintenance"]
    assert "Geplant: von 28.11.2026 16:05 bis 28.11.2026 18:05 (Brüsseler Zeit)" in (
        winter_de["text"])
    assert "Aktualisierung der Datenbank" in winter_de["text"]
    assert "(nur auf Niederländisch verfügbar)" in summer_de["text"]
    winter_nl, _ = sections["nl"]["maintenance"]
    assert "Gepland: van 28/11/2026 16:05 tot 28/11/2026 18:05 (Brusselse tijd)" in (
        winter_nl["text"])


def test_incidents_newest_first(browser: Browser, tmp_path: Path) -> None:
    view = make_view()
    shuffled = replace(view, incidents=list(reversed(view.incidents)))  # order from the view
    sections = seen(browser, publish(tmp_path, shuffled))
    open_, closed = sections["fr"]["incidents"]
    assert open_.startswith("Incident #3 — En cours")
    assert open_.index("Toujours lent") < open_.index("Lenteurs")  # newest update first
    assert closed.startswith("Incident #2 — Résolu")
    assert "Début : 26/11/2026 14:05 — Résolu : 26/11/2026 15:05 (heure de Bruxelles)" in closed
    de_open, _ = sections["de"]["incidents"]
    assert de_open.startswith("Störung #3 — Laufend")
    assert "Lenteurs (nur auf Französisch verfügbar)" in de_open


def test_operator_text_is_shown_as_text(browser: Browser, tmp_path: Path) -> None:
    sections = seen(browser, publish(tmp_path, make_view()))
    for lang in ("fr", "de"):  # de shows the French comment
        assert SCRIPT in sections[lang]["text"]
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("typeof window.pwned") == "undefined"
    assert browser.evaluate("document.querySelectorAll('.comment b').length") == 0


def test_language_switch_without_javascript(browser: Browser, tmp_path: Path) -> None:
    out = publish(tmp_path, make_view())
    # Without a fragment every language shows; with one, only that one.
    assert all(s["shown"] for s in seen(browser, out).values())
    links = browser.evaluate(
        "[...document.querySelectorAll('nav a')].map(a => [a.getAttribute('href'), a.innerText])")
    assert links == [["#nl", "Nederlands"], ["#fr", "Français"], ["#de", "Deutsch"]]
    browser.evaluate("document.querySelector('nav a[href=\"#de\"]').click()")
    shown = browser.evaluate(
        "[...document.querySelectorAll('main > section')]"
        ".filter(s => getComputedStyle(s).display !== 'none').map(s => s.id)")
    assert shown == ["de"]
    browser.navigate("about:blank")
    assert [lang for lang, s in seen(browser, out, "#nl").items() if s["shown"]] == ["nl"]


def test_phone_and_print_layout(browser: Browser, tmp_path: Path) -> None:
    out = publish(tmp_path, make_view("down"))
    try:
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True})
        sections = seen(browser, out, "#fr")
        assert sections["fr"]["size"][0] <= 360
        assert browser.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": 1024, "height": 768, "deviceScaleFactor": 1, "mobile": False})
        browser.call("Emulation.setEmulatedMedia", {"media": "print"})
        sections = seen(browser, out)
        assert browser.evaluate(
            "getComputedStyle(document.querySelector('nav.languages')).display") == "none"
        assert browser.evaluate("getComputedStyle(document.querySelector('#de'))"
                                ".breakBefore") == "page"
        assert rgb(sections["nl"]["background"]) == (179, 38, 30)  # still red on paper
        assert VERBATIM["down"]["de"] in sections["de"]["text"]
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")
        browser.call("Emulation.setEmulatedMedia", {"media": ""})
