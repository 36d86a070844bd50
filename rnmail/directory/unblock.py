"""Access unblocking: the guided procedure of the category ``access-key``.

A directory user whose access is ``blocked`` (too many wrong attempts, an expired or lost
access key) asks the help desk to unblock it. Before anything is done the help desk
confirms two checks: the caller's identity, and that their organisation is still entitled to
the register. ``unblock`` then, in the caller's transaction, writes what was checked and
done into the ticket (an internal comment, in the help desk's language), audits it with
the user before and after, makes the user ``active`` again and queues the confirmation mail
(template ``access_unblocked``) to the user, in their language and in the ticket's thread.
A revoked user is not unblocked here: their access must be granted again first
(``directory set-status``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from rnmail import audit
from rnmail.config import Config
from rnmail.directory.people import (
    directory_user_for,
    find_user,
    set_access_status,
    user_snapshot,
)
from rnmail.dispatch.answer import last_incoming
from rnmail.dispatch.compose import Draft, compose
from rnmail.dispatch.outbox import enqueue
from rnmail.dispatch.render import render
from rnmail.errors import RnmailError, Words
from rnmail.i18n.catalogues import N_
from rnmail.models import DirectoryUser, Message, OutboxMessage, Ticket, utcnow
from rnmail.tickets.history import Actor, change, record_change
from rnmail.tickets.lifecycle import add_comment, closed_ticket, get_ticket, staff_author
from rnmail.tickets.notes import unblock_record
from rnmail.util.addresses import deliverable_address
from rnmail.vocab import AccessState, TicketChange, TicketStatus, UnblockAction, strings

log = logging.getLogger(__name__)

# What the command line says (English); the ticket's note: rnmail.tickets.notes.
ACTION_TEXT: dict[str, str] = {UnblockAction.RESET: "reset requested",
                               UnblockAction.NEW_KEY: "new key sent"}
CATEGORY = "access-key"
TEMPLATE = "access_unblocked"
MAX_ACTOR = 64  # AuditEvent.actor


@dataclass(frozen=True)
class UnblockResult:
    """What ``unblock`` did: the checks, the action and the confirmation queued."""

    email: str
    name: str
    organisation: str
    ticket_id: int
    action: str
    checks: tuple[str, ...]
    language: str  # the language the confirmation is written in
    outbox_id: int
    message_id: str
    category_set: bool  # the ticket had no category and got ``access-key``

    def as_dict(self) -> dict[str, Any]:
        return {"email": self.email, "name": self.name, "organisation": self.organisation,
                "ticket_id": self.ticket_id, "action": self.action,
                "checks": list(self.checks), "language": self.language,
                "outbox_id": self.outbox_id, "message_id": self.message_id,
                "category_set": self.category_set}


def _snapshot(user: DirectoryUser) -> dict[str, Any]:
    """The user as the audit keeps them, with the access dates this procedure changes."""
    return {**user_snapshot(user),
            "status_since": user.status_since.isoformat(),
            "key_sent_at": user.key_sent_at.isoformat() if user.key_sent_at else None}


def unblock(session: Session, config: Config, email: str, ticket_id: int,
            identity_confirmed: bool, entitled: bool, action: str, actor: str,
            note: str | None = None, *, by: Actor) -> UnblockResult:
    """Unblock a blocked user on a ticket, inside the caller's transaction. ``actor``: the
    name the note and the audit log keep; ``by``: who it is in the ticket's history.

    Refused, with nothing changed, when a check is not confirmed, the action is unknown, the
    user is not blocked, or the ticket does not exist or is closed.
    """
    missing = Words(what for what, done in (
        (N_("identity confirmed (--identity-confirmed)"), identity_confirmed),
        (N_("organisation still entitled (--entitled)"), entitled)) if not done)
    if missing:  # on the desk, in the agent's language and without the command's options
        raise RnmailError.translatable(N_("not unblocked: check not confirmed: {checks}"),
                                       checks=missing)
    if action not in strings(UnblockAction):
        raise RnmailError.translatable(N_("unknown action '{action}': use one of {choices}"),
                                       action=action, choices=", ".join(UnblockAction))
    actor = actor.strip()
    if not actor or len(actor) > MAX_ACTOR:
        raise RnmailError(f"who unblocks (--by) must be 1 to {MAX_ACTOR} characters")
    note = note.strip() if note and note.strip() else None

    user = find_user(session, email)
    if user.access_status == AccessState.ACTIVE:
        raise RnmailError.translatable(N_("{email} is not blocked (access is active)"),
                                       email=user.email)
    if user.access_status == AccessState.REVOKED:
        raise RnmailError.translatable(N_("{email} has revoked access, not blocked: grant "
                                          "it again with `rnmail directory set-status` first"),
                                       email=user.email)
    if user.access_status != AccessState.BLOCKED:
        raise RnmailError.translatable(N_("{email} is not blocked (access is {status})"),
                                       email=user.email, status=user.access_status)
    ticket = get_ticket(session, ticket_id)
    if ticket.status == TicketStatus.CLOSED:
        raise closed_ticket(ticket)
    address = deliverable_address(user.email)
    if address is None:
        raise RnmailError.translatable(N_("{email} cannot be written to: no confirmation can "
                                          "be sent"), email=user.email)

    org = user.organisation
    checks = ("identity confirmed", "organisation still entitled")
    org_label = f"{org.name} ({org.code})" if org.code else org.name
    team = config.helpdesk.default_language  # the notes' language (rnmail.tickets.notes)
    record_text = unblock_record(team, email=user.email, name=user.name,
                                 organisation=org_label, action=action, note=note,
                                 address=address, user_language=user.language)
    add_comment(session, ticket, record_text, author=actor, language=team, actor=by)

    before = _snapshot(user)
    set_access_status(session, user, AccessState.ACTIVE,
                      reason=f"unblocked on ticket #{ticket.id}: {action}", actor=actor)
    if action == UnblockAction.NEW_KEY:
        user.key_sent_at = utcnow()
    category_set = False
    if ticket.category is None and CATEGORY in config.workflow.categories:
        category_set = change(ticket, "category", CATEGORY, by)
    record_change(ticket, TicketChange.UNBLOCK, AccessState.BLOCKED,
                  f"{user.email}: {action}", by)
    audit.record(session, actor, "access-unblock", {
        "email": user.email, "ticket": ticket.id, "checks": list(checks), "action": action,
        "note": note, "before": before, "after": _snapshot(user),
    })

    record, language = _queue_confirmation(session, config, ticket, user, address, action,
                                           actor)
    if ticket.first_response_at is None and ticket.requester == address:
        ticket.first_response_at = utcnow()
    session.flush()
    assert record.message_id is not None
    outbox_id = session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.message_id == record.message_id,
                                       OutboxMessage.to_addr == address)).one()
    log.info("access unblocked email=%s ticket=%d action=%s by=%s outbox=%d",
             user.email, ticket.id, action, actor, outbox_id)
    return UnblockResult(email=user.email, name=user.name, organisation=org.name,
                         ticket_id=ticket.id, action=action, checks=checks,
                         language=language, outbox_id=outbox_id,
                         message_id=record.message_id, category_set=category_set)


def blocked_requester(session: Session, ticket: Ticket) -> DirectoryUser | None:
    """The ticket's requester as a directory user whose access is blocked (the one an
    unblocking on this ticket is for), else None."""
    if ticket.sender_unverified:  # its From proves nothing (rnmail.ingest.authres)
        return None
    user = directory_user_for(session, ticket.requester)
    return user if user is not None and user.access_status == AccessState.BLOCKED else None


def unblock_requester(session: Session, config: Config, ticket_id: int,
                      identity_confirmed: bool, entitled: bool, action: str, actor: str,
                      note: str | None = None, *, by: Actor) -> UnblockResult:
    """``unblock`` the ticket's own requester (the desk's requester card): never anyone
    the form could name."""
    ticket = get_ticket(session, ticket_id)
    if ticket.sender_unverified:
        raise RnmailError.translatable(
            N_("the sender of ticket #{id} is not verified: it is not the directory user of "
               "its address; after the checks by phone, unblock the user by name (`rnmail "
               "access unblock EMAIL --ticket {id}`)"), id=ticket.id)
    user = directory_user_for(session, ticket.requester)
    if user is None:
        raise RnmailError.translatable(
            N_("the requester of ticket #{id} ({requester}) is not in the directory"),
            id=ticket.id, requester=ticket.requester)
    return unblock(session, config, user.email, ticket.id, identity_confirmed, entitled,
                   action, actor, note, by=by)


def _queue_confirmation(session: Session, config: Config, ticket: Ticket,
                        user: DirectoryUser, address: str, action: str,
                        actor: str) -> tuple[Message, str]:
    """The ``access_unblocked`` mail to the user, in their language, in the ticket's thread
    (In-Reply-To its last incoming mail), through the outbox."""
    last = last_incoming(session, ticket)
    hd = config.helpdesk
    rendered = render(TEMPLATE, user.language, hd.default_language, {
        "tag": hd.tag, "ticket_id": ticket.id, "helpdesk_name": hd.name, "user_name": user.name,
        "action": action,
    }, helpdesk=hd)
    draft = Draft(to=[address], rendered=rendered, kind="reply", ticket_id=ticket.id,
                  in_reply_to=last.message_id if last else None,
                  references=(last.references or "").split() if last else [])
    record = enqueue(session, compose(hd, draft), purpose="access-unblocked", ticket=ticket,
                     kind="correspondence")
    assert record is not None  # a ticket was given
    staff = staff_author(session, actor)  # a staff member's answer: theirs
    record.from_name = staff.name if staff else actor
    record.author = staff
    return record, rendered.language


def blocked_users(session: Session) -> list[dict[str, Any]]:
    """Users whose access is blocked, oldest block first: id, email, name, organisation,
    organisation_code, since (ISO) and open_tickets (ids of their tickets not closed)."""
    users = list(session.scalars(
        select(DirectoryUser).where(DirectoryUser.access_status == AccessState.BLOCKED)
        .options(selectinload(DirectoryUser.organisation))
        .order_by(DirectoryUser.status_since, DirectoryUser.email)))
    tickets: dict[str, list[int]] = {}
    emails = [u.email for u in users]
    for start in range(0, len(emails), 500):
        for ticket_id, requester in session.execute(
            select(Ticket.id, Ticket.requester)
            .where(Ticket.requester.in_(emails[start:start + 500]), Ticket.status != "closed")
            .order_by(Ticket.id)
        ):
            tickets.setdefault(requester, []).append(ticket_id)
    return [{"id": u.id, "email": u.email, "name": u.name, "organisation": u.organisation.name,
             "organisation_code": u.organisation.code, "language": u.language,
             "since": u.status_since.isoformat(), "open_tickets": tickets.get(u.email, [])}
            for u in users]
