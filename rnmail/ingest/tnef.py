"""Unpack Outlook's ``winmail.dat`` (TNEF, application/ms-tnef) into its real attachments.

Outlook and Exchange wrap the files of a "rich text" mail in one TNEF stream that no mail
reader outside Microsoft's opens; the desk would show only ``winmail.dat``. ``tnefparse``
reads the stream; the files found follow the winmail.dat, which is kept as received (the
original is evidence, and what a reader that can open it wants). A damaged or truncated
stream never stops the mail: it is logged and the winmail.dat stays the only attachment.
The unpacked files meet the same limits as any attachment (size each, number of parts).

Called by ``parse`` for each TNEF attachment; pure, like it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from tnefparse import TNEF

log = logging.getLogger(__name__)

TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_SIGNATURE = b"\x78\x9f\x3e\x22"


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
