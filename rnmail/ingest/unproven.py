"""Unproven staff mail: mail from a staff address that is not a proven staff reply.

A staff member's answer that lost its thread — a client that drops In-Reply-To and
References, a forward (``Fwd:``, ``TR:``, ``WG:``, ``Doorst:``), a reply to a colleague's
notification, a mail written afresh to the info mailbox — must never become a ticket with
the staff member as its requester, acknowledged and notified to the whole team while the
requester gets nothing. Mail from the address of an active staff member that ``staff``
did not recognise as that member's reply to a notification — or that the trusted gateway
(``[ingest].trusted_authserv_id``) could not verify as coming from that address, whatever it
references — is therefore:

- never a ticket, never acknowledged, never notified to the team, never relayed, its
  ``#command`` lines never applied;
- kept: on the ticket it names (one of our signed Message-IDs among its references, else a
  Message-ID we received, else the subject tag ``[RN #12]`` of an existing ticket) as an
  internal note that an unsent answer came in, with the raw mail (``raw_sha256``: ``ticket
  export`` gives it back); every such mail, with a ticket or not, is also recorded in the
  audit log (``staff-mail-unsent``, with the raw mail's SHA-256 in the blob store);
- answered with a ``staff_unsent`` mail to the staff address, in the member's language:
  nothing was sent to the requester, why, and how to answer (reply to the notification so
  that its headers are kept, or ``rnmail ticket reply``; ``rnmail ticket new`` for a new
  request).

rnmail cannot tell a forged ``From:`` from the real one (the mail server checks SPF and
DKIM, not rnmail), so the error mail must be harmless when the sender is forged: it goes
only to the staff address (never a Reply-To), quotes no text of the mail (only its subject,
cut short and without web addresses), and none goes for automatic mail (an out-of-office),
for a mail that answers our mail about a reply to one of our error mails (a person who
replies to an error mail is told once more; a mailbox rule that sends our mails back is
stopped there), nor past
``ingest.auto_reply_limit`` error mails to the address since midnight UTC (a forged sender
repeated). The mail is kept all the same.

A second-line service's unproven mail stays ordinary mail (``thread``).

Next stage (for mail that is not from a staff address): ``thread``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.config import Config
from rnmail.db import chunks
from rnmail.dispatch.compose import Draft, compose
from rnmail.dispatch.outbox import enqueue
from rnmail.dispatch.render import render
from rnmail.ingest.parse import ParsedMail
from rnmail.ingest.respond import quoted_subject
from rnmail.ingest.thread import ticket_number_in_subject
from rnmail.models import Message, OutboxMessage, Staff, Ticket, utcnow
from rnmail.tickets.history import Actor, record_change
from rnmail.tickets.notes import unsent_answer
from rnmail.util.tokens import verify_message_id
from rnmail.vocab import TicketChange

log = logging.getLogger(__name__)
UNSENT_KIND = "u"  # Message-ID kind of a staff_unsent mail
AGAIN_KIND = "uu"  # of one about a reply to one of our staff_unsent or staff_error mails
ERROR_KIND = "err"  # of a staff_error mail (``rnmail.ingest.staff``)
PURPOSE = "staff-unsent"  # the outbox purpose of a staff_unsent mail
AUDIT_ACTION = "staff-mail-unsent"
# A forward, in the prefixes of the clients our staff use (en, fr, nl, de).
_FORWARD = re.compile(r"^\s*(?:(?:re|aw|antw|sv)\s*:\s*)*(?:fwd?|tr|wg|doorst|fw)\s*:",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Unproven:
    """What an unproven staff mail is: the ticket it names and why it proves no reply."""

    ticket: Ticket | None
    why: str  # one of rnmail.tickets.notes.UNSENT_WHY
    loop: bool  # it answers our mail about a reply to our mail: no third one


def active_staff(session: Session, addresses: Iterable[str]) -> dict[str, Staff]:
    """The active staff members among ``addresses`` (a batch's senders), by address."""
    wanted = {a.lower() for a in addresses if a}
    found: dict[str, Staff] = {}
    for part in chunks(wanted):
        for staff in session.scalars(select(Staff).where(Staff.email.in_(part),
                                                         Staff.active.is_(True))):
            found.setdefault(staff.email, staff)
    return found


def examine(session: Session, mail: ParsedMail, secret: str, tag: str,
            staff: Staff, unverified: bool = False) -> Unproven:
    """The ticket ``mail`` names (a signed reference of ours, else a Message-ID we received,
    else the subject tag) and why it is not ``staff``'s reply to a notification;
    ``unverified``: the trusted gateway could not verify its sender."""
    kinds: list[str] = []
    ticket: Ticket | None = None
    for message_id in mail.thread_ids:
        verified = verify_message_id(secret, message_id)
        if verified is None:
            continue
        kinds.append(verified[0])
        ticket = ticket or session.get(Ticket, verified[1])
    if ticket is None and mail.thread_ids:  # a Message-ID we received (a reply to all)
        ticket = session.scalars(select(Ticket).join(Message, Message.ticket_id == Ticket.id)
                                 .where(Message.message_id.in_(mail.thread_ids),
                                        Message.direction == "in")
                                 .order_by(Message.id.desc()).limit(1)).first()
    if ticket is None:
        number = ticket_number_in_subject(mail.subject or "", tag)
        ticket = session.get(Ticket, number) if number is not None else None
    loop = AGAIN_KIND in kinds  # the second round: a mailbox rule sends ours back
    if loop or any(kind in (UNSENT_KIND, ERROR_KIND) for kind in kinds):
        why = "error-mail"
    elif unverified:
        why = "unverified"
    elif _FORWARD.match(mail.subject or ""):
        why = "forward"
    elif any(k[:1] == "n" and k[1:].isdigit() and k[1:] != str(staff.id) for k in kinds):
        why = "colleague"
    elif kinds:
        why = "other-mail"
    else:
        why = "no-reference"
    return Unproven(ticket, why, loop)


def handle_unproven(session: Session, config: Config, staff: Staff, mail: ParsedMail,
                    raw_sha256: str, automatic: bool, unverified: bool = False
                    ) -> Message | None:
    """Keep the mail (note on its ticket, audit record) and tell the staff member, unless
    it is automatic, a loop, or over the day's limit; returns the note, if any.
    ``unverified``: the trusted gateway could not verify the sender."""
    hd = config.helpdesk
    found = examine(session, mail, hd.secret, hd.tag, staff, unverified)
    note = None
    if found.ticket is not None:
        note = _note(session, config, found.ticket, staff, mail, raw_sha256, found.why, automatic)
    told = not automatic and not found.loop and _within_limit(session, config, staff.email)
    audit.record(session, staff.email[:64], AUDIT_ACTION, {
        "message_id": mail.message_id, "subject": (mail.subject or "")[:200],
        "ticket": found.ticket.id if found.ticket else None, "why": found.why,
        "automatic": automatic, "told": told, "raw_sha256": raw_sha256,
    }, success=False)
    if told:
        _tell(session, config, staff, mail, found)
    log.warning("staff mail not sent on staff=%s ticket=%s why=%s automatic=%s told=%s "
                "message_id=%s", staff.email, found.ticket.id if found.ticket else None,
                found.why, automatic, told, mail.message_id)
    return note


def _note(session: Session, config: Config, ticket: Ticket, staff: Staff, mail: ParsedMail,
          raw_sha256: str, why: str, automatic: bool) -> Message:
    """The mail, kept on its ticket as an internal note (in the help desk's language), raw
    mail included."""
    head = unsent_answer(config.helpdesk.default_language, name=staff.name, email=staff.email,
                         why=why, ticket_id=ticket.id, automatic=automatic)
    note = Message(ticket=ticket, direction="in", kind="comment",
                   message_id=mail.message_id, dedupe_key=mail.dedupe_key,
                   from_addr=staff.email, from_name=staff.name, to_addrs=mail.to,
                   cc_addrs=mail.cc, subject=mail.subject, date=mail.date, text=mail.text,
                   display_text=f"{head}\n\n{mail.display_text}".strip(),
                   raw_sha256=raw_sha256, raw_size=len(mail.raw))
    session.add(note)
    # rnmail keeps it, not the staff member: that they wrote it is exactly what is unproven
    record_change(ticket, TicketChange.NOTE, None, f"{staff.email}: {why}",
                  Actor.system())
    ticket.updated_at = utcnow()
    return note


def _within_limit(session: Session, config: Config, address: str) -> bool:
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    sent = session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.to_addr == address, OutboxMessage.purpose == PURPOSE,
        OutboxMessage.created_at >= midnight)) or 0
    sent += sum(1 for row in session.new  # queued earlier in this batch, not yet flushed
                if isinstance(row, OutboxMessage) and row.to_addr == address
                and row.purpose == PURPOSE)
    if sent >= config.ingest.auto_reply_limit:
        log.warning("daily limit of %d unsent-mail notices reached to=%s",
                    config.ingest.auto_reply_limit, address)
        return False
    return True


def _tell(session: Session, config: Config, staff: Staff, mail: ParsedMail,
          found: Unproven) -> None:
    hd = config.helpdesk
    rendered = render("staff_unsent", staff.language, hd.default_language, {
        "tag": hd.tag, "ticket_id": found.ticket.id if found.ticket else None,
        "subject": quoted_subject(mail.subject or ""), "why": found.why,
    }, helpdesk=hd)
    enqueue(session, compose(hd, Draft(
        to=[staff.email], rendered=rendered,
        kind=AGAIN_KIND if found.why == "error-mail" else UNSENT_KIND,
        ticket_id=found.ticket.id if found.ticket else None, generated=True,
        in_reply_to=mail.message_id)), purpose=PURPOSE)
