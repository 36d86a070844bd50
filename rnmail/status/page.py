"""The public status page: static files rendered from a ``StatusView``.

``publish_status`` writes, into ``[status].public_dir``, ``status.json`` (the view as JSON),
``feed.atom`` (one Atom entry per incident update and per maintenance), the accessibility
statement ``accessibility.html`` (``rnmail.status.statement``) and ``index.html`` (one page,
three sections: nl, fr, de, reached by anchor links; no JavaScript, no external resource, so
it works offline and from file://; it never reloads itself: a link reloads it, the feed
follows it). Each file is written under a temporary name
in the same folder and renamed over the old one, the page last, so a reader never sees a
half-written file and the page never links to a feed older than itself.

Texts an operator wrote are shown as written, per language; a language without its own text
shows another one with a visible note (``rnmail.status.components.localized``). The banner
texts are the register's own, verbatim (``rnmail.i18n.banners``, which the mails use too);
the page's words are in the catalogues (``rnmail.status.words``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cache, lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from rnmail.config import STATUS_LANGUAGES, HelpdeskConfig, StatusConfig
from rnmail.dispatch.render import PAGES, contact_block
from rnmail.i18n.banners import banner
from rnmail.i18n.formats import BRUSSELS as BRUSSELS  # the default zone, for tests
from rnmail.i18n.formats import format_time
from rnmail.status.components import (
    IncidentView,
    MaintenanceView,
    StatusView,
    UpdateView,
    localized,
)
from rnmail.status.statement import render_statement, statement_template
from rnmail.status.words import fallback_note, words
from rnmail.util.publicfiles import public_folder, write_public_file
from rnmail.util.templatecache import bytecode_cache

SYMBOLS = {"operational": "✓", "degraded": "!", "down": "✕"}  # the state without colour
# Characters XML 1.0 forbids even as references: an operator's stray control character
# must not make the feed unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
FEED_TAG_DATE = "2026"  # the tag: URI date of the feed itself (entries use their own year)


@cache
def _environment() -> Environment:
    """Autoescaped (HTML and XML alike), strict, compiled once per process."""
    return Environment(loader=FileSystemLoader(str(PAGES)), undefined=StrictUndefined,
                       autoescape=True, trim_blocks=True, lstrip_blocks=True,
                       auto_reload=False, bytecode_cache=bytecode_cache())


@cache
def _template(name: str) -> Template:
    return _environment().get_template(name)


def compile_templates() -> None:
    """Compile what ``publish_status`` renders, once, in the command server (its copies
    then publish without compiling: ~20 ms)."""
    _template("status_page.html.j2")
    _template("status_feed.atom.j2")
    statement_template()


def publish_status(view: StatusView, status_cfg: StatusConfig,
                   helpdesk: HelpdeskConfig) -> list[Path]:
    """Regenerate status.json, feed.atom, accessibility.html and index.html (in that
    order), each atomically."""
    out = public_folder(status_cfg.public_dir)
    page = _Page(view, status_cfg, helpdesk)
    files = [
        # No indent: json's C encoder only does compact output, and it is read by programs.
        ("status.json", json.dumps(view.as_json(), ensure_ascii=False) + "\n"),
        ("feed.atom", page.feed()),
        ("accessibility.html", render_statement(status_cfg, helpdesk)),
        ("index.html", page.html()),
    ]
    written = []
    for name, text in files:
        path = out / name
        write_public_file(path, text)
        written.append(path)
    return written


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


@dataclass(frozen=True, slots=True)
class _Time:
    iso: str  # local time ([helpdesk].timezone) with its offset, for <time datetime>
    text: str  # as a person reads it

    @staticmethod
    @lru_cache(maxsize=4096)  # the same instants recur: three languages, every publish
    def of(value: datetime, language: str, zone: tzinfo) -> _Time:
        local = value.astimezone(zone).replace(microsecond=0)
        return _Time(local.isoformat(), format_time(value, language, zone))


@dataclass(frozen=True, slots=True)
class _Text:
    text: str
    lang: str  # the language ``text`` is written in
    note: str  # the visible fallback note, "" when written in the reader's language


def _text(texts: dict[str, str], language: str) -> _Text | None:
    found = localized(texts, language)
    if found is None:
        return None
    note = fallback_note(language, found.language) if found.fallback else ""
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
    w: SimpleNamespace  # words(lang) as attributes
    banner: str
    state_word: str
    updated: _Time | None
    components: list[_ComponentRow]
    maintenance: list[_MaintenanceRow]
    incidents: list[_IncidentRow]


@cache
def _words(language: str, zone: tzinfo) -> SimpleNamespace:
    return SimpleNamespace(**words(language, zone))


class _Page:
    """The view turned into what the templates print, once per language."""

    def __init__(self, view: StatusView, cfg: StatusConfig, helpdesk: HelpdeskConfig) -> None:
        self.view, self.cfg, self.helpdesk = view, cfg, helpdesk
        self.zone = helpdesk.zone
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
            title=" / ".join(words(language)["title"] for language in STATUS_LANGUAGES),
            public_url=self.cfg.public_url,
            contacts={language: contact_block(self.helpdesk, language).html
                      for language in STATUS_LANGUAGES},
        )

    def section(self, language: str) -> _Section:
        view, w = self.view, words(language, self.zone)
        return _Section(
            lang=language,
            w=_words(language, self.zone),
            banner=banner(view.overall, language),
            state_word=w[view.overall],
            updated=(_Time.of(view.updated_at, language, self.zone) if view.updated_at
                     else None),
            components=[
                _ComponentRow(c.name, self.label(c.name, language), c.state, SYMBOLS[c.state],
                              w[c.state], _text(c.comment, language),
                              (_Time.of(c.updated_at, language, self.zone)
                               if c.updated_at and c.state != "operational" else None),
                              c.maintenance_id)
                for c in view.components
            ],
            maintenance=[
                _MaintenanceRow(m.id, m.state, w[m.state],
                                _Time.of(m.starts_at, language, self.zone),
                                _Time.of(m.ends_at, language, self.zone),
                                self.labels_of(m.components, language),
                                _text(m.comment, language))
                for m in view.maintenance
            ],
            incidents=[
                _IncidentRow(
                    i.id, _Time.of(i.started_at, language, self.zone),
                    _Time.of(i.resolved_at, language, self.zone) if i.resolved_at else None,
                    [_UpdateRow(_Time.of(u.at, language, self.zone), u.state, SYMBOLS[u.state],
                                w[u.state],
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
            title=" / ".join(words(lang)["title"] for lang in STATUS_LANGUAGES),
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
            w = words(lang, self.zone)
            what = w["resolved"] if resolves else w[update.state]
            where = self.labels_of(update.components, lang)
            head = f"{w['incident']} #{incident.id}{w['colon']}{where} — {what}"
            titles.append(head)
            lines.append(self._paragraph(lang, head, update.comment,
                                         _Time.of(update.at, lang, self.zone)))
        return self._entry(f"incident-{incident.id}-update-{ordinal}", update.at, titles,
                           lines, update.state)

    def maintenance_entry(self, item: MaintenanceView) -> dict[str, Any]:
        titles, lines = [], []
        for lang in STATUS_LANGUAGES:
            w = words(lang, self.zone)
            when = (f"{w['from']} {format_time(item.starts_at, lang, self.zone)} {w['until']} "
                    f"{format_time(item.ends_at, lang, self.zone)} ({w['zone']})")
            head = f"{w['maintenance']}{w['colon']}{self.labels_of(item.components, lang)}"
            if item.state != "scheduled":
                head += f" — {w[item.state]}"
            titles.append(f"{head}, {when}")
            lines.append(self._paragraph(lang, f"{head}, {when}", item.comment, None))
        # A maintenance changes the page when it starts: that is its date in the feed.
        return self._entry(f"maintenance-{item.id}", item.starts_at, titles, lines,
                           f"maintenance-{item.state}")

    def _paragraph(self, lang: str, head: str, comment: dict[str, str], at: _Time | None) -> str:
        text = _text(comment, lang)
        parts = [f"[{lang}] {head}"]
        if at:
            parts.append(f"{at.text} ({words(lang, self.zone)['zone']})")
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
