"""In a real Chromium: the sanitized display of the hostile HTML corpus, put in a page of
the desk's origin, runs no script — under the desk's policy and also with no policy at all
(the sanitizer alone must suffice) — while the same raw HTML does run (the check works);
a hostile HTML or SVG attachment is downloaded, never rendered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from rnmail.ingest.parse import Limits, parse_message
from rnmail.models import Message
from rnmail.tickets.display import Download, message_display, served_type
from rnmail.util.blobs import BlobStore
from rnmail.web.downloads import attachment_response
from rnmail.web.signin import POLICY  # the admin and the desk
from tests.harness.browser import Browser, chromium_or_fail
from tests.harness.hostile_html import CASES, JS, QUOTING, Case, hostile_mail
from tests.harness.tinyapp import AppServer

CHECK = """new Promise(done => setTimeout(() => done({
  title: document.title,
  pwned: typeof window.pwned,
  active: document.querySelectorAll('script, iframe, object, embed, svg, math, form, img, '
    + 'style, link, base, input, button, textarea, frame, template').length,
  handlers: [...document.querySelectorAll('body *')].filter(
    e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
  hrefs: [...document.querySelectorAll('a[href]')].map(a => a.protocol)
    .filter(p => !['http:', 'https:', 'mailto:'].includes(p)),
  text: document.body.innerText,
}), 700))"""


def page(bodies: list[str]) -> str:
    articles = "\n".join(f"<article>{body}</article>" for body in bodies)
    return ("<!doctype html><html lang=fr><head><meta charset=utf-8><title>desk</title></head>"
            f"<body>{articles}</body></html>")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_or_fail() as chromium:
        yield chromium


def sanitized(tmp_path: Path) -> list[str]:
    cases = [*CASES, *(Case(n, html, ()) for n, (_, _, html) in QUOTING.items())]
    bodies = []
    for case in cases:
        mail = parse_message(hostile_mail(case), Limits(max_attachment_bytes=2**20))
        shown = message_display(Message(html=mail.html, text=mail.text,
                                        display_text=mail.display_text), BlobStore(tmp_path))
        folded = f"<details><summary>…</summary>{shown.quoted_html}</details>" \
            if shown.quoted_html else ""
        bodies.append(shown.html + folded)
    return bodies


def test_the_sanitized_corpus_runs_no_script(browser: Browser, tmp_path: Path) -> None:
    bodies = sanitized(tmp_path)
    raw_script = next(c for c in CASES if c.name == "script").html
    raw_onerror = next(c for c in CASES if c.name == "img-onerror").html

    def route(html: str, policy: bool) -> web.Handler:
        async def handler(_: web.Request) -> web.Response:
            headers = {"Content-Security-Policy": POLICY} if policy else {}
            return web.Response(text=html, content_type="text/html", headers=headers)
        return handler

    app = web.Application()
    app.router.add_get("/desk", route(page(bodies), True))
    app.router.add_get("/bare", route(page(bodies), False))
    app.router.add_get("/raw-script", route(page([raw_script]), False))
    app.router.add_get("/raw-onerror", route(page([raw_onerror]), False))
    with AppServer(app) as server:
        for path in ("desk", "bare"):
            browser.navigate(server.url + path)
            seen = browser.evaluate(CHECK)
            assert (seen["title"], seen["pwned"]) == ("desk", "undefined"), path
            assert (seen["active"], seen["handlers"], seen["hrefs"]) == (0, 0, []), path
            for words in ("Bonjour script", "Bonjour img-onerror", "[photo]",
                          "Merci pour votre aide", "Bonjour mxss-form-math"):
                assert words in seen["text"], (path, words)
        for path in ("raw-script", "raw-onerror"):  # the same check catches the raw mail
            browser.navigate(server.url + path)
            assert browser.evaluate(CHECK)["pwned"] == "number", path


def test_an_html_or_svg_attachment_is_never_rendered(browser: Browser) -> None:
    """Opening the download link of a hostile HTML or SVG file leaves the desk's page as it
    was: the browser does not render it (served inline, as a control, it runs)."""
    hostile = f"<html><title>file</title><script>{JS}</script></html>".encode()
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" onload="{JS}"/>'.encode()

    def download(name: str, kind: str, data: bytes) -> web.Handler:
        async def handler(_: web.Request) -> web.Response:
            return attachment_response(Download(name, served_type(kind), data))
        return handler

    async def desk(_: web.Request) -> web.Response:
        return web.Response(text=page(["<p>Bonjour</p>"]), content_type="text/html",
                            headers={"Content-Security-Policy": POLICY})

    async def inline(_: web.Request) -> web.Response:
        return web.Response(body=hostile, content_type="text/html")

    app = web.Application()
    app.router.add_get("/desk", desk)
    app.router.add_get("/file.html", download("page.html", "text/html", hostile))
    app.router.add_get("/file.svg", download("dessin.svg", "image/svg+xml", svg))
    app.router.add_get("/inline", inline)
    browser.call("Browser.setDownloadBehavior", {"behavior": "deny"}, page=False)
    with AppServer(app) as server:
        for path in ("file.html", "file.svg"):
            browser.navigate(server.url + "desk")
            result = browser.call("Page.navigate", {"url": server.url + path})
            assert result.get("errorText") == "net::ERR_ABORTED", result  # a download
            seen = browser.evaluate(CHECK)
            assert (seen["title"], seen["pwned"]) == ("desk", "undefined"), path
        browser.navigate(server.url + "inline")
        assert browser.evaluate(CHECK)["pwned"] == "number"
