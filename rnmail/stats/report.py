"""Charts of the figures and the management report.

- ``write_chart``: one ``rnmail.stats.figures`` table as a PNG or SVG chart (bars, stacked bars, a
  weekday × hour heatmap against the opening hours, or grouped bars of response times).
- ``build_report`` / ``write_report``: one self-contained HTML document (charts inlined as
  SVG, no external resource), in French, Dutch or English, optionally printed to PDF by a
  headless Chromium.

matplotlib is imported only when a chart is drawn (``import rnmail.stats.report`` stays cheap),
and only through its object API with the Agg and SVG canvases: no pyplot, so no global
figure registry that a long-running daemon could fill, no display needed.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from rnmail.config import StatsConfig
from rnmail.dispatch.render import PAGES
from rnmail.errors import RnmailError
from rnmail.status.publicfiles import write_atomically

if TYPE_CHECKING:
    from jinja2 import Template
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from sqlalchemy.orm import Session

    from rnmail.config import Config
    from rnmail.stats.figures import Period, Query, Table

LANGUAGES = ("fr", "nl", "en")
ACCESS_KEY = "access-key"  # the category the team reports apart
TOP = 20  # organisations (and other long lists) beyond this are summed as "other"
MAX_SERIES = 10  # stacked bars: series beyond this are summed as "other"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # as rnmail.stats.figures labels them
TIMED = ("month", "week", "day", "weekday", "hour")  # never cut, never sorted by size
CHART_SUFFIXES = {".png": "png", ".svg": "svg"}
RC: dict[Any, Any] = {  # matplotlib settings for every chart
    "svg.fonttype": "none",  # text stays text: smaller, searchable, read by screen readers
    "svg.hashsalt": "rnmail",  # the same figures give the same file
    "text.parse_math": False,  # an organisation named "$x$" is not TeX
    "font.family": ["DejaVu Sans", "Liberation Sans", "sans-serif"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
}
TIME_COLOURS = ("#1f5fa8", "#9cc3e6", "#c4580e", "#f6b47b")  # first response, resolution

Label = Callable[[str, str], str]  # (dimension, raw value) -> what people read


def _raw(_dimension: str, value: str) -> str:
    return value


# --- words ------------------------------------------------------------------------------

TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "report": "Rapport d'activité",
        "period": "Période :",
        "generated": "Généré le {when} (heure de Bruxelles)",
        "from_to": "du {start} au {end}",
        "first_ticket": "premier ticket",
        "last_ticket": "dernier ticket",
        "no_data": "Pas de données pour cette période.",
        "contents": "Sommaire",
        "total": "Total",
        "share": "Part",
        "tickets": "tickets",
        "contacts": "Contacts",
        "other": "autres",
        "others_row": "Autres ({n})",
        "contacts.title": "Contacts par mois et par canal",
        "contacts.lead": "{total} contacts (tickets créés) sur la période.",
        "requesters.title": "Qui nous contacte",
        "requesters.lead": "Par type de demandeur et par organisation ; les mêmes chiffres "
                           "hors demandes de clé d'accès (catégorie « {key} »).",
        "requesters.chart": "Contacts par type de demandeur",
        "orgs.chart": "Les organisations qui nous contactent le plus",
        "orgs.caption": "Les {n} organisations qui nous contactent le plus",
        "all": "Tous les contacts",
        "outside": "Hors clé d'accès",
        "categories.title": "Tickets par catégorie",
        "resolution.title": "Parcours de résolution",
        "resolution.lead": "Comment les tickets ont été résolus : au premier contact, après "
                           "recherche, ou par un service de deuxième ligne.",
        "services.caption": "Tickets transmis, par service de deuxième ligne",
        "services.chart": "Tickets par service de deuxième ligne",
        "no_service": "Aucun ticket transmis à un service de deuxième ligne.",
        "load.title": "Charge par jour et par heure",
        "load.lead": "{inside} des {total} contacts ({share}) sont arrivés pendant les heures "
                     "d'ouverture ({opens}–{closes}, du lundi au vendredi, jours fériés "
                     "exclus).",
        "load.chart": "Contacts par jour et par heure d'arrivée",
        "opening": "heures d'ouverture",
        "times.title": "Délais en heures ouvrables",
        "times.lead": "Première réponse et résolution, en heures d'ouverture ({opens}–{closes}"
                      " du lundi au vendredi{holidays}) : médiane et 90e centile, par mois de "
                      "création du ticket.",
        "times.chart": "Délais en heures ouvrables",
        "holidays": ", jours fériés exclus",
        "answered": "Répondus",
        "first_median": "1re réponse, médiane",
        "first_p90": "1re réponse, 90e centile",
        "closed": "Clôturés",
        "res_median": "Résolution, médiane",
        "res_p90": "Résolution, 90e centile",
        "hours": "heures ouvrables",
        "staff.title": "Par membre de l'équipe",
        "staff.lead": "Tickets créés sur la période attribués à chacun, et réponses envoyées "
                      "sur la période.",
        "replies": "réponses",
        "by": "{measure} par {dimensions}",
        "month": "mois", "week": "semaine", "day": "jour", "weekday": "jour",
        "hour": "heure", "weekday-hour": "jour et heure", "channel": "canal",
        "requester-type": "type de demandeur", "organisation": "organisation",
        "category": "catégorie", "resolution": "résolution",
        "service": "service de deuxième ligne", "staff": "membre de l'équipe",
        "request": "demande",
    },
    "nl": {
        "report": "Activiteitenverslag",
        "period": "Periode:",
        "generated": "Aangemaakt op {when} (Brusselse tijd)",
        "from_to": "van {start} tot {end}",
        "first_ticket": "eerste ticket",
        "last_ticket": "laatste ticket",
        "no_data": "Geen gegevens voor deze periode.",
        "contents": "Inhoud",
        "total": "Totaal",
        "share": "Aandeel",
        "tickets": "tickets",
        "contacts": "Contacten",
        "other": "andere",
        "others_row": "Andere ({n})",
        "contacts.title": "Contacten per maand en per kanaal",
        "contacts.lead": "{total} contacten (aangemaakte tickets) in de periode.",
        "requesters.title": "Wie neemt contact op",
        "requesters.lead": "Per type aanvrager en per organisatie; dezelfde cijfers zonder de "
                           "aanvragen voor toegangssleutels (categorie ‘{key}’).",
        "requesters.chart": "Contacten per type aanvrager",
        "orgs.chart": "De organisaties die het vaakst contact opnemen",
        "orgs.caption": "De {n} organisaties die het vaakst contact opnemen",
        "all": "Alle contacten",
        "outside": "Zonder toegangssleutels",
        "categories.title": "Tickets per categorie",
        "resolution.title": "Oplossingstraject",
        "resolution.lead": "Hoe de tickets opgelost werden: bij het eerste contact, na "
                           "onderzoek, of door een dienst van de tweede lijn.",
        "services.caption": "Doorgestuurde tickets, per dienst van de tweede lijn",
        "services.chart": "Tickets per dienst van de tweede lijn",
        "no_service": "Geen enkel ticket doorgestuurd naar een dienst van de tweede lijn.",
        "load.title": "Belasting per dag en per uur",
        "load.lead": "{inside} van de {total} contacten ({share}) kwamen binnen tijdens de "
                     "openingsuren ({opens}–{closes}, maandag tot vrijdag, feestdagen "
                     "niet meegerekend).",
        "load.chart": "Contacten per dag en per uur van aankomst",
        "opening": "openingsuren",
        "times.title": "Termijnen in kantooruren",
        "times.lead": "Eerste antwoord en oplossing, in openingsuren ({opens}–{closes} van "
                      "maandag tot vrijdag{holidays}): mediaan en 90e percentiel, per maand "
                      "waarin het ticket aangemaakt werd.",
        "times.chart": "Termijnen in kantooruren",
        "holidays": ", feestdagen niet meegerekend",
        "answered": "Beantwoord",
        "first_median": "1e antwoord, mediaan",
        "first_p90": "1e antwoord, 90e percentiel",
        "closed": "Afgesloten",
        "res_median": "Oplossing, mediaan",
        "res_p90": "Oplossing, 90e percentiel",
        "hours": "kantooruren",
        "staff.title": "Per teamlid",
        "staff.lead": "Tickets aangemaakt in de periode en toegewezen aan elk teamlid, en "
                      "antwoorden verstuurd in de periode.",
        "replies": "antwoorden",
        "by": "{measure} per {dimensions}",
        "month": "maand", "week": "week", "day": "dag", "weekday": "dag",
        "hour": "uur", "weekday-hour": "dag en uur", "channel": "kanaal",
        "requester-type": "type aanvrager", "organisation": "organisatie",
        "category": "categorie", "resolution": "oplossing",
        "service": "dienst van de tweede lijn", "staff": "teamlid",
        "request": "aanvraag",
    },
    "en": {
        "report": "Activity report",
        "period": "Period:",
        "generated": "Generated on {when} (Brussels time)",
        "from_to": "from {start} to {end}",
        "first_ticket": "the first ticket",
        "last_ticket": "the last ticket",
        "no_data": "No data for this period.",
        "contents": "Contents",
        "total": "Total",
        "share": "Share",
        "tickets": "tickets",
        "contacts": "Contacts",
        "other": "other",
        "others_row": "Others ({n})",
        "contacts.title": "Contacts per month and channel",
        "contacts.lead": "{total} contacts (tickets created) in the period.",
        "requesters.title": "Who contacts us",
        "requesters.lead": "By requester type and by organisation; the same figures outside "
                           "access-key requests (category “{key}”).",
        "requesters.chart": "Contacts by requester type",
        "orgs.chart": "The organisations that contact us most",
        "orgs.caption": "The {n} organisations that contact us most",
        "all": "All contacts",
        "outside": "Outside access-key requests",
        "categories.title": "Tickets by category",
        "resolution.title": "Resolution path",
        "resolution.lead": "How tickets were resolved: at first contact, after investigation, "
                           "or by a second-line service.",
        "services.caption": "Tickets delegated, per second-line service",
        "services.chart": "Tickets per second-line service",
        "no_service": "No ticket was delegated to a second-line service.",
        "load.title": "Load by weekday and hour",
        "load.lead": "{inside} of the {total} contacts ({share}) arrived during opening hours "
                     "({opens}–{closes}, Monday to Friday, public holidays excluded).",
        "load.chart": "Contacts by weekday and hour of arrival",
        "opening": "opening hours",
        "times.title": "Times in business hours",
        "times.lead": "First response and resolution, in opening hours ({opens}–{closes} "
                      "Monday to Friday{holidays}): median and 90th percentile, by the month "
                      "the ticket was created.",
        "times.chart": "Times in business hours",
        "holidays": ", public holidays excluded",
        "answered": "Answered",
        "first_median": "First response, median",
        "first_p90": "First response, 90th percentile",
        "closed": "Closed",
        "res_median": "Resolution, median",
        "res_p90": "Resolution, 90th percentile",
        "hours": "business hours",
        "staff.title": "Per staff member",
        "staff.lead": "Tickets created in the period and assigned to each member, and replies "
                      "sent in the period.",
        "replies": "replies",
        "by": "{measure} by {dimensions}",
        "month": "month", "week": "week", "day": "day", "weekday": "weekday",
        "hour": "hour", "weekday-hour": "weekday and hour", "channel": "channel",
        "requester-type": "requester type", "organisation": "organisation",
        "category": "category", "resolution": "resolution",
        "service": "second-line service", "staff": "staff member",
        "request": "request",
    },
}

VALUES: dict[str, dict[str, dict[str, str]]] = {
    "fr": {
        "channel": {"mail": "courriel", "fax": "fax", "phone": "téléphone",
                    "letter": "courrier"},
        "requester-type": {"citizen": "citoyen", "municipality": "commune",
                           "police": "police", "notary": "notaire",
                           "public-service": "service public", "company": "entreprise",
                           "other": "autre"},
        "resolution": {"first-contact": "premier contact", "investigated": "après recherche",
                       "second-line": "deuxième ligne",
                       "(none)": "(clôturé sans résolution)",
                       "(not closed)": "(pas encore clôturé)"},
        "category": {"access-key": "clé d'accès", "certificate": "certificat",
                     "address-change": "changement d'adresse",
                     "data-correction": "correction de données", "legal": "juridique",
                     "web-services": "services web", "other": "autre"},
        "weekday": dict(zip(WEEKDAYS, ("lun", "mar", "mer", "jeu", "ven", "sam", "dim"),
                            strict=True)),
        "month": dict(zip(("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
                           "12"),
                          ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août",
                           "sept.", "oct.", "nov.", "déc."), strict=True)),
        "request": {ACCESS_KEY: "clé d'accès", "other": "autres demandes"},
        "*": {"(none)": "(aucun)", "(unassigned)": "(non attribué)",
              "(citizens)": "(citoyens)"},
    },
    "nl": {
        "channel": {"mail": "e-mail", "fax": "fax", "phone": "telefoon", "letter": "brief"},
        "requester-type": {"citizen": "burger", "municipality": "gemeente",
                           "police": "politie", "notary": "notaris",
                           "public-service": "openbare dienst", "company": "bedrijf",
                           "other": "andere"},
        "resolution": {"first-contact": "eerste contact", "investigated": "na onderzoek",
                       "second-line": "tweede lijn",
                       "(none)": "(afgesloten zonder oplossing)",
                       "(not closed)": "(nog niet afgesloten)"},
        "category": {"access-key": "toegangssleutel", "certificate": "getuigschrift",
                     "address-change": "adreswijziging",
                     "data-correction": "gegevenscorrectie", "legal": "juridisch",
                     "web-services": "webdiensten", "other": "andere"},
        "weekday": dict(zip(WEEKDAYS, ("ma", "di", "wo", "do", "vr", "za", "zo"),
                            strict=True)),
        "month": dict(zip(("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
                           "12"),
                          ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep",
                           "okt", "nov", "dec"), strict=True)),
        "request": {ACCESS_KEY: "toegangssleutel", "other": "andere aanvragen"},
        "*": {"(none)": "(geen)", "(unassigned)": "(niet toegewezen)",
              "(citizens)": "(burgers)"},
    },
    "en": {
        "category": {"access-key": "access key"},
        "month": dict(zip(("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
                           "12"),
                          ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                           "Oct", "Nov", "Dec"), strict=True)),
        "request": {ACCESS_KEY: "access key", "other": "other requests"},
        "*": {"(citizens)": "(citizens)"},
    },
}


def labeller(language: str) -> Label:
    """The label of a dimension value in ``language``: channels, requester types,
    resolutions, default categories, weekdays and months translated; user data as is."""
    values = VALUES[language]

    def label(dimension: str, value: str) -> str:
        if dimension == "month" and re.fullmatch(r"\d{4}-\d{2}", value):
            return f"{values['month'][value[5:]]} {value[:4]}"
        if dimension == "weekday-hour" and " " in value:
            day, hour = value.split(" ", 1)
            return f"{label('weekday', day)} {hour}h"
        return values.get(dimension, {}).get(value) or values["*"].get(value, value)

    return label


def _number(value: float, language: str, digits: int = 0) -> str:
    text = f"{value:,.{digits}f}"
    if language == "en":
        return text
    thousands = "\u202f" if language == "fr" else "."
    return text.replace(",", "\0").replace(".", ",").replace("\0", thousands)


def _share(part: float, whole: float, language: str) -> str:
    if not whole:
        return "–"
    return _number(100 * part / whole, language, 1) + ("\u202f%" if language == "fr" else " %")


def _hours(value: float | int | None, language: str) -> str:
    if value is None:
        return "–"
    rounded = Decimal(str(value)).quantize(Decimal("0.1"), ROUND_HALF_UP)  # 0.25 → 0.3
    return _number(float(rounded), language, 1) + " h"


# --- charts -----------------------------------------------------------------------------

def write_chart(table: Table, path: Path, opening: tuple[time, time] | None = None) -> None:
    """Draw ``table`` into ``path`` (.png or .svg), atomically: the file is complete or
    absent. ``opening``: the opening hours marked on a weekday-hour heatmap (default: those
    of ``StatsConfig``)."""
    fmt = CHART_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise RnmailError("--chart: use a .png or .svg file name")
    _check_folder(path, "--chart")
    data = render(table, fmt, opening=opening)
    _write_atomically(path, data)


def render(table: Table, fmt: str, *, opening: tuple[time, time] | None = None,
           label: Label = _raw, language: str = "en", title: str | None = None) -> bytes:
    """The chart of ``table`` as PNG or SVG bytes."""
    import matplotlib
    from matplotlib.figure import Figure

    if opening is None:
        defaults = StatsConfig()
        opening = (defaults.opens, defaults.closes)
    words = TEXT[language]
    if title is None:
        measure = words["tickets"] if table.measures[0] == "tickets" else words["hours"]
        title = words["by"].format(measure=measure.capitalize(), dimensions=", ".join(
            words.get(d, d) for d in table.dimensions))
    with matplotlib.rc_context(RC):
        fig = Figure(layout="constrained")
        try:
            _draw(fig, table, label, words, title, opening)
            buffer = io.BytesIO()
            metadata: dict[str, Any] = ({"Date": None, "Title": title} if fmt == "svg"
                                        else {"Title": title})
            fig.savefig(buffer, format=fmt, dpi=110, metadata=metadata)
        finally:
            fig.clear()  # break the figure's reference cycles at once
    return buffer.getvalue()


def _draw(fig: Figure, table: Table, label: Label, words: dict[str, str], title: str,
          opening: tuple[time, time]) -> None:
    if table.measures and table.measures[0] == "answered":
        _times_chart(fig, table, label, words, title)
    elif table.dimensions == ["weekday-hour"]:
        _heatmap(fig, table, label, words, title, opening)
    elif len(table.dimensions) >= 2:
        _stacked(fig, table, label, words, title)
    else:
        _bars(fig, table, label, words, title)


def _bars(fig: Figure, table: Table, label: Label, words: dict[str, str], title: str) -> None:
    """One dimension: bars (grouped when there are several measures, e.g. tickets and
    replies); horizontal for many or long labels, the largest at the top."""
    dimension = table.dimensions[0]
    names = [keys[0] for keys, _values in table.rows]
    series = [[float(values[i] or 0) for _keys, values in table.rows]
              for i in range(len(table.measures))]
    timed = dimension in TIMED
    if not timed and len(names) > TOP:
        names = [*names[:TOP], ""]
        series = [[*values[:TOP], sum(values[TOP:])] for values in series]
    labels = [label(dimension, n) if n else words["other"] for n in names]
    horizontal = not timed and (len(labels) > 8 or max(map(len, labels), default=0) > 12)
    count = len(labels)
    if horizontal:
        fig.set_size_inches(8, 1.2 + 0.3 * count * max(1, len(series) * 0.7))
    else:
        fig.set_size_inches(min(14.0, max(4.5, 0.5 * count * len(series) + 2)), 4)
    ax = fig.add_subplot()
    ax.set_title(title)
    width = 0.8 / len(series)
    positions = list(range(count))
    for index, (measure, values) in enumerate(zip(table.measures, series, strict=True)):
        offset = [p - 0.4 + width * (index + 0.5) for p in positions]
        name = words.get(measure, measure)
        bars = (ax.barh(offset, values, height=width, label=name) if horizontal
                else ax.bar(offset, values, width=width, label=name))
        if count * len(series) <= 40:
            ax.bar_label(bars, labels=[_short(v) for v in values], padding=2, fontsize=8)
    top = max((max(values, default=0) for values in series), default=0)
    if horizontal:
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
        ax.set_xlabel(words["tickets"])
        _counts_axis(ax.xaxis, top, ax.set_xlim)
    else:
        _x_labels(ax, labels)
        ax.set_ylabel(words["tickets"])
        _counts_axis(ax.yaxis, top, ax.set_ylim)
    if len(series) > 1:
        ax.legend(loc="lower right" if horizontal else "upper right")


def _stacked(fig: Figure, table: Table, label: Label, words: dict[str, str],
             title: str) -> None:
    """Two (or more) dimensions: the first on the x axis, the last as stacked series."""
    dims = table.dimensions
    first_dims, last = dims[:-1], dims[-1]
    firsts: list[tuple[str, ...]] = []
    counts: dict[tuple[tuple[str, ...], str], float] = {}
    totals: dict[str, float] = {}
    for keys, values in table.rows:
        head, tail = tuple(keys[:-1]), keys[-1]
        if head not in firsts:
            firsts.append(head)
        value = float(values[0] or 0)
        counts[head, tail] = counts.get((head, tail), 0) + value
        totals[tail] = totals.get(tail, 0) + value
    seconds = sorted(totals, key=lambda s: (-totals[s], s)) if last not in TIMED else list(
        dict.fromkeys(k[-1] for k, _v in table.rows))
    if len(seconds) > MAX_SERIES:
        kept = set(seconds[:MAX_SERIES - 1])
        merged: dict[tuple[tuple[str, ...], str], float] = {}
        for (head, tail), value in counts.items():
            key = (head, tail if tail in kept else "")
            merged[key] = merged.get(key, 0) + value
        counts, seconds = merged, [*seconds[:MAX_SERIES - 1], ""]
    if len(first_dims) == 1 and first_dims[0] not in TIMED and len(firsts) > TOP:
        firsts = firsts[:TOP]  # the largest groups (rnmail.stats.figures sorts them by total)
    labels = [" / ".join(label(d, k) for d, k in zip(first_dims, head, strict=True))
              for head in firsts]
    fig.set_size_inches(min(14.0, max(6.4, 0.5 * len(firsts) + 3)), 4.2)
    ax = fig.add_subplot()
    ax.set_title(title)
    bottom = [0.0] * len(firsts)
    colours = _colours(len(seconds))
    for colour, second in zip(colours, seconds, strict=True):
        heights = [counts.get((head, second), 0.0) for head in firsts]
        ax.bar(range(len(firsts)), heights, bottom=bottom, width=0.7, color=colour,
               label=label(last, second) if second else words["other"])
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    if len(firsts) <= 24:
        for x, total in enumerate(bottom):
            ax.annotate(_short(total), (x, total), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8)
    _x_labels(ax, labels)
    ax.set_ylabel(words["tickets"])
    _counts_axis(ax.yaxis, max(bottom, default=0), ax.set_ylim)
    ax.legend(title=words.get(last, last), loc="upper left", bbox_to_anchor=(1.01, 1))


def _heatmap(fig: Figure, table: Table, label: Label, words: dict[str, str], title: str,
             opening: tuple[time, time]) -> None:
    """Weekday × hour, 7 × 24 cells, with the opening hours (Monday–Friday) outlined."""
    from matplotlib.patches import Rectangle

    grid = [[0.0] * 24 for _ in WEEKDAYS]
    for (key, *_rest), values in table.rows:
        day, hour = key.split(" ")
        grid[WEEKDAYS.index(day)][int(hour)] += float(values[0] or 0)
    fig.set_size_inches(10, 3.8)
    ax = fig.add_subplot()
    ax.set_title(title)
    image = ax.imshow(grid, cmap="Blues", aspect="auto", vmin=0)
    top = max(max(row) for row in grid) or 1
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            if value:
                ax.text(x, y, _short(value), ha="center", va="center", fontsize=7,
                        color="white" if value > top * 0.55 else "#1a1a1a")
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
    ax.set_yticks(range(7), [label("weekday", d) for d in WEEKDAYS])
    ax.set_xlabel(words["hour"])
    ax.spines[:].set_visible(False)
    opens, closes = (t.hour + t.minute / 60 for t in opening)
    ax.add_patch(Rectangle((opens - 0.5, -0.5), closes - opens, 5, fill=False,
                           edgecolor="#c4180e", linewidth=2,
                           label=f"{words['opening']} {opening[0]:%H:%M}–{opening[1]:%H:%M}"))
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.18), ncols=1)
    bar = fig.colorbar(image, ax=ax, label=words["tickets"], shrink=0.9)
    _counts_axis(bar.ax.yaxis, None, None)


def _times_chart(fig: Figure, table: Table, label: Label, words: dict[str, str],
                 title: str) -> None:
    """Grouped bars: first response and resolution, median and 90th percentile."""
    labels = [" / ".join(label(d, k) for d, k in zip(table.dimensions, keys, strict=True))
              for keys, _values in table.rows]
    measures = [("first_response_median_h", "first_median"),
                ("first_response_p90_h", "first_p90"),
                ("resolution_median_h", "res_median"), ("resolution_p90_h", "res_p90")]
    fig.set_size_inches(min(14.0, max(6.4, 1.4 * len(labels) + 3)), 4.2)
    ax = fig.add_subplot()
    ax.set_title(title)
    width = 0.2
    heights_all: list[float] = []
    for index, ((measure, word), colour) in enumerate(zip(measures, TIME_COLOURS,
                                                          strict=True)):
        column = table.measures.index(measure)
        raw = [values[column] for _keys, values in table.rows]
        heights = [math.nan if v is None else float(v) for v in raw]
        heights_all += heights
        bars = ax.bar([x - 0.3 + width * index for x in range(len(labels))],
                      [0.0 if math.isnan(h) else h for h in heights], width=width,
                      color=colour, label=words[word])
        if len(labels) <= 12:
            ax.bar_label(bars, labels=["–" if v is None else _short(float(v)) for v in raw],
                         padding=2, fontsize=7)
    _x_labels(ax, labels)
    ax.set_ylabel(words["hours"])
    ax.set_ylim(0, max((v for v in heights_all if not math.isnan(v)), default=0) * 1.12 or 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))


def _x_labels(ax: Axes, labels: Sequence[str]) -> None:
    """Category labels on the x axis: thinned when there are many, slanted when long."""
    step = max(1, math.ceil(len(labels) / 24))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks, [labels[i] for i in ticks])
    longest = max(map(len, labels), default=0)
    if (len(ticks) > 6 and longest > 4) or longest > 14:
        for text in ax.get_xticklabels():
            text.set_rotation(35)
            text.set_horizontalalignment("right")
            text.set_rotation_mode("anchor")


def _counts_axis(axis: Any, top: float | None, set_limits: Callable[..., Any] | None) -> None:
    """Whole numbers on a count axis, with room above the largest bar for its label."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))
    if top is not None and set_limits is not None:
        set_limits(0, top * 1.12 if top else 1)


def _colours(count: int) -> list[Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors  # type: ignore[attr-defined]
    return [palette[i % len(palette)] for i in range(count)]


def _short(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:.3g}"


# --- files ------------------------------------------------------------------------------

def _check_folder(path: Path, option: str) -> None:
    if not path.parent.is_dir():
        raise RnmailError(f"{option}: the folder {path.parent} does not exist")


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        write_atomically(path, data, durable=True)
    except OSError as exc:
        raise RnmailError(f"cannot write {path}: {exc.strerror or exc}") from exc


# --- the report -------------------------------------------------------------------------

@dataclass
class Grid:
    """A table of the report; columns from ``numeric`` on are figures (right-aligned)."""

    caption: str
    head: list[str]
    rows: list[list[str]]
    foot: list[str] | None = None
    numeric: int = 1


@dataclass
class Section:
    id: str
    title: str
    lead: str = ""
    charts: list[Markup] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty: bool = False


class _Report:
    """The queries and the pieces of one report, in one language."""

    def __init__(self, session: Session, config: Config, period: Period,
                 language: str) -> None:
        self.session = session
        self.config = config
        self.period = period
        self.language = language
        self.words = TEXT[language]
        self.label = labeller(language)
        self.charts = 0

    def contacts(self, *by: str, excluded: tuple[str, ...] = ()) -> Table:
        from rnmail.stats.figures import contacts

        return contacts(self.session, self.config, self._query(by, excluded))

    def times(self, *by: str) -> Table:
        from rnmail.stats.figures import times

        return times(self.session, self.config, self._query(by, ()))

    def _query(self, by: tuple[str, ...], excluded: tuple[str, ...]) -> Query:
        from rnmail.stats.figures import Query

        return Query(by, self.period, excluded)

    def chart(self, table: Table, title: str) -> Markup:
        """The chart as inline SVG markup: ids made unique in the page, a <title>."""
        self.charts += 1
        svg = render(table, "svg", opening=(self.config.stats.opens, self.config.stats.closes),
                     label=self.label, language=self.language, title=title)
        return Markup(inline_svg(svg.decode("utf-8"), title, f"chart{self.charts}"))

    def n(self, value: float) -> str:
        return _number(value, self.language)

    def share(self, part: float, whole: float) -> str:
        return _share(part, whole, self.language)

    def section(self, id_: str, build: Callable[[Section], None]) -> Section:
        """A section; one whose figures are empty says so instead of failing."""
        section = Section(id_, self.words[f"{id_}.title"])
        try:
            build(section)
        except RnmailError:
            section.empty, section.charts, section.grids, section.notes = True, [], [], []
            section.lead = ""
        return section


def inline_svg(svg: str, title: str, prefix: str) -> str:
    """matplotlib's SVG file as markup for an HTML page: no XML prolog nor metadata, ids
    (and the references to them) prefixed so that several charts can share a page, and an
    accessible name (role="img", <title>)."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)

    def tag(match: re.Match[str]) -> str:
        text = match.group(0)
        text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
        text = re.sub(r'url\(#([^)"]+)\)', rf'url(#{prefix}-\1)', text)
        return re.sub(r'(xlink:)?href="#([^"]+)"', rf'\1href="#{prefix}-\2"', text)

    svg = re.sub(r"<[^>]*>", tag, svg)  # tags only: text content is left alone
    end = svg.index(">") + 1
    opening = svg[:end].replace(
        "<svg", f'<svg role="img" aria-labelledby="{prefix}-title" class="chart-svg"', 1)
    return f'{opening}<title id="{prefix}-title">{escape(title)}</title>{svg[end:]}'


def build_report(session: Session, config: Config, period: Period, language: str = "fr",
                 staff: bool = False) -> str:
    """The report as one self-contained HTML document; RnmailError if the period holds
    no ticket (so that no file is written)."""
    from zoneinfo import ZoneInfo

    if language not in LANGUAGES:
        raise RnmailError(f"--lang: use one of {', '.join(LANGUAGES)}")
    report = _Report(session, config, period, language)
    words = report.words
    by_month = report.contacts("month", "channel")  # RnmailError: no ticket at all
    sections = [_contacts_section(report, by_month),
                report.section("requesters", lambda s: _requesters(report, s)),
                report.section("categories", lambda s: _categories(report, s)),
                report.section("resolution", lambda s: _resolution(report, s)),
                report.section("load", lambda s: _load(report, s)),
                report.section("times", lambda s: _times(report, s))]
    if staff:
        sections.append(report.section("staff", lambda s: _staff(report, s)))
    now = datetime.now(ZoneInfo("Europe/Brussels"))
    period_text = describe_period(period, language)
    return _template().render(
        lang=language, words=words, helpdesk=config.helpdesk.name,
        title=f"{config.helpdesk.name} — {words['report']} — {period_text}",
        period=period_text, generated=words["generated"].format(when=_when(now, language)),
        generated_iso=now.isoformat(timespec="seconds"), sections=sections)


def describe_period(period: Period, language: str) -> str:
    words = TEXT[language]
    return words["from_to"].format(
        start=_day(period.start, language) if period.start else words["first_ticket"],
        end=_day(period.end, language) if period.end else words["last_ticket"])


def _day(day: date, language: str) -> str:
    return day.isoformat() if language == "en" else f"{day:%d/%m/%Y}"


def _when(moment: datetime, language: str) -> str:
    return f"{_day(moment.date(), language)} {moment:%H:%M}"


@cache
def _template() -> Template:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(loader=FileSystemLoader(str(PAGES)),
                              undefined=StrictUndefined, autoescape=True, trim_blocks=True,
                              lstrip_blocks=True, auto_reload=False)
    return environment.get_template("report.html.j2")


def _cross(report: _Report, table: Table, caption: str) -> Grid:
    """Two dimensions as a cross-table: rows, columns (largest first) and totals."""
    rows: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for (first, second), (count, *_rest) in table.rows:
        rows.setdefault(first, {})[second] = int(count or 0)
        totals[second] = totals.get(second, 0) + int(count or 0)
    columns = sorted(totals, key=lambda c: (-totals[c], c))
    label, words = report.label, report.words
    return Grid(
        caption,
        [words[table.dimensions[0]].capitalize(),
         *(label(table.dimensions[1], c) for c in columns), words["total"]],
        [[label(table.dimensions[0], name), *(report.n(counts.get(c, 0)) for c in columns),
          report.n(sum(counts.values()))] for name, counts in rows.items()],
        [words["total"], *(report.n(totals[c]) for c in columns), report.n(table.total())])


def _contacts_section(report: _Report, table: Table) -> Section:
    words = report.words
    section = Section("contacts", words["contacts.title"],
                      words["contacts.lead"].format(total=report.n(table.total())))
    section.charts.append(report.chart(table, words["contacts.title"]))
    section.grids.append(_cross(report, table, words["contacts.title"]))
    return section


def _counts(table: Table) -> dict[str, int]:
    return {keys[0]: int(values[0] or 0) for keys, values in table.rows}


def _outside(report: _Report, dimension: str) -> dict[str, int] | None:
    """The counts without access-key tickets; None when there is no such category."""
    if ACCESS_KEY not in report.config.workflow.categories:
        return None
    try:
        return _counts(report.contacts(dimension, excluded=(ACCESS_KEY,)))
    except RnmailError:
        return {}  # every ticket of the period was an access-key request


def _requesters(report: _Report, section: Section) -> None:
    from rnmail.stats.figures import Table

    words = report.words
    section.lead = words["requesters.lead"].format(key=ACCESS_KEY)
    types = report.contacts("requester-type")
    all_types, outside_types = _counts(types), _outside(report, "requester-type")
    if outside_types is not None:
        split = Table(["requester-type", "request"], ["tickets"], [], report.period)
        for name, count in all_types.items():
            other = outside_types.get(name, 0)
            split.rows += [((name, "other"), (other,)), ((name, ACCESS_KEY), (count - other,))]
        section.charts.append(report.chart(split, words["requesters.chart"]))
    else:
        section.charts.append(report.chart(types, words["requesters.chart"]))
    section.grids.append(_with_outside(report, "requester-type", words["requesters.chart"],
                                       all_types, outside_types))
    organisations = report.contacts("organisation")
    section.charts.append(report.chart(organisations, words["orgs.chart"]))
    caption = words["orgs.caption"].format(n=min(TOP, len(organisations.rows)))
    section.grids.append(_with_outside(report, "organisation", caption,
                                       _counts(organisations),
                                       _outside(report, "organisation"), top=TOP))


def _with_outside(report: _Report, dimension: str, caption: str, counts: dict[str, int],
                  outside: dict[str, int] | None, top: int | None = None) -> Grid:
    """Counts and shares, and the same outside access-key requests when there are any."""
    words = report.words
    total, total_out = sum(counts.values()), sum((outside or {}).values())
    head = [words[dimension].capitalize(), words["all"], words["share"]]
    if outside is not None:
        head += [words["outside"], words["share"]]

    def row(name: str, count: int, out: int) -> list[str]:
        cells = [name, report.n(count), report.share(count, total)]
        if outside is not None:
            cells += [report.n(out), report.share(out, total_out)]
        return cells

    names = list(counts)
    shown = names[:top] if top else names
    rows = [row(report.label(dimension, n), counts[n], (outside or {}).get(n, 0))
            for n in shown]
    rest = names[len(shown):]
    if rest:
        rows.append(row(words["others_row"].format(n=report.n(len(rest))),
                        sum(counts[n] for n in rest),
                        sum((outside or {}).get(n, 0) for n in rest)))
    return Grid(caption, head, rows, row(words["total"], total, total_out))


def _single(report: _Report, table: Table, caption: str) -> Grid:
    words = report.words
    dimension = table.dimensions[0]
    total = table.total()
    return Grid(caption, [words[dimension].capitalize(), words["contacts"], words["share"]],
                [[report.label(dimension, keys[0]), report.n(values[0] or 0),
                  report.share(values[0] or 0, total)] for keys, values in table.rows],
                [words["total"], report.n(total), report.share(total, total)])


def _categories(report: _Report, section: Section) -> None:
    table = report.contacts("category")
    section.charts.append(report.chart(table, section.title))
    section.grids.append(_single(report, table, section.title))


def _resolution(report: _Report, section: Section) -> None:
    from rnmail.stats.figures import NONE, Table

    words = report.words
    section.lead = words["resolution.lead"]
    table = report.contacts("resolution")
    section.charts.append(report.chart(table, section.title))
    section.grids.append(_single(report, table, section.title))
    services = report.contacts("service")
    delegated = Table(services.dimensions, services.measures,
                      [row for row in services.rows if row[0][0] != NONE], services.period)
    if delegated.rows:
        section.charts.append(report.chart(delegated, words["services.chart"]))
        section.grids.append(_single(report, delegated, words["services.caption"]))
    else:
        section.notes.append(words["no_service"])


def _load(report: _Report, section: Section) -> None:
    from rnmail.stats.figures import Table

    words, stats = report.words, report.config.stats
    table = report.contacts("weekday-hour")
    if table.inside_hours is not None:
        inside, total = table.inside_hours, table.total()
        section.lead = words["load.lead"].format(
            inside=report.n(inside), total=report.n(total),
            share=report.share(inside, total), opens=f"{stats.opens:%H:%M}",
            closes=f"{stats.closes:%H:%M}")
    section.charts.append(report.chart(table, words["load.chart"]))
    days: dict[str, int] = {}
    for (key, *_rest), values in table.rows:
        day = key.split(" ")[0]
        days[day] = days.get(day, 0) + int(values[0] or 0)
    per_day = Table(["weekday"], ["tickets"],
                    [((d,), (days.get(d, 0),)) for d in WEEKDAYS], report.period)
    section.grids.append(_single(report, per_day, words["load.chart"]))


def _times(report: _Report, section: Section) -> None:
    words, stats = report.words, report.config.stats
    section.lead = words["times.lead"].format(
        opens=f"{stats.opens:%H:%M}", closes=f"{stats.closes:%H:%M}",
        holidays=words["holidays"] if stats.holidays else "")
    table = report.times("month")
    section.charts.append(report.chart(table, words["times.chart"]))
    head = [words["month"].capitalize(), words["answered"], words["first_median"],
            words["first_p90"], words["closed"], words["res_median"], words["res_p90"]]
    rows = []
    for (month,), values in table.rows:
        answered, fr_median, fr_p90, closed, res_median, res_p90 = values
        rows.append([report.label("month", month), report.n(answered or 0),
                     _hours(fr_median, report.language), _hours(fr_p90, report.language),
                     report.n(closed or 0), _hours(res_median, report.language),
                     _hours(res_p90, report.language)])
    section.grids.append(Grid(words["times.chart"], head, rows))


def _staff(report: _Report, section: Section) -> None:
    words = report.words
    section.lead = words["staff.lead"]
    table = report.contacts("staff")
    # Tickets and replies; the replies may be missing from the rows (rnmail.stats.figures at ea0a2e4
    # leaves them out when nobody replied in the period): count them as 0.
    rows = [(keys, (int(values[0] or 0), int(values[1] or 0) if len(values) > 1 else 0))
            for keys, values in table.rows]
    table.measures, table.rows = ["tickets", "replies"], list(rows)
    section.charts.append(report.chart(table, section.title))
    section.grids.append(Grid(
        section.title,
        [words["staff"].capitalize(), words["tickets"].capitalize(),
         words["replies"].capitalize()],
        [[report.label("staff", keys[0]), report.n(tickets), report.n(replies)]
         for keys, (tickets, replies) in rows],
        [words["total"], report.n(table.total()), report.n(table.total("replies"))]))


# --- files ------------------------------------------------------------------------------

def write_report(session: Session, config: Config, period: Period, out: Path,
                 language: str = "fr", staff: bool = False, pdf: bool = False) -> list[Path]:
    """Write the report to ``out`` (HTML), and with ``pdf`` the same as ``out`` with a
    .pdf suffix, printed by headless Chromium. Returns the files written."""
    _check_folder(out, "--out")
    pdf_path = out.with_suffix(".pdf")
    chromium = None
    if pdf:
        if pdf_path == out:
            raise RnmailError("--out: give the .html file name; the PDF is written next to it")
        chromium = chromium_path()
        if chromium is None:
            raise RnmailError("--pdf needs chromium (apt-get install chromium)")
    html = build_report(session, config, period, language, staff)
    _write_atomically(out, html.encode("utf-8"))
    if chromium is None:
        return [out]
    print_pdf(chromium, out, pdf_path)
    return [out, pdf_path]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def print_pdf(chromium: str, html: Path, pdf: Path, timeout: float = 120.0) -> None:
    """Print ``html`` to ``pdf`` with headless Chromium, atomically."""
    tmp = pdf.with_name(f".{pdf.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tempfile.TemporaryDirectory(prefix="rnmail-pdf-") as profile:
            result = subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--no-pdf-header-footer", f"--user-data-dir={profile}",
                 f"--print-to-pdf={tmp}", html.resolve().as_uri()],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                timeout=timeout, check=False)
        with open(tmp, "rb") as handle:
            printed = handle.read(5) == b"%PDF-"
        if result.returncode != 0 or not printed:
            lines = result.stderr.decode(errors="replace").strip().splitlines()
            raise RnmailError(f"--pdf: chromium could not print {html}"
                              + (f": {lines[-1]}" if lines else ""))
        os.replace(tmp, pdf)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RnmailError(f"--pdf: chromium could not print {html}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
