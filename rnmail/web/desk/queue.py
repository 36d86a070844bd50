"""The desk's queue (``/desk/``): the tickets waiting for the help desk, a tab at a time.

The page is ``rnmail.tickets.queue.queue()`` (the one ``rnmail ticket queue`` prints): the
tabs with their counts, a page of the chosen tab, each row's age in business hours. What
the agent asks is in the address (a GET form), so a link, a bookmark and the browser's
back button keep the tab, the filters, the sort and the page: ``tab``, ``channel``,
``category``, ``type`` (requester type), ``assignee`` (a staff address), ``service``,
``unanswered``, ``sort`` (age, activity, number, due), ``order`` (desc, asc), ``page``.
Each row shows its next due time (``rnmail.tickets.due``) and says in words, beside the
colour, when it has passed (*late*) or comes within the hour. A value
that is not one of the choices is a 400 page saying which; a page past the last one leads
to the last one. Nothing is cached: a ticket opened since is there on reload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.errors import RnmailError
from rnmail.i18n import N_
from rnmail.i18n.formats import business_age, number
from rnmail.tickets.queue import QueuePage, queue
from rnmail.tickets.tabs import QueueSort, QueueTab
from rnmail.tickets.team import list_services, list_staff
from rnmail.tickets.views import TicketFilter
from rnmail.vocab import Channel, RequesterType
from rnmail.web.desk.base import DeskBase
from rnmail.web.signin import LANGUAGE, Refused

PER_PAGE = 25
MAX_PAGE = 100_000  # beyond: a 400, not an offset the database chokes on
NONE = "none"  # the filters' "without one" (unassigned, no category, never delegated)

TABS = {
    QueueTab.NEW: N_("New"),
    QueueTab.MINE: N_("Mine"),
    QueueTab.OPEN: N_("Open"),
    QueueTab.PENDING: N_("Waiting for the requester"),
    QueueTab.DELEGATED: N_("At the second line"),
    QueueTab.CLOSED: N_("Recently closed"),
}
SORTS = {QueueSort.AGE: N_("Age"), QueueSort.ACTIVITY: N_("Last activity"),
         QueueSort.NUMBER: N_("Number"), QueueSort.DUE: N_("Due")}
# "descending" for each sort, as an agent says it (age descending: the oldest first; due
# descending: the most urgent first, as the core sorts it)
DESCENDING = {QueueSort.AGE: N_("oldest first"), QueueSort.ACTIVITY: N_("latest activity first"),
              QueueSort.NUMBER: N_("highest number first"), QueueSort.DUE: N_("most urgent first")}
ASCENDING = {QueueSort.AGE: N_("newest first"), QueueSort.ACTIVITY: N_("earliest activity first"),
             QueueSort.NUMBER: N_("lowest number first"), QueueSort.DUE: N_("least urgent first")}
NO_SUCH = {
    "tab": N_("There is no such tab in the queue."),
    "sort": N_("The queue cannot be sorted that way."),
    "order": N_("The order is either descending or ascending."),
    "page": N_("There is no such page of the queue: pages are numbered from 1."),
    "channel": N_("There is no such channel."),
    "category": N_("There is no such category."),
    "type": N_("There is no such requester type."),
    "assignee": N_("There is no such staff member."),
    "service": N_("There is no such second-line service."),
    "unanswered": N_("That filter is either on or off."),
}


@dataclass(frozen=True)
class Asked:
    """What the address asks of the queue; "" for a filter: any."""

    tab: QueueTab = QueueTab.NEW
    channel: str = ""
    category: str = ""
    type: str = ""
    assignee: str = ""
    service: str = ""
    unanswered: bool = False
    sort: QueueSort = QueueSort.AGE
    order: str = "desc"
    page: int = 1

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    @property
    def filtered(self) -> bool:
        return any((self.channel, self.category, self.type, self.assignee, self.service,
                    self.unanswered))

    def filters(self) -> TicketFilter:
        return TicketFilter(channel=self.channel or None, category=self.category or None,
                            requester_type=self.type or None,
                            assignee=self.assignee or None, service=self.service or None,
                            unanswered=self.unanswered)

    def link(self, **change: Any) -> str:
        """``/desk/?…`` asking the same with ``change``; another tab, filter or sort starts
        at page 1. Only what differs from the defaults is written."""
        if "page" not in change:
            change["page"] = 1
        wanted = replace(self, **change)
        query = [(f.name, getattr(wanted, f.name)) for f in fields(self)
                 if getattr(wanted, f.name) != f.default]
        return "/desk/?" + urlencode([(k, "1" if v is True else str(v)) for k, v in query])

    def sorted_by(self, sort: QueueSort) -> str:
        """The link of a column heading: by that column, the other way if it already is."""
        if sort == self.sort:
            return self.link(order="asc" if self.descending else "desc")
        return self.link(sort=sort, order="desc")


def asked(query: Mapping[str, str], config: Config) -> Asked:
    """The queue's query string as an ``Asked``; a value out of its choices is a 400 page.
    The staff and services are checked against the database with the page
    (``check_people``)."""
    def one(name: str, allowed: Any) -> str:
        value = query.get(name, "").strip()
        if value and value not in allowed:
            raise Refused(400, NO_SUCH[name])
        return value

    page = query.get("page", "1").strip() or "1"
    if not (page.isascii() and page.isdigit() and len(page) <= 9
            and 1 <= int(page) <= MAX_PAGE):
        raise Refused(400, NO_SUCH["page"])
    return Asked(
        tab=QueueTab(one("tab", set(QueueTab)) or QueueTab.NEW),
        channel=one("channel", set(Channel)),
        category=one("category", {*config.workflow.categories, NONE}),
        type=one("type", set(RequesterType)),
        assignee=query.get("assignee", "").strip().lower()[:320],
        service=query.get("service", "").strip()[:100],
        unanswered=one("unanswered", {"1", "on"}) != "",
        sort=QueueSort(one("sort", set(SORTS)) or QueueSort.AGE),
        order=one("order", {"desc", "asc"}) or "desc",
        page=int(page))


@dataclass(frozen=True)
class Choices:
    """What the filters offer: the vocabularies, the configured categories, the staff
    (address, name) and the services' names."""

    categories: tuple[str, ...]
    staff: tuple[tuple[str, str], ...]
    services: tuple[str, ...]
    channels: tuple[str, ...] = tuple(Channel)
    types: tuple[str, ...] = tuple(RequesterType)


def queue_page(session: Session, config: Config, wanted: Asked, email: str
               ) -> tuple[QueuePage, Choices]:
    """The queue as the member ``email`` asks it, and the filters' choices (the staff
    among them: the member's name too). A staff member or service not among the choices is
    a 400 page; a page past the last one leads to the last one."""
    people = list_staff(session)
    offered = Choices(categories=config.workflow.categories,
                      staff=tuple((p["email"], p["name"]) for p in people),
                      services=tuple(s["name"] for s in list_services(session, removed=True)))
    if wanted.assignee not in ("", NONE, *dict(offered.staff)):
        raise Refused(400, NO_SUCH["assignee"])
    if wanted.service not in ("", NONE, *offered.services):
        raise Refused(400, NO_SUCH["service"])
    me = next((p["id"] for p in people if p["email"] == email), None)
    try:
        found = queue(session, config, tab=wanted.tab, staff_id=me,
                      filters=wanted.filters(), sort=wanted.sort,
                      descending=wanted.descending, page=wanted.page, per_page=PER_PAGE)
    except RnmailError:  # a staff member or service gone since the check
        raise Refused(400, N_("A filter of this address names nobody any more: open the "
                              "queue again.")) from None
    if wanted.page > found.pages:
        raise web.HTTPSeeOther(wanted.link(page=found.pages))
    return found, offered


def page_context(found: QueuePage, wanted: Asked, offered: Choices, config: Config,
                 language: str) -> dict[str, Any]:
    """The template's values beside what ``queue_page`` read: the words and the
    formatters (also what ``bench/desk.py``'s bare handler renders the page with)."""
    opening = config.stats
    day = (opening.closes.hour * 60 + opening.closes.minute
           - opening.opens.hour * 60 - opening.opens.minute) * 60
    return {"found": found, "asked": wanted, "choices": offered, "tabs": TABS,
            "sorts": SORTS, "descending_words": DESCENDING, "ascending_words": ASCENDING,
            "age": partial(business_age, language=language, day_seconds=day),
            "day_hours": day // 3600, "count": partial(number, language=language),
            "first": (found.page - 1) * found.per_page + 1}


class QueuePages(DeskBase):
    """``/desk/``: the queue."""

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/desk/", self.queue)

    async def queue(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        wanted = asked(request.query, self.config)
        language = request.get(LANGUAGE, "fr")

        def query(session: Session) -> dict[str, Any]:
            found, offered = queue_page(session, self.config, wanted, signed.operator)
            return {**page_context(found, wanted, offered, self.config, language),
                    "me": dict(offered.staff).get(signed.operator, signed.operator)}

        return await self.show(request, signed, "queue.html.j2", query)
