"""What the two signed-in sites share, ``/admin`` (operators) and ``/desk`` (staff): one
``SignInSite`` that each subclasses, and the request helpers both use.

A ``SignInSite`` serves its sign-in form, signs in (name, password and the code of the
second factor, checked by ``rnmail.auth.signin``: per-name and per-address limits, lockout,
audit with the client's address), signs out, and guards every request:

- server-side sessions (``rnmail.auth.sessions``, of the site's kind: an operator's does
  not open the desk, nor a staff member's the admin) in an ``HttpOnly``,
  ``SameSite=Strict`` cookie limited to the site's path, ``Secure`` unless
  ``[web].secure_cookies = false``; a new session at each sign-in;
- a CSRF token on every form (the session's; before sign-in, one also set in a cookie),
  and a foreign ``Origin`` refused;
- the page's language: the switch (``?lang=``), else the one remembered in a cookie, else
  the browser's;
- an id in a path is ASCII digits that fit a database integer (else 404), a value the
  database cannot take is a 400, a database error a 503 page, a bug a 500 page: never a
  traceback;
- every page autoescaped (Jinja2), a ``Content-Security-Policy`` without any inline style
  or script (the site's ``policy``: ``POLICY``, no script at all; the desk adds its own
  script file, ``SCRIPT_POLICY``), ``Cache-Control: no-store``.

Core functions run in a worker thread inside ``audit.acting_from(client address)``
(``call``); the client is the connection's address, or ``X-Forwarded-For``'s from a
``[web].trusted_proxies`` address (``client_address``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network, ip_address
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.exc import DataError, SQLAlchemyError

from rnmail import audit
from rnmail.auth import sessions
from rnmail.auth.signin import AuthenticationFailed, TotpCipher
from rnmail.config import Config
from rnmail.db import Database
from rnmail.errors import RnmailError
from rnmail.i18n import N_
from rnmail.i18n.formats import format_time, zone_name, zone_phrase
from rnmail.i18n.jinja import install
from rnmail.i18n.negotiation import negotiate
from rnmail.status.statement import render_statement
from rnmail.vocab import MAX_ID
from rnmail.web import https
from rnmail.web.public import content_security_policy

log = logging.getLogger("rnmail.web.signin")

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LANGUAGE = web.RequestKey("lang", str)  # the reader's language, set by the guard
LOGIN_MINUTES = 15  # how long a sign-in form may stay open
POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'none'")
# A site that serves its own script files (the desk's progressive enhancement): those and
# requests to itself, still nothing inline.
SCRIPT_POLICY = POLICY + "; script-src 'self'; connect-src 'self'"
HEADERS = {  # every answer of the internal listener, with its site's policy
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Server": "rnmail",
}
CSRF_REFUSED = N_("This form is missing its CSRF token or it does not match your session: "
                  "nothing was changed. Reload the page and try again.")


class Refused(Exception):
    """A request the site turns down with a page saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SignInSite:
    """A site people sign in to; see the module's docstring. A subclass sets the class
    attributes, ``environment`` and ``authenticate``, and adds its pages in ``routes``."""

    prefix = "/admin"  # the site's path; its pages are below prefix + "/"
    kind = "operator"  # the sessions' kind
    name_field = "operator"  # the sign-in form's field naming who signs in
    session_cookie = "rnmail_admin"
    login_cookie = "rnmail_login"
    language_cookie = "rnmail_lang"
    languages: tuple[tuple[str, str], ...] = ()  # (code, name in itself) for the switch
    https_needed = ""  # the msgid said when the Secure cookies cannot work
    policy = POLICY  # the Content-Security-Policy of every answer under ``prefix``
    unavailable = ""  # the msgid said when the database cannot be reached

    def __init__(self, config: Config, db: Database) -> None:
        self.config = config
        self.db = db
        self.cipher = TotpCipher(config.helpdesk.secret)

    # ------------------------------------------------------------------ to fill in

    def environment(self, language: str) -> Environment:
        raise NotImplementedError

    def authenticate(self, name: str, password: str, code: str) -> str:
        """The principal (as stored) whose credentials these are; AuthenticationFailed
        otherwise. Runs in a worker thread (``call``)."""
        raise NotImplementedError

    def routes(self, app: web.Application) -> None:
        app.router.add_get(f"{self.prefix}/login", self.login_form)
        app.router.add_post(f"{self.prefix}/login", self.login)
        app.router.add_post(f"{self.prefix}/logout", self.logout)
        app.router.add_get(f"{self.prefix}/accessibility", self.statement)

    def application(self) -> web.Application:
        """This site alone (``rnmail.web.server`` serves the admin and the desk together:
        ``internal_application``)."""
        return internal_application([self])

    def signed_in_response(self, response: web.StreamResponse, principal: str) -> None:
        """After a sign-in, before the redirect leaves (the desk sets the language)."""

    async def close(self) -> None:
        """When the listener stops (the admin lets its sending finish)."""

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Foreign origins refused; refusals and database failures as pages."""
        asked = request.query.get(self.switch_parameter(request), "")
        request[LANGUAGE] = self.language(request, asked)
        try:
            if request.method == "POST":
                _check_origin(request)
            response = await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:  # no route: a page
            response = self.page(request, "problem.html.j2", {
                "message": N_("There is no such page."), "signed": None}, status=exc.status)
        except web.HTTPException as exc:
            if asked == request[LANGUAGE]:
                self.remember_language(exc, asked)
            raise
        except Refused as exc:
            response = self.page(request, "problem.html.j2",
                                 {"message": str(exc), "signed": None}, status=exc.status)
        except (DataError, OverflowError, ValueError) as exc:  # a value the database refused
            log.warning("%s: %s %s: value refused: %s", self.prefix, request.method,
                        request.path,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            response = self.page(request, "problem.html.j2", {
                "message": N_("A value of this request cannot be used: nothing was changed."),
                "signed": None}, status=400)
        except SQLAlchemyError as exc:
            log.warning("%s: database unavailable: %s", self.prefix, str(exc).splitlines()[0])
            response = self.page(request, "problem.html.j2", {
                "message": self.unavailable, "signed": None}, status=503)
        except Exception:  # a bug: its traceback in the log, a page for the reader
            log.exception("%s: %s %s failed", self.prefix, request.method, request.path)
            response = self.page(request, "problem.html.j2", {
                "message": N_("Something went wrong in rnmail (see its log). Check the "
                              "status and the audit log before trying again."),
                "signed": None}, status=500)
        if asked == request[LANGUAGE]:
            self.remember_language(response, asked)
        return response

    def switch_parameter(self, request: web.Request) -> str:
        """The query parameter of the language switch: ``lang``, unless a page takes
        ``lang`` as one of its fields (the desk's call form: the caller's language)."""
        return "lang"

    def language(self, request: web.Request, asked: str) -> str:
        """The switch's choice (``?lang=``), else the one remembered, else the browser's."""
        codes = [code for code, _name in self.languages]
        for choice in (asked, request.cookies.get(self.language_cookie, "")):
            if choice in codes:
                return choice
        return negotiate(request.headers.get("Accept-Language", ""), codes, "fr") or "fr"

    def remember_language(self, response: web.StreamResponse, language: str) -> None:
        self.cookie(response, self.language_cookie, language, self.prefix, 365 * 86400)

    def page(self, request: web.Request, name: str, context: dict[str, Any],
             status: int = 200) -> web.Response:
        """An autoescaped page in the reader's language; its switch leads to the same
        page (a GET) or to the site's first page (after a POST)."""
        language = request.get(LANGUAGE, "fr")
        shown = request.method == "GET"
        here = request.path if shown else f"{self.prefix}/"
        switch = self.switch_parameter(request) if shown else "lang"
        # The switch keeps what the page was asked with (the queue's tab, filters, page).
        kept = [(k, v) for k, v in request.query.items() if k != switch] if shown else []
        html = self.environment(language).get_template(name).render({
            **context, "lang": language, "here": here, "languages_ui": self.languages,
            "statement_url": f"{self.prefix}/accessibility#{language}",
            "language_links": {code: f"{here}?{urlencode([*kept, (switch, code)])}"
                               for code, _name in self.languages}})
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            status=status)

    async def statement(self, request: web.Request) -> web.Response:
        """The public pages' accessibility statement, which every page's footer links to
        (its inline style allowed by its hash, as on the public site)."""
        html = render_statement(self.config.status, self.config.helpdesk, links=False)
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers={"Content-Security-Policy": content_security_policy(html)})

    async def call(self, request: web.Request, func: Callable[..., T], *args: Any) -> T:
        """A core function in a worker thread, its audit events marked with the client."""
        def run() -> T:
            with audit.acting_from(self.client(request)):
                return func(*args)

        return await asyncio.to_thread(run)

    async def signed_in(self, request: web.Request) -> sessions.SignedIn:
        token = request.cookies.get(self.session_cookie, "")
        found = await self.call(request, sessions.find_session, self.db, self.config.web,
                                token, self.kind) if token else None
        if found is None:
            raise web.HTTPSeeOther(f"{self.prefix}/login")
        return found

    async def form(self, request: web.Request, signed: sessions.SignedIn) -> FormData:
        data = await read_form(request)
        if not hmac.compare_digest(data.text("csrf"), signed.csrf_token):
            raise Refused(403, CSRF_REFUSED)
        return data

    def cookies_dropped(self, request: web.Request) -> bool:
        """Plain HTTP to a name that is not loopback: the browser drops Secure cookies."""
        trusted = among(request.remote or "", self.config.web.trusted_proxies)
        return https.cookies_dropped(request, self.config.web, trusted)

    def said(self, request: web.Request, error: RnmailError) -> str:
        """A refusal from the core, in the reader's language."""
        return error.translated(request.get(LANGUAGE, "fr"))

    def client(self, request: web.Request) -> str:
        return client_address(request, self.config.web.trusted_proxies)

    def cookie(self, response: web.StreamResponse, name: str, value: str, path: str,
               max_age: int | None) -> None:
        response.set_cookie(name, value, path=path, max_age=max_age, httponly=True,
                            secure=self.config.web.secure_cookies, samesite="Strict")

    # ------------------------------------------------------------------ signing in

    async def login_form(self, request: web.Request, message: str | None = None,
                         name: str = "", status: int = 200) -> web.StreamResponse:
        token = secrets.token_urlsafe(32)
        response = self.page(request, "login.html.j2", {
            "csrf": token, "message": message, "name": name, "signed": None,
            "plain_http": self.cookies_dropped(request), "https_needed": self.https_needed},
            status=status)
        self.cookie(response, self.login_cookie, token, f"{self.prefix}/login",
                    LOGIN_MINUTES * 60)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        data = await read_form(request)
        expected = request.cookies.get(self.login_cookie, "")
        if not expected and self.cookies_dropped(request):
            raise Refused(403, self.https_needed)
        if not expected or not hmac.compare_digest(data.text("csrf"), expected):
            raise Refused(403, N_("The sign-in form is missing its CSRF token or has "
                                  "expired: open the sign-in page again."))
        name = data.text(self.name_field).strip()
        try:
            principal = await self.call(request, self.authenticate, name,
                                        data.text("password"), data.text("code"))
        except AuthenticationFailed as exc:
            log.warning("%s: sign-in refused for %r from %s: %s", self.prefix, name[:64],
                        self.client(request), exc)
            return await self.login_form(request, self.said(request, exc), name, status=401)
        return await self.open(request, principal)

    async def open(self, request: web.Request, principal: str) -> web.StreamResponse:
        """A new session for ``principal`` (just authenticated), and on to the site."""
        token, _signed = await self.call(request, sessions.open_session, self.db,
                                         self.config.web, principal, self.kind)
        response = see_other(f"{self.prefix}/")
        self.cookie(response, self.session_cookie, token, self.prefix, None)
        response.del_cookie(self.login_cookie, path=f"{self.prefix}/login")
        self.signed_in_response(response, principal)
        log.info("%s: %s signed in from %s", self.prefix, principal, self.client(request))
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        await self.form(request, signed)
        await self.call(request, sessions.close_session, self.db,
                        request.cookies.get(self.session_cookie, ""), self.kind)
        response = see_other(f"{self.prefix}/login")
        response.del_cookie(self.session_cookie, path=self.prefix)
        return response


def internal_application(sites: list[SignInSite]) -> web.Application:
    """The internal listener's application (``[web].admin_bind``): each site's routes,
    each request guarded by the site whose path it is under (else the first's)."""
    def site_of(request: web.Request) -> SignInSite:
        return next((s for s in sites if request.path == s.prefix
                     or request.path.startswith(s.prefix + "/")), sites[0])

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await site_of(request).guard(request, handler)

    async def headers(request: web.Request, response: web.StreamResponse) -> None:
        _headers(response, site_of(request).policy)

    app = web.Application(middlewares=[guard], client_max_size=256 * 1024)
    for site in sites:
        site.routes(app)
    app.on_response_prepare.append(headers)

    async def cleanup(_app: web.Application) -> None:
        for site in sites:
            await site.close()

    app.on_cleanup.append(cleanup)
    return app


class FormData:
    """A submitted form's fields as text (missing: empty), in the order sent."""

    def __init__(self, fields: Any) -> None:
        self.fields: list[tuple[str, str]] = [
            (str(k), v) for k, v in fields.items() if isinstance(v, str)]
        self.files: list[tuple[str, web.FileField]] = [  # a multipart form's files
            (str(k), v) for k, v in fields.items() if isinstance(v, web.FileField)]

    def uploads(self, name: str) -> list[web.FileField]:
        """The files sent in the field ``name`` (an empty file input left out)."""
        return [v for k, v in self.files if k == name and (v.filename or "").strip()]

    def text(self, name: str) -> str:
        return next((v for k, v in self.fields if k == name), "")

    def all(self, name: str) -> list[str]:
        return list(dict.fromkeys(v for k, v in self.fields if k == name and v))

    def items(self) -> list[tuple[str, str]]:
        """The fields to carry to the confirmation, without its own token and flag."""
        return [(k, v) for k, v in self.fields if k not in ("confirm", "long_ok")]


async def read_form(request: web.Request) -> FormData:
    """The submitted form; a body that is not one (broken multipart, bad encoding, a
    charset Python does not know: LookupError) is a 400 page."""
    try:
        return FormData(await request.post())
    except (ValueError, LookupError, HttpProcessingError):
        raise Refused(400, N_("The form could not be read: nothing was changed.")) from None


def read(db: Database, query: Callable[..., T]) -> T:
    """``query(session)`` in a reading transaction of its own (``Database.reading``: on
    SQLite it does not wait for the write lock); a change made in it raises."""
    with db.reading() as session:
        return query(session)


def path_id(request: web.Request) -> int:
    """The ``{id}`` of the path: ASCII digits that fit a database integer, else a 404 (the
    route's ``\\d`` also takes other scripts' digits)."""
    raw = request.match_info.get("id", "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_ID:
        raise Refused(404, N_("There is no such item."))
    return int(raw)


def see_other(location: str) -> web.Response:
    """A 303 after a form (the browser then GETs the location)."""
    return web.Response(status=303, headers={"Location": location})


def stylesheet(path: Path) -> web.Response:
    return web.Response(body=path.read_bytes(), content_type="text/css", charset="utf-8",
                        headers={"Cache-Control": "max-age=300"})


def client_address(request: web.Request,
                   trusted: tuple[IPv4Network | IPv6Network, ...] = ()) -> str:
    """The browser's address: the connection's, or — when that is a trusted reverse
    proxy — the last address of ``X-Forwarded-For`` that is not one of the proxies."""
    remote = (request.remote or "unknown")[:64]
    if not trusted or not among(remote, trusted):
        return remote
    forwarded = [a.strip() for header in request.headers.getall("X-Forwarded-For", [])
                 for a in header.split(",")]
    for address in reversed(forwarded):
        if not among(address, trusted):
            return address[:64] if _is_address(address) else remote
    return remote


def _is_address(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def among(text: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        address = ip_address(text)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _check_origin(request: web.Request) -> None:
    """A form posted from another site is refused (SameSite cookies and the CSRF token
    already stop it; this says so clearly)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise Refused(403, N_("This form was sent from another site: refused."))


def _headers(response: web.StreamResponse, policy: str) -> None:
    # a download (web.downloads) brings its own policy (a sandbox) and caching
    response.headers.setdefault("Content-Security-Policy", policy)
    for name, value in HEADERS.items():
        if name != "Cache-Control" or name not in response.headers:
            response.headers[name] = value


def page_environment(templates: Path, language: str, timezone: str) -> Environment:
    """The pages of ``templates`` (the admin's, the desk's) in ``language``, gettext
    installed, their times in ``timezone`` (``[helpdesk].timezone``): ``{{ x|local_time }}``
    takes a datetime or its ISO text; the zone is named once, in a column's heading
    (``zone``: ``Bruxelles``) or after a time (``zone_phrase``: ``heure de Bruxelles``)."""
    env = Environment(loader=FileSystemLoader(str(templates)), undefined=StrictUndefined,
                      autoescape=True, trim_blocks=True, lstrip_blocks=True,
                      auto_reload=False)  # not a stat() of each template at every page
    install(env, language)
    zone = ZoneInfo(timezone)
    env.filters["local_time"] = lambda value: (
        format_time(datetime.fromisoformat(value) if isinstance(value, str) else value,
                    language, zone) if value else "")
    env.globals.update(zone=zone_name(zone, language), zone_phrase=zone_phrase(zone, language))
    return env
