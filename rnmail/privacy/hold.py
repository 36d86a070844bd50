"""A ticket's legal hold: kept exactly as it is, exempt from every retention period and
from anonymisation, until the hold is lifted (a dispute, a complaint, a court's or the data
protection authority's request).

Putting and lifting a hold are in the ticket's history (``legal-hold``,
``legal-hold-lifted``) and in the audit log (``ticket-hold``, ``ticket-unhold``), with who
did it and why. An anonymised ticket cannot be held: nothing is left to keep.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n.catalogues import N_
from rnmail.models import Ticket, utcnow
from rnmail.tickets.history import Actor, record_change
from rnmail.vocab import TicketChange

MAX_REASON = 2000


def _ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None:
        raise NotFound(f"no ticket #{ticket_id}")
    return ticket


def hold_ticket(session: Session, ticket_id: int, reason: str, actor: Actor) -> Ticket:
    """Put ticket ``ticket_id`` on legal hold for ``reason``."""
    reason = " ".join(reason.split())
    if not reason:
        raise RnmailError.translatable(N_("a legal hold needs a reason"))
    if len(reason) > MAX_REASON:
        raise RnmailError.translatable(N_("the reason is too long (at most {limit} "
                                          "characters)"), limit=MAX_REASON)
    ticket = _ticket(session, ticket_id)
    if ticket.anonymised_at is not None:
        raise RnmailError.translatable(
            N_("ticket #{id} was anonymised: there is nothing left to hold"), id=ticket.id)
    if ticket.hold_at is not None:
        raise RnmailError.translatable(
            N_("ticket #{id} is on legal hold already: {reason}"), id=ticket.id,
            reason=ticket.hold_reason or "")
    ticket.hold_reason, ticket.hold_by, ticket.hold_at = reason, actor.name[:200], utcnow()
    record_change(ticket, TicketChange.LEGAL_HOLD, None, reason, actor)
    audit.record(session, actor.name[:64], "ticket-hold",
                 {"ticket": ticket.id, "reason": reason, "via": actor.via.value,
                  "login": actor.login})
    return ticket


def release_ticket(session: Session, ticket_id: int, actor: Actor) -> Ticket:
    """Lift the legal hold of ticket ``ticket_id``: the retention periods apply again."""
    ticket = _ticket(session, ticket_id)
    if ticket.hold_at is None:
        raise RnmailError.translatable(N_("ticket #{id} is not on legal hold"), id=ticket.id)
    reason = ticket.hold_reason
    ticket.hold_reason, ticket.hold_by, ticket.hold_at = None, None, None
    record_change(ticket, TicketChange.LEGAL_HOLD_LIFTED, reason, None, actor)
    audit.record(session, actor.name[:64], "ticket-unhold",
                 {"ticket": ticket.id, "reason": reason, "via": actor.via.value,
                  "login": actor.login})
    return ticket
