"""The desk's ticket page (``/desk/tickets/{id}``): the whole thread, the requester card,
the history and who else has it open (``rnmail.tickets.thread.ticket_page``), and its files
as downloads (``/desk/tickets/{id}/messages/{message}/{index}``). The forms of what an agent
does with a ticket are ``rnmail.web.desk.actions``' (``ticket_extras``)."""

from __future__ import annotations

from functools import cached_property, partial
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from rnmail.errors import NotFound
from rnmail.i18n import N_
from rnmail.tickets.presence import view, viewed_lately
from rnmail.tickets.thread import ThreadRole, ticket_page
from rnmail.util.blobs import BlobStore
from rnmail.vocab import ActorKind, TicketChange, Via
from rnmail.web.desk.base import DeskBase
from rnmail.web.downloads import attachment_or_404
from rnmail.web.signin import MAX_ID, Refused, path_id, read

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
WORDS = {"roles": ROLES, "changes": CHANGES, "actors": ACTORS, "channels": CHANNELS,
         "vocabularies": VOCABULARIES}


class TicketPages(DeskBase):
    """``/desk/tickets/{id}``: a ticket; its files."""

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get(r"/desk/tickets/{id:\d+}", self.ticket)
        app.router.add_get(r"/desk/tickets/{id:\d+}/messages/{message:\d+}/{index:\d+}",
                           self.attachment)

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
                    "others": page.others, **WORDS,
                    **self.ticket_extras(session, ticket_id, signed.operator)}

        try:
            page = await self.show(request, signed, "ticket.html.j2", query)
        except NotFound:
            raise Refused(404, N_("There is no such ticket.")) from None
        if presence and not any(lately):
            await self.call(request, self.seen, ticket_id, signed.operator)
        return page

    def seen(self, ticket_id: int, reader: str) -> None:
        """The reader's view of the ticket, for the colleagues' pages (``presence``)."""
        with self.db.transaction() as session:
            view(session, ticket_id, reader)

    async def attachment(self, request: web.Request) -> web.StreamResponse:
        """A file of a message of the ticket: a download (``tickets.display``), or 404."""
        await self.signed_in(request)
        ticket_id = path_id(request)
        message, index = (request.match_info["message"], request.match_info["index"])
        if not all(n.isascii() and len(n) < 19 and int(n) <= MAX_ID for n in (message, index)):
            raise web.HTTPNotFound()
        return await self.call(request, read, self.db, partial(
            attachment_or_404, blobs=self.blobs, message_id=int(message), index=int(index),
            ticket_id=ticket_id))
