"""The desk's queue (``/desk/``): the tickets waiting for the help desk."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from rnmail.models import Ticket
from rnmail.shapes import TicketRow
from rnmail.tickets.views import ticket_rows
from rnmail.vocab import TicketStatus
from rnmail.web.desk.base import DeskBase

QUEUE_LIMIT = 200


def open_tickets(session: Session) -> dict[str, Any]:
    """The tickets not closed, newest first (at most ``QUEUE_LIMIT``)."""
    query = (select(Ticket).where(Ticket.status != TicketStatus.CLOSED)
             .order_by(Ticket.id.desc()).limit(QUEUE_LIMIT)
             .options(joinedload(Ticket.assignee), joinedload(Ticket.service)))
    rows: list[TicketRow] = ticket_rows(session, list(session.scalars(query)))
    return {"tickets": rows}


class QueuePages(DeskBase):
    """``/desk/``: the queue."""

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/desk/", self.queue)

    async def queue(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        return await self.show(request, signed, "queue.html.j2", open_tickets)
