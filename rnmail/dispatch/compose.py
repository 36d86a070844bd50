"""Compose: a rendered text → the bytes of a mail, ready for the outbox.

Every mail gets our own signed Message-ID (recorded, so replies thread even when the client
drops the subject tag), the requester's thread headers when it answers one of their mails,
and, when automatic, ``Auto-Submitted: auto-replied`` and ``X-Auto-Response-Suppress``.

The MIME is written here directly (headers pre-encoded, bodies in base64) rather than by
the stdlib generator, which re-folds every header through ``email.header`` and made
serialising cost more than rendering; the shape is fixed and small, and the tests parse
every kind of mail we write back with ``policy.default``.

Next stage: ``outbox``.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from email.header import Header
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from rnmail.config import HelpdeskConfig
from rnmail.dispatch.render import Rendered
from rnmail.models import utcnow
from rnmail.util.tokens import make_message_id

CRLF = "\r\n"
_MIME_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*")


@dataclass(frozen=True)
class Draft:
    """What to send, before it has a Message-ID."""

    to: list[str]
    rendered: Rendered
    kind: str  # the purpose, signed into the Message-ID: ack, reply, n<staff id>, ...
    ticket_id: int | None = None
    automatic: bool = False  # an automatic answer: counts against the daily loop limit
    generated: bool = False  # machine-made but not an answer (staff notifications)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Composed:
    """A composed mail: its bytes and the facts the outbox records about it."""

    raw: bytes
    message_id: str
    mail_from: str
    to: list[str]
    subject: str
    text: str
    automatic: bool
    in_reply_to: str | None
    references: str | None


def compose(helpdesk: HelpdeskConfig, draft: Draft) -> Composed:
    rendered = draft.rendered
    domain = helpdesk.address.rsplit("@", 1)[-1]
    message_id = make_message_id(helpdesk.secret, domain, draft.kind, draft.ticket_id)
    refs = [*draft.references, *([draft.in_reply_to] if draft.in_reply_to else [])]
    references = " ".join(dict.fromkeys(refs)) or None
    headers = [
        ("From", formataddr((helpdesk.name, helpdesk.address), charset="utf-8")),
        ("To", ", ".join(draft.to)),
        ("Subject", encode_header(rendered.subject)),
        ("Date", format_datetime(utcnow())),
        ("Message-ID", message_id),
        ("In-Reply-To", draft.in_reply_to),
        ("References", references),
        ("MIME-Version", "1.0"),
        ("Content-Language", rendered.language),
    ]
    if draft.automatic or draft.generated:
        headers += [
            ("Auto-Submitted", "auto-replied" if draft.automatic else "auto-generated"),
            ("X-Auto-Response-Suppress", "All"),
        ]
    if draft.automatic:
        headers.append(("Precedence", "auto_reply"))
    raw = (header_block(headers) + mime_body(rendered, draft.attachments)).encode("ascii")
    return Composed(
        raw=raw,
        message_id=message_id,
        mail_from=helpdesk.address,
        to=list(draft.to),
        subject=rendered.subject,
        text=rendered.text,
        automatic=draft.automatic,
        in_reply_to=draft.in_reply_to,
        references=references,
    )


def encode_header(value: str) -> str:
    """RFC 2047 when needed, folded to 78 columns; never a bare line break."""
    value = " ".join(value.split())
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8").encode(linesep=CRLF, maxlinelen=76)


def mime_body(rendered: Rendered, attachments: list[Attachment]) -> str:
    """The MIME body with its Content-Type header: text, HTML alternative, attachments."""
    plain = _text_part(rendered.text, "plain")
    if rendered.html:
        body = _multipart("alternative", [plain, _text_part(rendered.html, "html")])
    else:
        body = plain
    if attachments:
        body = _multipart("mixed", [body, *(_attachment_part(a) for a in attachments)])
    return body


def header_block(headers: list[tuple[str, str | None]]) -> str:
    lines = []
    for name, value in headers:
        if value is None:
            continue
        # Values come from templates and from received mail: refuse header injection;
        # the only line breaks allowed are encode_header's folds (CRLF + space).
        unfolded = value.replace(CRLF + " ", " ")
        if "\r" in unfolded or "\n" in unfolded:
            raise ValueError(f"line break in {name} header")
        lines.append(f"{name}: {value}{CRLF}")
    return "".join(lines)


def _text_part(text: str, subtype: str) -> str:
    encoded = base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", CRLF)
    return (f"Content-Type: text/{subtype}; charset=\"utf-8\"{CRLF}"
            f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{encoded}")


def _attachment_part(attachment: Attachment) -> str:
    encoded = base64.encodebytes(attachment.data).decode("ascii").replace("\n", CRLF)
    name = attachment.filename.replace("\\", "_").replace('"', "_")
    if name.isascii() and name.isprintable():
        disposition = f'attachment; filename="{name}"'
    else:  # RFC 2231
        disposition = f"attachment; filename*=utf-8''{quote(name, safe='')}"
    ctype = attachment.content_type  # it came from a received mail: only a plain type passes
    if not _MIME_TYPE.fullmatch(ctype):
        ctype = "application/octet-stream"
    return (f"Content-Type: {ctype}{CRLF}Content-Disposition: {disposition}{CRLF}"
            f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{encoded}")


def _multipart(subtype: str, parts: list[str]) -> str:
    # base64 and header lines never start with "--", so a random boundary cannot collide.
    boundary = f"=_rn_{secrets.token_hex(12)}"
    body = "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts)
    return (f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"{CRLF}{CRLF}"
            f"{body}--{boundary}--{CRLF}")
