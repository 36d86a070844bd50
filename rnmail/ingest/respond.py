"""Respond: the automatic acknowledgement of a new ticket, with loop protection.

Never to automatic mail (see ``classify``), never to our own addresses, and at most
``ingest.auto_reply_limit`` automatic mails per address per day (counted in the outbox).
The mail is only queued in the outbox, in the same transaction as the ticket: committed
together or not at all.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.dispatch.compose import Draft, compose
from rnmail.dispatch.outbox import enqueue
from rnmail.dispatch.render import render
from rnmail.ingest.parse import ParsedMail
from rnmail.models import Ticket


def may_auto_reply(config: Config, address: str | None, sent_today: int) -> bool:
    """Whether one more automatic mail may go to ``address``, which has had ``sent_today``
    (see ``automatic_mails_today``, plus those decided but not yet queued)."""
    if not address or address.lower() in config.helpdesk.own_addresses:
        return False
    return sent_today < config.ingest.auto_reply_limit


def acknowledge(session: Session, config: Config, ticket: Ticket, mail: ParsedMail,
                reply_to: str) -> None:
    """Queue the acknowledgement of ``ticket`` (which must have its number by now)."""
    hd = config.helpdesk
    rendered = render(
        "acknowledgement",
        ticket.language,
        hd.default_language,
        {
            "tag": hd.tag,
            "ticket_id": ticket.id,
            "subject": (ticket.subject or "—")[:150],
            "requester_name": ticket.requester_name or "",
            "helpdesk_name": hd.name,
            "opening_hours": hd.opening_hours,
            "phone": hd.phone,
            "fax": hd.fax,
        },
    )
    draft = Draft(
        to=[reply_to],
        rendered=rendered,
        kind="ack",
        ticket_id=ticket.id,
        automatic=True,
        in_reply_to=mail.message_id,
        references=mail.references,
    )
    enqueue(session, compose(hd, draft), purpose="acknowledgement", ticket=ticket)
