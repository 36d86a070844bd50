"""The desk's search (``/desk/search?q=``): one box for tickets and the directory.

Tickets are ``rnmail ticket search``'s (``search_tickets``): every word, accents folded; a
ticket number (``8``, ``#8``) gives that ticket first; phone and fax numbers in any notation;
an e-mail address gives that requester's tickets first. The directory's organisations and
users whose name, code or address holds the query (``search_directory``) are listed beside
them. ``PAGE`` tickets a page, with a link to the next.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from rnmail.directory.people import search_directory
from rnmail.errors import RnmailError
from rnmail.tickets.search import parse_query, search_tickets
from rnmail.web.desk.base import DeskBase

PAGE = 25  # tickets a page
PAGES = 20  # the last page offered (search_tickets reads the newest matches only)
ENTRIES = 10  # directory entries beside the tickets
MAX_QUERY = 200  # characters of the query read


def page_number(raw: str) -> int:
    """``?page=``: 1 to ``PAGES``, anything else the first page."""
    return min(int(raw), PAGES) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 4 \
        and int(raw) > 0 else 1


def search_page(session: Session, query: str, page: int) -> dict[str, Any]:
    """The tickets and directory entries ``query`` finds, the ``page``-th ``PAGE``
    tickets; ``refusal`` the core's error for a query without a word."""
    found: dict[str, Any] = {"q": query, "page": page, "tickets": [], "more": False,
                             "entries": [], "named": None, "refusal": None}
    if not query:
        return found
    try:
        rows = search_tickets(session, query, limit=page * PAGE + 1)
        entries = search_directory(session, query, ENTRIES)
    except RnmailError as error:
        return {**found, "refusal": error}
    return {**found, "tickets": rows[(page - 1) * PAGE:page * PAGE],
            "more": len(rows) > page * PAGE and page < PAGES, "entries": entries,
            "named": parse_query(query).ticket_id}


class SearchPages(DeskBase):
    """``/desk/search``: tickets and directory entries for one query."""

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/desk/search", self.search)

    async def search(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        query = " ".join(request.query.get("q", "")[:MAX_QUERY].split())
        page = page_number(request.query.get("page", ""))

        def read(session: Session) -> dict[str, Any]:
            found = search_page(session, query, page)
            error = found["refusal"]
            return {**found, "refusal": self.said(request, error) if error else None}

        return await self.show(request, signed, "search.html.j2", read)
