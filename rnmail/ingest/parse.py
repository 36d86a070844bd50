"""Parse: raw bytes → ``ParsedMail``. Pure: no database, no network.

The stdlib parser runs with the ``compat32`` policy (about four times faster than
``policy.default`` on help-desk mail) and rnmail decodes what it needs itself, with the
tolerance real mail requires: wrong or missing charsets (``charsets``), raw 8-bit headers,
HTML-only bodies, several inline text parts, header blocks a gateway broke (``headers``).
The sender and the other addresses are read by the RFC 5322 parser before any RFC 2047
decoding (``headers``): a display name is never taken for an address.
Anything the parser cannot make sense of, or that exceeds the configured limits, raises
``Quarantine`` so the pipeline keeps the raw message instead of losing it.

It is long because ``ParsedMail`` is everything the later stages read of a mail, worked out
once: in the parse-ahead process (``parse_ahead``) its cached views (decoded headers, the
first value of each header, the senders) are computed before it is pickled, so the main
process, the ingest's bottleneck, only reads them. Split, the cached views would live apart
from the parse that fills them.

Next stage: ``classify``.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import MissingHeaderBodySeparatorDefect
from email.header import Header, decode_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from functools import cached_property
from html import escape
from typing import TYPE_CHECKING

from inscriptis import get_text
from mailparser_reply import EmailReplyParser

from rnmail.errors import Quarantine
from rnmail.ingest.charsets import decode_bytes, guess_header_bytes
from rnmail.ingest.headers import (
    read_addresses,
    read_mailboxes,
    read_sender,
    repair_header_block,
)
from rnmail.ingest.tnef import body_text, is_tnef, unpack
from rnmail.util.phone import phone_numbers

if TYPE_CHECKING:
    from rnmail.ingest.classify import Classification
    from rnmail.util.blobs import StagedBlob

log = logging.getLogger(__name__)
MSGID_RE = re.compile(r"<[^<>\s]+>")
_REPLY_PREFIX_RE = re.compile(
    r"^\s*(re|tr|fw|fwd|aw|wg|antw|sv|vs|ref)\s*(\[\d+\])?\s*:", re.IGNORECASE
)
_QUOTED_RE = re.compile(r"^>", re.MULTILINE)
_CORE_HEADERS = ("From", "Sender", "To", "Subject", "Date", "Message-ID")
_REPLY_PARSER = EmailReplyParser(languages=["fr", "nl", "de", "en"])
# A reply's attribution line ("Le … a écrit :", "Op … schreef …:"), which starts the quoted
# history; util.sanitize folds an HTML quotation that follows one.
ATTRIBUTION_RE = re.compile(
    r"^[ \t]*(?:Le|Op|Am|On)\s[^\n]{4,200}?(?:\n[^\n]{0,200}?)?"
    r"\b(?:a\s+écrit|schreef|schrieb|wrote)\b[^\n]{0,200}:[ \t]*$",
    re.MULTILINE,
)


class _Message(EmailMessage):
    """EmailMessage whose body helpers work under the compat32 policy (plain str headers)."""

    def is_attachment(self) -> bool:
        return self.get_content_disposition() == "attachment"


@dataclass(frozen=True)
class Limits:
    max_attachment_bytes: int
    max_parts: int = 500
    max_depth: int = 30


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    size: int
    data: bytes | None  # None when omitted
    inline: bool = False
    content_id: str | None = None
    omitted_reason: str | None = None
    # ``data`` written ahead by the parse-ahead process
    staged: StagedBlob | None = field(default=None, compare=False)


@dataclass
class ParsedMail:
    raw: bytes
    message: Message
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_addr: str
    from_name: str | None
    to: list[str]
    cc: list[str]
    reply_to: list[str]
    date: datetime | None
    text: str
    html: str | None
    attachments: list[ParsedAttachment] = field(default_factory=list)
    sender_problem: str | None = None  # why ``from_addr`` is empty: no verifiable sender
    charset_hint: str | None = None  # the body's declared charset, for raw 8-bit headers
    # ``raw`` written ahead by the parse-ahead process
    staged_raw: StagedBlob | None = field(default=None, compare=False)

    @cached_property
    def dedupe_key(self) -> str:
        """What makes two copies the same mail: the Message-ID with the sender, date and
        subject (a copy delivered to two mailboxes differs only in its trace headers, while
        a mailer that reuses Message-IDs changes these), or the whole content without one."""
        digest = hashlib.sha256()
        for name in ("From", "Date", "Subject"):
            digest.update(str(self.message.get(name, "")).encode("utf-8", "surrogateescape"))
            digest.update(b"\0")
        if self.message_id:
            digest.update(self.message_id.encode("utf-8", "surrogateescape"))
            return "mid:" + digest.hexdigest()
        digest.update(str(self.message.get("To", "")).encode("utf-8", "surrogateescape"))
        digest.update(self.raw.replace(b"\r\n", b"\n").partition(b"\n\n")[2])
        return "sha:" + digest.hexdigest()

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, most specific first."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen

    def header(self, name: str) -> str:
        return decode_header_value(self.get(name), self.charset_hint)

    def get(self, name: str) -> object:
        """The first ``name`` header as ``message.get`` gives it, without reading through
        every header again: the stages ask for a dozen per mail."""
        return self.first_headers.get(name.lower())

    @cached_property
    def first_headers(self) -> dict[str, object]:
        """The first value of each header, by lower-cased name."""
        first: dict[str, object] = {}
        for name, value in self.message.items():
            first.setdefault(name.lower(), value)
        return first

    @cached_property
    def decoded_headers(self) -> list[tuple[str, str]]:
        """Every header, decoded, in order: what ``screen`` reads (worked out in the
        parse-ahead process, like the other cached properties)."""
        return decoded_headers(self.message)

    @cached_property
    def sender_addresses(self) -> list[str]:
        """Every mailbox of every From header, lower-cased: what the blocklist is asked
        about."""
        found = [self.from_addr.lower()] if self.from_addr else []
        for value in self.message.get_all("From") or []:
            mailboxes, _ = read_mailboxes(decode_header_value(value))
            found += [address for _, address in mailboxes if address not in found]
        return found

    @cached_property
    def delivery_report(self) -> Classification | None:
        """What it says as a delivery report (``rnmail.ingest.classify``), None when it is
        not one: read from the mail alone, in the parse-ahead process."""
        from rnmail.ingest.classify import delivery_report  # classify imports this module

        return delivery_report(self)

    @cached_property
    def phone_numbers(self) -> list[str]:
        """The numbers in its subject, text and sender (E.164), which the search index
        finds it by (``message.search_numbers``; worked out in the parse-ahead process)."""
        return phone_numbers(self.subject, self.display_text, self.from_addr)

    @cached_property
    def language(self) -> str | None:
        """The language its subject and text are written in, None when unclear: what a new
        ticket is answered in (worked out in the parse-ahead process)."""
        from rnmail.util.language import detect_language  # lingua: only where mail comes in

        return detect_language(f"{self.subject}\n{self.display_text}")

    @cached_property
    def display_text(self) -> str:
        """The new part of a reply or forward: quoted history and signature stripped for
        display. A first message is shown whole (nothing in it is history)."""
        if self.thread_ids or _REPLY_PREFIX_RE.match(self.subject) or _QUOTED_RE.search(
                self.text):
            return strip_quoted(self.text)
        return self.text.strip()


def parse_message(raw: bytes, limits: Limits) -> ParsedMail:
    """Parse ``raw``; raises ``Quarantine`` for what cannot or must not be processed."""
    if not raw.strip():
        raise Quarantine("empty message")
    try:
        msg = email.message_from_bytes(raw, _class=_Message, policy=email.policy.compat32)
        if any(isinstance(d, MissingHeaderBodySeparatorDefect) for d in msg.defects) or not any(
                msg.get(name) for name in _CORE_HEADERS):
            msg = _recover_headers(raw, msg)
    except Exception as exc:  # the stdlib parser is lenient; this is truly broken input
        raise Quarantine(f"unparseable message: {exc}") from None
    _check_structure(msg, limits)
    try:
        return _build(raw, msg, limits)  # type: ignore[arg-type]  # _class=_Message
    except (LookupError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise Quarantine(f"malformed message: {type(exc).__name__}: {exc}") from None


def _recover_headers(raw: bytes, msg: Message) -> Message:
    """A header block the parser stopped reading early (a banner line before the headers,
    a continuation line in column 0): the leniently repaired copy if it has a sender."""
    repaired = repair_header_block(raw)
    if repaired is None:
        return msg
    again = email.message_from_bytes(repaired, _class=_Message, policy=email.policy.compat32)
    if again.get("From") is None and again.get("Sender") is None:
        return msg
    return again


def subparts(part: Message) -> list[Message]:
    """The sub-messages of a multipart or message/rfc822 part (none for a leaf)."""
    payload = part.get_payload() if part.is_multipart() else None
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _check_structure(msg: Message, limits: Limits) -> None:
    parts = 0
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        if parts > limits.max_parts:
            raise Quarantine(f"too many MIME parts (more than {limits.max_parts})")
        if depth > limits.max_depth:
            raise Quarantine(f"MIME nesting deeper than {limits.max_depth}")
        if part.get_content_maintype() == "multipart":
            stack.extend((p, depth + 1) for p in subparts(part))
    if not any(msg.get(name) for name in _CORE_HEADERS):
        raise Quarantine("not an email message: none of " + ", ".join(_CORE_HEADERS))


def _build(raw: bytes, msg: EmailMessage, limits: Limits) -> ParsedMail:
    hint = _charset_hint(msg)
    sender = read_sender(_raw_values(msg, "From", hint))
    text, html, body_parts = _body(msg)
    message_id = _first_msgid(msg.get("Message-ID"))
    attachments = _attachments(msg, body_parts, limits, message_id)
    if not text.strip() and not html:  # sent as nothing but a winmail.dat: its text
        text = next((found for a in attachments
                     if is_tnef(a.content_type, a.filename, a.data) and a.data is not None
                     and (found := body_text(a.data, message_id, html_to_text))), text)
    return ParsedMail(
        raw=raw,
        message=msg,
        message_id=message_id,
        in_reply_to=MSGID_RE.findall(decode_header_value(msg.get("In-Reply-To"))),
        references=MSGID_RE.findall(decode_header_value(msg.get("References"))),
        subject=_one_line(decode_header_value(msg.get("Subject"), hint)),
        from_addr=sender.address,
        from_name=_one_line(sender.name)[:200] or None,
        to=read_addresses(_raw_values(msg, "To", hint)),
        cc=read_addresses(_raw_values(msg, "Cc", hint)),
        reply_to=read_addresses(_raw_values(msg, "Reply-To", hint)),
        date=_date(msg.get("Date")),
        text=text,
        html=html,
        attachments=attachments,
        sender_problem=sender.problem,
        charset_hint=hint,
    )


def _body(msg: EmailMessage) -> tuple[str, str | None, set[int]]:
    """Text, HTML and the parts that make them. Several inline text parts of a
    multipart/mixed (text, a signature part, more text; or several HTML parts, as Apple Mail
    sends around an inline image) are joined in order; a part with a filename or
    ``Content-Disposition: attachment`` stays an attachment."""
    pieces = _inline_pieces(msg)
    if pieces is not None:
        texts, htmls = [], []
        for plain, rich in pieces:
            rich_text = decode_text_part(rich) if rich is not None else None
            text = decode_text_part(plain) if plain is not None else html_to_text(rich_text or "")
            texts.append(text.strip("\n"))
            htmls.append(rich_text if rich_text is not None
                         else f"<pre>{escape(text)}</pre>")
        used = {id(p) for pair in pieces for p in pair if p is not None}
        html = "\n".join(htmls) if any(rich is not None for _, rich in pieces) else None
        return "\n\n".join(t for t in texts if t), html, used
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    if text_part is not None and text_part.get_content_type() != "text/plain":
        text_part = None
    if html_part is not None and html_part.get_content_type() != "text/html":
        html_part = None
    html = decode_text_part(html_part) if html_part is not None else None
    if text_part is not None:
        text = decode_text_part(text_part)
    elif html:
        text = html_to_text(html)
    elif not msg.is_multipart() and msg.get_content_maintype() == "text":
        text = decode_text_part(msg)  # e.g. text/enriched or a bogus subtype
    else:
        text = ""
    body_parts = {id(p) for p in (text_part, html_part) if p is not None}
    if not msg.is_multipart() and msg.get_content_maintype() == "text":
        body_parts.add(id(msg))
    return text, html, body_parts


def _inline_pieces(msg: Message) -> list[tuple[Message | None, Message | None]] | None:
    """The (plain, html) of each inline text piece of the top multipart/mixed (inside a
    multipart/signed too), or None when there are fewer than two."""
    if msg.get_content_type() == "multipart/signed":
        inner = subparts(msg)
        msg = inner[0] if inner else msg
    if msg.get_content_type() != "multipart/mixed":
        return None
    pieces: list[tuple[Message | None, Message | None]] = []
    for part in subparts(msg):
        if part.get_content_disposition() == "attachment" or _has_filename(part):
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            pieces.append((part, None))
        elif ctype == "text/html":
            pieces.append((None, part))
        elif ctype in ("multipart/alternative", "multipart/related") and isinstance(
                part, EmailMessage):
            plain = part.get_body(preferencelist=("plain",))
            rich = part.get_body(preferencelist=("html",))
            plain = plain if plain is not None and plain.get_content_type() == "text/plain" \
                else None
            rich = rich if rich is not None and rich.get_content_type() == "text/html" else None
            if plain is not None or rich is not None:
                pieces.append((plain, rich))
    return pieces if len(pieces) > 1 else None


def _has_filename(part: Message) -> bool:
    return bool(part.get_param("filename", header="content-disposition")
                or part.get_param("name", header="content-type")
                or part.get_param("filename*", header="content-disposition"))


def _charset_hint(msg: Message) -> str | None:
    """The charset the body declares: the best guess for raw 8-bit header bytes."""
    for part in (msg, *subparts(msg)[:3]):
        charset = part.get_param("charset")
        if isinstance(charset, str) and charset:
            return charset
    return None


def _raw_values(msg: Message, name: str, hint: str | None) -> list[str]:
    """The header's values as the mailer wrote them (RFC 2047 words still encoded), raw
    8-bit bytes decoded as UTF-8 or the body's charset."""
    lowered = name.lower()
    return [_undo_surrogates(str(v), hint) for k, v in msg.raw_items() if k.lower() == lowered]


def decoded_headers(message: Message) -> list[tuple[str, str]]:
    return [(str(name), decode_header_value(value)) for name, value in message.items()]


def decode_header_value(value: object, hint: str | None = None) -> str:
    """An RFC 2047 header as text; raw 8-bit bytes read as UTF-8, else as the body's
    declared charset ``hint``, else as charset-normalizer guesses (``guess_header_bytes``)."""
    if value is None:
        return ""
    if isinstance(value, Header):  # compat32 wraps headers holding raw 8-bit bytes
        value = "".join(
            guess_header_bytes(chunk, hint) if isinstance(chunk, bytes) else chunk
            for chunk, _charset in decode_header(value)
        )
    value = _undo_surrogates(str(value), hint)
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except Exception:
        return value
    return "".join(  # text between encoded words comes back as raw-unicode-escape bytes
        (decode_bytes(chunk, charset) if charset else chunk.decode("raw-unicode-escape"))
        if isinstance(chunk, bytes) else chunk
        for chunk, charset in chunks
    )


def _undo_surrogates(value: str, hint: str | None = None) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogates; give them back their characters."""
    if value.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    return guess_header_bytes(value.encode("utf-8", "surrogateescape"), hint)


def decode_text_part(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    text = decode_bytes(payload, part.get_content_charset())
    return text.replace("\r\n", "\n").replace("\x00", "")


def html_to_text(html: str) -> str:
    try:
        return str(get_text(html)).strip()
    except Exception:  # inscriptis/lxml choke on some garbage; the HTML itself is kept
        return re.sub(r"<[^>]+>", " ", html).strip()


def strip_quoted(text: str) -> str:
    """The new part of a reply. mail-parser-reply knows the Outlook header blocks and
    signatures; Gmail's one-line attributions in Dutch and German ("Op … schreef X <a@b>:")
    escape its patterns, so those are cut first."""
    match = ATTRIBUTION_RE.search(text)
    if match and match.start() > 0:
        text = text[: match.start()]
    try:
        stripped = _REPLY_PARSER.parse_reply(text=text)
    except Exception:
        return text.strip()
    return stripped.strip() if stripped and stripped.strip() else text.strip()


def _attachments(msg: Message, body_parts: set[int], limits: Limits,
                 message_id: str | None) -> list[ParsedAttachment]:
    found: list[ParsedAttachment] = []
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop(0)
        ctype = part.get_content_type()
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            stack[0:0] = subparts(part)
            continue
        if id(part) in body_parts:
            continue
        found.append(_attachment(part, ctype, len(found) + 1, limits))
        if is_tnef(ctype, found[-1].filename, found[-1].data):
            found.extend(_unpacked(found[-1], len(found), limits, message_id))
    return found


def _unpacked(winmail: ParsedAttachment, count: int, limits: Limits,
              message_id: str | None) -> list[ParsedAttachment]:
    """The files of a winmail.dat, after it (``tnef``), under the limits of any attachment:
    each over the size limit is recorded as omitted; beyond ``max_parts`` files none more."""
    assert winmail.data is not None
    files = unpack(winmail.data, message_id, _safe_filename)
    room = max(0, limits.max_parts - count)
    if len(files) > room:
        log.warning("winmail.dat of %s: %d files, only the first %d unpacked (max_parts)",
                    message_id or "(no Message-ID)", len(files), room)
    parts = []
    for f in files[:room]:
        ctype = mimetypes.guess_type(f.filename)[0] or "application/octet-stream"
        too_large = len(f.data) > limits.max_attachment_bytes
        parts.append(ParsedAttachment(
            filename=f.filename, content_type=ctype, size=len(f.data),
            data=None if too_large else f.data,
            omitted_reason=(f"larger than the {limits.max_attachment_bytes // 2**20} MB limit"
                            if too_large else None)))
    return parts


def _attachment(part: Message, ctype: str, number: int, limits: Limits) -> ParsedAttachment:
    filename = _filename(part)
    content_id = part.get("Content-ID")
    inline = (part.get_content_disposition() or "inline") == "inline"
    if ctype == "message/rfc822":
        inner = subparts(part)
        inner_msg = inner[0] if inner else None
        data = inner_msg.as_bytes() if inner_msg is not None else b""
        if not filename:
            subject = decode_header_value(inner_msg.get("Subject")) if inner_msg else ""
            filename = _safe_filename(subject or f"message-{number}") + ".eml"
    else:
        size = _encoded_size(part)
        if size > limits.max_attachment_bytes:
            return ParsedAttachment(
                filename=filename or f"part-{number}",
                content_type=ctype,
                size=size,
                data=None,
                inline=inline,
                content_id=content_id,
                omitted_reason=(
                    f"larger than the {limits.max_attachment_bytes // 2**20} MB attachment limit"
                ),
            )
        decoded = part.get_payload(decode=True)
        data = decoded if isinstance(decoded, bytes) else b""
    if len(data) > limits.max_attachment_bytes:
        return ParsedAttachment(
            filename=filename or f"part-{number}",
            content_type=ctype,
            size=len(data),
            data=None,
            inline=inline,
            content_id=content_id,
            omitted_reason=f"larger than the {limits.max_attachment_bytes // 2**20} MB limit",
        )
    if not filename:
        extension = _EXTENSIONS.get(ctype, ".bin")
        filename = f"part-{number}{extension}"
    return ParsedAttachment(
        filename=filename,
        content_type=ctype,
        size=len(data),
        data=data,
        inline=inline,
        content_id=content_id.strip() if content_id else None,
    )


_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "application/pdf": ".pdf",
    "image/tiff": ".tif",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "application/ms-tnef": ".dat",
    "text/calendar": ".ics",
}


def _encoded_size(part: Message) -> int:
    """Decoded size without decoding: a 50 MB attachment is measured, not copied."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        return 0
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte == "base64":
        clean = len(payload) - payload.count("\n") - payload.count("\r") - payload.count(" ")
        return max(0, clean * 3 // 4 - payload.rstrip().count("=", -3))
    return len(payload)


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name:
        return _safe_filename(decode_header_value(name))
    return ""


def _safe_filename(name: str) -> str:
    """No paths, no control characters; what the archive and a download can show."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip(" .")
    return name[:200] or "attachment"


def _first_msgid(value: object) -> str | None:
    found = MSGID_RE.findall(decode_header_value(value))
    return found[0][:998] if found else None


def _date(value: object) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(decode_header_value(value))
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _one_line(text: str) -> str:
    return " ".join(text.split())[:998]


def peek_headers(raw: bytes) -> tuple[str | None, str | None]:
    """Best-effort Subject and From of a message that may not parse at all."""
    try:
        head = BytesHeaderParser().parsebytes(raw[:65536])
        return (decode_header_value(head.get("Subject"))[:998] or None,
                decode_header_value(head.get("From"))[:998] or None)
    except Exception:
        return None, None
