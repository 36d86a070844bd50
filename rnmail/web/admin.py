"""The status administration (``/admin``): what technical staff do on the web page itself.

An operator signs in with their password and the code of their second factor (TOTP, set up
with ``rnmail operator totp NAME``), then sets the components' position with a comment per
language and the groups to tell, plans or cancels maintenance (each change that mails
first shows a preview to confirm: ``rnmail.web.previews``), follows the sending of an
announcement and reads the audit log; the core's refusals are shown in the operator's
language (``RnmailError.translated``). Every act calls the core function the command line
calls (``notices.change_status``, ``maintenance.schedule_maintenance`` …) in a worker
thread, inside ``audit.acting_from(client address)``.

Security, as a government site needs it:
- served only on ``[web].admin_bind`` (a listener of its own; the public site has no
  ``/admin``);
- server-side sessions (``rnmail.auth.sessions``) in an ``HttpOnly``, ``SameSite=Strict``
  cookie, ``Secure`` unless ``[web].secure_cookies = false`` (plain-HTTP tests), limited
  to ``/admin``; a new session at each sign-in;
- a CSRF token on every form (the session's; before sign-in, a token also set in a
  cookie), and a foreign ``Origin`` refused;
- failed sign-ins limited per operator name and per client address, also under
  simultaneous attempts; a code is exactly six ASCII digits, each accepted once
  (``operators``); a new password or second factor, a disabled operator or a lockout ends
  the operator's sessions;
- an id in a path is ASCII digits that fit a database integer (else 404), and a value the
  database cannot take is a 400, never a 500;
- every page autoescaped (Jinja2), ``Content-Security-Policy`` without any script, and
  ``Cache-Control: no-store``;
- a database error is a 503 page, never a traceback; the public site does not depend on it.

It is long for one job (the handlers of one site and their guard); its texts are moving to
the gettext catalogues, which will shorten it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import cache, partial
from ipaddress import IPv4Network, IPv6Network, ip_address
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.exc import DataError, SQLAlchemyError

from rnmail import audit
from rnmail.auth import operators, sessions
from rnmail.config import STATUS_LANGUAGES, Config
from rnmail.db import Database
from rnmail.dispatch.announce import announcement_status
from rnmail.dispatch.send import send_queued
from rnmail.errors import RnmailError
from rnmail.i18n import N_
from rnmail.i18n.formats import (
    BRUSSELS,
    capitalised,
    format_time,
    language_name,
    zone_name,
    zone_phrase,
)
from rnmail.i18n.jinja import install
from rnmail.i18n.negotiation import negotiate
from rnmail.status.components import comment_texts
from rnmail.status.maintenance import (
    cancel_maintenance,
    parse_duration,
    parse_local_time,
    schedule_maintenance,
    written_duration,
)
from rnmail.status.notices import change_status
from rnmail.vocab import StatusState, strings
from rnmail.web import https
from rnmail.web.labels import label
from rnmail.web.previews import cancellation_preview, dashboard_data, preview_recipients

log = logging.getLogger("rnmail.web.admin")

T = TypeVar("T")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "admin"
SESSION_COOKIE = "rnmail_admin"
LANGUAGE_COOKIE = "rnmail_lang"
LANGUAGE = web.RequestKey("lang", str)  # the operator's language, set by the guard
LOGIN_COOKIE = "rnmail_login"
LOGIN_MINUTES = 15  # how long a sign-in form may stay open
POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Server": "rnmail",
}
# The operators' languages (the switch on every page), each named in itself. The words
# are in the catalogues (rnmail.i18n); a text missing there shows in English.
ADMIN_LANGUAGES = tuple((code, capitalised(language_name(code))) for code in ("fr", "nl", "en"))

MAX_ID = 2**63 - 1  # the largest id a database integer holds
DONE = {  # what the dashboard says after a redirect (?done=...)
    "status": N_("The status is set and the public page published."),
    "maintenance": N_("The maintenance is scheduled."),
    "cancelled": N_("The maintenance is cancelled."),
}
# Values the templates translate (``_(state)``), marked for the extractor: the positions
# and the outbox states (rnmail.config.STATUS_STATES, rnmail.dispatch.outbox.STATES).
STATE_WORDS = (N_("operational"), N_("degraded"), N_("down"), N_("queued"), N_("sending"),
               N_("sent"), N_("failed"), N_("bounced"), N_("suppressed"))
HTTPS_NEEDED = N_(
    "This page came over plain HTTP, and the administration's cookies are Secure: the "
    "browser does not keep them, so signing in cannot work. Open the administration over "
    "HTTPS (a reverse proxy in front of rnmail), or, for a test only, set "
    "[web].secure_cookies = false.")
Sender = Callable[[], None]


class Refused(Exception):
    """A request the admin turns down with a page saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@cache
def environment(language: str, timezone: str = BRUSSELS.key) -> Environment:
    """The pages in ``language`` (gettext installed: one environment per language), their
    times in ``timezone`` (``[helpdesk].timezone``): ``{{ m.starts_at|local_time }}`` takes
    a datetime or its ISO text; the zone is named once, in the column's heading
    (``zone``: ``Bruxelles``) or after a time (``zone_phrase``: ``heure de Bruxelles``)."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      autoescape=True, trim_blocks=True, lstrip_blocks=True)
    install(env, language)
    zone = ZoneInfo(timezone)
    env.filters["local_time"] = lambda value: (
        format_time(datetime.fromisoformat(value) if isinstance(value, str) else value,
                    language, zone) if value else "")
    env.globals.update(zone=zone_name(zone, language), zone_phrase=zone_phrase(zone, language))
    env.filters["label"] = partial(label, language=language)
    env.filters["pretty_json"] = lambda value: json.dumps(value, ensure_ascii=False,
                                                          sort_keys=True)
    return env


class BackgroundSender:
    """Sends what the admin queued, on the server's event loop, one run at a time; asked
    again during a run, it runs once more after it. (With ``in_daemon``, the daemon's
    sender is woken instead.) The outbox's leases make it safe beside a running daemon;
    ``close`` lets the deliveries under way finish and gives the rest back to the outbox."""

    def __init__(self, db: Database, config: Config) -> None:
        self.db, self.config = db, config
        self.task: asyncio.Task[None] | None = None
        self.again = False
        self.stop = asyncio.Event()

    def __call__(self) -> None:
        if self.task is not None and not self.task.done():
            self.again = True
            return
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        while not self.stop.is_set():
            self.again = False
            try:
                report = await send_queued(self.db, self.config, stop=self.stop)
                log.info("admin: %d sent, %d deferred, %d failed", report.sent,
                         report.retried, report.failed)
            except (RnmailError, SQLAlchemyError, OSError) as exc:
                log.warning("admin: sending stopped: %s (the outbox keeps the rest)", exc)
            if not self.again:
                return

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task


class AdminSite:
    """The handlers of ``/admin``: see the module's docstring."""

    def __init__(self, config: Config, db: Database, send: Sender | None = None) -> None:
        self.config = config
        self.db = db
        self.sender = BackgroundSender(db, config) if send is None else None
        self.send: Sender = send or self.sender or (lambda: None)
        self.cipher = operators.TotpCipher(config.helpdesk.secret)

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self.guard], client_max_size=256 * 1024)
        app.router.add_get("/", _to_admin)
        app.router.add_get("/admin", _to_admin)
        app.router.add_get("/admin/", self.dashboard)
        app.router.add_get("/admin/admin.css", self.stylesheet)
        app.router.add_get("/admin/login", self.login_form)
        app.router.add_post("/admin/login", self.login)
        app.router.add_post("/admin/logout", self.logout)
        app.router.add_post("/admin/status", self.set_status)
        app.router.add_post("/admin/maintenance", self.schedule)
        app.router.add_post(r"/admin/maintenance/{id:\d+}/cancel", self.cancel)
        app.router.add_get(r"/admin/announcements/{id:\d+}", self.announcement)
        app.router.add_get("/admin/audit", self.audit_log)
        app.on_response_prepare.append(_headers)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _cleanup(self, _app: web.Application) -> None:
        if self.sender is not None:
            await self.sender.close()

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def guard(self, request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        """Foreign origins refused; refusals and database failures as pages."""
        asked = request.query.get("lang", "")
        request[LANGUAGE] = self.language(request, asked)
        try:
            if request.method == "POST":
                _check_origin(request)
            response = await handler(request)
        except web.HTTPException as exc:
            if asked == request[LANGUAGE]:
                self.remember_language(exc, asked)
            raise
        except Refused as exc:
            response = self.page(request, "problem.html.j2",
                                 {"message": str(exc), "signed": None}, status=exc.status)
        except (DataError, OverflowError, ValueError) as exc:  # a value the database refused
            log.warning("admin: %s %s: value refused: %s", request.method, request.path,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            response = self.page(request, "problem.html.j2", {
                "message": N_("A value of this request cannot be used: nothing was changed."),
                "signed": None}, status=400)
        except SQLAlchemyError as exc:
            log.warning("admin: database unavailable: %s", str(exc).splitlines()[0])
            response = self.page(request, "problem.html.j2", {
                "message": N_("The database cannot be reached: nothing was changed. The "
                              "public status page keeps showing the last published status. "
                              "Try again in a moment."), "signed": None}, status=503)
        except Exception:  # a bug: its traceback in the log, a page for the operator
            log.exception("admin: %s %s failed", request.method, request.path)
            response = self.page(request, "problem.html.j2", {
                "message": N_("Something went wrong in rnmail (see its log). Check the "
                              "status and the audit log before trying again."),
                "signed": None}, status=500)
        if asked == request[LANGUAGE]:
            self.remember_language(response, asked)
        return response

    def language(self, request: web.Request, asked: str) -> str:
        """The switch's choice (``?lang=``), else the one remembered, else the browser's."""
        codes = [code for code, _name in ADMIN_LANGUAGES]
        for choice in (asked, request.cookies.get(LANGUAGE_COOKIE, "")):
            if choice in codes:
                return choice
        return negotiate(request.headers.get("Accept-Language", ""), codes, "fr") or "fr"

    def remember_language(self, response: web.StreamResponse, language: str) -> None:
        self.cookie(response, LANGUAGE_COOKIE, language, "/admin", 365 * 86400)

    def page(self, request: web.Request, name: str, context: dict[str, Any],
             status: int = 200) -> web.Response:
        """An autoescaped page in the operator's language; its switch leads to the same
        page (a GET) or to the dashboard (after a POST)."""
        language = request.get(LANGUAGE, "fr")
        here = request.path if request.method == "GET" else "/admin/"
        html = environment(language, self.config.helpdesk.timezone).get_template(name).render({
            **context, "lang": language, "here": here, "languages_ui": ADMIN_LANGUAGES})
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            status=status)

    async def call(self, request: web.Request, func: Callable[..., T], *args: Any) -> T:
        """A core function in a worker thread, its audit events marked with the client."""
        def run() -> T:
            with audit.acting_from(self.client(request)):
                return func(*args)

        return await asyncio.to_thread(run)

    async def signed_in(self, request: web.Request) -> sessions.SignedIn:
        token = request.cookies.get(SESSION_COOKIE, "")
        found = await self.call(request, sessions.find_session, self.db, self.config.web,
                                token) if token else None
        if found is None:
            raise web.HTTPSeeOther("/admin/login")
        return found

    async def form(self, request: web.Request, signed: sessions.SignedIn) -> FormData:
        data = await read_form(request)
        if not hmac.compare_digest(data.text("csrf"), signed.csrf_token):
            raise Refused(403, N_("This form is missing its CSRF token or it does not "
                                  "match your session: nothing was changed. Reload the page "
                                  "and try again."))
        return data

    def cookies_dropped(self, request: web.Request) -> bool:
        """Plain HTTP to a name that is not loopback: the browser drops Secure cookies."""
        trusted = among(request.remote or "", self.config.web.trusted_proxies)
        return https.cookies_dropped(request, self.config.web, trusted)

    def said(self, request: web.Request, error: RnmailError) -> str:
        """A refusal from the core, in the operator's language."""
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
            "plain_http": self.cookies_dropped(request), "https_needed": HTTPS_NEEDED},
            status=status)
        self.cookie(response, LOGIN_COOKIE, token, "/admin/login", LOGIN_MINUTES * 60)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        data = await read_form(request)
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected and self.cookies_dropped(request):
            raise Refused(403, HTTPS_NEEDED)
        if not expected or not hmac.compare_digest(data.text("csrf"), expected):
            raise Refused(403, N_("The sign-in form is missing its CSRF token or has "
                                  "expired: open the sign-in page again."))
        name = data.text("operator").strip()
        try:
            await self.call(request, operators.authenticate, self.db, self.config.operators,
                            name, data.text("password"), data.text("code"),
                            self.config.web.max_failures_per_address, self.cipher)
        except operators.AuthenticationFailed as exc:
            log.warning("admin: sign-in refused for %r from %s: %s", name[:64],
                        self.client(request), exc)
            return await self.login_form(request, self.said(request, exc), name, status=401)
        token, _signed = await self.call(request, sessions.open_session, self.db,
                                         self.config.web, name)
        response = see_other("/admin/")
        self.cookie(response, SESSION_COOKIE, token, "/admin", None)
        response.del_cookie(LOGIN_COOKIE, path="/admin/login")
        log.info("admin: %s signed in from %s", name, self.client(request))
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        await self.form(request, signed)
        await self.call(request, sessions.close_session, self.db,
                        request.cookies.get(SESSION_COOKIE, ""))
        response = see_other("/admin/login")
        response.del_cookie(SESSION_COOKIE, path="/admin")
        return response

    # ------------------------------------------------------------------ pages

    async def dashboard(self, request: web.Request, signed: sessions.SignedIn | None = None,
                        values: FormData | None = None, error: str | None = None,
                        status: int = 200) -> web.StreamResponse:
        signed = signed or await self.signed_in(request)
        overview = await self.call(request, dashboard_data, self.db, self.config)
        done = DONE.get(request.query.get("done", ""))
        return self.page(request, "dashboard.html.j2", {
            **overview, "signed": signed, "done": done, "error": error,
            "values": values or FormData({}), "states": strings(StatusState),
            "languages": STATUS_LANGUAGES}, status=status)

    async def set_status(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        data = await self.form(request, signed)
        state = data.text("state")
        notify_linked = bool(data.text("notify_linked"))
        try:
            if state not in strings(StatusState):
                raise RnmailError.translatable(
                    N_("choose a position: operational, degraded or down"))
            components, comment, groups = self.chosen(data)
            if not data.text("confirm"):
                return await self.confirmation(request, signed, data, {
                    "kind": "status", "action": "/admin/status", "state": state,
                    "notify_linked": notify_linked})
            result = await self.call(request, change_status, self.db, self.config,
                                     signed.operator, state, components, comment, groups,
                                     notify_linked, bool(data.text("again")))
        except RnmailError as exc:
            return await self.dashboard(request, signed, data, self.said(request, exc),
                                        status=400)
        return self.queued(result.announcement_id, "status", bool(result.linked_notified))

    async def schedule(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        data = await self.form(request, signed)
        try:
            start = parse_local_time(data.text("start").replace("T", " "),
                                     self.config.helpdesk.zone)
            duration = parse_duration(data.text("duration"))
            remind: timedelta | None = (parse_duration(data.text("remind"))
                                        if data.text("remind").strip() else None)
            components, comment, groups = self.chosen(data)
            days = self.config.status.max_maintenance_days
            if not data.text("confirm"):  # longer than the maximum: said, then confirmed
                return await self.confirmation(request, signed, data, {
                    "kind": "maintenance", "action": "/admin/maintenance",
                    "starts_at": start, "ends_at": start + duration,
                    "long": (written_duration(duration), f"{days:g}")
                    if duration > timedelta(days=days) else None})
            result = await self.call(request, schedule_maintenance, self.db, self.config,
                                     signed.operator, start, duration, components, groups,
                                     remind, comment, bool(data.text("long_ok")))
        except RnmailError as exc:
            return await self.dashboard(request, signed, data, self.said(request, exc),
                                        status=400)
        return self.queued(result.announcement_id, "maintenance")

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        """Cancel a maintenance: first a page saying what and whom it mails (nothing
        done), then, confirmed, the cancellation and its notice."""
        signed = await self.signed_in(request)
        data = await self.form(request, signed)
        maintenance_id = path_id(request)
        try:
            if not data.text("confirm"):
                found = await self.call(request, cancellation_preview, self.db, self.config,
                                        maintenance_id)
                return self.page(request, "confirm.html.j2", {
                    **found, "signed": signed, "kind": "cancel",
                    "action": f"/admin/maintenance/{maintenance_id}/cancel",
                    "components": self.labels(found["component_names"]),
                    "fields": data.items(), "notify_linked": False, "long": None})
            announcement = await self.call(request, cancel_maintenance, self.db, self.config,
                                           signed.operator, maintenance_id)
        except RnmailError as exc:
            return await self.dashboard(request, signed, None, self.said(request, exc),
                                        status=400)
        return self.queued(announcement.id if announcement else None, "cancelled")

    async def announcement(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        try:
            found = await self.call(request, _read, self.db, partial(
                announcement_status, announcement_id=path_id(request)))
        except RnmailError as exc:
            raise Refused(404, self.said(request, exc)) from None
        counts = found["counts"]
        total = sum(counts.values())
        return self.page(request, "announcement.html.j2", {
            "signed": signed, "item": found, "counts": counts, "total": total,
            "done": total - counts["queued"] - counts["sending"]})

    async def audit_log(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        action = request.query.get("action", "").strip()[:32] or None
        actor = request.query.get("actor", "").strip()[:64] or None
        events = await self.call(request, _read, self.db, partial(
            audit.list_events, limit=200, action=action, actor=actor))
        return self.page(request, "audit.html.j2", {"signed": signed, "events": events,
                                           "action": action or "", "actor": actor or ""})

    async def stylesheet(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=(TEMPLATES / "admin.css").read_bytes(),
                            content_type="text/css", charset="utf-8",
                            headers={"Cache-Control": "max-age=300"})

    def chosen(self, data: FormData) -> tuple[list[str], dict[str, str], list[str]]:
        """The components (checked against the config), comments and groups of a form."""
        components = [self.config.status.component(c).name for c in data.all("component")]
        comment = comment_texts(None, {lang: data.text(f"comment_{lang}")
                                       for lang in STATUS_LANGUAGES})
        return components, comment, data.all("group")

    async def confirmation(self, request: web.Request, signed: sessions.SignedIn,
                           data: FormData, what: dict[str, Any]) -> web.Response:
        """What a form will do and whom it will mail (each address once), with the button
        that sends the same fields again, confirmed."""
        components, comment, groups = self.chosen(data)
        summary = await self.call(request, preview_recipients, self.db, groups)
        return self.page(request, "confirm.html.j2", {
            "signed": signed, "components": self.labels(components), "comment": comment,
            "groups": groups, "recipients": summary, "fields": data.items(),
            "notify_linked": False, "subjects": {}, "long": None, **what})

    def queued(self, announcement_id: int | None, done: str, mail: bool = False
               ) -> web.Response:
        """After a change: send what it queued, then show its progress (or the page)."""
        if announcement_id is not None or mail:
            self.send()
        if announcement_id is not None:
            return see_other(f"/admin/announcements/{announcement_id}")
        return see_other(f"/admin/?done={done}")

    def labels(self, components: list[str]) -> list[str]:
        chosen = components or [c.name for c in self.config.status.components]
        return [self.config.status.component(name).label("fr") for name in chosen]


class FormData:
    """A submitted form's fields as text (missing: empty), in the order sent."""

    def __init__(self, fields: Any) -> None:
        self.fields: list[tuple[str, str]] = [
            (str(k), v) for k, v in fields.items() if isinstance(v, str)]

    def text(self, name: str) -> str:
        return next((v for k, v in self.fields if k == name), "")

    def all(self, name: str) -> list[str]:
        return list(dict.fromkeys(v for k, v in self.fields if k == name and v))

    def items(self) -> list[tuple[str, str]]:
        """The fields to carry to the confirmation, without its own token and flag."""
        return [(k, v) for k, v in self.fields if k not in ("confirm", "long_ok")]


async def read_form(request: web.Request) -> FormData:
    """The submitted form; a body that is not one (broken multipart, bad encoding) is a
    400 page."""
    try:
        return FormData(await request.post())
    except (ValueError, UnicodeDecodeError, HttpProcessingError):
        raise Refused(400, N_("The form could not be read: nothing was changed.")) from None


def _read(db: Database, query: Callable[..., T]) -> T:
    with db.transaction() as session:
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


async def _to_admin(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin/")


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        if name == "Cache-Control" and name in response.headers:
            continue
        response.headers[name] = value
