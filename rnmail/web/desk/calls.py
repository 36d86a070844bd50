"""The desk's call form (``/desk/calls/new``) and a message for an absent colleague
(``/desk/calls/message``): the call takers' main screen, built for speed while the caller
is on the line.

- ``GET /desk/calls/new?phone=…&lang=…`` prefills the form, so that the telephone
  system's screen-pop or a bookmark can open it: a number in any notation, shown in E.164
  (``0032 2 555 01 23``, ``02/555.01.23`` → ``+3225550123``), and the caller's language;
  a value that is not one is left out. A number given is looked up at once. On these two
  pages ``lang`` is the caller's language, so the language switch uses ``?ui=``.
- **Who is calling**: the directory's candidates (``rnmail.directory.lookup.lookup_caller``,
  as ``rnmail directory lookup``), by the number, the address, the name or the
  organisation typed. Without JavaScript the *Look up* button sends the form back with
  them, each a button that fills the name, organisation, type and language (``filling``),
  their open tickets offered as the ticket to add the call to. With JavaScript,
  ``desk.js`` asks ``GET /desk/calls/lookup?q=`` (JSON, signed-in only: 401 otherwise) as
  the agent types, and fills the same fields the same way.
- ``POST /desk/calls/new`` logs the call (``rnmail.tickets.calls.log_call``, as ``rnmail
  ticket new``), audited ``desk-log-call``, and comes back to a fresh form saying "Call
  logged as #N" with a link to it: the call taker is ready for the next call. A refusal
  (``check_call``'s, in the agent's language) shows the form again, its values kept, the
  message next to its field.
- **A message for an absent colleague**: the call form's *Take a message* button carries
  the caller, number and text to ``/desk/calls/message``, which mails it to the colleague
  chosen (``rnmail.tickets.calls.take_message``, as ``rnmail message take``), audited
  ``desk-take-message``.

The desk serves its script itself (``/desk/desk.js``); the desk's policy allows scripts
and requests from its own origin and nothing inline (``rnmail.web.signin.SCRIPT_POLICY``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.auth import sessions
from rnmail.config import LANGUAGES
from rnmail.directory.lookup import lookup_caller
from rnmail.errors import RnmailError
from rnmail.i18n import N_, gettext
from rnmail.i18n.formats import language_name
from rnmail.i18n.labels import label
from rnmail.models import Staff
from rnmail.shapes import CallerCandidate
from rnmail.tickets.calls import CallForm, CallResult, log_call, take_message
from rnmail.tickets.history import Actor
from rnmail.tickets.team import list_services, list_staff
from rnmail.util.addresses import deliverable_address
from rnmail.util.phone import normalise_number
from rnmail.vocab import MAX_ID, CallOutcome, RequesterType, strings
from rnmail.web.desk.base import TEMPLATES, DeskBase, done
from rnmail.web.signin import LANGUAGE, SCRIPT_POLICY, FormData, read

CALL_FORM = "/desk/calls/new"
MESSAGE_FORM = "/desk/calls/message"
LOOKUP_LIMIT = 8
LOOKUP_MIN = 3  # characters typed before the script asks (a number, a name's start)

# The field of the call form (or the message form) each refusal of the core is about; a
# refusal not listed is said at the top of the form.
FIELD_OF = {
    "'{phone}' is not a phone number": "phone",
    "'{email}' is not a valid mail address": "email",
    "who called? Give a phone number, a mail address or a name": "phone",
    "a call needs a subject": "subject",
    "unknown language '{language}' ({choices})": "language",
    "unknown category '{category}' ({choices})": "category",
    "unknown requester type '{kind}' ({choices})": "requester_type",
    "unknown outcome '{outcome}' ({choices})": "outcome",
    "a call delegated needs a service": "service",
    "no service named '{service}'": "service",
    "a service is given only when the call is delegated": "service",
    "no ticket #{id}": "link",
    "ticket #{id} is not a ticket of this caller (its requester is {requester})": "link",
    "'{value}' is not a ticket number": "link",
    "choose the colleague the message is for": "for",
    "no staff member {email}": "for",
    "{email} is no longer on the staff": "for",
    "the message is empty": "text",
}
# What the fresh form says after a call (``?done=…&ticket=N``).
LOGGED = {
    "call-close": N_("Call logged as #{id}: answered at once, closed."),
    "call-open": N_("Call logged as #{id}: open, to investigate."),
    "call-delegate": N_("Call logged as #{id} and delegated to the second line."),
    "call-added": N_("Call added to ticket #{id}."),
}
ENTRIES = {"user": N_("directory user"), "organisation": N_("organisation"),
           "caller": N_("earlier caller")}
ACCESS = {"active": N_("access active"), "blocked": N_("access blocked"),
          "revoked": N_("access revoked")}


@dataclass
class CallValues:
    """The call form as typed (all text): what is shown again, and what ``log_call``
    gets (``form``)."""

    phone: str = ""
    caller: str = ""
    email: str = ""
    organisation: str = ""
    language: str = ""
    requester_type: str = ""
    subject: str = ""
    text: str = ""
    category: str = ""
    outcome: str = CallOutcome.OPEN.value
    service: str = ""
    link: str = ""  # an open ticket of the caller's chosen among the candidates'
    link_number: str = ""  # or a ticket number typed

    @classmethod
    def posted(cls, data: FormData) -> CallValues:
        """From the form; no outcome chosen is the core's default (open)."""
        values = cls(**{f.name: data.text(f.name) for f in fields(cls)})
        return values if values.outcome else replace(values, outcome=CallOutcome.OPEN.value)

    @classmethod
    def prefilled(cls, query: Any) -> CallValues:
        """From the address (screen-pop, bookmark): only values that are what they say."""
        phone = normalise_number(query.get("phone", "")) or ""
        language = query.get("lang", "")
        email = deliverable_address(query.get("email", "").strip()) or ""
        return cls(phone=phone, email=email.lower(),
                   caller=" ".join(query.get("caller", "").split())[:200],
                   language=language if language in LANGUAGES else "")

    def ticket(self) -> int | None:
        """The ticket to add the call to: the number typed, else the one chosen."""
        raw = self.link_number.strip().lstrip("#") or self.link.strip()
        if not raw:
            return None
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_ID:
            raise RnmailError.translatable(N_("'{value}' is not a ticket number"), value=raw)
        return int(raw)

    def form(self) -> CallForm:
        """What ``log_call`` checks. A service chosen with another outcome than delegate
        is refused there, next to the service: dropped here, the call was logged open and
        never delegated, which the agent who chose it did not mean."""
        return CallForm(
            phone=self.phone, caller=self.caller, email=self.email,
            language=self.language or None, subject=self.subject, text=self.text,
            category=self.category or None, requester_type=self.requester_type or None,
            outcome=self.outcome,
            service=self.service or None,
            link=self.ticket(), organisation=self.organisation or None)

    def queries(self) -> list[str]:
        """What to look the caller up by, surest first: the number, the address, the
        name, the organisation."""
        return [q for q in (self.phone, self.email, self.caller, self.organisation)
                if q.strip()]

    def filled(self, fill: dict[str, str]) -> CallValues:
        """The values with a candidate's (``filling``): the number and the address
        given are kept (the number the call came from is the one to call back), when they
        are a number and an address (a name typed into the number's field is not)."""
        keep = {"phone": self.phone if normalise_number(self.phone) else "",
                "email": self.email if deliverable_address(self.email.strip()) else ""}
        chosen = {k: v for k, v in fill.items()
                  if k in {f.name for f in fields(self)} and v and not keep.get(k)}
        return replace(self, **chosen)


def filling(candidate: CallerCandidate) -> dict[str, str]:
    """What a candidate fills in the call form (the same with and without JavaScript): an
    organisation fills only its own fields, not the caller's name, number or address."""
    fill = {"organisation": candidate["organisation"] or "",
            "requester_type": candidate["requester_type"] or "",
            "language": candidate["language"] or ""}
    if fill["requester_type"] not in strings(RequesterType):
        fill["requester_type"] = ""
    if fill["language"] not in LANGUAGES:
        fill["language"] = ""
    if candidate["entry"] != "organisation":
        fill.update(caller=candidate["name"] or "", phone=candidate["phone"] or "",
                    email=candidate["email"] or "")
    return fill


def candidate_view(candidate: CallerCandidate, language: str) -> dict[str, Any]:
    """A candidate as the page and the script show it, in ``language``."""
    def said(msgid: str) -> str:
        return gettext(language, msgid)

    title = (candidate["name"] or candidate["organisation"] or candidate["email"]
             or candidate["phone"] or "?")
    details = [said(ENTRIES[candidate["entry"]])]
    if candidate["name"] and candidate["organisation"]:
        details.append(candidate["organisation"])
    details.append(label(language, "requester-type", candidate["requester_type"]))
    if candidate["language"]:
        details.append(language_name(candidate["language"], language))
    details += [v for v in (candidate["phone"], candidate["email"]) if v and v != title]
    if candidate["access_status"] in ACCESS:
        details.append(said(ACCESS[candidate["access_status"]]))
    return {
        "entry": candidate["entry"], "title": title, "details": " · ".join(details),
        "blocked": candidate["access_status"] == "blocked",
        "fill": filling(candidate), "pick": json.dumps(filling(candidate)),
        "open_tickets": [{"id": t["id"], "subject": t["subject"],
                          "status": label(language, "ticket-status", t["status"])}
                         for t in candidate["open_tickets"]]}


def link_choices(views: list[dict[str, Any]], chosen: str) -> list[dict[str, Any]]:
    """The tickets the call may be added to: the candidates' open tickets, once each, and
    the one chosen before (a number, if it is not among them)."""
    offered = {t["id"]: t for view in views for t in view["open_tickets"]}
    if chosen.isascii() and chosen.isdigit() and len(chosen) <= 19 \
            and int(chosen) not in offered:
        offered[int(chosen)] = {"id": int(chosen), "subject": "", "status": ""}
    return list(offered.values())


def looked_up(session: Session, values: CallValues) -> tuple[str, list[CallerCandidate]]:
    """The candidates of the first of the form's values that finds any (its query)."""
    tried = ""
    for query in values.queries():
        tried = query
        try:
            found = lookup_caller(session, query, LOOKUP_LIMIT)
        except RnmailError:  # too long to be a name, a number or an address: no candidate
            continue
        if found:
            return query, found
    return tried, []


@dataclass
class Shown:
    """What the call form shows besides the values: whether to look the caller up, the
    refusal (next to its field, else at the top) and which field has the focus."""

    looked: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    focus: str = "phone"


class CallPages(DeskBase):
    """``/desk/calls/new``, ``/desk/calls/lookup``, ``/desk/calls/message`` and the desk's
    script; see the module's docstring."""

    policy = SCRIPT_POLICY  # the desk's pages load /desk/desk.js

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get(CALL_FORM, self.call_form)
        app.router.add_post(CALL_FORM, self.log_call)
        app.router.add_get("/desk/calls/lookup", self.lookup)
        app.router.add_get(MESSAGE_FORM, self.message_form)
        app.router.add_post(MESSAGE_FORM, self.take_message)
        app.router.add_get("/desk/desk.js", self.script)

    def switch_parameter(self, request: web.Request) -> str:
        if request.path in (CALL_FORM, MESSAGE_FORM):
            return "ui"  # ``lang`` is the caller's language there
        return super().switch_parameter(request)

    async def script(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=(TEMPLATES / "desk.js").read_bytes(),
                            content_type="text/javascript", charset="utf-8",
                            headers={"Cache-Control": "max-age=300"})

    # ------------------------------------------------------------------ the call form

    async def call_form(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        values = CallValues.prefilled(request.query)
        focus = ("phone" if not values.phone else "caller" if not values.caller
                 else "subject")
        return await self.show_call(request, signed, values,
                                    Shown(looked=bool(values.phone), focus=focus))

    async def log_call(self, request: web.Request) -> web.StreamResponse:
        signed, data = await self.submitted(request)
        values = CallValues.posted(data)
        if data.text("pick"):  # a candidate chosen (without JavaScript)
            try:
                fill = json.loads(data.text("pick"))
            except ValueError:
                fill = {}
            if isinstance(fill, dict):
                values = values.filled({str(k): str(v) for k, v in fill.items()
                                        if isinstance(v, str)})
            return await self.show_call(request, signed, values,
                                        Shown(looked=True, focus="subject"))
        if data.text("do") == "lookup":
            return await self.show_call(request, signed, values,
                                        Shown(looked=True, focus="caller"))
        if data.text("do") == "message":
            return await self.show_message(request, signed, {
                "for": "", "caller": values.caller, "phone": values.phone,
                "text": values.text}, {})
        detail: dict[str, Any] = {"outcome": values.outcome}  # + the ticket, once known
        try:
            form = values.form()

            def work(session: Session, actor: Actor) -> CallResult:
                result = log_call(session, self.config, form, actor)
                detail.update(ticket=result.ticket_id, linked=result.linked)
                return result

            result = await self.write(request, signed, "log-call", work, detail)
        except RnmailError as error:
            where = FIELD_OF.get(error.msgid or "")
            message = self.said(request, error)
            shown = Shown(errors={where: message} if where else {},
                          problem=None if where else message, focus=where or "phone",
                          looked=bool(values.queries()))  # the candidates stay in view
            return await self.show_call(request, signed, values, shown, status=400)
        notice = "call-added" if result.linked else f"call-{result.outcome}"
        return done(CALL_FORM, notice, ticket=result.ticket_id)

    async def show_call(self, request: web.Request, signed: sessions.SignedIn,
                        values: CallValues, shown: Shown, status: int = 200) -> web.Response:
        language = request.get(LANGUAGE, "fr")

        def query(session: Session) -> dict[str, Any]:
            logged = self.logged(request, session) if request.method == "GET" else None
            asked, found = looked_up(session, values) if shown.looked else ("", [])
            views = [candidate_view(c, language) for c in found]
            focus = shown.focus
            if views and not shown.errors and focus in ("phone", "caller") and shown.looked:
                focus = "use-0"  # Enter takes the first candidate
            return {"v": values, "shown": shown, "focus": focus, "asked": asked,
                    "candidates": views, "logged": logged,
                    "link_choices": link_choices(views, values.link),
                    "services": list_services(session),
                    "categories": self.config.workflow.categories,
                    "requester_types": strings(RequesterType),
                    "outcomes": strings(CallOutcome), "call_languages": LANGUAGES,
                    "lookup_min": LOOKUP_MIN}

        return await self.show(request, signed, "call.html.j2", query, status=status)

    def logged(self, request: web.Request, session: Session) -> dict[str, Any] | None:
        """The notice of ``?done=``: what became of the last call (``call-…&ticket=N``,
        with a link to it) or of the last message (``message-taken&to=ADDRESS``)."""
        language = request.get(LANGUAGE, "fr")
        key, raw = request.query.get("done", ""), request.query.get("ticket", "")
        if key == "message-taken":
            name = session.scalar(select(Staff.name).where(
                Staff.email == request.query.get("to", "")))
            return None if name is None else {"id": None, "text": gettext(language, N_(
                "Message for {name} queued: it is mailed to them.")).format(name=name)}
        msgid = LOGGED.get(key)
        if msgid is None or not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
            return None
        return {"text": gettext(language, msgid).format(id=int(raw)), "id": int(raw)}

    # ------------------------------------------------------------------ the lookup (JSON)

    async def lookup(self, request: web.Request) -> web.StreamResponse:
        """The candidates for ``?q=`` as JSON, for ``desk.js``; 401 when not signed in."""
        try:
            await self.signed_in(request)
        except web.HTTPSeeOther:
            return web.json_response({"error": "not signed in"}, status=401)
        language = request.get(LANGUAGE, "fr")
        asked = " ".join(request.query.get("q", "").split())[:200]
        if len(asked) < LOOKUP_MIN:
            return web.json_response({"query": asked, "candidates": []})

        def query(session: Session) -> list[CallerCandidate]:
            return lookup_caller(session, asked, LOOKUP_LIMIT)

        found = await self.call(request, read, self.db, query)
        return web.json_response({"query": asked, "candidates": [
            candidate_view(c, language) for c in found]})

    # ------------------------------------------------------------------ a message

    async def message_form(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        values = CallValues.prefilled(request.query)
        return await self.show_message(request, signed, {
            "for": request.query.get("for", ""), "caller": values.caller,
            "phone": values.phone, "text": ""}, {})

    async def take_message(self, request: web.Request) -> web.StreamResponse:
        signed, data = await self.submitted(request)
        values = {name: data.text(name) for name in ("for", "caller", "phone", "text")}
        form = CallForm(phone=values["phone"], caller=values["caller"], text=values["text"])
        try:
            taken = await self.write(
                request, signed, "take-message",
                lambda session, _actor: take_message(session, self.config, form,
                                                     values["for"]),
                {"for": values["for"].strip().lower()[:320]})
        except RnmailError as error:
            where = FIELD_OF.get(error.msgid or "", "")
            return await self.show_message(request, signed, values,
                                           {where: self.said(request, error)}, status=400)
        return done(CALL_FORM, "message-taken", to=taken["to"])

    async def show_message(self, request: web.Request, signed: sessions.SignedIn,
                           values: dict[str, str], errors: dict[str, str],
                           status: int = 200) -> web.Response:
        def query(session: Session) -> dict[str, Any]:
            colleagues = [s for s in list_staff(session) if s["email"] != signed.operator]
            first = next(iter(errors), "") or ("for" if not values["for"] else
                                               "caller" if not values["caller"] else "text")
            return {"m": values, "errors": errors, "colleagues": colleagues, "focus": first}

        return await self.show(request, signed, "message.html.j2", query, status=status)

