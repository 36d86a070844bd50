"""The desk's FAQ (``/desk/faq/``): the entries browsed and searched in a language, an
entry's texts in each language (and those still missing), and what ``rnmail faq`` does —
add, edit a language's question and answer, start an entry from a ticket, publish the
static pages — each through ``rnmail.tickets.faq`` and audited as ``desk-faq-…``."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy.orm import Session

from rnmail.config import LANGUAGES
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n import N_
from rnmail.tickets import faq
from rnmail.tickets.history import Actor
from rnmail.vocab import MAX_ID
from rnmail.web.desk.base import DeskBase, done, moved
from rnmail.web.signin import LANGUAGE, Refused, path_id

T = TypeVar("T")
NO_ENTRY = N_("There is no such FAQ entry.")
NO_TICKET = N_("There is no such ticket.")
STATES = {"published": True, "draft": False}


def browse(session: Session, language: str, fallback: str, query: str
           ) -> dict[str, Any]:
    """The entries (``query``: those that best match it) as a reader of ``language``
    sees them; a query without a word to look for is said, not an error."""
    problem = None
    try:
        found = faq.search_entries(session, query) if query else faq.list_entries(session)
    except RnmailError as exc:
        found, problem = [], exc
    return {"entries": [faq.detail_in(d, language, fallback) for d in found],
            "problem": problem}


def entry_page(session: Session, entry_id: int) -> dict[str, Any]:
    return {"entry": faq.entry_detail(faq.get_entry(session, entry_id))}


def ticket_number(text: str) -> int:
    """A ticket number as people write it (``8``, ``#8``); else a 400 page."""
    digits = text.strip().removeprefix("#").strip()
    if not (digits.isascii() and digits.isdigit()) or not 0 < int(digits) <= MAX_ID:
        raise Refused(400, N_("Give the ticket's number, such as 8 or #8."))
    return int(digits)


def faq_language(value: str) -> str | None:
    return value if value in LANGUAGES else None


class FaqPages(DeskBase):
    """``/desk/faq/``: browse, search, read, add, edit, start from a ticket, publish."""

    notices: Mapping[str, str] = MappingProxyType({
        "faq-added": N_("The FAQ entry was added."),
        "faq-saved": N_("The FAQ entry was saved."),
        "faq-from-ticket": N_("A draft entry was started from the ticket: check its texts, "
                              "then publish it."),
        "faq-published": N_("The FAQ pages were written."),
    })

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/desk/faq", moved("/desk/faq/"))
        app.router.add_get("/desk/faq/", self.faq_list)
        app.router.add_get("/desk/faq/new", self.faq_new)
        app.router.add_post("/desk/faq/new", self.faq_add)
        app.router.add_post("/desk/faq/from-ticket", self.faq_from_ticket)
        app.router.add_post("/desk/faq/publish", self.faq_publish)
        app.router.add_get(r"/desk/faq/{id:\d+}", self.faq_entry)
        app.router.add_post(r"/desk/faq/{id:\d+}", self.faq_edit)

    def fallback(self) -> str:
        return self.config.helpdesk.default_language

    async def faq_list(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        language = (faq_language(request.query.get("language", ""))
                    or request.get(LANGUAGE, "fr"))
        query = request.query.get("q", "").strip()[:200]
        written = [name for name in request.query.get("pages", "").split(",")
                   if name in LANGUAGES]
        public = self.config.helpdesk.public_dir / "faq"

        def read(session: Session) -> dict[str, Any]:
            found = browse(session, language, self.fallback(), query)
            problem = found.pop("problem")
            return {**found, "problem": problem and self.said(request, problem),
                    "language": language, "q": query, "languages": LANGUAGES,
                    "written": [public / f"{name}.html" for name in written]}

        return await self.show(request, signed, "faq_list.html.j2", read)

    async def faq_entry(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        entry_id = path_id(request)

        def read(session: Session) -> dict[str, Any]:
            return {**entry_page(session, entry_id), "languages": LANGUAGES,
                    "categories": self.config.workflow.categories}

        try:
            return await self.show(request, signed, "faq_entry.html.j2", read)
        except NotFound:
            raise Refused(404, NO_ENTRY) from None

    async def faq_new(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        ticket = request.query.get("ticket", "").strip()[:24]

        def read(_session: Session) -> dict[str, Any]:
            return {"ticket": ticket, "languages": LANGUAGES,
                    "categories": self.config.workflow.categories,
                    "language": request.get(LANGUAGE, "fr")}

        return await self.show(request, signed, "faq_new.html.j2", read)

    # ------------------------------------------------------------------ changes

    async def faq_add(self, request: web.Request) -> web.StreamResponse:
        signed, data = await self.submitted(request)
        language = data.text("language")
        detail: dict[str, Any] = {"language": language}

        def work(session: Session, _actor: Actor) -> int:
            entry = faq.add_entry(session, language, data.text("question"),
                                  data.text("answer"), data.text("category") or None,
                                  STATES.get(data.text("state"), False))
            detail["entry"] = entry.id  # the audit row is written after the work
            return entry.id

        entry_id = await self.refusing(request, self.write(request, signed, "faq-add",
                                                           work, detail))
        return done(f"/desk/faq/{entry_id}", "faq-added")

    async def faq_edit(self, request: web.Request) -> web.StreamResponse:
        signed, data = await self.submitted(request)
        entry_id = path_id(request)
        language = data.text("language") or None
        state = STATES.get(data.text("state"))
        category = data.text("category") or None
        edit = partial(faq.edit_entry, entry_id=entry_id, language=language,
                       question=data.text("question") or None,
                       answer=data.text("answer") or None, category=category,
                       publish=state)
        detail = {"entry": entry_id, "language": language, "category": category,
                  "published": state}
        await self.refusing(request, self.write(
            request, signed, "faq-edit", lambda session, _actor: edit(session).id,
            {k: v for k, v in detail.items() if v is not None}))
        return done(f"/desk/faq/{entry_id}", "faq-saved")

    async def faq_from_ticket(self, request: web.Request) -> web.StreamResponse:
        signed, data = await self.submitted(request)
        ticket_id = ticket_number(data.text("ticket"))
        detail: dict[str, Any] = {"ticket": ticket_id}

        def work(session: Session, _actor: Actor) -> int:
            entry = faq.from_ticket(session, ticket_id)
            detail["entry"] = entry.id
            return entry.id

        entry_id = await self.refusing(request, self.write(
            request, signed, "faq-from-ticket", work, detail), NO_TICKET)
        return done(f"/desk/faq/{entry_id}", "faq-from-ticket")

    async def faq_publish(self, request: web.Request) -> web.StreamResponse:
        signed, _data = await self.submitted(request)
        detail: dict[str, Any] = {}

        def work(session: Session, _actor: Actor) -> list[str]:
            paths = faq.publish(session, self.config)
            detail["files"] = [str(p) for p in paths]
            return [p.stem for p in paths]

        written = await self.refusing(request, self.write(request, signed, "faq-publish",
                                                          work, detail))
        return done("/desk/faq/", "faq-published", pages=",".join(written))

    async def refusing(self, request: web.Request, change: Awaitable[T],
                       missing: str = NO_ENTRY) -> T:
        """The change's result; a core refusal as a page in the reader's language: 404
        saying ``missing`` for what is not there, 400 for the rest."""
        try:
            return await change
        except NotFound:
            raise Refused(404, missing) from None
        except RnmailError as exc:
            raise Refused(400, self.said(request, exc)) from None
