"""Bounce: record a delivery status notification against the mail and recipient it concerns.

The outgoing mail is found by the Message-IDs quoted in the report (our own, signed ones),
else by the latest mail to the failed recipient. A permanent failure marks that outbox row
as bounced (state ``bounced``), and once ``[dispatch].suppress_after_bounces`` of our mails to
an address bounced permanently the address is suppressed (``rnmail.dispatch.suppression``),
in the same transaction. A report we cannot tie to anything is still recorded, never dropped.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.dispatch.suppression import note_hard_bounce
from rnmail.ingest.classify import Classification
from rnmail.ingest.parse import MSGID_RE, ParsedMail, subparts
from rnmail.models import Bounce, OutboxMessage, utcnow

log = logging.getLogger(__name__)
_ADDRESS_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def record_bounce(
    session: Session,
    mail: ParsedMail,
    verdict: Classification,
    fallback_recipients: list[str],
    mailbox: str,
    raw_sha256: str,
    suppress_after: int = 3,
) -> list[Bounce]:
    """Record one Bounce per failed recipient (``fallback_recipients`` when no detector
    found any); a permanent failure marks the outbox row it concerns as bounced (unless
    that row is still waiting to be sent: the report is about an earlier mail) and
    suppresses the recipient after ``suppress_after`` hard-bounced mails."""
    quoted = _quoted_message_ids(mail)
    failures = [(a, True) for a in sorted(verdict.permanent_failures)]
    failures += [(a, False) for a in sorted(verdict.temporary_failures)]
    if not failures:
        failures = [(a, True) for a in fallback_recipients] or [("", True)]
    bounces = []
    for recipient, permanent in failures:
        row = _find_outgoing(session, quoted, recipient)
        if row is not None and permanent:
            row.bounced_at = utcnow()
            if row.state not in ("queued", "sending"):
                row.state = "bounced"
        bounce = Bounce(
            outbox_id=row.id if row else None,
            recipient=recipient or (row.to_addr if row else "unknown"),
            permanent=permanent,
            original_message_id=row.message_id if row else (quoted[0] if quoted else None),
            report_message_id=mail.message_id,
            diagnostic=_diagnostic(mail),
            mailbox=mailbox,
            raw_sha256=raw_sha256,
        )
        session.add(bounce)
        bounces.append(bounce)
        if permanent:
            note_hard_bounce(session, bounce.recipient, bounce.diagnostic, suppress_after)
        log.info(
            "bounce recipient=%s permanent=%s outbox=%s report=%s",
            bounce.recipient, permanent, bounce.outbox_id, mail.message_id,
        )
    return bounces


def _quoted_message_ids(mail: ParsedMail) -> list[str]:
    """Message-IDs in the returned headers (message/rfc822 or text/rfc822-headers parts)."""
    found: list[str] = []
    for part in mail.message.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            for inner in subparts(part)[:1]:
                found += MSGID_RE.findall(str(inner.get("Message-ID", "")))
        elif ctype == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                text = payload.decode("utf-8", "replace")
                for line in text.splitlines():
                    if line.lower().startswith("message-id:"):
                        found += MSGID_RE.findall(line)
    found += [m for m in mail.thread_ids if m not in found]
    return found


def recipients_we_wrote_to(session: Session, mail: ParsedMail) -> list[str]:
    """For report formats no detector knows (localised NDRs, flattened text): the addresses
    in the text that we actually sent mail to."""
    candidates = {a.lower() for a in _ADDRESS_RE.findall(mail.text[:20000])}
    candidates -= {mail.from_addr, *mail.to}
    if not candidates:
        return []
    found = session.scalars(
        select(OutboxMessage.to_addr).where(OutboxMessage.to_addr.in_(candidates)).distinct()
    )
    return sorted(found)


def _find_outgoing(session: Session, quoted: list[str], recipient: str) -> OutboxMessage | None:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1)
    if quoted:
        by_id = query.where(OutboxMessage.message_id.in_(quoted))
        if recipient:
            by_id = by_id.where(OutboxMessage.to_addr == recipient)
        row = session.scalars(by_id).first()
        if row is not None:
            return row
    if recipient:
        return session.scalars(query.where(OutboxMessage.to_addr == recipient)).first()
    return None


def _diagnostic(mail: ParsedMail) -> str:
    for part in mail.message.walk():
        if part.get_content_type() == "message/delivery-status":
            for block in subparts(part):
                code = block.get("Diagnostic-Code") or block.get("Status")
                if code:
                    return " ".join(str(code).split())[:1000]
    return (mail.subject or mail.text[:200])[:1000]
