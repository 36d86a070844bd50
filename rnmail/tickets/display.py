"""What the desk shows of a message, and its attachments as downloads.

``message_display`` gives the HTML the ticket page may put in its own page as is: the
requester's HTML through ``util.sanitize`` when the mail has an HTML body (of at most
``MAX_HTML_CHARS``), else its text
escaped with line breaks and links; the quoted history apart, for the page to fold; the
attachments with whether each can be downloaded. The requester's markup itself never
reaches the desk's origin (see docs/guarantees.md, "What the desk shows of a mail").

``attachment_download`` gives a file of a message with the headers the web layer must send
(``web.downloads.attachment_response`` sends them): always ``Content-Disposition:
attachment`` with an RFC 6266 / RFC 5987 file name that cannot inject a header, ``nosniff``,
``Content-Security-Policy: sandbox``, and a content type that cannot be rendered as a page
(a type outside ``SAFE_TYPES`` is served as ``application/octet-stream``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, NamedTuple
from urllib.parse import quote

from sqlalchemy.orm import Session

from rnmail.errors import NotFound
from rnmail.models import Message
from rnmail.util.blobs import BlobStore
from rnmail.util.sanitize import has_text, sanitize_html, text_to_html

# Content types a browser does not run as a page (and that help an agent to see as such);
# anything else (text/html, image/svg+xml, XML, scripts, unknown) is application/octet-stream.
SAFE_TYPES = frozenset({
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/tiff", "image/webp",
    "image/bmp", "text/plain", "text/csv", "text/calendar", "message/rfc822",
    "application/zip", "application/msword", "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint", "application/rtf", "application/ms-tnef",
    "audio/mpeg", "audio/wav", "video/mp4",
})
SAFE_PREFIXES = ("application/vnd.openxmlformats-officedocument.",
                 "application/vnd.oasis.opendocument.")
OCTET_STREAM = "application/octet-stream"
# An HTML body longer than this is shown as its text (which the ingest made of it): the
# sanitizer's time grows with the size, and a ticket page must stay fast.
MAX_HTML_CHARS = 2_000_000
# Characters a file name never keeps: controls (CR and LF above all), line and paragraph
# separators, and the bidirectional overrides that make "invoice" U+202E "fdp.exe" read as
# "invoiceexe.pdf".
_UNSAFE_NAME_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_ASCII_UNSAFE_RE = re.compile(r"[^A-Za-z0-9 ._()+,=@\-]")


@dataclass(frozen=True)
class AttachmentEntry:
    """One file of a message as the ticket page lists it."""

    index: int  # 1-based, in the message's order: what ``attachment_download`` takes
    filename: str
    content_type: str
    size: int
    inline: bool
    downloadable: bool
    omitted_reason: str | None  # why the file was not kept (too large), if so


@dataclass(frozen=True)
class Display:
    """What the desk shows of a message. ``html`` and ``quoted_html`` are safe to insert
    into the page unescaped (Jinja2: ``|safe`` / ``Markup``)."""

    html: str
    quoted_html: str | None  # the quoted history, to show folded (e.g. <details>)
    source: Literal["html", "text"]
    images_hidden: int  # images of the HTML replaced by their alt text, never loaded
    attachments: tuple[AttachmentEntry, ...]
    signature: bool = False  # what is folded is our own signature and contact block


def message_display(message: Message, blobs: BlobStore) -> Display:
    """The safe display of ``message`` (any message of a ticket, in or out; in a session,
    or with its attachments loaded, e.g. ``selectinload(Message.attachments)``)."""
    attachments = tuple(
        AttachmentEntry(index=number, filename=safe_filename(a.filename),
                        content_type=a.content_type, size=a.size, inline=a.inline,
                        downloadable=a.sha256 is not None and blobs.path(a.sha256).is_file(),
                        omitted_reason=a.omitted_reason)
        for number, a in enumerate(message.attachments, 1))
    if message.html and len(message.html) <= MAX_HTML_CHARS:
        safe = sanitize_html(message.html)
        if has_text(safe.html) or not (message.text or "").strip():
            return Display(safe.html, safe.quoted_html, "html", safe.images_hidden,
                           attachments)
    whole = (message.text or "").strip()
    own = (message.display_text or "").strip() or whole
    quoted: str | None = None
    if own != whole:  # ingest cut quoted history or a signature (parse.strip_quoted)
        quoted = whole[len(own):].strip() if whole.startswith(own) else whole
    return Display(text_to_html(own), text_to_html(quoted) if quoted else None, "text", 0,
                   attachments, signature=message.direction == "out")


class Download(NamedTuple):
    """A file to send, and how."""

    filename: str
    content_type: str
    data: bytes

    def headers(self) -> dict[str, str]:
        """The response headers: a download, never a page of the desk's origin."""
        return {
            "Content-Type": self.content_type,
            "Content-Disposition": content_disposition(self.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Resource-Policy": "same-origin",
        }


def attachment_download(session: Session, blobs: BlobStore, message_id: int, index: int,
                        ticket_id: int | None = None) -> Download:
    """The ``index``-th (1-based) file of message ``message_id`` (of ticket ``ticket_id``
    when given: a URL that names a ticket cannot reach another ticket's files)."""
    message = session.get(Message, message_id)
    if message is None or (ticket_id is not None and message.ticket_id != ticket_id):
        raise NotFound(f"no message {message_id}")
    if not 1 <= index <= len(message.attachments):
        raise NotFound(f"message {message_id} has no attachment {index}")
    attachment = message.attachments[index - 1]
    if attachment.sha256 is None or not blobs.path(attachment.sha256).is_file():
        raise NotFound(f"attachment {index} of message {message_id} was not kept")
    return Download(safe_filename(attachment.filename), served_type(attachment.content_type),
                    blobs.get(attachment.sha256))


def served_type(content_type: str) -> str:
    """The type a file is served as: its own when in ``SAFE_TYPES`` (parameters dropped),
    else ``application/octet-stream``."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in SAFE_TYPES or (kind.startswith(SAFE_PREFIXES)
                              and re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", kind)):
        return kind
    return OCTET_STREAM


def safe_filename(name: str) -> str:
    """A file name without path, control, separator or bidi-override characters."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = " ".join(_UNSAFE_NAME_RE.sub("", name).split()).strip(" .")
    return name[:200] or "attachment"


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` for old clients and the exact name as
    ``filename*`` (RFC 6266, RFC 5987): no quote, backslash, CR or LF can end up raw."""
    name = safe_filename(filename)
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = " ".join(_ASCII_UNSAFE_RE.sub("_", folded).split()).strip(" ._") or "attachment"
    if "." in name and "." not in fallback:
        fallback += "." + _ASCII_UNSAFE_RE.sub("_", name.rsplit(".", 1)[1])
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
