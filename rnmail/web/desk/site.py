"""The desk's site (``DeskSite``): staff members sign in with their e-mail address, their
password and the code of their second factor (``rnmail staff passwd``, ``staff totp``), or
through single sign-on, and reach the queue and the tickets.

Signing in, sessions, CSRF, the limits and the guard are ``rnmail.web.signin``'s, shared
with ``/admin``; the desk's sessions are of kind "staff", so an operator's session does
not open the desk nor a staff member's the admin. Single sign-on: where a reverse proxy
in ``[web].trusted_proxies`` names the member in ``[web].remote_user_header``, the sign-in
page opens a session for them at once (audited, ``via: remote-user``); the header from any
other address is ignored, and a session whose member is not the one the proxy names is
not used.

The pages speak the member's language (``staff.language``, set at sign-in) with a switch
to French, Dutch, German or English; every word is in the catalogues. They work without
JavaScript (forms, POST-redirect-GET) under a CSP without any script or inline style.
"""

from __future__ import annotations

from functools import cache, partial
from pathlib import Path

from aiohttp import web
from jinja2 import Environment

from rnmail.auth import sessions, staff
from rnmail.errors import NotFound
from rnmail.i18n import N_, gettext
from rnmail.i18n.formats import (
    BRUSSELS,
    capitalised,
    language_name,
)
from rnmail.i18n.labels import label
from rnmail.web.desk.pages import member_language, queue_page, ticket_page
from rnmail.web.signin import (
    LANGUAGE,
    Refused,
    SignInSite,
    among,
    page_environment,
    path_id,
    read,
    stylesheet,
)

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
    return env


class DeskSite(SignInSite):
    """The handlers of ``/desk``: see the module's docstring."""

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

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/desk", _to_desk)
        app.router.add_get("/desk/", self.queue)
        app.router.add_get("/desk/desk.css", self.stylesheet)
        app.router.add_get(r"/desk/tickets/{id:\d+}", self.ticket)

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

    # ------------------------------------------------------------------ pages

    async def queue(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        found = await self.call(request, read, self.db,
                                partial(queue_page, email=signed.operator))
        return self.page(request, "queue.html.j2", {**found, "signed": signed})

    async def ticket(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        ticket_id = path_id(request)
        try:
            found = await self.call(request, read, self.db, partial(
                ticket_page, ticket_id=ticket_id, email=signed.operator))
        except NotFound:
            raise Refused(404, N_("There is no such ticket.")) from None
        return self.page(request, "ticket.html.j2", {**found, "signed": signed})

    async def stylesheet(self, request: web.Request) -> web.StreamResponse:
        return stylesheet(TEMPLATES / "desk.css")


async def _to_desk(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/desk/")
