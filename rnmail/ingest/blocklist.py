"""The blocklist and the spam hold: mail that must become nothing but a kept raw message.

A blocklist entry is an address (``x@example.org``) or a domain (``example.org``), stored
lower-cased; a domain blocks its subdomains too (``mail.example.org``), never a longer name
(``notexample.org``). The sender is every mailbox of every ``From`` header, read by the
RFC 5322 parser (``rnmail.ingest.headers``): a display name is never an address, so
``"boss@rn.example" <x@blocked.example>`` is blocked and ``"x@blocked.example"
<boss@rn.example>`` is not, and a second ``From`` header cannot hide a blocked one.

``hold`` keeps a mail in the spam state (``spam_message``), raw, with the reason: no
ticket, no ticket number, no acknowledgement, no notification. ``rnmail.ingest.spam``
lists, releases and deletes what is held.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.db import chunks
from rnmail.errors import NotFound, RnmailError
from rnmail.ingest.parse import ParsedMail
from rnmail.models import BlockedSender, SpamMessage

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_LOCAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+")
MAX_ACTOR = 64


def normal_pattern(pattern: str) -> str:
    """``pattern`` as stored: lower-cased, without ``@``/``*.`` prefixes or a final dot;
    raises if it is neither an address nor a domain."""
    value = pattern.strip().lower().rstrip(".")
    for prefix in ("*.", "@", "*@"):
        if value.startswith(prefix):
            value = value[len(prefix):]
    local, at, domain = value.rpartition("@")
    if not _DOMAIN.fullmatch(domain) or (at and not _LOCAL.fullmatch(local)):
        raise RnmailError(f"{pattern!r} is neither an address (x@example.org) nor a domain "
                          "(example.org)")
    return value


def candidates(address: str) -> list[str]:
    """The entries that would block ``address``: itself, its domain and parent domains."""
    local, _, domain = address.lower().rstrip(".").rpartition("@")
    labels = domain.split(".")
    parents = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    return ([address.lower()] if local else []) + parents


def blocking_entries(session: Session, addresses: Iterable[str]) -> set[str]:
    """The blocklist entries that block any of ``addresses`` (a whole batch's senders: one
    query per 500 candidates)."""
    wanted = {c for a in addresses for c in candidates(a)}
    return {pattern for part in chunks(wanted) for pattern in session.scalars(
        select(BlockedSender.pattern).where(BlockedSender.pattern.in_(part)))}


def blocked_by(addresses: list[str], entries: set[str]) -> str | None:
    """The first (alphabetically) of ``entries`` that blocks one of ``addresses``, if any."""
    return min((c for a in addresses for c in candidates(a) if c in entries), default=None)


def hold(session: Session, mailbox: str, uidvalidity: int, uid: str, raw: bytes,
         raw_sha256: str, mail: ParsedMail | None, reason: str) -> SpamMessage:
    """Keep a mail in the spam state (its raw mail already in the blob store)."""
    subject = (mail.subject or "")[:998] if mail else ""
    sender = (mail.from_addr or mail.header("From"))[:998] if mail else ""
    held = SpamMessage(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid,
                       reason=reason[:4000], raw_sha256=raw_sha256, raw_size=len(raw),
                       subject=subject or None, from_addr=sender or None, state="held")
    session.add(held)
    return held


def add_block(session: Session, pattern: str, actor: str, reason: str | None = None
              ) -> dict[str, Any]:
    value = normal_pattern(pattern)
    actor = actor.strip()
    if not actor or len(actor) > MAX_ACTOR:
        raise RnmailError(f"who blocks (--by) must be 1 to {MAX_ACTOR} characters")
    if session.scalars(select(BlockedSender).where(BlockedSender.pattern == value)).first():
        raise RnmailError(f"{value} is already blocked")
    entry = BlockedSender(pattern=value, reason=(reason or "").strip() or None,
                          created_by=actor)
    session.add(entry)
    session.flush()
    return block_row(entry)


def remove_block(session: Session, pattern: str) -> str:
    value = normal_pattern(pattern)
    entry = session.scalars(select(BlockedSender).where(BlockedSender.pattern == value)).first()
    if entry is None:
        raise NotFound(f"{value} is not blocked")
    session.delete(entry)
    return value


def list_blocks(session: Session) -> list[dict[str, Any]]:
    return [block_row(b) for b in session.scalars(select(BlockedSender)
                                                  .order_by(BlockedSender.pattern))]


def block_row(entry: BlockedSender) -> dict[str, Any]:
    return {"pattern": entry.pattern, "kind": "address" if "@" in entry.pattern else "domain",
            "reason": entry.reason, "by": entry.created_by,
            "created_at": entry.created_at.isoformat()}
