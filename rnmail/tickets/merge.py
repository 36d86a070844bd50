"""Merge and split: the same request come in twice becomes one ticket; a ticket holding two
requests becomes two.

``merge`` moves everything of a ticket (the source) into another (the target): its messages
(notes and calls included) with their attachments, its participants and its history. The
source is then an empty shell closed as ``merged`` with a pointer (``merged_into_id``): its
number keeps working — ``ticket show`` says where it went, and mail naming it (its subject
tag, our signed Message-IDs) threads into the target (``rnmail.ingest.thread``) — and the
statistics count the request once, as the target (``rnmail.stats.figures`` leaves merged
tickets out). A merge is never a chain: a ticket merged into is never merged itself, nor
is a ticket others were merged into.

``split`` takes one incoming message out of a ticket into a new ticket linked to the old one
(``linked_ticket_id``), for the same requester and classification.

Both change tickets inside the caller's transaction, by an ``Actor`` recorded in the
history of each ticket concerned and in the audit log (``ticket-merge``, ``ticket-split``),
whatever front end acted.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n.catalogues import N_
from rnmail.models import Message, Participant, Ticket, TicketEvent, utcnow
from rnmail.tickets.history import Actor, change, record_change
from rnmail.tickets.lifecycle import get_ticket
from rnmail.vocab import Resolution, TicketChange, TicketStatus


def named_ticket(session: Session, text: str) -> Ticket | None:
    """The ticket ``12`` or ``#12`` names (``#merge 12`` by mail), if there is one."""
    number = text.strip().removeprefix("#").strip()
    if not number.isascii() or not number.isdigit() or len(number) > 9:
        return None
    return session.get(Ticket, int(number))


def merge_problem(session: Session, source: Ticket, target: Ticket) -> str | None:
    """Why ``source`` cannot be merged into ``target``, or None: ``self`` (the same
    ticket), ``source-merged`` (merged already), ``target-merged`` (the target was merged:
    a chain), ``chain`` (tickets were merged into the source)."""
    if source.id == target.id:
        return "self"
    if source.merged_into_id is not None:
        return "source-merged"
    if target.merged_into_id is not None:
        return "target-merged"
    merged_in = session.scalar(select(Ticket.id).where(Ticket.merged_into_id == source.id)
                               .limit(1))
    return None if merged_in is None else "chain"


def check_merge(session: Session, source: Ticket, target: Ticket) -> None:
    """Refuse a merge that cannot be (``merge_problem``), saying why."""
    problem = merge_problem(session, source, target)
    if problem == "self":
        raise RnmailError.translatable(N_("ticket #{id} cannot be merged into itself"),
                                       id=source.id)
    if problem == "source-merged":
        raise RnmailError.translatable(N_("ticket #{id} was already merged into #{target}"),
                                       id=source.id, target=source.merged_into_id)
    if problem == "target-merged":
        raise RnmailError.translatable(
            N_("ticket #{id} was merged into #{target}: merge into #{target} instead"),
            id=target.id, target=target.merged_into_id)
    if problem == "chain":
        raise RnmailError.translatable(
            N_("other tickets were merged into #{id}: it cannot be merged in turn; merge "
               "#{target} into #{id} instead"), id=source.id, target=target.id)


def merge(session: Session, source: Ticket, target: Ticket, actor: Actor) -> None:
    """Move everything of ``source`` into ``target`` and close ``source`` as merged.

    Both rows are locked first, in the order of their numbers, and read afresh: two merges
    at once (#1 into #2 and #2 into #1, or #3 into #1 while #1 goes into #2) then follow
    each other, and the second sees the first and is refused instead of making a loop."""
    session.flush()
    for ticket in sorted({source.id: source, target.id: target}.values(), key=lambda t: t.id):
        session.refresh(ticket, with_for_update=True)
    check_merge(session, source, target)
    session.flush()  # what this transaction added to the source moves with the rest
    for message in session.scalars(select(Message).where(Message.ticket_id == source.id)):
        message.ticket = target
    for event in session.scalars(select(TicketEvent)
                                 .where(TicketEvent.ticket_id == source.id)):
        event.ticket = target
    known = {p.address for p in target.participants}
    for participant in list(source.participants):
        source.participants.remove(participant)
        session.delete(participant)
        if participant.address not in known:
            known.add(participant.address)
            target.participants.append(Participant(address=participant.address, role="cc"))
    session.flush()
    record_change(target, TicketChange.MERGED_FROM, None, f"#{source.id}", actor)
    record_change(source, TicketChange.MERGED_INTO, None, f"#{target.id}", actor)
    change(source, "resolution", Resolution.MERGED, actor)
    change(source, "status", TicketStatus.CLOSED, actor)
    source.merged_into_id = target.id
    source.closed_at = source.closed_at or utcnow()
    source.updated_at = target.updated_at = utcnow()
    audit.record(session, actor.name[:64], "ticket-merge",
                 {"source": source.id, "target": target.id, "via": actor.via.value,
                  "login": actor.login})


def merge_tickets(session: Session, source_id: int, target_id: int, actor: Actor) -> Ticket:
    """``merge`` by numbers (the command line, the desk); returns the target."""
    source, target = get_ticket(session, source_id), get_ticket(session, target_id)
    merge(session, source, target, actor)
    return target


def split(session: Session, ticket_id: int, message_id: int, actor: Actor) -> Ticket:
    """Move the incoming message ``message_id`` of ticket ``ticket_id`` into a new ticket
    of the same requester, linked to it; returns the new ticket."""
    ticket = get_ticket(session, ticket_id)
    if ticket.merged_into_id is not None:
        raise RnmailError.translatable(N_("ticket #{id} was merged into #{target}"),
                                       id=ticket.id, target=ticket.merged_into_id)
    message = session.get(Message, message_id)
    if message is None or message.ticket_id != ticket.id:
        raise NotFound.translatable(N_("ticket #{id} has no message {message}"),
                                    id=ticket.id, message=message_id)
    if message.direction != "in" or message.kind != "correspondence":
        raise RnmailError.translatable(
            N_("only a request received (a mail, a call) can become a ticket of its own"))
    others = session.scalar(select(Message.id).where(
        Message.ticket_id == ticket.id, Message.id != message.id,
        Message.direction == "in", Message.kind == "correspondence").limit(1))
    if others is None:
        raise RnmailError.translatable(
            N_("message {message} is the only request of ticket #{id}: nothing to split"),
            id=ticket.id, message=message_id)
    new = Ticket(subject=message.subject or ticket.subject, status=TicketStatus.OPEN,
                 channel=ticket.channel, requester=ticket.requester,
                 requester_name=ticket.requester_name, requester_org=ticket.requester_org,
                 requester_type=ticket.requester_type, category=ticket.category,
                 language=ticket.language, mailbox=message.mailbox,
                 linked_ticket_id=ticket.id, created_at=message.created_at)
    new.participants = [Participant(address=p.address, role=p.role)
                         for p in ticket.participants]
    record_change(new, TicketChange.OPENED, None, ticket.channel, actor)
    session.add(new)
    message.ticket = new
    session.flush()
    record_change(ticket, TicketChange.SPLIT_TO, None, f"#{new.id}", actor)
    audit.record(session, actor.name[:64], "ticket-split",
                 {"ticket": ticket.id, "message": message.id, "new": new.id,
                  "via": actor.via.value, "login": actor.login})
    ticket.updated_at = utcnow()
    return new
