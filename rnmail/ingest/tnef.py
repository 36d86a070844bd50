"""Unpack Outlook's ``winmail.dat`` (TNEF, application/ms-tnef) into its real attachments.

Outlook and Exchange wrap the files of a "rich text" mail in one TNEF stream that no mail
reader outside Microsoft's opens; the desk would show only ``winmail.dat``. ``tnefparse``
reads the stream; the files found follow the winmail.dat, which is kept as received (the
original is evidence, and what a reader that can open it wants). A damaged or truncated
stream never stops the mail: it is logged and the winmail.dat stays the only attachment.
The unpacked files meet the same limits as any attachment (size each, number of parts).

Some Exchange servers send a mail as nothing but its winmail.dat: no text part, the text
is inside the stream, as plain text, HTML or compressed RTF. ``body_text`` reads it for such
a mail, so that the ticket shows what was written instead of an empty message.

Called by ``parse`` for each TNEF attachment; pure, like it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from compressed_rtf import decompress
from striprtf.striprtf import rtf_to_text
from tnefparse import TNEF

from rnmail.ingest.charsets import codec_for, decode_bytes

log = logging.getLogger(__name__)

TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_SIGNATURE = b"\x78\x9f\x3e\x22"
# The largest compressed RTF body read as text: its decompressor is pure Python (1.5 µs a
# compressed byte, up to 8.5 bytes out for one in; striprtf then 0.25 µs a byte), so this
# costs at most about 2 s, where a typed mail is tens of kilobytes. A larger body (pasted
# pictures) stays unread in the winmail.dat, which is kept as received.
MAX_RTF_BYTES = 512 * 1024
_ANSI_CODEPAGE = re.compile(rb"\\ansicpg(\d{3,5})")


@dataclass(frozen=True)
class TnefFile:
    filename: str
    data: bytes


def is_tnef(content_type: str, filename: str, data: bytes | None) -> bool:
    """A TNEF stream by its type, or a winmail.dat sent as application/octet-stream."""
    if not data or not data.startswith(_SIGNATURE):
        return False
    return content_type in TNEF_TYPES or filename.lower() == "winmail.dat"


def unpack(data: bytes, message_id: str | None,
           safe_name: Callable[[str], str]) -> list[TnefFile]:
    """The files inside the stream ``data``; none (and a log line) when it cannot be read."""
    try:
        _check_complete(data)
        tnef = TNEF(data)
        found = [_file(a, number, safe_name) for number, a in enumerate(tnef.attachments, 1)
                 if getattr(a, "data", b"") or a.long_filename()]  # not an empty record
    except Exception as exc:  # third-party parser on untrusted bytes: any error, same answer
        log.warning("winmail.dat of %s not unpacked (kept as is): %s: %s",
                    message_id or "(no Message-ID)", type(exc).__name__, exc)
        return []
    return found


def body_text(data: bytes, message_id: str | None, html_to_text: Callable[[str], str]) -> str:
    """The text of the mail inside the stream ``data``: its plain body, else its HTML body
    as text, else its RTF body as text; "" (and a log line if it is damaged) when there is
    none that can be read."""
    try:
        _check_complete(data)
        tnef = TNEF(data)
        if tnef.body:
            return _text(tnef.body, tnef.codepage)
        if tnef.htmlbody:
            return html_to_text(_text(tnef.htmlbody, None))
        compressed = getattr(tnef, "_rtfbody", None)  # tnefparse's ``rtfbody`` has no limit
        if compressed:
            return _rtf_text(compressed)
    except Exception as exc:  # third-party parsers on untrusted bytes: any error, same answer
        log.warning("text of the winmail.dat of %s not read: %s: %s",
                    message_id or "(no Message-ID)", type(exc).__name__, exc)
    return ""


def _text(value: object, codepage: str | None) -> str:
    """A body as tnefparse gives it: text, or bytes in the stream's code page (or in none
    said: then guessed), or a list of either."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, (bytes, bytearray)):
        value = decode_bytes(bytes(value), codepage)
    return str(value).replace("\r\n", "\n").replace("\x00", "").strip()


def _rtf_text(compressed: bytes) -> str:
    """The text of a compressed RTF body (Outlook's "rich text"), in the code page it
    declares (``\\ansicpg``), Windows-1252 if none."""
    if len(compressed) > MAX_RTF_BYTES:
        raise ValueError(f"RTF body of {len(compressed)} bytes, over the "
                         f"{MAX_RTF_BYTES} bytes read as text")
    rtf = decompress(compressed)
    declared = _ANSI_CODEPAGE.search(rtf, 0, 4096)
    encoding = (codec_for(f"cp{int(declared[1])}") if declared else None) or "cp1252"
    text = rtf_to_text(rtf.decode("latin-1"), encoding=encoding,  # type: ignore[no-untyped-call]
                       errors="replace")
    return str(text).replace("\r\n", "\n").strip()


def _check_complete(data: bytes) -> None:
    """Raise for a stream cut inside a file: ``tnefparse`` would hand out the cut part as if
    it were the whole file. The stream is a 6-byte header, then objects of level (1), id (2),
    type (2), length (4), the data and a 2-byte checksum. A missing last checksum or a stray
    byte or two after the last object (both seen in real streams) cut no file."""
    offset = 6
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset + 5:offset + 9], "little")
        if offset + 9 + length > len(data):
            raise ValueError(f"stream cut short: the object at byte {offset} needs "
                             f"{9 + length} bytes, {len(data) - offset} left")
        offset += 9 + length + 2
    if len(data) - offset > 2:
        raise ValueError(f"stream cut short in the object header at byte {offset}")


def _file(attachment: object, number: int, safe_name: Callable[[str], str]) -> TnefFile:
    data = getattr(attachment, "data", b"")
    name = attachment.long_filename()  # type: ignore[attr-defined]
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    name = str(name or "").strip("\x00").strip()
    return TnefFile(filename=safe_name(name) if name else f"winmail-{number}.bin",
                    data=bytes(data) if isinstance(data, (bytes, bytearray)) else b"")
