"""Respond: the automatic acknowledgement of a new ticket, with loop protection.

Never to automatic mail (see ``classify``), never to our own addresses, and at most
``ingest.auto_reply_limit`` automatic mails per address per day (counted in the outbox).
The mail is only queued in the outbox, in the same transaction as the ticket: committed
together or not at all.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.dispatch.compose import Draft, compose
from rnmail.dispatch.outbox import automatic_mails_today, enqueue
from rnmail.dispatch.render import render
from rnmail.ingest.parse import ParsedMail
from rnmail.models import Ticket

log = logging.getLogger(__name__)


def within_daily_limit(session: Session, config: Config,
                       addresses: list[str]) -> list[bool]:
    """For each address in order, whether one more automatic mail may go to it today:
    never to our own addresses, and at most ``ingest.auto_reply_limit`` per address."""
    limit = config.ingest.auto_reply_limit
    counts = automatic_mails_today(session, set(addresses))
    allowed = []
    for address in addresses:
        sent = counts.get(address, 0)
        ok = address not in config.helpdesk.own_addresses and sent < limit
        if not ok and sent == limit:  # say it once per pass, not for every refused mail
            log.warning("daily limit of %d automatic mails reached to=%s", limit, address)
        counts[address] = sent + 1
        allowed.append(ok)
    return allowed


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
