"""The desk's ticket page (``/desk/tickets/{id}``): the whole thread, and what an agent
does with a ticket."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from rnmail.errors import NotFound
from rnmail.i18n import N_
from rnmail.tickets.views import show_ticket
from rnmail.vocab import MessageRole
from rnmail.web.desk.base import DeskBase
from rnmail.web.signin import Refused, path_id

# A message's role in its ticket (rnmail.vocab.MessageRole), as the desk names it.
ROLES = {
    MessageRole.REQUEST: N_("Request"),
    MessageRole.AUTOMATIC: N_("Automatic reply"),
    MessageRole.NOTE: N_("Internal note"),
    MessageRole.ANSWER: N_("Answer"),
    MessageRole.ACKNOWLEDGEMENT: N_("Acknowledgement"),
    MessageRole.NOTIFICATION: N_("Staff notification"),
    MessageRole.DELEGATION: N_("Delegation"),
}


def ticket_page(session: Session, ticket_id: int) -> dict[str, Any]:
    """The ticket's header and messages (``show_ticket``); NotFound if there is none."""
    return {"ticket": show_ticket(session, ticket_id), "roles": ROLES}


class TicketPages(DeskBase):
    """``/desk/tickets/{id}``: a ticket."""

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get(r"/desk/tickets/{id:\d+}", self.ticket)

    def ticket_extras(self, session: Session, ticket_id: int, email: str) -> dict[str, Any]:
        """What other page groups add to the ticket page (read in its transaction): the
        actions' forms (``rnmail.web.desk.actions``) override this and call ``super()``."""
        return {}

    async def ticket(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        ticket_id = path_id(request)

        def query(session: Session) -> dict[str, Any]:
            return {**ticket_page(session, ticket_id),
                    **self.ticket_extras(session, ticket_id, signed.operator)}

        try:
            return await self.show(request, signed, "ticket.html.j2", query)
        except NotFound:
            raise Refused(404, N_("There is no such ticket.")) from None
