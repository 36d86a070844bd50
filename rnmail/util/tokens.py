"""Signed tokens (HMAC-SHA256 with ``helpdesk.secret``) for our Message-IDs.

Every mail rnmail sends carries a Message-ID whose local part is signed, so a reply that
references it proves which mail it answers without trusting the From: header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SIG_LEN = 16


def sign(secret: str, payload: str) -> str:
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode().lower()[:SIG_LEN]


def make_message_id(secret: str, domain: str, kind: str, ticket_id: int | None) -> str:
    """``<rn.KIND.TICKET.NONCE.SIG@domain>``: unique, and verifiable with ``verify_message_id``."""
    payload = f"rn.{kind}.{ticket_id or 0}.{secrets.token_hex(6)}"
    return f"<{payload}.{sign(secret, payload)}@{domain}>"


def verify_message_id(secret: str, message_id: str) -> tuple[str, int] | None:
    """(kind, ticket id) when ``message_id`` is one of ours with a valid signature."""
    local = message_id.strip().strip("<>").split("@", 1)[0]
    payload, _, sig = local.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 4 or parts[0] != "rn" or not parts[2].isdigit():
        return None
    if not hmac.compare_digest(sign(secret, payload), sig):
        return None
    return parts[1], int(parts[2])
