"""The desk's site without its pages (``DeskBase``): staff members sign in with their e-mail
address, their password and the code of their second factor (``rnmail staff passwd``,
``staff totp``), or through single sign-on; and what every page group needs — the
signed-in member, a change submitted by a form, the notice after it.

Signing in, sessions, CSRF, the limits and the guard are ``rnmail.web.signin``'s, shared
with ``/admin``; the desk's sessions are of kind "staff", so an operator's session does
not open the desk nor a staff member's the admin. Single sign-on: where a reverse proxy
in ``[web].trusted_proxies`` names the member in ``[web].remote_user_header``, the sign-in
page opens a session for them at once (audited, ``via: remote-user``); the header from any
other address is ignored, and a session whose member is not the one the proxy names is
not used.

The pages speak the member's language (``staff.language``, set at sign-in) with a switch
to French, Dutch, German or English; every word is in the catalogues. They work without
JavaScript (forms, POST-redirect-GET).

A change (``write``) is one transaction in a worker thread: the core function the command
line calls, with the member as its ``Actor`` (through the desk), and an audit event
``desk-<action>`` naming the member, with the client's address; the mail it queued is sent
at once (the sender the admin uses, or the daemon's). After it the browser is
sent on with ``?done=<notice>``; the page says the notice (``notices``: the page groups'
own, in the catalogues).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.auth import sessions, staff
from rnmail.config import Config
from rnmail.db import Database
from rnmail.i18n import N_, gettext
from rnmail.i18n.formats import (
    BRUSSELS,
    capitalised,
    file_size,
    format_day,
    language_name,
    time_ago,
)
from rnmail.i18n.labels import label
from rnmail.models import Staff
from rnmail.tickets.history import Actor
from rnmail.tickets.lifecycle import find_staff
from rnmail.vocab import Via
from rnmail.web.signin import (
    LANGUAGE,
    FormData,
    SignInSite,
    among,
    page_environment,
    read,
    see_other,
    stylesheet,
)

T = TypeVar("T")
TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "desk"
# The desk's languages (the switch on every page), each named in itself.
DESK_LANGUAGES = tuple((code, capitalised(language_name(code)))
                       for code in ("fr", "nl", "de", "en"))
HTTPS_NEEDED = N_(
    "This page came over plain HTTP, and the desk's cookies are Secure: the browser does "
    "not keep them, so signing in cannot work. Open the desk over HTTPS (the address your "
    "administrator gave you).")


@cache
def environment(language: str, timezone: str = BRUSSELS.key) -> Environment:
    """The desk's pages in ``language``, times in ``timezone`` (``page_environment``), with
    its own filters."""
    env = page_environment(TEMPLATES, language, timezone)
    env.filters["vocab"] = lambda value, vocabulary: label(language, vocabulary, value)
    env.filters["language_name"] = lambda code: language_name(code, language) if code else ""
    env.filters["ago"] = lambda value: time_ago(value, language)
    env.filters["size"] = lambda value: file_size(value, language)
    zone = ZoneInfo(timezone)
    env.filters["local_day"] = lambda value: format_day(value, language, zone) if value else ""
    return env


def member_name(session: Session, email: str) -> str:
    """The signed-in member's name (their address if the row is gone)."""
    return session.scalar(select(Staff.name).where(Staff.email == email)) or email


def member_language(session: Session, email: str) -> str | None:
    return session.scalar(select(Staff.language).where(Staff.email == email))


def desk_actor(session: Session, email: str) -> Actor:
    """The signed-in member as the ticket history names them, acting through the desk."""
    return Actor.of_staff(find_staff(session, email), Via.DESK)


class DeskBase(SignInSite):
    """The desk's sign-in and what its page groups share; see the module's docstring. A
    page group subclasses it, adds its routes in ``routes`` (calling ``super()``) and its
    notices in ``notices``; ``rnmail.web.desk.site.DeskSite`` puts them together."""

    prefix = "/desk"
    kind = "staff"
    name_field = "email"
    session_cookie = "rnmail_desk"
    login_cookie = "rnmail_desk_login"
    language_cookie = "rnmail_desk_lang"
    languages = DESK_LANGUAGES
    https_needed = HTTPS_NEEDED
    unavailable = N_("The database cannot be reached: nothing was changed. Try again in a "
                     "moment; mail to the help desk is kept and read when it is back.")
    notices: Mapping[str, str] = {}
    """``?done=`` key -> msgid said at the top of the page after a change."""

    def __init__(self, config: Config, db: Database,
                 send: Callable[[], None] | None = None) -> None:
        super().__init__(config, db)
        self.send = send or (lambda: None)  # wakes the admin's sender, or the daemon's

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/desk", moved("/desk/"))
        app.router.add_get("/desk/desk.css", self.stylesheet)

    def environment(self, language: str) -> Environment:
        return environment(language, self.config.helpdesk.timezone)

    def authenticate(self, name: str, password: str, code: str) -> str:
        return staff.authenticate(self.db, self.config.operators, name, password, code,
                                  self.config.web.max_failures_per_address, self.cipher)

    # ------------------------------------------------------------------ who is it

    def remote_user(self, request: web.Request) -> str | None:
        """The member the trusted reverse proxy names, if any (see the module)."""
        header = self.config.web.remote_user_header
        if not header:
            return None
        named = request.headers.get(header, "").strip()
        if not named or not among(request.remote or "", self.config.web.trusted_proxies):
            return None
        return named[:320]

    async def signed_in(self, request: web.Request) -> sessions.SignedIn:
        signed = await super().signed_in(request)
        named = self.remote_user(request)
        if named is not None and named.lower() != signed.operator:
            raise web.HTTPSeeOther("/desk/login")  # the proxy names someone else
        return signed

    async def login_form(self, request: web.Request, message: str | None = None,
                         name: str = "", status: int = 200) -> web.StreamResponse:
        named = self.remote_user(request)
        if named is not None and message is None and request.method == "GET":
            email = await self.call(request, staff.proxy_sign_in, self.db, named)
            if email is not None:
                return await self.open(request, email)
            message = gettext(request.get(LANGUAGE, "fr"), N_(
                "The single sign-on names {name}, who is not on the staff: sign in with "
                "your e-mail address, password and code.")).format(name=named)
        return await super().login_form(request, message, name, status)

    async def open(self, request: web.Request, principal: str) -> web.StreamResponse:
        """Signed in: the pages in the member's own language from now on."""
        response = await super().open(request, principal)
        language = await self.call(request, read, self.db,
                                   partial(member_language, email=principal))
        if language in dict(DESK_LANGUAGES):
            self.remember_language(response, language)
        return response

    # ------------------------------------------------------------------ pages and changes

    async def stylesheet(self, request: web.Request) -> web.StreamResponse:
        return stylesheet(TEMPLATES / "desk.css")

    async def show(self, request: web.Request, signed: sessions.SignedIn, name: str,
                   query: Callable[[Session], dict[str, Any]],
                   status: int = 200) -> web.Response:
        """``name`` with what ``query`` reads (one reading transaction), the member's name
        (``me``, unless the query read it) and the notice of ``?done=``."""
        def run(session: Session) -> dict[str, Any]:
            found = query(session)
            if "me" not in found:
                found["me"] = member_name(session, signed.operator)
            return found

        found = await self.call(request, read, self.db, run)
        return self.page(request, name, {**found, "signed": signed,
                                         "notice": self.notice(request),
                                         "done": request.query.get("done", "")},
                         status=status)

    def notice(self, request: web.Request) -> str | None:
        """The msgid of ``?done=``, if it is one of the page groups' notices."""
        key = request.query.get("done", "")
        for cls in type(self).__mro__:
            found = vars(cls).get("notices", {}).get(key)
            if found:
                return str(found)
        return None

    async def submitted(self, request: web.Request) -> tuple[sessions.SignedIn, FormData]:
        """The signed-in member and their form, its CSRF token checked."""
        signed = await self.signed_in(request)
        return signed, await self.form(request, signed)

    async def write(self, request: web.Request, signed: sessions.SignedIn, action: str,
                    work: Callable[[Session, Actor], T],
                    detail: Mapping[str, Any] | None = None) -> T:
        """``work(session, actor)`` in one transaction with the audit event
        ``desk-<action>`` (the member, the client's address, ``detail``)."""
        def run() -> T:
            with self.db.transaction() as session:
                actor = desk_actor(session, signed.operator)
                result = work(session, actor)
                audit.record(session, signed.operator[:64], f"desk-{action}",
                             dict(detail or {}))
                return result

        result = await self.call(request, run)
        self.send()  # what the change queued (an answer, a delegation) goes out now
        return result


def done(location: str, notice: str, **query: str | int) -> web.Response:
    """The 303 after a change: ``location`` saying ``notice``."""
    return see_other(f"{location}?{urlencode({'done': notice, **query})}")


def moved(location: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler that sends the browser on to ``location`` (a page's other spelling)."""
    async def handler(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(location)

    return handler
