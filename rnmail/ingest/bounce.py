"""Bounce: record a delivery report against the one mail we sent that it proves to concern.

Anyone can write a mail that looks like a delivery report, so a report counts against an
address only when it names a mail **we sent** to that address (outbox state ``sent``) by a
token only that mail carried:

- the signed per-recipient envelope sender (VERP, ``info+b.<outbox id>.<sig>@domain``, see
  ``rnmail.util.tokens``) the report was returned to (To, Delivered-To, X-Original-To,
  Envelope-To) or quotes (the DSN's Original-Envelope-Id or X-Postfix-Sender, the quoted
  Return-Path), which names exactly one outbox row; or
- our signed Message-ID in the quoted original (message/rfc822, text/rfc822-headers or the
  text of a flattened report), for a row to a recipient the report names as failed (or the
  only row with that Message-ID when the report names none).

Such a permanent failure marks that row ``bounced`` and, once ``[dispatch].
suppress_after_bounces`` of our mails to the address bounced permanently, suppresses it
(``rnmail.dispatch.suppression``), in the same transaction. Everything else — no token, a
forged or unsigned one, a row still queued or never sent — is recorded as **unmatched**
(``outbox_id`` NULL) and changes nothing: no row state, no suppression. There is no "latest
mail to that address" fallback.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email.message import Message as EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.dispatch.suppression import note_hard_bounce
from rnmail.ingest.classify import Classification
from rnmail.ingest.parse import MSGID_RE, ParsedMail, subparts
from rnmail.models import Bounce, OutboxMessage, utcnow
from rnmail.util.tokens import find_bounce_addresses, verify_message_id

log = logging.getLogger(__name__)
# Where a report returned to our envelope sender shows it.
_ENVELOPE_HEADERS = ("To", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To",
                     "X-Rcpt-To", "Original-Envelope-Id", "X-Original-Envelope-Id")
_MAX_TEXT = 500_000
_PERMANENT_CODE = re.compile(r"(?<![\d.])(5\.\d{1,3}\.\d{1,3}|5[0-5]\d)(?![\d.])")
_TEMPORARY_CODE = re.compile(r"(?<![\d.])(4\.\d{1,3}\.\d{1,3}|4[2-5]\d)(?![\d.])")
COUNTED_STATES = ("sent", "bounced")  # a row that left us (bounced: an earlier report)


@dataclass
class ReportMatch:
    """The outbox rows a report proves to concern, and how."""

    rows: dict[int, tuple[OutboxMessage, str]] = field(default_factory=dict)  # id -> (row, how)

    def add(self, row: OutboxMessage, how: str) -> None:
        self.rows.setdefault(row.id, (row, how))


def match_report(session: Session, mail: ParsedMail, verdict: Classification,
                 secret: str) -> ReportMatch:
    """The outbox rows that the report names through a validly signed token (whatever
    their state: ``record_bounce`` decides what counts)."""
    match = ReportMatch()
    text = _report_text(mail)
    verp_ids = find_bounce_addresses(secret, text)
    if verp_ids:
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(verp_ids))):
            match.add(row, "verp")
    signed = [m for m in dict.fromkeys([*_quoted_message_ids(mail),
                                        *MSGID_RE.findall(text)])
              if verify_message_id(secret, m) is not None]
    if signed:
        failed = verdict.permanent_failures | verdict.temporary_failures
        by_id: dict[str, list[OutboxMessage]] = {}
        for row in session.scalars(select(OutboxMessage)
                                   .where(OutboxMessage.message_id.in_(signed))
                                   .order_by(OutboxMessage.id)):
            by_id.setdefault(row.message_id, []).append(row)
        for rows in by_id.values():
            named = [r for r in rows if r.to_addr.lower() in failed]
            if named:
                for row in named:
                    match.add(row, "message-id")
            elif not failed and len(rows) == 1:
                match.add(rows[0], "message-id")
    return match


def record_bounce(
    session: Session,
    mail: ParsedMail,
    verdict: Classification,
    match: ReportMatch,
    mailbox: str,
    raw_sha256: str,
    suppress_after: int = 3,
) -> list[Bounce]:
    """One Bounce per mail the report concerns (``match``), and one unmatched Bounce per
    failed recipient it names that matched nothing (or one for the report itself). Only a
    permanent failure of a mail in state ``sent`` marks it bounced and counts towards the
    suppression of its recipient after ``suppress_after`` hard-bounced mails."""
    diagnostic = _diagnostic(mail)
    quoted = _quoted_message_ids(mail)
    bounces: list[Bounce] = []
    covered: set[str] = set()
    for row, how in match.rows.values():
        address = row.to_addr.lower()
        covered.add(address)
        permanent = _permanent(mail, verdict, address)
        counted = row.state in COUNTED_STATES
        if counted and permanent:
            row.bounced_at = utcnow()
            row.state = "bounced"
        bounce = Bounce(
            outbox_id=row.id if counted else None,
            recipient=address,
            permanent=permanent,
            original_message_id=row.message_id,
            report_message_id=mail.message_id,
            diagnostic=diagnostic,
            mailbox=mailbox,
            raw_sha256=raw_sha256,
        )
        session.add(bounce)
        bounces.append(bounce)
        if counted and permanent:
            note_hard_bounce(session, address, diagnostic, suppress_after)
        log.info("bounce recipient=%s permanent=%s outbox=%s matched=%s report=%s%s",
                 address, permanent, row.id, how, mail.message_id,
                 "" if counted else f" unmatched: the mail is {row.state}, not sent")
    claimed = [(a, True) for a in sorted(verdict.permanent_failures)]
    claimed += [(a, False) for a in sorted(verdict.temporary_failures)]
    unmatched = [(a, p) for a, p in claimed if a not in covered]
    if not bounces and not unmatched:
        unmatched = [("unknown", verdict.certain)]
    for recipient, permanent in unmatched:
        bounce = Bounce(
            outbox_id=None,
            recipient=recipient[:320],
            permanent=permanent,
            original_message_id=quoted[0][:998] if quoted else None,
            report_message_id=mail.message_id,
            diagnostic=diagnostic,
            mailbox=mailbox,
            raw_sha256=raw_sha256,
        )
        session.add(bounce)
        bounces.append(bounce)
        log.warning("bounce unmatched recipient=%s permanent=%s report=%s from=%s: it names "
                    "no mail we sent to that address; nothing changed", recipient, permanent,
                    mail.message_id, mail.from_addr)
    return bounces


def _permanent(mail: ParsedMail, verdict: Classification, address: str) -> bool:
    if address in verdict.permanent_failures:
        return True
    if address in verdict.temporary_failures:
        return False
    if verdict.permanent_failures or verdict.temporary_failures:
        # A failure for another address (our mail was forwarded there): as the report says.
        return bool(verdict.permanent_failures)
    head = mail.text[:20000]
    if _PERMANENT_CODE.search(head):
        return True
    if _TEMPORARY_CODE.search(head):
        return False
    return verdict.certain


def _quoted_message_ids(mail: ParsedMail) -> list[str]:
    """Message-IDs in the returned headers (message/rfc822 or text/rfc822-headers parts)."""
    found: list[str] = []
    for part in mail.message.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            for inner in subparts(part)[:1]:
                found += MSGID_RE.findall(str(inner.get("Message-ID", "")))
        elif ctype == "text/rfc822-headers":
            for line in _decoded(part).splitlines():
                if line.lower().startswith("message-id:"):
                    found += MSGID_RE.findall(line)
    found += [m for m in mail.thread_ids if m not in found]
    return found


def _report_text(mail: ParsedMail) -> str:
    """Where a report may show our envelope sender or Message-ID: the headers it was
    delivered with, its delivery-status fields, the returned headers and its text parts."""
    msg = mail.message
    chunks = [f"{name}: {value}" for name in _ENVELOPE_HEADERS
              for value in msg.get_all(name, [])]
    chunks += [f"In-Reply-To: {' '.join(mail.in_reply_to)}",
               f"References: {' '.join(mail.references)}"]
    size = 0
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/rfc822"):
            for block in subparts(part):
                chunks.append("\n".join(f"{k}: {v}" for k, v in block.items()))
        elif part.get_content_maintype() == "text":
            chunk = _decoded(part)[:_MAX_TEXT - size]
            size += len(chunk)
            chunks.append(chunk)
    return "\n".join(chunks)


def _decoded(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(part.get_content_charset() or "utf-8", "replace") \
            if _known_charset(part.get_content_charset()) else payload.decode("utf-8", "replace")
    return ""


def _known_charset(name: str | None) -> bool:
    if not name:
        return False
    try:
        "".encode(name)
    except (LookupError, ValueError):
        return False
    return True


def _diagnostic(mail: ParsedMail) -> str:
    for part in mail.message.walk():
        if part.get_content_type() == "message/delivery-status":
            for block in subparts(part):
                code = block.get("Diagnostic-Code") or block.get("Status")
                if code:
                    return " ".join(str(code).split())[:1000]
    return (mail.subject or mail.text[:200])[:1000]
