"""The public status page: static files rendered from a ``StatusView``.

``publish_status`` writes, into ``[status].public_dir``, ``status.json`` (the view as JSON),
``feed.atom`` (one Atom entry per incident update and per maintenance) and ``index.html``
(one page, three sections: nl, fr, de, reached by anchor links; no JavaScript, no external
resource, so it works offline and from file://). Each file is written under a temporary name
in the same folder and renamed over the old one, the page last, so a reader never sees a
half-written file and the page never links to a feed older than itself.

Texts an operator wrote are shown as written, per language; a language without its own text
shows another one with a visible note (``rnmail.status.components.localized``). The banner
texts are the register's own, verbatim (``BANNERS``); mails reuse them and the words below.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from rnmail.config import STATUS_LANGUAGES, HelpdeskConfig, StatusConfig
from rnmail.dispatch.render import PAGES, contact_block
from rnmail.status.components import (
    IncidentView,
    MaintenanceView,
    StatusView,
    UpdateView,
    localized,
)
from rnmail.util.publicfiles import public_folder, write_public_file

BRUSSELS = ZoneInfo("Europe/Brussels")

# The overall banner, verbatim as the register publishes it (state → language → text).
BANNERS: dict[str, dict[str, str]] = {
    "operational": {
        "nl": "Rijksregister werkt stabiel",
        "fr": "Le Registre National fonctionne de manière stable",
        "de": "National Register arbeitet stabil",
    },
    "degraded": {
        "nl": "Het Rijksregister (toegang tot de natuurlijke personen) is operationeel maar "
              "sommige functionaliteiten zijn verstoord",
        "fr": "Le Registre national (accès aux personnes physiques) est opérationnel mais "
              "certaines fonctionnalités sont perturbées",
        "de": "Das Nationalregister (Zugang zu natürlichen Personen) ist betriebsbereit, bei "
              "einigen Funktionen können allerdings Störungen auftreten.",
    },
    "down": {
        "nl": "Rijksregister is momenteel buiten dienst",
        "fr": "Le Registre National est momentanément hors service",
        "de": "National Register ist momentan ausser Betrieb",
    },
}

# Words of the page, the feed and (later) the mails, per language. The state names are
# keys too: WORDS[lang]["degraded"]; so are the maintenance phases.
WORDS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Status van het Rijksregister",
        "language": "Nederlands",
        "operational": "Operationeel",
        "degraded": "Verstoord",
        "down": "Buiten dienst",
        "last_change": "Laatste wijziging",
        "no_change": "geen wijziging geregistreerd",
        "zone": "Brusselse tijd",
        "components": "Onderdelen",
        "since": "sinds",
        "maintenance": "Gepland onderhoud",
        "no_maintenance": "Geen gepland onderhoud.",
        "scheduled": "Gepland",
        "in-progress": "Bezig",
        "done": "Afgelopen",
        "cancelled": "Geannuleerd",
        "from": "van",
        "until": "tot",
        "incidents": "Incidenten",
        "no_incidents": "Geen recente incidenten.",
        "incident": "Incident",
        "started": "Begonnen",
        "resolved": "Opgelost",
        "ongoing": "Lopend",
        "updates": "Updates",
        "refresh": "Deze pagina wordt elke minuut vernieuwd.",
        "feed": "Atom-feed",
        "data": "Gegevens (JSON)",
        "colon": ": ",
    },
    "fr": {
        "title": "État du Registre national",
        "language": "Français",
        "operational": "Opérationnel",
        "degraded": "Perturbé",
        "down": "Hors service",
        "last_change": "Dernière modification",
        "no_change": "aucune modification enregistrée",
        "zone": "heure de Bruxelles",
        "components": "Composants",
        "since": "depuis le",
        "maintenance": "Maintenance planifiée",
        "no_maintenance": "Aucune maintenance planifiée.",
        "scheduled": "Planifiée",
        "in-progress": "En cours",
        "done": "Terminée",
        "cancelled": "Annulée",
        "from": "du",
        "until": "au",
        "incidents": "Incidents",
        "no_incidents": "Aucun incident récent.",
        "incident": "Incident",
        "started": "Début",
        "resolved": "Résolu",
        "ongoing": "En cours",
        "updates": "Mises à jour",
        "refresh": "Cette page se met à jour chaque minute.",
        "feed": "Flux Atom",
        "data": "Données (JSON)",
        "colon": " : ",
    },
    "de": {
        "title": "Status des Nationalregisters",
        "language": "Deutsch",
        "operational": "Betriebsbereit",
        "degraded": "Gestört",
        "down": "Ausser Betrieb",  # spelt as in the register's banner
        "last_change": "Letzte Änderung",
        "no_change": "keine Änderung verzeichnet",
        "zone": "Brüsseler Zeit",
        "components": "Komponenten",
        "since": "seit",
        "maintenance": "Geplante Wartung",
        "no_maintenance": "Keine geplante Wartung.",
        "scheduled": "Geplant",
        "in-progress": "Laufend",
        "done": "Beendet",
        "cancelled": "Abgesagt",
        "from": "von",
        "until": "bis",
        "incidents": "Störungen",
        "no_incidents": "Keine Störungen in letzter Zeit.",
        "incident": "Störung",
        "started": "Beginn",
        "resolved": "Behoben",
        "ongoing": "Laufend",
        "updates": "Meldungen",
        "refresh": "Diese Seite wird jede Minute aktualisiert.",
        "feed": "Atom-Feed",
        "data": "Daten (JSON)",
        "colon": ": ",
    },
}

# The note shown next to a text written in another language: reader's language → text's.
FALLBACK_NOTES: dict[str, dict[str, str]] = {
    "nl": {"fr": "(alleen beschikbaar in het Frans)", "de": "(alleen beschikbaar in het Duits)",
           "en": "(alleen beschikbaar in het Engels)"},
    "fr": {"nl": "(uniquement disponible en néerlandais)",
           "de": "(uniquement disponible en allemand)",
           "en": "(uniquement disponible en anglais)"},
    "de": {"fr": "(nur auf Französisch verfügbar)", "nl": "(nur auf Niederländisch verfügbar)",
           "en": "(nur auf Englisch verfügbar)"},
}

SYMBOLS = {"operational": "✓", "degraded": "!", "down": "✕"}  # the state without colour
_DATE_SEPARATORS = {"de": "."}  # 28.11.2026 in German, 28/11/2026 otherwise
# Characters XML 1.0 forbids even as references: an operator's stray control character
# must not make the feed unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
FEED_TAG_DATE = "2026"  # the tag: URI date of the feed itself (entries use their own year)


@cache
def _environment() -> Environment:
    """Autoescaped (HTML and XML alike), strict, compiled once per process."""
    return Environment(loader=FileSystemLoader(str(PAGES)), undefined=StrictUndefined,
                       autoescape=True, trim_blocks=True, lstrip_blocks=True,
                       auto_reload=False)


@cache
def _template(name: str) -> Template:
    return _environment().get_template(name)


def publish_status(view: StatusView, status_cfg: StatusConfig,
                   helpdesk: HelpdeskConfig) -> list[Path]:
    """Regenerate status.json, feed.atom and index.html (in that order), each atomically."""
    out = public_folder(status_cfg.public_dir)
    page = _Page(view, status_cfg, helpdesk)
    files = [
        # No indent: json's C encoder only does compact output, and it is read by programs.
        ("status.json", json.dumps(view.as_json(), ensure_ascii=False) + "\n"),
        ("feed.atom", page.feed()),
        ("index.html", page.html()),
    ]
    written = []
    for name, text in files:
        path = out / name
        write_public_file(path, text)
        written.append(path)
    return written


def format_time(value: datetime, language: str) -> str:
    """Brussels local time as the page shows it, e.g. ``28/11/2026 14:05``."""
    local = value.astimezone(BRUSSELS)
    sep = _DATE_SEPARATORS.get(language, "/")
    return (f"{local.day:02d}{sep}{local.month:02d}{sep}{local.year} "
            f"{local.hour:02d}:{local.minute:02d}")


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


@dataclass(frozen=True, slots=True)
class _Time:
    iso: str  # Brussels local time with its offset, for <time datetime>
    text: str  # as a person reads it

    @staticmethod
    @lru_cache(maxsize=4096)  # the same instants recur: three languages, every publish
    def of(value: datetime, language: str) -> _Time:
        local = value.astimezone(BRUSSELS).replace(microsecond=0)
        return _Time(local.isoformat(), format_time(value, language))


@dataclass(frozen=True, slots=True)
class _Text:
    text: str
    lang: str  # the language ``text`` is written in
    note: str  # the visible fallback note, "" when written in the reader's language


def _text(texts: dict[str, str], language: str) -> _Text | None:
    found = localized(texts, language)
    if found is None:
        return None
    note = FALLBACK_NOTES[language].get(found.language, "") if found.fallback else ""
    return _Text(found.text, found.language, note)


# What the page template prints: slotted dataclasses, as Jinja reads attributes fastest.


@dataclass(frozen=True, slots=True)
class _ComponentRow:
    name: str
    label: str
    state: str
    symbol: str
    state_word: str
    comment: _Text | None
    since: _Time | None  # its last change, shown when not operational
    maintenance_id: int | None


@dataclass(frozen=True, slots=True)
class _MaintenanceRow:
    id: int
    phase: str
    phase_word: str
    starts: _Time
    ends: _Time
    components: str
    comment: _Text | None


@dataclass(frozen=True, slots=True)
class _UpdateRow:
    at: _Time
    state: str
    symbol: str
    state_word: str
    components: str
    comment: _Text | None


@dataclass(frozen=True, slots=True)
class _IncidentRow:
    id: int
    started: _Time
    resolved: _Time | None
    updates: list[_UpdateRow]


@dataclass(frozen=True, slots=True)
class _Section:
    lang: str
    w: SimpleNamespace  # WORDS[lang] as attributes
    banner: str
    state_word: str
    updated: _Time | None
    components: list[_ComponentRow]
    maintenance: list[_MaintenanceRow]
    incidents: list[_IncidentRow]


@cache
def _words(language: str) -> SimpleNamespace:
    return SimpleNamespace(**WORDS[language])


class _Page:
    """The view turned into what the templates print, once per language."""

    def __init__(self, view: StatusView, cfg: StatusConfig, helpdesk: HelpdeskConfig) -> None:
        self.view, self.cfg, self.helpdesk = view, cfg, helpdesk
        self.labels = {c.name: c.labels for c in cfg.components}
        self.labels.update({c.name: c.labels for c in view.components})
        self.domain = helpdesk.address.rpartition("@")[2].lower() or "localhost"
        self.incidents = sorted(view.incidents, key=lambda i: i.started_at, reverse=True)

    def label(self, name: str, language: str) -> str:
        labels = self.labels.get(name, {})
        return labels.get(language) or labels.get("fr") or name

    def labels_of(self, names: Iterable[str], language: str) -> str:
        return ", ".join(self.label(name, language) for name in names)

    # index.html

    def html(self) -> str:
        view = self.view
        lang = (self.helpdesk.default_language
                if self.helpdesk.default_language in STATUS_LANGUAGES else "fr")
        return _template("status_page.html.j2").render(
            lang=lang,
            overall=view.overall,
            symbol=SYMBOLS[view.overall],
            sections=[self.section(language) for language in STATUS_LANGUAGES],
            title=" / ".join(WORDS[language]["title"] for language in STATUS_LANGUAGES),
            public_url=self.cfg.public_url,
            contacts={language: contact_block(self.helpdesk, language).html
                      for language in STATUS_LANGUAGES},
        )

    def section(self, language: str) -> _Section:
        view, w = self.view, WORDS[language]
        return _Section(
            lang=language,
            w=_words(language),
            banner=BANNERS[view.overall][language],
            state_word=w[view.overall],
            updated=_Time.of(view.updated_at, language) if view.updated_at else None,
            components=[
                _ComponentRow(c.name, self.label(c.name, language), c.state, SYMBOLS[c.state],
                              w[c.state], _text(c.comment, language),
                              (_Time.of(c.updated_at, language)
                               if c.updated_at and c.state != "operational" else None),
                              c.maintenance_id)
                for c in view.components
            ],
            maintenance=[
                _MaintenanceRow(m.id, m.state, w[m.state], _Time.of(m.starts_at, language),
                                _Time.of(m.ends_at, language),
                                self.labels_of(m.components, language),
                                _text(m.comment, language))
                for m in view.maintenance
            ],
            incidents=[
                _IncidentRow(
                    i.id, _Time.of(i.started_at, language),
                    _Time.of(i.resolved_at, language) if i.resolved_at else None,
                    [_UpdateRow(_Time.of(u.at, language), u.state, SYMBOLS[u.state], w[u.state],
                                self.labels_of(u.components, language),
                                _text(u.comment, language))
                     for u in _newest_first(i.updates)])
                for i in self.incidents
            ],
        )

    # feed.atom

    def feed(self) -> str:
        entries = [self.update_entry(incident, ordinal, update)
                   for incident in self.incidents
                   for ordinal, update in _numbered(incident.updates)]
        entries += [self.maintenance_entry(m) for m in self.view.maintenance]
        entries.sort(key=lambda e: e["sort"], reverse=True)
        generated = self.view.generated_at
        past = [e["sort"] for e in entries if e["sort"] <= generated]
        if self.view.updated_at and self.view.updated_at <= generated:
            past.append(self.view.updated_at)
        url = self.cfg.public_url
        return _template("status_feed.atom.j2").render(
            id=f"tag:{self.domain},{FEED_TAG_DATE}:status",
            title=" / ".join(WORDS[lang]["title"] for lang in STATUS_LANGUAGES),
            updated=_rfc3339(max(past, default=generated)),
            page_url=f"{url}/" if url else "",
            feed_url=f"{url}/feed.atom" if url else "",
            author=_xml_text(self.helpdesk.name),
            entries=entries,
        )

    def _entry(self, tag: str, when: datetime, titles: list[str],
               lines: list[str], category: str) -> dict[str, Any]:
        return {
            "id": f"tag:{self.domain},{when.astimezone(UTC).year}:{tag}",
            "sort": when,
            "updated": _rfc3339(when),
            "title": _xml_text(" / ".join(titles)),
            "content": _xml_text("\n\n".join(lines)),
            "category": category,
        }

    def update_entry(self, incident: IncidentView, ordinal: int,
                     update: UpdateView) -> dict[str, Any]:
        resolves = incident.resolved_at is not None and update.at == incident.resolved_at
        titles, lines = [], []
        for lang in STATUS_LANGUAGES:
            w = WORDS[lang]
            what = w["resolved"] if resolves else w[update.state]
            where = self.labels_of(update.components, lang)
            head = f"{w['incident']} #{incident.id}{w['colon']}{where} — {what}"
            titles.append(head)
            lines.append(self._paragraph(lang, head, update.comment,
                                         _Time.of(update.at, lang)))
        return self._entry(f"incident-{incident.id}-update-{ordinal}", update.at, titles,
                           lines, update.state)

    def maintenance_entry(self, item: MaintenanceView) -> dict[str, Any]:
        titles, lines = [], []
        for lang in STATUS_LANGUAGES:
            w = WORDS[lang]
            when = (f"{w['from']} {format_time(item.starts_at, lang)} {w['until']} "
                    f"{format_time(item.ends_at, lang)} ({w['zone']})")
            head = f"{w['maintenance']}{w['colon']}{self.labels_of(item.components, lang)}"
            if item.state != "scheduled":
                head += f" — {w[item.state]}"
            titles.append(f"{head}, {when}")
            lines.append(self._paragraph(lang, f"{head}, {when}", item.comment, None))
        # A maintenance changes the page when it starts: that is its date in the feed.
        return self._entry(f"maintenance-{item.id}", item.starts_at, titles, lines,
                           f"maintenance-{item.state}")

    @staticmethod
    def _paragraph(lang: str, head: str, comment: dict[str, str], at: _Time | None) -> str:
        text = _text(comment, lang)
        parts = [f"[{lang}] {head}"]
        if at:
            parts.append(f"{at.text} ({WORDS[lang]['zone']})")
        if text:
            parts.append(f"{text.text} {text.note}".strip())
        return "\n".join(parts)


def _newest_first(updates: list[UpdateView]) -> list[UpdateView]:
    # A stable sort: updates made in the same instant keep the view's order.
    return sorted(updates, key=lambda u: u.at, reverse=True)


def _numbered(updates: list[UpdateView]) -> list[tuple[int, UpdateView]]:
    """(ordinal, update), the first update of the incident being 1: stable feed ids, as
    updates are only ever appended."""
    newest = _newest_first(updates)
    return [(len(newest) - index, update) for index, update in enumerate(newest)]
