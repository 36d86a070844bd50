"""Signed tokens (HMAC-SHA256 with ``helpdesk.secret``) for our Message-IDs and envelope senders.

Every mail rnmail sends carries a Message-ID whose local part is signed, so a reply that
references it proves which mail it answers without trusting the From: header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

SIG_LEN = 16
_SIG_BYTES = (SIG_LEN * 5 + 7) // 8  # base32 writes 5 bits a character: what SIG_LEN shows
assert _SIG_BYTES % 5 == 0 and _SIG_BYTES * 8 == SIG_LEN * 5  # make_message_ids' slices


def sign(secret: str, payload: str) -> str:
    """The first SIG_LEN base32 characters of the HMAC. One-shot ``hmac.digest`` and only
    the bytes shown encoded: it runs for every mail queued and every mail sent."""
    mac = hmac.digest(secret.encode(), payload.encode(), hashlib.sha256)
    return base64.b32encode(mac[:_SIG_BYTES]).decode().lower()[:SIG_LEN]


def make_message_id(secret: str, domain: str, kind: str, ticket_id: int | None) -> str:
    """``<rn.KIND.TICKET.NONCE.SIG@domain>``: unique, and verifiable with ``verify_message_id``."""
    return make_message_ids(secret, domain, kind, ticket_id, 1)[0]


def make_message_ids(secret: str, domain: str, kind: str, ticket_id: int | None,
                     count: int) -> list[str]:
    """``count`` Message-IDs as ``make_message_id`` writes them, for a mailing's rows: one
    read of random bytes and one base32 encoding for them all (``_SIG_BYTES`` is a whole
    number of base32's 5-byte groups, so the signatures are the slices of the whole)."""
    nonces = secrets.token_hex(6 * count)
    key = secret.encode()
    prefix = f"rn.{kind}.{ticket_id or 0}."
    payloads = [prefix + nonces[i:i + 12] for i in range(0, 12 * count, 12)]
    signatures = base64.b32encode(b"".join(
        hmac.digest(key, payload.encode(), hashlib.sha256)[:_SIG_BYTES] for payload in payloads
    )).decode().lower()
    return [f"<{payload}.{signatures[i * SIG_LEN:(i + 1) * SIG_LEN]}@{domain}>"
            for i, payload in enumerate(payloads)]


# The kinds whose signed Message-ID, referenced by a mail from the member's (or service's)
# own address, proves a staff reply (``rnmail.ingest.staff.recognise``): a notification
# "n<staff id>", a delegation "s<service id>", a held answer "h<staff id>-<held id>".
STAFF_PROOF_KINDS = ("n", "s", "h")
_SIGNED_ID = re.compile(rb"rn\.([a-z]+[0-9-]*)\.([0-9]+)\.([0-9a-f]{12})\.([a-z2-7]{%d})"
                        % SIG_LEN)


def blunt_staff_proofs(secret: str, data: bytes) -> tuple[bytes, int]:
    """``data`` with the signature of each staff proof in it (``STAFF_PROOF_KINDS``) made
    zeros, and how many: what a requester is handed (their data export) must not let them
    act as a staff member. Same length (a file's offsets hold) and still readable as the
    Message-ID it was; no longer valid ("0" is not a base32 character)."""
    count = 0

    def blunted(match: re.Match[bytes]) -> bytes:
        nonlocal count
        kind, payload = match[1].decode(), match[0].rpartition(b".")[0].decode()
        if kind[:1] not in STAFF_PROOF_KINDS or not hmac.compare_digest(
                sign(secret, payload), match[4].decode()):
            return match[0]
        count += 1
        return match[0][:-SIG_LEN] + b"0" * SIG_LEN

    return _SIGNED_ID.sub(blunted, data), count


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


# --------------------------------------------------------------------------- bounce addresses
#
# Every mail leaves with its own envelope sender (MAIL FROM, written as Return-Path by the
# receiving side), VERP style as GNU Mailman does it:
#
#     <localpart>+b.<outbox id>.<sig>@<domain>      e.g. info+b.42.k3v7q2m4x5a6b7c2@rn.example
#
# where localpart@domain is the mail's From (``helpdesk.address``) and sig signs
# ``bounce.<outbox id>`` with ``helpdesk.secret``. A delivery report comes back to that address,
# so it names exactly one outbox row, and only someone who saw the mail (its recipient, or the
# servers on its way) knows the address: a stranger cannot forge a report that counts.

BOUNCE_TAG = "b"
VERP_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*/=?^_`{|}~.-]+\+" + BOUNCE_TAG + r"\.(\d{1,18})\.([A-Za-z2-7]{"
    + str(SIG_LEN) + r"})@[A-Za-z0-9.-]+",
    re.IGNORECASE,
)


def _bounce_payload(outbox_id: int) -> str:
    return f"bounce.{outbox_id}"


def make_bounce_address(secret: str, sender: str, outbox_id: int) -> str:
    """The signed per-recipient envelope sender of outbox row ``outbox_id`` sent from
    ``sender``; ``sender`` unchanged when it has no domain (nothing to return to)."""
    local, at, domain = sender.rpartition("@")
    if not at or not local:
        return sender
    sig = sign(secret, _bounce_payload(outbox_id))
    return f"{local}+{BOUNCE_TAG}.{outbox_id}.{sig}@{domain}"


def verify_bounce_address(secret: str, address: str) -> int | None:
    """The outbox id that ``address`` (a VERP envelope sender made by ``make_bounce_address``)
    names when its signature is valid, else None. Case-insensitive: some servers lower-case
    the local part."""
    match = VERP_RE.fullmatch(address.strip().strip("<>"))
    if match is None:
        return None
    outbox_id, sig = int(match.group(1)), match.group(2).lower()
    if not hmac.compare_digest(sign(secret, _bounce_payload(outbox_id)), sig):
        return None
    return outbox_id


def find_bounce_addresses(secret: str, text: str) -> list[int]:
    """The outbox ids named by validly signed VERP addresses in ``text``, in order, once each."""
    found: list[int] = []
    for match in VERP_RE.finditer(text):
        outbox_id = verify_bounce_address(secret, match.group(0))
        if outbox_id is not None and outbox_id not in found:
            found.append(outbox_id)
    return found
