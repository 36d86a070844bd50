"""Respond: the automatic acknowledgement of a new ticket, with loop protection.

Never to automatic mail (see ``classify``), never to our own addresses, and at most
``ingest.auto_reply_limit`` automatic mails per address per day. The mail is only queued in
the outbox, in the same transaction as the ticket: committed together or not at all.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.dispatch.compose import Draft, compose
from rnmail.dispatch.outbox import enqueue
from rnmail.dispatch.render import render
from rnmail.ingest.parse import ParsedMail
from rnmail.models import AutoReplyCount, Ticket, utcnow

log = logging.getLogger(__name__)


def acknowledge(
    session: Session, config: Config, ticket: Ticket, mail: ParsedMail, reply_to: str | None
) -> bool:
    """Queue the acknowledgement of ``ticket`` to ``reply_to``; False when it must not be sent."""
    if not reply_to or reply_to.lower() in config.helpdesk.own_addresses:
        return False
    if not take_auto_reply_slot(session, reply_to, config.ingest.auto_reply_limit):
        log.warning("auto-reply limit reached to=%s ticket=%d", reply_to, ticket.id)
        return False
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
    return True


def take_auto_reply_slot(session: Session, address: str, limit: int) -> bool:
    """Count one automatic mail to ``address`` today; False once the daily cap is reached."""
    day = utcnow().date().isoformat()
    address = address.lower()
    row = session.scalars(
        select(AutoReplyCount)
        .where(AutoReplyCount.address == address, AutoReplyCount.day == day)
        .with_for_update()
    ).first()
    if row is None:
        row = AutoReplyCount(address=address, day=day, count=0)
        session.add(row)
    if row.count >= limit:
        return False
    row.count += 1
    return True
