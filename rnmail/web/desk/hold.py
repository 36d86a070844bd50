"""The legal hold on the desk: a form on the ticket page (``ticket_hold.html.j2``) that puts
the ticket on legal hold with a reason (``/desk/tickets/{id}/hold``) or lifts it
(``…/unhold``), through ``rnmail.privacy.hold`` as ``rnmail ticket hold``/``unhold`` do:
in the ticket's history by the member through the desk, and in the audit log. Any member
puts a hold; only a privacy officer lifts one."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from aiohttp import web
from sqlalchemy.orm import Session

from rnmail.i18n import N_
from rnmail.models import Ticket
from rnmail.privacy.hold import hold_ticket, release_ticket
from rnmail.tickets.history import Actor
from rnmail.web.desk.actions import TicketActions
from rnmail.web.desk.privacy import is_officer
from rnmail.web.signin import FormData, Refused, read


class HoldActions(TicketActions):
    """``…/hold`` and ``…/unhold`` (see the module's docstring)."""

    notices: Mapping[str, str] = {
        **TicketActions.notices,
        "on-hold": N_("The ticket is on legal hold: no retention period applies to it."),
        "hold-lifted": N_("The legal hold is lifted: the retention periods apply again."),
    }

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_post(r"/desk/tickets/{id:\d+}/hold", self.post_hold)
        app.router.add_post(r"/desk/tickets/{id:\d+}/unhold", self.post_unhold)

    async def post_hold(self, request: web.Request) -> web.StreamResponse:
        def work(session: Session, ticket: Ticket, actor: Actor, form: FormData) -> object:
            return hold_ticket(session, ticket.id, form.text("reason"), actor)

        return await self.act(request, "hold", "on-hold", work, audited=("reason",))

    async def post_unhold(self, request: web.Request) -> web.StreamResponse:
        """Lifting a hold exposes the ticket to the purges again: a privacy officer's
        decision (any member may put one, to protect a ticket at once)."""
        signed = await self.signed_in(request)
        if not await self.call(request, read, self.db,
                               partial(is_officer, email=signed.operator)):
            raise Refused(403, ONLY_AN_OFFICER)

        def work(session: Session, ticket: Ticket, actor: Actor, form: FormData) -> object:
            return release_ticket(session, ticket.id, actor)

        return await self.act(request, "unhold", "hold-lifted", work)


ONLY_AN_OFFICER = N_("Only a privacy officer lifts a legal hold: ask one (an administrator "
                     "makes a staff member one with rnmail staff privacy ADDRESS --grant).")
