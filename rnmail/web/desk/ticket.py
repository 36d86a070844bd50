"""The desk's ticket page (``/desk/tickets/{id}``): the whole thread, the requester card,
the history and who else has it open (``rnmail.tickets.thread.ticket_page``), and its files
as downloads (``/desk/tickets/{id}/messages/{message}/{index}``); its due times
(``due_view``: the first response's and the resolution's, met or not, paused while pending).
The forms of what an agent does with a ticket are ``rnmail.web.desk.actions``'
(``ticket_extras``) and ``merging``'s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, partial
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from rnmail.errors import NotFound
from rnmail.i18n import N_
from rnmail.shapes import TicketDetail
from rnmail.tickets.display import attachment_download
from rnmail.tickets.due import SOON
from rnmail.tickets.presence import HEARTBEAT, leave, view, viewed_lately
from rnmail.tickets.thread import ThreadRole, ticket_page
from rnmail.util.blobs import BlobStore
from rnmail.vocab import MAX_ID, ActorKind, TicketChange, TicketStatus, Via
from rnmail.web.desk.base import DeskBase
from rnmail.web.downloads import attachment_response
from rnmail.web.signin import Refused, path_id, read

# A file link that leads nowhere: purged since the page was shown (retention, erasure),
# or not a file of this ticket's messages.
NO_FILE = N_("There is no such file: it is not kept any more, or it is not one of this "
             "ticket's files.")

# A message's role on the page (rnmail.tickets.thread.ThreadRole), as the desk names it.
ROLES = {
    ThreadRole.REQUEST: N_("Request"),
    ThreadRole.CALL: N_("Call"),
    ThreadRole.AUTOMATIC: N_("Automatic reply"),
    ThreadRole.NOTE: N_("Internal note"),
    ThreadRole.SERVICE_ANSWER: N_("Second-line answer"),
    ThreadRole.ANSWER: N_("Answer"),
    ThreadRole.HELD: N_("Answer held, not sent"),
    ThreadRole.ACKNOWLEDGEMENT: N_("Acknowledgement"),
    ThreadRole.NOTIFICATION: N_("Staff notified"),
    ThreadRole.DELEGATION: N_("Delegation"),
}
# The history's words: what changed, who changed it, through what.
CHANGES = {
    TicketChange.OPENED: N_("Opened"),
    TicketChange.STATUS: N_("Status"),
    TicketChange.RESOLUTION: N_("Resolution"),
    TicketChange.ASSIGNEE: N_("Assignee"),
    TicketChange.CATEGORY: N_("Category"),
    TicketChange.REQUESTER_TYPE: N_("Requester type"),
    TicketChange.SERVICE: N_("Delegated to"),
    TicketChange.REPLY: N_("Answer"),
    TicketChange.NOTE: N_("Internal note"),
    TicketChange.SERVICE_ANSWER: N_("Second-line answer"),
    TicketChange.PARTICIPANT_ADD: N_("Participant added"),
    TicketChange.PARTICIPANT_DEL: N_("Participant removed"),
    TicketChange.UNBLOCK: N_("Access unblocked"),
    TicketChange.PENDING_UNTIL: N_("Waits until"),
    TicketChange.MERGED_INTO: N_("Merged into"),
    TicketChange.MERGED_FROM: N_("Merged in"),
    TicketChange.SPLIT_TO: N_("Split into"),
    TicketChange.SERVICE_REMINDER: N_("Reminder to the service"),
    TicketChange.OVERDUE: N_("Overdue at the service"),
    TicketChange.DUE_WARNING: N_("Due time near"),
    TicketChange.DUE_MISSED: N_("Due time passed"),
    TicketChange.AUTO_CLOSED: N_("Closed without an answer after"),
    TicketChange.LEGAL_HOLD: N_("Legal hold"),
    TicketChange.LEGAL_HOLD_LIFTED: N_("Legal hold lifted"),
}
ACTORS = {
    ActorKind.STAFF: N_("staff member"),
    ActorKind.OPERATOR: N_("operator"),
    ActorKind.USER: N_("command-line user"),
    ActorKind.REQUESTER: N_("requester"),
    ActorKind.SERVICE: N_("second line"),
    ActorKind.SYSTEM: N_("rnmail"),
}
CHANNELS = {
    Via.DESK: N_("via the desk"),
    Via.MAIL: N_("by mail"),
    Via.CLI: N_("on the command line"),
    Via.ADMIN: N_("in the administration"),
    Via.SYSTEM: N_("automatically"),
}
# The history's values that are codes of a vocabulary (the ``vocab`` filter's).
VOCABULARIES = {
    TicketChange.OPENED: "channel",
    TicketChange.STATUS: "ticket-status",
    TicketChange.RESOLUTION: "resolution",
    TicketChange.CATEGORY: "category",
    TicketChange.REQUESTER_TYPE: "requester-type",
}
# A due time's state, in words beside its colour.
DUE_STATES = {
    "met": N_("met"),
    "missed": N_("not met"),
    "late": N_("late"),
    "soon": N_("due within the hour"),
    "running": N_("still to meet"),
    "paused": N_("paused while the ticket waits for the requester"),
    "unanswered": N_("closed without an answer"),
}
# The history's changes whose value names another ticket (``#12``): shown as a link.
TICKET_POINTERS = (TicketChange.MERGED_INTO, TicketChange.MERGED_FROM,
                   TicketChange.SPLIT_TO)
WORDS = {"roles": ROLES, "changes": CHANGES, "actors": ACTORS, "channels": CHANNELS,
         "vocabularies": VOCABULARIES, "due_states": DUE_STATES,
         "ticket_pointers": tuple(c.value for c in TICKET_POINTERS)}


@dataclass(frozen=True)
class DueView:
    """A ticket's two due times (ISO, UTC) with their states (keys of ``DUE_STATES``)."""

    first_response: str | None
    first_response_state: str
    resolution: str | None
    resolution_state: str


def due_view(ticket: TicketDetail, now: datetime | None = None) -> DueView | None:
    """What the ticket page says of the due times (``rnmail.tickets.due``); None for a
    merged ticket (its request is counted in the target) or one without due times."""
    due = ticket["due"]
    if ticket["merged_into_id"] is not None or due["resolution"] is None:
        return None
    now = now or datetime.now(UTC)

    def running(at: str | None) -> str:
        moment = datetime.fromisoformat(at) if at else None
        if moment is None or moment >= now + SOON:
            return "running"
        return "late" if moment < now else "soon"

    closed = ticket["status"] == TicketStatus.CLOSED
    if due["first_response_met"] is not None:
        first = "met" if due["first_response_met"] else "missed"
    else:
        first = "unanswered" if closed else running(due["first_response"])
    if closed:
        ended = ticket["closed_at"]
        second = "met" if ended and (datetime.fromisoformat(ended)
                                     <= datetime.fromisoformat(due["resolution"])) else "missed"
    elif due["paused"]:
        second = "paused"
    else:
        second = running(due["resolution"])
    return DueView(due["first_response"], first, due["resolution"], second)


class TicketPages(DeskBase):
    """``/desk/tickets/{id}``: a ticket; its files."""

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get(r"/desk/tickets/{id:\d+}", self.ticket)
        app.router.add_get(r"/desk/tickets/{id:\d+}/messages/{message:\d+}/{index:\d+}",
                           self.attachment)
        app.router.add_post(r"/desk/tickets/{id:\d+}/presence", self.still_open)
        app.router.add_post(r"/desk/tickets/{id:\d+}/presence/left", self.left)

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.config.helpdesk.attachments_dir)

    def ticket_extras(self, session: Session, ticket_id: int, email: str) -> dict[str, Any]:
        """What other page groups add to the ticket page (read in its transaction): the
        actions' forms (``rnmail.web.desk.actions``) override this and call ``super()``."""
        return {}

    async def ticket(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        ticket_id = path_id(request)
        presence = self.config.workflow.presence_minutes
        lately: list[bool] = []  # the reader's own view recorded less than REFRESH ago

        def query(session: Session) -> dict[str, Any]:
            page = ticket_page(session, self.blobs, ticket_id, signed.operator, presence)
            if presence:
                lately.append(viewed_lately(session, ticket_id, signed.operator))
            return {"ticket": page.ticket, "thread": page.thread, "card": page.card,
                    "others": page.others, "due": due_view(page.ticket),
                    "heartbeat": int(HEARTBEAT.total_seconds()) if presence else 0, **WORDS,
                    **self.ticket_extras(session, ticket_id, signed.operator)}

        try:
            page = await self.show(request, signed, "ticket.html.j2", query)
        except NotFound:
            raise Refused(404, N_("There is no such ticket.")) from None
        if presence and not any(lately):
            await self.call(request, self.seen, ticket_id, signed.operator)
        return page

    def seen(self, ticket_id: int, reader: str) -> bool:
        """The reader's view of the ticket, for the colleagues' pages (``presence``)."""
        with self.db.transaction() as session:
            return view(session, ticket_id, reader)

    def went(self, ticket_id: int, reader: str) -> bool:
        """The reader left the ticket's page (``presence.leave``)."""
        with self.db.transaction() as session:
            return leave(session, ticket_id, reader, self.config.workflow.presence_minutes)

    async def still_open(self, request: web.Request) -> web.StreamResponse:
        """The ticket page's script: the page is still shown (every ``HEARTBEAT``), so
        the colleagues' pages go on naming the reader."""
        return await self.presence_signal(request, self.seen)

    async def left(self, request: web.Request) -> web.StreamResponse:
        """The ticket page's script: the page is gone (a beacon as it is hidden for good),
        so the colleagues' pages stop naming the reader soon."""
        return await self.presence_signal(request, self.went)

    async def presence_signal(self, request: web.Request,
                              record: Callable[[int, str], bool]) -> web.StreamResponse:
        """A signal of the ticket page's script, with its CSRF token as any change: no
        content; 404 for no ticket."""
        signed = await self.signed_in(request)
        await self.form(request, signed)
        ticket_id = path_id(request)
        if self.config.workflow.presence_minutes and not await self.call(
                request, record, ticket_id, signed.operator):
            raise Refused(404, N_("There is no such ticket."))
        return web.Response(status=204)

    async def attachment(self, request: web.Request) -> web.StreamResponse:
        """A file of a message of the ticket: a download (``tickets.display``), or 404."""
        await self.signed_in(request)
        ticket_id = path_id(request)
        message, index = (request.match_info["message"], request.match_info["index"])
        try:
            if not all(n.isascii() and len(n) < 19 and int(n) <= MAX_ID
                       for n in (message, index)):
                raise NotFound(f"no attachment {index} of message {message}")
            download = await self.call(request, read, self.db, partial(
                attachment_download, blobs=self.blobs, message_id=int(message),
                index=int(index), ticket_id=ticket_id))
        except NotFound:  # a link to a file purged since, or one made up
            raise Refused(404, NO_FILE) from None
        return attachment_response(download)
