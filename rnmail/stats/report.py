"""The management report: one self-contained HTML document (charts inlined as SVG, no
external resource), in French, Dutch, German or English, optionally printed to PDF by a
headless Chromium (``build_report`` / ``write_report``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from rnmail.dispatch.render import PAGES
from rnmail.errors import RnmailError

if TYPE_CHECKING:
    from jinja2 import Template
    from sqlalchemy.orm import Session

    from rnmail.config import Config
from rnmail.i18n.formats import capitalised, day_text, hours_text, number, share, zone_phrase
from rnmail.stats.charts import TOP, check_folder, render, write_file
from rnmail.stats.figures import NONE, Period, Query, Table, contacts, shown_period, times
from rnmail.stats.words import (
    ACCESS_KEY,
    LANGUAGES,
    WEEKDAYS,
    describe_period,
    labeller,
    words,
)

# --- the report -------------------------------------------------------------------------

@dataclass
class Grid:
    """A table of the report; columns from ``numeric`` on are figures (right-aligned)."""

    caption: str
    head: list[str]
    rows: list[list[str]]
    foot: list[str] | None = None
    numeric: int = 1


@dataclass(frozen=True)
class Chart:
    """A chart of the report: its table and title; ``svg``, the inline markup, when the
    report draws it (``build_report``), else None (``report_sections``: ``draw_chart``)."""

    table: Table
    title: str
    svg: Markup | None = None


@dataclass
class Section:
    id: str
    title: str
    lead: str = ""
    charts: list[Chart] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty: bool = False


class _Report:
    """The queries and the pieces of one report, in one language."""

    def __init__(self, session: Session, config: Config, period: Period,
                 language: str, draw: bool = True) -> None:
        self.session = session
        self.config = config
        self.period = period
        self.language = language
        self.words = words(language)
        self.label = labeller(language)
        self.draw = draw
        self.charts = 0

    def contacts(self, *by: str, excluded: tuple[str, ...] = ()) -> Table:
        return _some(contacts(self.session, self.config, self._query(by, excluded)))

    def times(self, *by: str) -> Table:
        return _some(times(self.session, self.config, self._query(by, ())))

    def _query(self, by: tuple[str, ...], excluded: tuple[str, ...]) -> Query:
        return Query(by, self.period, excluded)

    def chart(self, table: Table, title: str) -> Chart:
        """The chart, drawn as inline SVG markup (ids made unique in the page, a <title>)
        unless the report does not ``draw``."""
        if not self.draw:
            return Chart(table, title)
        self.charts += 1
        svg = draw_chart(Chart(table, title), self.config, self.language, "svg")
        return Chart(table, title,
                     Markup(inline_svg(svg.decode("utf-8"), title, f"chart{self.charts}")))

    def n(self, value: float) -> str:
        return number(value, self.language)

    def share(self, part: float, whole: float) -> str:
        return share(part, whole, self.language)

    def section(self, id_: str, build: Callable[[Section], None]) -> Section:
        """A section; one whose figures are empty says so instead of failing."""
        section = Section(id_, self.words[f"{id_}.title"])
        try:
            build(section)
        except NoData:
            section.empty, section.charts, section.grids, section.notes = True, [], [], []
            section.lead = ""
        return section


class NoData(Exception):
    """A table of the report has no row: its section says so."""


def _some(table: Table) -> Table:
    if not table.rows:
        raise NoData
    return table


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
    """The report as one self-contained HTML document. Without a start or an end, the
    period runs from the first ticket or to the last (their days are shown); a period
    without tickets gives a report of zeros."""
    if language not in LANGUAGES:
        raise RnmailError(f"--lang: use one of {', '.join(LANGUAGES)}")
    report = _Report(session, config, period, language)
    words = report.words
    sections = _sections(report, SECTIONS if staff else SECTIONS[:-1])
    zone = config.helpdesk.zone
    now = datetime.now(zone)
    period_text = describe_period(shown_period(session, period, zone), language)
    return _template().render(
        lang=language, words=words, helpdesk=config.helpdesk.name,
        title=f"{config.helpdesk.name} — {words['report']} — {period_text}",
        period=period_text,
        generated=words["generated"].format(when=_when(now, language),
                                            zone=zone_phrase(zone, language)),
        generated_iso=now.isoformat(timespec="seconds"), sections=sections)


SECTIONS = ("contacts", "requesters", "categories", "resolution", "load", "times", "staff")


def report_sections(session: Session, config: Config, period: Period, language: str,
                    ids: Sequence[str]) -> list[Section]:
    """The report's sections ``ids`` (of ``SECTIONS``), in that order, with their tables
    and their charts not drawn: ``draw_chart`` draws one (the desk's figures page serves
    them as images)."""
    if language not in LANGUAGES:
        raise RnmailError(f"--lang: use one of {', '.join(LANGUAGES)}")
    return _sections(_Report(session, config, period, language, draw=False), ids)


def draw_chart(chart: Chart, config: Config, language: str, fmt: str) -> bytes:
    """``chart`` as PNG or SVG bytes, in ``language``, the opening hours of ``config``."""
    return render(chart.table, fmt, opening=(config.stats.opens, config.stats.closes),
                  label=labeller(language), language=language, title=chart.title)


def _sections(report: _Report, ids: Sequence[str]) -> list[Section]:
    builders: dict[str, Callable[[Section], None]] = {
        "requesters": lambda s: _requesters(report, s),
        "categories": lambda s: _categories(report, s),
        "resolution": lambda s: _resolution(report, s),
        "load": lambda s: _load(report, s),
        "times": lambda s: _times(report, s),
        "staff": lambda s: _staff(report, s),
    }
    return [_contacts_section(report) if id_ == "contacts"
            else report.section(id_, builders[id_]) for id_ in ids]


def _when(moment: datetime, language: str) -> str:
    return f"{day_text(moment.date(), language)} {moment:%H:%M}"


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
        [capitalised(words[table.dimensions[0]]),
         *(label(table.dimensions[1], c) for c in columns), words["total"]],
        [[label(table.dimensions[0], name), *(report.n(counts.get(c, 0)) for c in columns),
          report.n(sum(counts.values()))] for name, counts in rows.items()],
        [words["total"], *(report.n(totals[c]) for c in columns), report.n(table.total())])


def _contacts_section(report: _Report) -> Section:
    words = report.words
    try:
        table = report.contacts("month", "channel")
    except NoData:  # a period without tickets: zero, said so
        return Section("contacts", words["contacts.title"],
                       words["contacts.lead"].format(total=report.n(0)),
                       notes=[words["no_data"]])
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
    except NoData:
        return {}  # every ticket of the period was an access-key request


def _requesters(report: _Report, section: Section) -> None:
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
    head = [capitalised(words[dimension]), words["all"], words["share"]]
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
    return Grid(caption, [capitalised(words[dimension]), words["contacts"], words["share"]],
                [[report.label(dimension, keys[0]), report.n(values[0] or 0),
                  report.share(values[0] or 0, total)] for keys, values in table.rows],
                [words["total"], report.n(total), report.share(total, total)])


def _categories(report: _Report, section: Section) -> None:
    table = report.contacts("category")
    section.charts.append(report.chart(table, section.title))
    section.grids.append(_single(report, table, section.title))


def _resolution(report: _Report, section: Section) -> None:
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
    head = [capitalised(words["month"]), words["answered"], words["first_median"],
            words["first_p90"], words["closed"], words["res_median"], words["res_p90"]]
    rows = []
    for (month,), values in table.rows:
        answered, fr_median, fr_p90, closed, res_median, res_p90 = values
        rows.append([report.label("month", month), report.n(answered or 0),
                     hours_text(fr_median, report.language), hours_text(fr_p90, report.language),
                     report.n(closed or 0), hours_text(res_median, report.language),
                     hours_text(res_p90, report.language)])
    section.grids.append(Grid(words["times.chart"], head, rows))


def _staff(report: _Report, section: Section) -> None:
    """Tickets assigned to each member and the answers each one wrote (assigned or not):
    in the answer-by-mail workflow nobody is assigned, and the answers show the work."""
    words = report.words
    section.lead = words["staff.lead"]
    table = report.contacts("staff")
    section.charts.append(report.chart(table, section.title))
    section.grids.append(Grid(
        section.title,
        [capitalised(words["staff"]), capitalised(words["assigned"]),
         capitalised(words["answers"])],
        [[report.label("staff", keys[0]), report.n(tickets or 0), report.n(answers or 0)]
         for keys, (tickets, answers) in table.rows],
        [words["total"], report.n(table.total()), report.n(table.total("answers"))]))


# --- files ------------------------------------------------------------------------------

def write_report(session: Session, config: Config, period: Period, out: Path,
                 language: str = "fr", staff: bool = False, pdf: bool = False) -> list[Path]:
    """Write the report to ``out`` (HTML), and with ``pdf`` the same as ``out`` with a
    .pdf suffix, printed by headless Chromium. Returns the files written."""
    check_folder(out, "--out")
    pdf_path = out.with_suffix(".pdf")
    chromium = None
    if pdf:
        if pdf_path == out:
            raise RnmailError("--out: give the .html file name; the PDF is written next to it")
        chromium = chromium_path()
        if chromium is None:
            raise RnmailError("--pdf needs chromium (apt-get install chromium)")
    html = build_report(session, config, period, language, staff)
    write_file(out, html.encode("utf-8"))
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
