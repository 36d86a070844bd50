"""The doctor's sender authentication check: the configured mail gateway against the mails
it handed over.

``[ingest] trusted_authserv_id`` names the gateway whose ``Authentication-Results`` rnmail
believes (``rnmail.ingest.authres``). Set to an id the gateway does not write (a typo, a
gateway replaced), no mail gets a verdict and forged senders pass unnoticed, without any
error anywhere: this check reads the topmost header of the last mails received and says so.
"""

from __future__ import annotations

from collections import Counter
from email.parser import BytesHeaderParser

from sqlalchemy import select

from rnmail.config import Config
from rnmail.db import Database
from rnmail.errors import RnmailError
from rnmail.ingest.authres import topmost_authserv_id
from rnmail.models import Message
from rnmail.util.blobs import BlobStore

# Recent mails whose headers the sender authentication check reads.
GATEWAY_SAMPLE = 100
HEADER_BYTES = 64 * 1024


def check_gateway(config: Config) -> str:
    """Whether the trusted gateway (``[ingest] trusted_authserv_id``) is the one that wrote
    the topmost ``Authentication-Results`` of the last mails received: with another id
    configured, no mail gets a verdict and nothing is checked, silently. Unset, the id the
    mails carry is named, to set it."""
    seen = _topmost_ids(config)
    ing = config.ingest
    trusted = [ing.trusted_authserv_id] if ing.trusted_authserv_id else []
    if ing.trusted_without_authserv_id:
        trusted.append("")  # Microsoft 365's headers carry no authserv-id
    if not seen:
        return "no mail received yet to compare with the gateway's settings"
    counted = Counter(seen)
    named = ", ".join(f"{_id_words(found)} in {n}" for found, n in counted.most_common(3))
    of = f"of the last {len(seen)} mail(s)"
    if not trusted:
        common = next((found for found, _ in counted.most_common() if found), None)
        if common is None:
            return f"no gateway configured; none {of} carries an Authentication-Results"
        return (f"no gateway configured ([ingest] trusted_authserv_id): the topmost "
                f"Authentication-Results {of}: {named}; if {common!r} is your mail gateway, "
                f"set trusted_authserv_id = \"{common}\" to tell forged senders apart")
    gateway = " or ".join(_id_words(i) for i in trusted)
    written = sum(counted[i] for i in trusted)
    if written == 0:
        raise RnmailError(f"[ingest] gateway {gateway} wrote the topmost Authentication-Results "
                          f"of none {of} ({named}): no mail gets a verdict, forged senders "
                          "pass unnoticed; check the setting")
    return f"{gateway} on {written} {of}"


def _id_words(authserv_id: str | None) -> str:
    if authserv_id is None:
        return "no Authentication-Results"
    return f"{authserv_id!r}" if authserv_id else "no authserv-id"


def _topmost_ids(config: Config) -> list[str | None]:
    """The topmost Authentication-Results' authserv-id of each of the last mails received
    whose raw mail is still kept (newest first)."""
    db = Database.of(config)
    try:
        with db.transaction() as session:
            digests = [digest for digest in session.scalars(
                select(Message.raw_sha256)
                .where(Message.direction == "in", Message.raw_sha256.is_not(None))
                .order_by(Message.id.desc()).limit(GATEWAY_SAMPLE)) if digest]
    finally:
        db.dispose()
    blobs, parser, seen = BlobStore(config.helpdesk.attachments_dir), BytesHeaderParser(), []
    for digest in digests:
        try:
            with blobs.path(digest).open("rb") as raw:
                head = raw.read(HEADER_BYTES)  # the header section, not a large attachment
        except OSError:  # purged meanwhile: the next one
            continue
        headers = parser.parsebytes(head).items()
        seen.append(topmost_authserv_id([(name, str(value)) for name, value in headers]))
    return seen
