"""The desk's figures (``/desk/figures``): the statistics of ``rnmail stats`` for a chosen
period — contacts per month and channel, per requester type, per category, the resolution
path, the load by weekday and hour, response times in business hours — as the report's
tables (``rnmail.stats.report.report_sections``) and their charts, served as images from
``/desk/figures/chart.png`` or ``.svg`` (drawn by ``rnmail.stats.charts``, kept a few
minutes: drawing takes a while); and the report of ``rnmail report`` as a download.

The period and the choice are a GET form (``from``, ``to``: months ``2026-02`` or days
``2026-02-01``, both included, Brussels; ``show``: sections), so a page of figures is a
link. A period or a value that cannot be read is a 400 page saying so.
"""

from __future__ import annotations

import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiMapping
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.db import Database
from rnmail.errors import RnmailError
from rnmail.i18n import N_
from rnmail.stats.figures import Period, period_of, shown_period
from rnmail.stats.report import (
    build_report,
    draw_chart,
    report_sections,
    write_report,
)
from rnmail.stats.words import LANGUAGES as FIGURE_LANGUAGES
from rnmail.stats.words import default_language, describe_period
from rnmail.web.desk.base import DeskBase, moved
from rnmail.web.signin import LANGUAGE, Refused, read

# What the page may show (the report's sections), as the form names them.
CHOICES = {
    "contacts": N_("Contacts per month and channel"),
    "requesters": N_("Per requester type and organisation"),
    "categories": N_("Per category"),
    "resolution": N_("Resolution path"),
    "load": N_("Load by weekday and hour"),
    "times": N_("Response times"),
}
DEFAULT = ("contacts", "requesters", "categories", "times")
CHART_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
CHART_SECONDS = 300  # a chart drawn is served again for so long (and cached as long)
CHART_KEPT = 64  # charts kept in memory at most
BAD_PERIOD = N_("The period cannot be read: give months (2026-02) or days (2026-02-01), "
                "from 1970 on, the first before the last; leave a field empty for the "
                "first or the last ticket.")
BAD_CHOICE = N_("These figures do not exist: choose among those the form offers.")


def asked_period(query: MultiMapping[str]) -> Period:
    try:
        return period_of(query.get("from", "")[:16], query.get("to", "")[:16])
    except RnmailError:
        raise Refused(400, BAD_PERIOD) from None


def asked_sections(query: MultiMapping[str]) -> list[str]:
    shown = list(dict.fromkeys(query.getall("show", [])))
    if any(name not in CHOICES for name in shown):
        raise Refused(400, BAD_CHOICE)
    return [name for name in CHOICES if name in shown] or list(DEFAULT)


def figures_language(config: Any, language: str) -> str:
    """The figures' language: the reader's (the figures are written in each of the desk's
    languages), else the report's default."""
    return language if language in FIGURE_LANGUAGES else default_language(config)


def period_query(period: Period) -> dict[str, str]:
    return {"from": period.start.isoformat() if period.start else "",
            "to": period.end.isoformat() if period.end else ""}


class FigurePages(DeskBase):
    """``/desk/figures``: the figures of a period, their charts, the report."""

    def __init__(self, config: Config, db: Database,
                 send: Callable[[], None] | None = None) -> None:
        super().__init__(config, db, send)
        # the charts drawn lately (key -> (when, image)), the oldest first
        self.charts_drawn: OrderedDict[tuple[Any, ...], tuple[float, bytes]] = OrderedDict()

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/desk/figures", self.figures)
        app.router.add_get("/desk/figures/", moved("/desk/figures"))
        app.router.add_get(r"/desk/figures/chart.{fmt:png|svg}", self.chart)
        app.router.add_get(r"/desk/figures/report.{fmt:html|pdf}", self.report)

    async def figures(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        period = asked_period(request.query)
        shown = asked_sections(request.query)
        language = figures_language(self.config, request.get(LANGUAGE, "fr"))
        zone = self.config.helpdesk.zone

        def query(session: Session) -> dict[str, Any]:
            sections = report_sections(session, self.config, period, language, shown)
            return {
                "sections": sections,
                "described": describe_period(shown_period(session, period, zone), language),
                "period": period_query(period), "shown": shown, "choices": CHOICES,
                "language": language,
                "report_languages": FIGURE_LANGUAGES,
                "chart_url": lambda fmt, section, n: "/desk/figures/chart.{}?{}".format(
                    fmt, urlencode({**period_query(period), "section": section, "n": n,
                                    "language": language})),
                "report_query": urlencode(period_query(period)),
            }

        return await self.show(request, signed, "figures.html.j2", query)

    async def chart(self, request: web.Request) -> web.StreamResponse:
        await self.signed_in(request)
        fmt = request.match_info["fmt"]
        period = asked_period(request.query)
        section = request.query.get("section", "")
        language = request.query.get("language", "")
        raw_n = request.query.get("n", "")
        if (section not in CHOICES or language not in FIGURE_LANGUAGES
                or not (raw_n.isascii() and raw_n.isdigit() and len(raw_n) < 3)):
            raise Refused(404, N_("There is no such chart."))
        key = (fmt, section, int(raw_n), period, language)
        data = self.cached_chart(key)
        if data is None:
            def draw(session: Session) -> bytes | None:
                [found] = report_sections(session, self.config, period, language, [section])
                if int(raw_n) >= len(found.charts):
                    return None
                return draw_chart(found.charts[int(raw_n)], self.config, language, fmt)

            data = await self.call(request, read, self.db, draw)
            if data is None:
                raise Refused(404, N_("There is no such chart."))
            self.keep_chart(key, data)
        headers = {"Cache-Control": f"private, max-age={CHART_SECONDS}"}
        if fmt == "svg":  # a document of its own if opened: downloaded, never in our origin
            headers["Content-Disposition"] = f'attachment; filename="{section}.svg"'
        return web.Response(body=data, content_type=CHART_TYPES[fmt], headers=headers)

    def cached_chart(self, key: tuple[Any, ...]) -> bytes | None:
        found = self.charts_drawn.get(key)
        if found is None or found[0] < time.monotonic() - CHART_SECONDS:
            return None
        return found[1]

    def keep_chart(self, key: tuple[Any, ...], data: bytes) -> None:
        self.charts_drawn[key] = (time.monotonic(), data)
        self.charts_drawn.move_to_end(key)
        while len(self.charts_drawn) > CHART_KEPT:
            self.charts_drawn.popitem(last=False)

    async def report(self, request: web.Request) -> web.StreamResponse:
        """``rnmail report`` as a download: the HTML document, or its PDF (Chromium)."""
        await self.signed_in(request)
        fmt = request.match_info["fmt"]
        period = asked_period(request.query)
        language = request.query.get("language", "") or figures_language(
            self.config, request.get(LANGUAGE, "fr"))
        if language not in FIGURE_LANGUAGES:
            raise Refused(400, BAD_CHOICE)
        staff = request.query.get("staff", "") == "yes"

        def html(session: Session) -> bytes:
            return build_report(session, self.config, period, language, staff).encode()

        def pdf(session: Session) -> bytes:
            with tempfile.TemporaryDirectory(prefix="rnmail-report-") as folder:
                out = Path(folder) / "report.html"
                written = write_report(session, self.config, period, out, language, staff,
                                       pdf=True)
                return written[-1].read_bytes()

        try:
            data = await self.call(request, read, self.db, html if fmt == "html" else pdf)
        except RnmailError as exc:  # no Chromium to print the PDF
            raise Refused(503, self.said(request, exc)) from None
        name = "-".join(["report", *(d.isoformat() for d in _ends(period)), language])
        return web.Response(body=data, headers={
            "Content-Type": ("text/html; charset=utf-8" if fmt == "html"
                             else "application/pdf"),
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


def _ends(period: Period) -> list[date]:
    return [d for d in (period.start, period.end) if d is not None]
