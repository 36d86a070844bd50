"""Respond: the automatic acknowledgement of a new ticket, with loop protection.

Never to automatic mail (see ``classify``), never to our own addresses, and at most
``ingest.auto_reply_limit`` automatic mails per address and ``ingest.auto_reply_domain_limit``
per recipient domain per day (counted in the outbox). The mail is only queued in the outbox,
in the same transaction as the ticket: committed together or not at all.

An acknowledgement cannot be made a relay for someone else's text (phishing from the help
desk's own address): it never echoes the sender's display name, the subject it quotes is cut
short and loses every web address, and it goes to a ``Reply-To`` only in the From's domain.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.dispatch.compose import Draft, compose
from rnmail.dispatch.outbox import Queue
from rnmail.dispatch.render import render
from rnmail.ingest.parse import ParsedMail
from rnmail.models import OutboxMessage, Staff, Ticket, utcnow
from rnmail.status.components import StatusView
from rnmail.status.notices import disturbance
from rnmail.tickets.faq import FaqIndex, text_in

log = logging.getLogger(__name__)
SUBJECT_CHARS = 80  # of the requester's subject quoted in an acknowledgement
_DOT = r"(?:\.|\[\.\]|\(\.\)|\{\.\}|\s?\[dot\]\s?|\s?\(dot\)\s?|[\u2024\u3002\uff0e\uff61])"
_WEB_ADDRESS_RE = re.compile(
    r"(?:[a-z][a-z0-9+.\-]*:/+|[a-z][a-z0-9+.\-]*\[:\]//)\S*"  # https://… hxxp://… h[:]//…
    r"|\S+@\S+"  # mail addresses
    rf"|(?<![\w-])(?:[\w-]+{_DOT})+[^\W\d_]{{2,63}}\b(?:[/:?#]\S*)?",  # www.… bare.tld/path
    re.IGNORECASE)


def acknowledgement_address(mail: ParsedMail) -> str:
    """Where the acknowledgement goes: the Reply-To when it is in the From's domain, else the
    From (a Reply-To elsewhere would let anyone aim our acknowledgement at a third party)."""
    sender = mail.from_addr.lower()
    if mail.reply_to:
        reply_to = mail.reply_to[0].lower()
        if reply_to.rpartition("@")[2] == sender.rpartition("@")[2]:
            return reply_to
        log.info("acknowledgement to From, not to the Reply-To of another domain from=%s "
                 "reply_to=%s", sender, reply_to)
    return sender


def quoted_subject(subject: str) -> str:
    """The requester's subject as an acknowledgement may quote it: no web or mail address
    (with or without a scheme, defanged or not), at most ``SUBJECT_CHARS`` characters, cut
    on a word."""
    text = " ".join(_WEB_ADDRESS_RE.sub("[…]", subject).split())
    if len(text) > SUBJECT_CHARS:
        cut = text[:SUBJECT_CHARS + 1].rsplit(" ", 1)[0] if " " in text[:SUBJECT_CHARS + 1] \
            else text[:SUBJECT_CHARS]
        text = cut[:SUBJECT_CHARS].rstrip(" ,;:.-") + "…"
    return text or "—"


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


def _mails_today(session: Session) -> list[tuple[str, int]]:
    """Automatic mails queued since midnight UTC, counted by address: what both daily
    limits count, by address and added up by domain here. (A LIKE per domain had the
    database test each of the day's rows against every one of a batch's hundred patterns,
    and compile a new statement for every batch; a second query for the batch's own
    addresses read the same rows again.)"""
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return [(address, int(n)) for address, n in session.execute(
            select(OutboxMessage.to_addr, func.count())
            .where(OutboxMessage.automatic == true(), OutboxMessage.created_at >= midnight)
            .group_by(OutboxMessage.to_addr))]


def within_daily_limit(session: Session, config: Config,
                       addresses: list[str]) -> list[bool]:
    """For each address in order, whether one more automatic mail may go to it today:
    never to our own addresses, at most ``ingest.auto_reply_limit`` per address and
    ``ingest.auto_reply_domain_limit`` per domain."""
    limit, domain_limit = config.ingest.auto_reply_limit, config.ingest.auto_reply_domain_limit
    today = _mails_today(session) if addresses else []
    wanted = set(addresses)
    counts = {address: n for address, n in today if address in wanted}
    wanted_domains = {_domain(a) for a in addresses if "@" in a}
    domains: dict[str, int] = {}
    for address, n in today:
        domain = _domain(address.lower())
        if domain in wanted_domains:
            domains[domain] = domains.get(domain, 0) + n
    allowed, warned = [], set()
    for address in addresses:
        sent, domain = counts.get(address, 0), _domain(address)
        ok = address not in config.helpdesk.own_addresses and sent < limit
        if not ok and sent == limit:  # say it once per pass, not for every refused mail
            log.warning("daily limit of %d automatic mails reached to=%s", limit, address)
        counts[address] = sent + 1
        if ok and domains.get(domain, 0) >= domain_limit:
            ok = False
            if domain not in warned:
                warned.add(domain)
                log.warning("daily limit of %d automatic mails reached domain=%s",
                            domain_limit, domain)
        if ok:
            domains[domain] = domains.get(domain, 0) + 1
        allowed.append(ok)
    return allowed


def acknowledge(queue: Queue, config: Config, ticket: Ticket, mail: ParsedMail,
                reply_to: str, status: StatusView | None = None) -> None:
    """Queue the acknowledgement of ``ticket`` (which must be stored by now); while some
    component is degraded or down it says so."""
    hd = config.helpdesk
    rendered = render(
        "acknowledgement",
        ticket.language,
        hd.default_language,
        {
            "tag": hd.tag,
            "ticket_id": ticket.id,
            "subject": quoted_subject(ticket.subject or ""),
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
    queue.add(compose(hd, draft), purpose="acknowledgement", ticket=ticket)


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

    def notify(self, queue: Queue, ticket: Ticket, mail: ParsedMail, event: str,
               unverified: bool = False) -> int:
        """Queue the notifications of ``event`` (new, reply, service) about ``ticket`` (which
        must be stored by now); returns how many. ``unverified``: the trusted gateway did not
        verify the sender; the mail says so."""
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
                "text": mail.display_text, "unverified": unverified,
                "attachments": [a.filename for a in mail.attachments], "faq": suggestions,
            }, helpdesk=hd)
            draft = Draft(to=[member.email], rendered=rendered, kind=f"n{member.id}",
                          ticket_id=ticket.id, generated=True, in_reply_to=mail.message_id)
            queue.add(compose(hd, draft), purpose="notification", ticket=ticket,
                      kind="notification")
        return len(staff)
