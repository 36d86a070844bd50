"""Merge and split on the desk: the same request come in twice becomes one ticket, a ticket
holding two requests becomes two (``rnmail.tickets.merge``, as ``rnmail ticket merge`` and
``ticket split`` do).

- ``merge`` (``target``: the number of the ticket to merge this one into, ``42`` or
  ``#42``): a first post shows both tickets and asks to confirm (``confirm=yes``); the
  confirmed post merges in ``write`` (audit ``desk-merge``) and leads to the target. A
  refusal — no number, no such ticket, the ticket itself, a ticket merged already (this
  one or the target), a ticket others were merged into — is said next to the field, on the
  same page, and nothing is changed.
- ``split`` (``message``: an incoming request of the thread, a button beside each when
  the ticket holds more than one): the request becomes a new ticket linked to this one, in
  ``write`` (audit ``desk-split``); the browser goes to the new ticket.

A merged ticket's page says where it went, with a link, and offers no action any more;
the other actions refuse it (``act``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from rnmail.auth import sessions
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n import N_
from rnmail.models import Ticket
from rnmail.tickets.history import Actor
from rnmail.tickets.lifecycle import get_ticket
from rnmail.tickets.merge import check_merge, merge, named_ticket, split
from rnmail.vocab import MAX_ID
from rnmail.web.desk.actions import TicketActions, Work
from rnmail.web.desk.base import done
from rnmail.web.signin import FormData, path_id


class TargetRefused(RnmailError):
    """The number typed names no ticket this one can be merged into: said beside the
    field (``status``: the page's)."""

    status = 409


class NoSuchTarget(TargetRefused):
    status = 404


def merge_target(session: Session, source: Ticket, typed: str) -> Ticket:
    """The ticket ``typed`` names, if ``source`` can be merged into it; else
    ``TargetRefused`` saying why."""
    if not typed.strip():
        raise TargetRefused.translatable(
            N_("Write the number of the ticket to merge this one into."))
    target = named_ticket(session, typed)
    if target is None:
        raise NoSuchTarget.translatable(N_("There is no ticket {number}."),
                                        number=typed.strip()[:20])
    with refusing():
        check_merge(session, source, target)
    return target


@contextmanager
def refusing() -> Iterator[None]:
    """The core's refusal of a merge as ``TargetRefused``: said beside the field."""
    try:
        yield
    except TargetRefused:
        raise
    except RnmailError as error:
        refused = TargetRefused(str(error))
        refused.msgid, refused.params = error.msgid, error.params
        raise refused from None


def summary(ticket: Ticket) -> dict[str, Any]:
    """What the confirmation shows of a ticket."""
    return {"id": ticket.id, "subject": ticket.subject, "status": ticket.status,
            "requester": ticket.requester_name or ticket.requester,
            "organisation": ticket.requester_org, "created_at": ticket.created_at}


class TicketMerging(TicketActions):
    """The merge and split forms' handlers (see the module's docstring)."""

    notices: Mapping[str, str] = {
        "merged": N_("The other ticket is merged into this one: its messages, notes and "
                     "history are here now."),
        "split": N_("The request is a ticket of its own now, linked to the ticket it came "
                    "from."),
    }

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        ticket = r"/desk/tickets/{id:\d+}"
        app.router.add_post(f"{ticket}/merge", self.post_merge)
        app.router.add_post(f"{ticket}/split", self.post_split)

    async def act(self, request: web.Request, action: str, notice: str, work: Work,
                  audited: tuple[str, ...] = ()) -> web.StreamResponse:
        """The other actions, refused on a merged ticket (its life goes on in the
        target)."""
        def unless_merged(session: Session, ticket: Ticket, actor: Actor,
                          form: FormData) -> object:
            if ticket.merged_into_id is not None:
                raise RnmailError.translatable(N_("ticket #{id} was merged into #{target}"),
                                               id=ticket.id, target=ticket.merged_into_id)
            return work(session, ticket, actor, form)

        return await super().act(request, action, notice, unless_merged, audited)

    # ------------------------------------------------------------------ merge

    async def post_merge(self, request: web.Request) -> web.StreamResponse:
        signed, form = await self.submitted(request)
        ticket_id = path_id(request)
        typed = form.text("target").strip()[:40]
        if form.text("confirm") != "yes":
            return await self.merge_page(request, signed, ticket_id, typed)

        def work(session: Session, actor: Actor) -> int:
            source = get_ticket(session, ticket_id)
            target = merge_target(session, source, typed)
            with refusing():  # checked again once both are locked: a merge just done
                merge(session, source, target, actor)
            return target.id

        try:
            target_id = await self.write(request, signed, "merge", work,
                                         {"ticket": ticket_id, "target": typed})
        except TargetRefused as refused:
            return await self.merge_page(request, signed, ticket_id, typed, refused)
        except RnmailError as error:
            return await self.refusal(request, signed, ticket_id, error)
        return done(f"/desk/tickets/{target_id}", "merged")

    async def merge_page(self, request: web.Request, signed: sessions.SignedIn,
                         ticket_id: int, typed: str,
                         refused: TargetRefused | None = None) -> web.StreamResponse:
        """The merge of ``ticket_id`` into the ticket ``typed`` names, to confirm; or the
        field again with why it cannot be (``refused``, or found now)."""
        found: dict[str, Any] = {}  # what the query read: the page's status too

        def query(session: Session) -> dict[str, Any]:
            source = get_ticket(session, ticket_id)
            problem, target = refused, None
            if problem is None:
                try:
                    target = merge_target(session, source, typed)
                except TargetRefused as error:
                    problem = error
            found.update(source=summary(source), target=summary(target) if target else None,
                         typed=typed, problem=self.said(request, problem) if problem
                         else None, status=problem.status if problem else 200)
            return found

        try:
            page = await self.show(request, signed, "merge.html.j2", query)
        except RnmailError as error:
            return await self.refusal(request, signed, ticket_id, error)
        page.set_status(found["status"])
        return page

    # ------------------------------------------------------------------ split

    async def post_split(self, request: web.Request) -> web.StreamResponse:
        signed, form = await self.submitted(request)
        ticket_id = path_id(request)
        raw = form.text("message").strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) < 19 and int(raw) <= MAX_ID):
            return await self.refusal(request, signed, ticket_id, NotFound.translatable(
                N_("ticket #{id} has no message {message}"), id=ticket_id,
                message=raw[:20]))
        message_id = int(raw)

        def work(session: Session, actor: Actor) -> int:
            return split(session, ticket_id, message_id, actor).id

        try:
            new_id = await self.write(request, signed, "split", work,
                                      {"ticket": ticket_id, "message": message_id})
        except RnmailError as error:
            return await self.refusal(request, signed, ticket_id, error)
        return done(f"/desk/tickets/{new_id}", "split")
