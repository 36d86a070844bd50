"""Respond: the automatic acknowledgement of a new ticket, with loop protection.

Never to automatic mail (see ``classify``), never to our own addresses, and at most
``ingest.auto_reply_limit`` automatic mails per address per day (counted in the outbox).
The mail is only queued in the outbox, in the same transaction as the ticket: committed
together or not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.dispatch.compose import Draft, compose
from rnmail.dispatch.outbox import automatic_mails_today, enqueue
from rnmail.dispatch.render import render
from rnmail.ingest.parse import ParsedMail
from rnmail.models import Staff, Ticket
from rnmail.status.components import StatusView
from rnmail.status.notices import disturbance
from rnmail.tickets.faq import FaqIndex, text_in

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
                reply_to: str, status: StatusView | None = None) -> None:
    """Queue the acknowledgement of ``ticket`` (which must have its number by now); while
    some component is degraded or down it says so."""
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
            "faq_url": f"{hd.public_url}/faq/{ticket.language}.html" if hd.public_url else "",
            "disturbance": disturbance(config, status, ticket.language) if status else None,
        },
        helpdesk=hd,
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


@dataclass(frozen=True)
class StaffNotifier:
    """Tells the staff of new tickets and replies, with the FAQ entries that may answer them.

    Loaded once per batch (the staff and the FAQ), used for each ticket. Each member gets
    their own mail, whose Message-ID is signed for them: replying to it is how they answer
    (see ``ingest.staff``). ``[workflow].notify = "assignee"`` limits it to the ticket's
    assignee when it has one.
    """

    config: Config
    staff: list[Staff]
    faq: FaqIndex

    @classmethod
    def load(cls, session: Session, config: Config) -> StaffNotifier:
        staff = list(session.scalars(select(Staff).where(Staff.active.is_(True))
                                     .order_by(Staff.id)))
        return cls(config, staff, FaqIndex.load(session) if staff else FaqIndex([]))

    def notify(self, session: Session, ticket: Ticket, mail: ParsedMail, event: str) -> int:
        """Queue the notifications of ``event`` (new, reply, service); returns how many."""
        staff = self.staff
        if self.config.workflow.notify == "assignee" and ticket.assignee is not None:
            staff = [ticket.assignee] if ticket.assignee.active else staff
        hd = self.config.helpdesk
        sender = f"{mail.from_name} <{mail.from_addr}>" if mail.from_name else mail.from_addr
        matches = self.faq.best(f"{mail.subject}\n{mail.display_text}") if staff else []
        for member in staff:
            suggestions = [(entry.id, text_in(entry, member.language, hd.default_language)[0]
                            .question) for entry, _score in matches]
            rendered = render("notification", member.language, hd.default_language, {
                "tag": hd.tag, "ticket": ticket, "event": event, "sender": sender,
                "text": mail.display_text,
                "attachments": [a.filename for a in mail.attachments], "faq": suggestions,
            }, helpdesk=hd)
            draft = Draft(to=[member.email], rendered=rendered, kind=f"n{member.id}",
                          ticket_id=ticket.id, generated=True, in_reply_to=mail.message_id)
            enqueue(session, compose(hd, draft), purpose="notification", ticket=ticket,
                    kind="notification")
        return len(staff)
