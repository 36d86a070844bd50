"""The public site: the status page and the FAQ, as published, over HTTP (aiohttp).

``rnmail web`` (and ``rnmail run`` with ``[web].in_daemon``; ``rnmail.web.server``) serves
two folders and nothing else: ``[status].public_dir`` at ``/`` (``index.html``,
``status.json``, ``feed.atom``, ``accessibility.html``) and ``[helpdesk].public_dir``/faq
under ``/faq/``. The site never opens the database: the files are what publishing last
wrote (atomically, ``rnmail.util.publicfiles``), so it keeps serving them when the
database is down.

- Only GET and HEAD (405 otherwise); only names of one path segment with a known extension,
  no leading dot, no directory listing; a symbolic link or anything but a regular file is
  404, so nothing outside the two folders can be reached.
- ``Cache-Control: public, max-age=`` ``[web].status_max_age`` for the status files,
  ``faq_max_age`` for the FAQ; a strong ``ETag`` (SHA-256 of the content) and
  ``Last-Modified``; ``If-None-Match`` / ``If-Modified-Since`` give 304.
- ``Content-Security-Policy``: nothing may load but the page's own inline ``<style>``
  blocks, allowed by their hashes (computed from the file served); no script at all.
- Languages: ``/nl``, ``/fr``, ``/de`` redirect to the page's section (``./#nl``: the page
  shows the section that is the fragment's target); ``/faq/`` redirects to the FAQ page in
  the best language of ``Accept-Language`` among those published (``Vary: Accept-Language``;
  ``rnmail.i18n.negotiation``), else ``[helpdesk].default_language``.

A file is read once per version: the answer is kept in memory, keyed by the file's device,
inode, modification time and size, checked with one ``lstat`` per request.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import re
import stat
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from aiohttp import web

from rnmail.config import LANGUAGES, STATUS_LANGUAGES, Config
from rnmail.i18n.negotiation import negotiate
from rnmail.status.statement import FILE as STATEMENT
from rnmail.status.statement import STATEMENT_LANGUAGES

log = logging.getLogger("rnmail.web")

# What may be served, by extension; anything else is 404.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# One path segment: no slash, no leading dot (hidden and temporary files, "." and "..").
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
BASE_POLICY = ("default-src 'none'; img-src 'self'; base-uri 'none'; form-action 'none'; "
               "frame-ancestors 'none'")
_STYLE = re.compile(r"<style(?:\s[^>]*)?>(.*?)</style\s*>", re.DOTALL | re.IGNORECASE)
PAGE_LANGUAGES = ", ".join(STATUS_LANGUAGES)  # the status page holds the three
# What each multilingual page holds (Content-Language).
PAGES_LANGUAGES = {"index.html": PAGE_LANGUAGES, STATEMENT: ", ".join(STATEMENT_LANGUAGES)}
CACHE_ENTRIES = 256
CACHE_MAX_BYTES = 4 << 20  # a bigger file is read at each request, not kept
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class _File:
    key: tuple[int, int, int, int]  # st_dev, st_ino, st_mtime_ns, st_size
    body: bytes
    etag: str
    mtime: int  # whole seconds, as Last-Modified and If-Modified-Since compare
    last_modified: str
    content_type: str
    policy: str


def content_security_policy(html: str) -> str:
    """The page's own inline styles by hash, nothing else (no script, no fetch)."""
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest())
                     .decode() + "'" for block in _STYLE.findall(html)})
    return BASE_POLICY + (f"; style-src {' '.join(hashes)}" if hashes else "")


def _load(path: Path, content_type: str) -> _File | None:
    """Read a regular file (not through a symbolic link); None if there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None  # missing, a symbolic link (ELOOP), unreadable
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        body = handle.read()
    policy = BASE_POLICY
    if content_type.startswith("text/html"):
        policy = content_security_policy(body.decode("utf-8", "replace"))
    mtime = int(st.st_mtime)
    return _File((st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size), body,
                 '"' + hashlib.sha256(body).hexdigest()[:32] + '"', mtime,
                 formatdate(mtime, usegmt=True), content_type, policy)


class PublicSite:
    """The handler of every request: see the module's docstring."""

    def __init__(self, config: Config) -> None:
        self.status_dir = config.status.public_dir
        self.faq_dir = config.helpdesk.public_dir / "faq"
        self.default_language = config.helpdesk.default_language
        self.status_cache = f"public, max-age={config.web.status_max_age}"
        self.faq_cache = f"public, max-age={config.web.faq_max_age}"
        self.cache: dict[Path, _File] = {}

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_response_prepare.append(_headers)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        parts = request.path[1:].split("/")
        if len(parts) == 1:
            name = parts[0] or "index.html"
            if name in STATUS_LANGUAGES:  # the page shows the section that is the target
                return _redirect(f"./#{name}", self.status_cache)
            if name == "faq":
                return _redirect("faq/", self.faq_cache)
            return await self.file(request, self.status_dir, name, self.status_cache,
                                   PAGES_LANGUAGES.get(name))
        if len(parts) == 2 and parts[0] == "faq":
            if parts[1] == "":
                return self.faq_index(request)
            language = parts[1].removesuffix(".html")
            return await self.file(request, self.faq_dir, parts[1], self.faq_cache,
                                   language if language in LANGUAGES else None)
        raise web.HTTPNotFound()

    def faq_index(self, request: web.Request) -> web.StreamResponse:
        available = [lang for lang in LANGUAGES if (self.faq_dir / f"{lang}.html").is_file()]
        language = negotiate(request.headers.get("Accept-Language", ""), available,
                             self.default_language)
        if language is None:
            raise web.HTTPNotFound()
        response = _redirect(f"{language}.html", self.faq_cache)
        response.headers["Vary"] = "Accept-Language"
        return response

    async def file(self, request: web.Request, folder: Path, name: str, cache_control: str,
                   language: str | None = None) -> web.StreamResponse:
        content_type = CONTENT_TYPES.get(os.path.splitext(name)[1])
        if content_type is None or not SAFE_NAME.fullmatch(name):
            raise web.HTTPNotFound()
        found = await self.lookup(folder / name, content_type)
        if found is None:
            raise web.HTTPNotFound()
        headers = {"Cache-Control": cache_control, "ETag": found.etag,
                   "Last-Modified": found.last_modified,
                   "Content-Security-Policy": found.policy}
        if language:
            headers["Content-Language"] = language
        if _not_modified(request, found):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = found.content_type
        return web.Response(body=found.body, headers=headers)

    async def lookup(self, path: Path, content_type: str) -> _File | None:
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None  # a folder (no listing), a symbolic link, a device...
        cached = self.cache.get(path)
        if cached is not None and cached.key == (st.st_dev, st.st_ino, st.st_mtime_ns,
                                                 st.st_size):
            return cached
        found = await asyncio.to_thread(_load, path, content_type)
        if found is not None and len(found.body) <= CACHE_MAX_BYTES:
            if len(self.cache) >= CACHE_ENTRIES and path not in self.cache:
                self.cache.pop(next(iter(self.cache)))
            self.cache[path] = found
        return found


def _redirect(location: str, cache_control: str) -> web.Response:
    """A 302 to a relative location, so the site also works below a proxy's prefix."""
    return web.Response(status=302, headers={"Location": location,
                                             "Cache-Control": cache_control})


def _not_modified(request: web.Request, found: _File) -> bool:
    """RFC 9110 §13.2.2: If-None-Match (weak comparison) wins over If-Modified-Since."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or found.etag in tags
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            when: datetime = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        if when.tzinfo is None:
            return False
        return found.mtime <= when.timestamp()
    return False


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer, errors included."""
    headers = response.headers
    headers.update(SECURITY_HEADERS)
    headers.setdefault("Content-Security-Policy", BASE_POLICY)
    headers.setdefault("Cache-Control", "no-cache")
    headers["Server"] = "rnmail"
