"""The status administration (``/admin``): what technical staff do on the web page itself.

An operator signs in with their password and the code of their second factor (TOTP, set up
with ``rnmail operator totp NAME``), then sets the components' position with a comment per
language and the groups to tell, plans or cancels maintenance (each change that mails
first shows a preview to confirm: ``rnmail.web.previews``), follows the sending of an
announcement and reads the audit log; the core's refusals are shown in the operator's
language (``RnmailError.translated``). Every act calls the core function the command line
calls (``notices.change_status``, ``maintenance.schedule_maintenance`` …) in a worker
thread, inside ``audit.acting_from(client address)``.

Security, as a government site needs it: served only on ``[web].admin_bind`` (a listener
of its own, shared with the desk; the public site has no ``/admin``); the sessions, CSRF,
limits, lockout, audit and the guard are ``rnmail.web.signin``'s, shared with the desk; an
operator's session is not a staff member's. A database error is a 503 page, never a
traceback; the public site does not depend on it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from functools import cache, partial
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment
from sqlalchemy.exc import SQLAlchemyError

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
    language_name,
)
from rnmail.status.components import comment_texts
from rnmail.status.maintenance import (
    cancel_maintenance,
    parse_duration,
    parse_local_time,
    schedule_maintenance,
    written_duration,
)
from rnmail.status.notices import change_status, linked_preview
from rnmail.vocab import StatusState, strings
from rnmail.web.labels import label
from rnmail.web.previews import cancellation_preview, dashboard_data, preview_recipients
from rnmail.web.signin import (
    LANGUAGE,
    FormData,
    Refused,
    SignInSite,
    among,
    client_address,
    page_environment,
    path_id,
    read,
    see_other,
    stylesheet,
)

__all__ = ["AdminSite", "BackgroundSender", "FormData", "Refused", "among", "client_address"]

log = logging.getLogger("rnmail.web.admin")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "admin"
# The operators' languages (the switch on every page), each named in itself. The words
# are in the catalogues (rnmail.i18n); a text missing there shows in English.
ADMIN_LANGUAGES = tuple((code, capitalised(language_name(code)))
                        for code in ("fr", "nl", "de", "en"))

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


@cache
def environment(language: str, timezone: str = BRUSSELS.key) -> Environment:
    """The admin's pages in ``language``, times in ``timezone`` (``page_environment``),
    with the admin's own filters; one environment per language."""
    env = page_environment(TEMPLATES, language, timezone)
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


class AdminSite(SignInSite):
    """The handlers of ``/admin``: see the module's docstring."""

    prefix = "/admin"
    kind = "operator"
    name_field = "operator"
    session_cookie = "rnmail_admin"
    login_cookie = "rnmail_login"
    language_cookie = "rnmail_lang"
    languages = ADMIN_LANGUAGES
    https_needed = HTTPS_NEEDED
    unavailable = N_("The database cannot be reached: nothing was changed. The public "
                     "status page keeps showing the last published status. Try again in a "
                     "moment.")

    def __init__(self, config: Config, db: Database, send: Sender | None = None) -> None:
        super().__init__(config, db)
        self.sender = BackgroundSender(db, config) if send is None else None
        self.send: Sender = send or self.sender or (lambda: None)

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/", _to_admin)
        app.router.add_get("/admin", _to_admin)
        app.router.add_get("/admin/", self.dashboard)
        app.router.add_get("/admin/admin.css", self.stylesheet)
        app.router.add_post("/admin/status", self.set_status)
        app.router.add_post("/admin/maintenance", self.schedule)
        app.router.add_post(r"/admin/maintenance/{id:\d+}/cancel", self.cancel)
        app.router.add_get(r"/admin/announcements/{id:\d+}", self.announcement)
        app.router.add_get("/admin/audit", self.audit_log)

    async def close(self) -> None:
        if self.sender is not None:
            await self.sender.close()

    def environment(self, language: str) -> Environment:
        return environment(language, self.config.helpdesk.timezone)

    def authenticate(self, name: str, password: str, code: str) -> str:
        return operators.authenticate(self.db, self.config.operators, name, password, code,
                                      self.config.web.max_failures_per_address, self.cipher)

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
                linked = await self.call(request, linked_preview, self.db, self.config, state,
                                         components, comment) if notify_linked else 0
                return await self.confirmation(request, signed, data, {
                    "kind": "status", "action": "/admin/status", "state": state,
                    "notify_linked": notify_linked, "linked": linked})
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
                    "components": self.labels(request, found["component_names"]),
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
            found = await self.call(request, read, self.db, partial(
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
        events = await self.call(request, read, self.db, partial(
            audit.list_events, limit=200, action=action, actor=actor))
        return self.page(request, "audit.html.j2", {"signed": signed, "events": events,
                                           "action": action or "", "actor": actor or ""})

    async def stylesheet(self, request: web.Request) -> web.StreamResponse:
        return stylesheet(TEMPLATES / "admin.css")

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
            "signed": signed, "components": self.labels(request, components),
            "comment": comment,
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

    def labels(self, request: web.Request, components: list[str]) -> list[str]:
        """The components' names in the reader's language (all of them for none)."""
        chosen = components or [c.name for c in self.config.status.components]
        language = request.get(LANGUAGE, "fr")
        return [self.config.status.component(name).label(language) for name in chosen]


async def _to_admin(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin/")
