"""What an agent does with a ticket on the desk: each action a plain form on the ticket page
(``ticket_actions.html.j2``), posted to ``/desk/tickets/{id}/<action>``.

Each handler reads its form (CSRF checked by ``submitted``), calls the core function the
command line calls (``cli/ticket.py``, ``cli/access.py``) inside ``write`` — one
transaction, the member as the ``Actor`` through the desk in the ticket's history, the
audit event ``desk-<action>`` with the client's address — and sends the browser back to
the ticket with a ``?done=`` notice. A refusal of the core (a closed ticket, an unknown
service) is a page in the member's language that leads back to the ticket; nothing is
changed then.

- ``reply`` (multipart: ``text``, files ``attachments``, at most
  ``[helpdesk].max_attachment_mb`` together; more is refused with a page): an answer to the
  requester, in their language and mail thread, through ``rnmail.dispatch.hold``: within
  ``[helpdesk].answer_hold_minutes`` after a colleague's answer it is held, and the browser
  goes to ``…/held``, which names her, says when, shows her answer and offers to send
  anyway (``…/held/send``) or to discard (``…/held/discard``: kept as a note). The form's
  *insert* button shows the form again with an FAQ answer added, in the language chosen
  (the requester's by default), or a text module (``rnmail.tickets.texts``) filled in for
  the ticket, in the requester's language only: without any script.
- ``note``, ``close`` (``resolution``, ``category``), ``pending``, ``reopen``,
  ``delegate`` (``service``, ``note``), ``assign`` (``staff``), ``take`` (to oneself),
  ``set`` (``category``, ``requester_type``).
- ``unblock``: the guided procedure of ``rnmail access unblock`` for a requester whose
  access is blocked: both checks confirmed, an action, a note; the user is always the
  ticket's own requester, never one the form names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from rnmail.auth import sessions
from rnmail.config import LANGUAGES
from rnmail.directory.unblock import blocked_requester, unblock_requester
from rnmail.dispatch.answer import delegate_to_service, requester_address
from rnmail.dispatch.compose import Attachment
from rnmail.dispatch.hold import (
    answer_or_hold,
    discard_held,
    find_held,
    held_answers,
    held_behind,
    send_held,
)
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n import N_
from rnmail.i18n.formats import time_ago
from rnmail.models import FaqEntry, Service, Staff, Ticket, utcnow
from rnmail.tickets import texts
from rnmail.tickets.faq import answer_for, text_in
from rnmail.tickets.history import Actor
from rnmail.tickets.lifecycle import (
    add_comment,
    assign,
    classify,
    close_as,
    default_resolution,
    find_service,
    find_staff,
    get_ticket,
    local_today,
    parse_pending_day,
    reopen,
    set_pending,
)
from rnmail.tickets.views import message_detail
from rnmail.vocab import CLOSING_RESOLUTIONS, RequesterType, TicketStatus, UnblockAction
from rnmail.web.desk.base import done
from rnmail.web.desk.ticket import TicketPages
from rnmail.web.signin import LANGUAGE, FormData, path_id, see_other

# An action's change: (session, the path's ticket, the member, the form).
Work = Callable[[Session, Ticket, Actor, FormData], object]
FORM_ROOM = 256 * 1024  # the reply form's fields beside its files
FAQ_LIMIT = 300  # FAQ entries offered in the reply form's list
TOO_LARGE = N_("The files are too large: at most {mb} MB together. Nothing was sent; "
               "attach fewer or smaller files.")


@dataclass(frozen=True)
class Blocked:
    """The ticket's requester whose access is blocked: whom the unblock form is for."""

    email: str
    name: str
    organisation: str
    since: str  # ISO


@dataclass(frozen=True)
class ActionForms:
    """What the ticket's forms need: its state (a form shows only when it makes sense) and
    the choices of their fields (config, vocabularies, services, staff, FAQ)."""

    ticket_id: int
    status: str
    language: str  # the requester's: what an answer and an FAQ insertion are written in
    reachable: bool  # the requester has a mail address (or fax gateway)
    category: str | None
    requester_type: str
    assignee: str | None  # address
    me: str  # the member's address
    categories: tuple[str, ...]
    resolutions: tuple[str, ...]
    default_resolution: str
    requester_types: tuple[str, ...]
    unblock_actions: tuple[str, ...]
    languages: tuple[str, ...]
    services: tuple[tuple[str, str], ...]  # (name, description)
    staff: tuple[tuple[str, str], ...]  # (address, name), active members
    faq: tuple[tuple[int, str], ...]  # (id, question in the requester's language)
    texts: tuple[str, ...]  # the text modules' names
    held: int  # how many of the member's answers are held on the ticket
    blocked: Blocked | None
    upload_mb: float
    tomorrow: str  # ISO: the first day the pending form's date may take

    @property
    def closed(self) -> bool:
        return self.status == TicketStatus.CLOSED


def attachment(upload: web.FileField) -> Attachment:
    """An uploaded file as mailed: its name without any folder, its type, its bytes."""
    name = PurePosixPath((upload.filename or "").replace("\\", "/")).name.strip()
    return Attachment(name[:200] or "attachment",
                      upload.content_type or "application/octet-stream", upload.file.read())


def optional(form: FormData, name: str) -> str | None:
    """A field left empty (or a select's "keep as it is") is None."""
    value = form.text(name).strip()
    return value or None


class TicketActions(TicketPages):
    """The ticket's actions (see the module's docstring)."""

    notices: Mapping[str, str] = {
        "replied": N_("Your answer is queued to the requester."),
        "noted": N_("Your note is added to the ticket."),
        "closed": N_("The ticket is closed."),
        "pending": N_("The ticket now waits for the requester."),
        "reopened": N_("The ticket is open again."),
        "delegated": N_("The ticket is delegated; the service is sent its history."),
        "assigned": N_("The ticket is assigned."),
        "taken": N_("The ticket is yours."),
        "set": N_("Category and requester type saved."),
        "unblocked": N_("The access is unblocked; the confirmation mail is queued."),
        "held-sent": N_("Your held answer is queued to the requester."),
        "held-discarded": N_("Your held answer is discarded; it stays on the ticket as a "
                             "note."),
    }

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        ticket = r"/desk/tickets/{id:\d+}"
        app.router.add_post(f"{ticket}/reply", self.post_reply)
        app.router.add_get(f"{ticket}/held", self.held_page)
        app.router.add_post(f"{ticket}/held/send", self.post_send_held)
        app.router.add_post(f"{ticket}/held/discard", self.post_discard_held)
        app.router.add_post(f"{ticket}/note", self.post_note)
        app.router.add_post(f"{ticket}/close", self.post_close)
        app.router.add_post(f"{ticket}/pending", self.post_pending)
        app.router.add_post(f"{ticket}/reopen", self.post_reopen)
        app.router.add_post(f"{ticket}/delegate", self.post_delegate)
        app.router.add_post(f"{ticket}/assign", self.post_assign)
        app.router.add_post(f"{ticket}/take", self.post_take)
        app.router.add_post(f"{ticket}/set", self.post_set)
        app.router.add_post(f"{ticket}/unblock", self.post_unblock)

    # ------------------------------------------------------------------ what the forms show

    def ticket_extras(self, session: Session, ticket_id: int, email: str) -> dict[str, Any]:
        extras = super().ticket_extras(session, ticket_id, email)
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return extras
        return {**extras, "actions": self.action_forms(session, ticket, email)}

    def action_forms(self, session: Session, ticket: Ticket, email: str) -> ActionForms:
        hd = self.config.helpdesk
        staff = session.scalars(select(Staff).where(Staff.active.is_(True))
                                .order_by(Staff.name)).all()
        me = next((s for s in staff if s.email == email), None)
        entries = session.scalars(select(FaqEntry).options(selectinload(FaqEntry.texts))
                                  .order_by(FaqEntry.id).limit(FAQ_LIMIT)).all()
        blocked = blocked_requester(session, ticket)
        return ActionForms(
            ticket_id=ticket.id, status=ticket.status, language=ticket.language,
            reachable=requester_address(self.config, ticket) is not None,
            category=ticket.category, requester_type=ticket.requester_type,
            assignee=ticket.assignee.email if ticket.assignee else None, me=email,
            categories=tuple(self.config.workflow.categories),
            resolutions=CLOSING_RESOLUTIONS, default_resolution=default_resolution(ticket),
            requester_types=tuple(RequesterType), unblock_actions=tuple(UnblockAction),
            languages=LANGUAGES,
            services=tuple((s.name, s.description or "") for s in
                           session.scalars(select(Service).where(Service.active)
                                           .order_by(Service.name))),
            staff=tuple((s.email, s.name) for s in staff),
            faq=tuple((e.id, text_in(e, ticket.language, hd.default_language)[0].question)
                      for e in entries if e.texts),
            texts=tuple(texts.names(session)),
            held=len(held_answers(session, ticket, me)) if me is not None else 0,
            blocked=Blocked(blocked.email, blocked.name, blocked.organisation.name,
                            blocked.status_since.isoformat()) if blocked else None,
            upload_mb=hd.max_attachment_mb,
            tomorrow=(local_today(hd.zone) + timedelta(days=1)).isoformat())

    # ------------------------------------------------------------------ plumbing

    async def act(self, request: web.Request, action: str, notice: str, work: Work,
                  audited: tuple[str, ...] = ()) -> web.StreamResponse:
        """The form of ``request`` (CSRF checked), then ``work(session, ticket, actor,
        form)`` on the path's ticket in ``write`` (the ``audited`` fields in the audit
        event); back to the ticket saying ``notice``, or the core's refusal as a page."""
        signed, form = await self.submitted(request)
        ticket_id = path_id(request)
        try:
            await self.write(request, signed, action,
                             lambda s, a: work(s, get_ticket(s, ticket_id), a, form),
                             {"ticket": ticket_id, **{k: form.text(k) for k in audited}})
        except RnmailError as error:
            return await self.refusal(request, signed, ticket_id, error)
        return done(f"/desk/tickets/{ticket_id}", notice)

    async def refusal(self, request: web.Request, signed: sessions.SignedIn, ticket_id: int,
                      error: RnmailError, status: int | None = None) -> web.StreamResponse:
        """The core's refusal in the member's language, with the way back to the ticket;
        nothing was changed."""
        message = self.said(request, error)
        return await self.show(request, signed, "action_refused.html.j2", lambda _s: {
            "message": message, "ticket_id": ticket_id},
            status=status or (404 if isinstance(error, NotFound) else 409))

    # ------------------------------------------------------------------ the reply

    def upload_limit(self) -> int:
        return int(self.config.helpdesk.max_attachment_mb * 2**20) + FORM_ROOM

    async def upload_form(self, request: web.Request,
                          signed: sessions.SignedIn) -> FormData | None:
        """The multipart reply form, its CSRF token checked; None when it is larger than
        ``upload_limit`` (nothing read further)."""
        limit = self.upload_limit()
        if (request.content_length or 0) > limit:
            return None
        try:
            return await self.form(request.clone(client_max_size=limit), signed)
        except web.HTTPRequestEntityTooLarge:
            return None

    async def post_reply(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        ticket_id = path_id(request)
        form = await self.upload_form(request, signed)
        if form is None:
            return await self.refusal(request, signed, ticket_id, RnmailError.translatable(
                TOO_LARGE, mb=f"{self.config.helpdesk.max_attachment_mb:g}"), status=413)
        text = form.text("text")
        if form.text("insert"):
            return await self.reply_page(request, signed, ticket_id, text,
                                         insert=(form.text("faq"), form.text("faq_language")))
        if form.text("insert_text"):
            return await self.reply_page(request, signed, ticket_id, text,
                                         module=form.text("text_module"))
        if not text.strip():
            return await self.reply_page(request, signed, ticket_id, text, problem=N_(
                "The answer is empty: write it, or insert an FAQ answer."), status=400)
        uploads = form.uploads("attachments")

        def answer(session: Session, actor: Actor) -> bool:
            ticket = get_ticket(session, ticket_id)
            files = [attachment(u) for u in uploads]
            outcome = answer_or_hold(session, self.config, ticket, text, files,
                                     find_staff(session, signed.operator), actor=actor)
            return outcome.held_by is not None

        try:
            held = await self.write(request, signed, "reply", answer, {
                "ticket": ticket_id, "attachments": [u.filename for u in uploads]})
        except NotFound as error:
            return await self.refusal(request, signed, ticket_id, error)
        except RnmailError as error:
            return await self.reply_page(request, signed, ticket_id, text,
                                         problem=self.said(request, error), status=409)
        if held:
            return see_other(f"/desk/tickets/{ticket_id}/held")
        return done(f"/desk/tickets/{ticket_id}", "replied")

    async def reply_page(self, request: web.Request, signed: sessions.SignedIn,
                         ticket_id: int, text: str, insert: tuple[str, str] | None = None,
                         problem: str | None = None, status: int = 200,
                         module: str | None = None) -> web.StreamResponse:
        """The reply form on a page of its own: again after *insert* (the FAQ answer or
        the text ``module`` added to what was written) or after a refusal (what was
        written kept)."""
        hd = self.config.helpdesk

        def query(session: Session) -> dict[str, Any]:
            ticket = get_ticket(session, ticket_id)
            written = text
            if insert is not None:
                entry, language = insert
                if not (entry.isascii() and entry.isdigit() and len(entry) < 10):
                    raise NotFound.translatable(N_("no FAQ entry #{id}"), id=entry[:20])
                found = answer_for(session, int(entry),
                                   language if language in LANGUAGES else ticket.language,
                                   hd.default_language)
                written = f"{text.rstrip()}\n\n{found}".lstrip("\n")
            said = problem
            if module is not None:  # refused (no such module, not in the requester's
                try:  # language): the form again with what was written, saying why
                    written = texts.with_text(session, ticket, text, module,
                                              signed.operator, hd.zone)
                except RnmailError as error:
                    said = self.said(request, error)
            return {"actions": self.action_forms(session, ticket, signed.operator),
                    "subject": ticket.subject, "text": written, "problem": said,
                    "faq_language": insert[1] if insert and insert[1] in LANGUAGES
                    else ticket.language, "faq_chosen": insert[0] if insert else "",
                    "text_chosen": module or ""}

        try:
            return await self.show(request, signed, "reply.html.j2", query, status=status)
        except RnmailError as error:
            return await self.refusal(request, signed, ticket_id, error)

    # ------------------------------------------------------------------ a held answer

    async def held_page(self, request: web.Request) -> web.StreamResponse:
        """The member's answer held on the ticket, beside the colleague's that held it."""
        signed = await self.signed_in(request)
        ticket_id = path_id(request)

        def query(session: Session) -> dict[str, Any]:
            ticket = get_ticket(session, ticket_id)
            mine = held_answers(session, ticket, find_staff(session, signed.operator))
            colleague = held_behind(session, mine[-1]) if mine else None
            return {"ticket_id": ticket.id, "subject": ticket.subject,
                    "held": message_detail(mine[-1]) if mine else None,
                    "colleague": colleague, "ago": time_ago(
                        colleague.answered_at, request.get(LANGUAGE, "fr"), utcnow())
                    if colleague else ""}

        try:
            return await self.show(request, signed, "held.html.j2", query)
        except RnmailError as error:
            return await self.refusal(request, signed, ticket_id, error)

    async def post_send_held(self, request: web.Request) -> web.StreamResponse:
        def work(session: Session, ticket: Ticket, actor: Actor, _form: FormData) -> None:
            send_held(session, self.config,
                      find_held(session, ticket, find_staff(session, actor.email or "")),
                      actor)

        return await self.act(request, "send-held", "held-sent", work)

    async def post_discard_held(self, request: web.Request) -> web.StreamResponse:
        def work(session: Session, ticket: Ticket, actor: Actor, _form: FormData) -> None:
            staff = find_staff(session, actor.email or "")
            discard_held(session, self.config, find_held(session, ticket, staff), staff.name,
                         actor)

        return await self.act(request, "discard-held", "held-discarded", work)

    # ------------------------------------------------------------------ the others

    async def post_note(self, request: web.Request) -> web.StreamResponse:
        def work(session: Session, ticket: Ticket, actor: Actor, form: FormData) -> None:
            add_comment(session, ticket, form.text("text"),
                        find_staff(session, actor.email or ""),
                        language=self.config.helpdesk.default_language, actor=actor)

        return await self.act(request, "note", "noted", work)

    async def post_close(self, request: web.Request) -> web.StreamResponse:
        def work(_session: Session, ticket: Ticket, actor: Actor, form: FormData) -> None:
            close_as(ticket, self.config.workflow, actor, optional(form, "resolution"),
                     optional(form, "category"))

        return await self.act(request, "close", "closed", work, ("resolution", "category"))

    async def post_pending(self, request: web.Request) -> web.StreamResponse:
        def work(_session: Session, ticket: Ticket, actor: Actor, form: FormData) -> None:
            until = optional(form, "until")
            set_pending(ticket, actor, parse_pending_day(
                until, local_today(self.config.helpdesk.zone)) if until else None)

        return await self.act(request, "pending", "pending", work, ("until",))

    async def post_reopen(self, request: web.Request) -> web.StreamResponse:
        return await self.act(request, "reopen", "reopened",
                              lambda _s, ticket, actor, _f: reopen(ticket, actor))

    async def post_delegate(self, request: web.Request) -> web.StreamResponse:
        def work(session: Session, ticket: Ticket, actor: Actor, form: FormData) -> None:
            delegate_to_service(session, self.config, ticket,
                                find_service(session, form.text("service")), actor,
                                form.text("note").strip())

        return await self.act(request, "delegate", "delegated", work, ("service",))

    async def post_assign(self, request: web.Request) -> web.StreamResponse:
        def work(session: Session, ticket: Ticket, actor: Actor, form: FormData) -> None:
            assign(ticket, find_staff(session, form.text("staff").strip()), actor)

        return await self.act(request, "assign", "assigned", work, ("staff",))

    async def post_take(self, request: web.Request) -> web.StreamResponse:
        def work(session: Session, ticket: Ticket, actor: Actor, _form: FormData) -> None:
            assign(ticket, find_staff(session, actor.email or ""), actor)

        return await self.act(request, "take", "taken", work)

    async def post_set(self, request: web.Request) -> web.StreamResponse:
        def work(_session: Session, ticket: Ticket, actor: Actor, form: FormData) -> None:
            classify(ticket, self.config.workflow, actor, optional(form, "category"),
                     optional(form, "requester_type"))

        return await self.act(request, "set", "set", work, ("category", "requester_type"))

    async def post_unblock(self, request: web.Request) -> web.StreamResponse:
        def work(session: Session, ticket: Ticket, actor: Actor, form: FormData) -> None:
            unblock_requester(session, self.config, ticket.id,
                              identity_confirmed=form.text("identity_confirmed") == "yes",
                              entitled=form.text("entitled") == "yes",
                              action=form.text("action"),
                              actor=(actor.email or actor.name)[:64],
                              note=form.text("note"), by=actor)

        return await self.act(request, "unblock", "unblocked", work,
                              ("action", "identity_confirmed", "entitled"))
