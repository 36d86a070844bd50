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
import email.base64mime
import email.quoprimime
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.charset import RFC2047_CHROME_LEN, SHORTEST, Charset
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path
from urllib.parse import quote

from rnmail.config import HelpdeskConfig
from rnmail.dispatch.render import Rendered
from rnmail.errors import RnmailError
from rnmail.models import utcnow
from rnmail.util.tokens import make_message_id

CRLF = "\r\n"
MAX_LINE = 78  # RFC 5322 §2.1.1: SHOULD, where the header can be folded; 998 is a MUST
KEEP_REFERENCES = 20
MAX_ID_LENGTH = 250  # a longer message id (never ours) is not repeated in our headers
_LONGEST_WORD = 66  # longer: encoded-words, which can be split
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


def attachment_bytes(path: Path, max_mb: float) -> bytes:
    """A file to attach, read whole: a plain file of at most ``max_mb`` (``[helpdesk]
    .max_attachment_mb``, as the desk's uploads); a device (``/dev/zero`` reads for ever), a
    FIFO or a larger file is refused."""
    if not path.is_file():
        raise RnmailError(f"{path} is not a plain file to attach")
    limit = int(max_mb * 2**20)
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise RnmailError(f"{path} is larger than {max_mb:g} MB ([helpdesk].max_attachment_mb)")
    return data


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
    in_reply_to = draft.in_reply_to if draft.in_reply_to and len(
        draft.in_reply_to) <= MAX_ID_LENGTH else None
    refs = [*draft.references, *([in_reply_to] if in_reply_to else [])]
    references = " ".join(cap_references(refs)) or None
    headers = [
        ("From", format_address(helpdesk.name, helpdesk.address, "From")),
        ("To", ", ".join(draft.to)),
        ("Subject", encode_header(rendered.subject, "Subject")),
        ("Date", format_datetime(utcnow())),
        ("Message-ID", message_id),
        ("In-Reply-To", in_reply_to),
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
        in_reply_to=in_reply_to,
        references=references,
    )


def cap_references(ids: list[str]) -> list[str]:
    """The References of a reply: each id once, none longer than ``MAX_ID_LENGTH``, and of
    a long thread only the first and the last ``KEEP_REFERENCES`` (RFC 5322 §3.6.4: the
    first, the parent's, and as many as fit between; 300 ids made an 18,856-octet line)."""
    unique = [i for i in dict.fromkeys(ids) if len(i) <= MAX_ID_LENGTH]
    if len(unique) > 1 + KEEP_REFERENCES:
        return [unique[0], *unique[-KEEP_REFERENCES:]]
    return unique


def encode_header(value: str, name: str = "Subject") -> str:
    """Whitespace collapsed (never a bare line break); RFC 2047 encoded-words, folded to 78
    columns after ``name: ``, when the text is not ASCII or has a word too long to fold."""
    value = " ".join(value.split())
    if value.isascii() and all(len(word) <= _LONGEST_WORD for word in value.split(" ")):
        return value  # header_block folds it at its spaces
    return Header(value, _UTF8, header_name=name).encode(linesep=CRLF, maxlinelen=78)


class Utf8(Charset):
    """UTF-8 as ``email.charset`` has it, the same encoded-words, but cut into lines in
    linear time: the stdlib encodes the whole line again for each character it adds, which
    was most of composing an acknowledgement with an accented subject."""

    def __init__(self) -> None:
        super().__init__("utf-8")
        assert self.header_encoding == SHORTEST

    def header_encode_lines(self, string: str, maxlengths: Iterator[int]
                            ) -> list[str | None]:
        codec = str(self.output_codec)
        whole = string.encode(codec, "surrogateescape")
        qp = email.quoprimime.header_length(whole) <= email.base64mime.header_length(whole)
        module = email.quoprimime if qp else email.base64mime
        extra = len(str(self.get_output_charset())) + RFC2047_CHROME_LEN
        lines: list[str | None] = []
        current: list[str] = []
        size = 0  # of the current line: its quoted-printable length, or its octets
        maxlen = next(maxlengths) - extra
        for character in string:
            if character < "\x80":  # one octet, itself
                step = _QP_LENGTH[ord(character)] if qp else 1
            else:
                octets = character.encode(codec, "surrogateescape")
                step = email.quoprimime.header_length(octets) if qp else len(octets)
            size += step
            current.append(character)
            if (size if qp else -(-size // 3) * 4) > maxlen:
                current.pop()
                if not lines and not current:  # nothing fits on the first line
                    lines.append(None)
                else:
                    lines.append(module.header_encode(
                        "".join(current).encode(codec, "surrogateescape"), charset=codec))
                current, size = [character], step
                maxlen = next(maxlengths) - extra
        lines.append(module.header_encode("".join(current).encode(codec, "surrogateescape"),
                                          charset=codec))
        return lines


_UTF8 = Utf8()
# the quoted-printable length of each ASCII character in an encoded-word
_QP_LENGTH = [email.quoprimime.header_length(bytes([code])) for code in range(128)]


def format_address(display_name: str, address: str, header: str = "To") -> str:
    """``name <address>`` for a ``header`` line: a non-ASCII name as encoded-words that
    fold (``formataddr`` writes one unbroken encoded-word however long the name)."""
    if display_name.isascii():
        return formataddr((display_name, address))
    whole = formataddr((display_name, address), charset="utf-8")
    if whole.index(" <") <= 75:  # the usual name: one encoded-word of at most 75 characters
        return whole  # (header_block folds before the address if the line is long)
    name = Header(display_name, "utf-8", header_name=header).encode(linesep=CRLF,
                                                                    maxlinelen=78)
    return f"{name} <{address}>"


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
        line = f"{name}: {value}"
        if len(line) > MAX_LINE or CRLF in value:
            unfolded = line.replace(CRLF + " ", " ")
            if "\r" in unfolded or "\n" in unfolded:
                raise ValueError(f"line break in {name} header")
            line = fold(unfolded)
        elif "\r" in value or "\n" in value:
            raise ValueError(f"line break in {name} header")
        lines.append(line + CRLF)
    return "".join(lines)


def fold(line: str) -> str:
    """An unfolded header line folded at its spaces (RFC 5322 §2.2.3) so that every
    physical line holds at most 78 characters where a space allows it; never a line of
    whitespace only. A word that does not fit stays whole: callers keep words short
    (``encode_header`` turns longer ones into encoded-words, References drop long ids),
    and a line that would still pass 998 octets is refused."""
    words = line.split(" ")
    physical = []
    current = words[0] + (" " + words[1] if len(words) > 1 else "")
    for word in words[2:]:
        if len(current) + 1 + len(word) > MAX_LINE and current.strip():
            physical.append(current)
            current = " " + word
        else:
            current += " " + word
    physical.append(current)
    if any(len(part) > 998 for part in physical):
        raise ValueError(f"{line.split(':', 1)[0]} header: a word longer than 998 octets")
    return CRLF.join(physical)


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
