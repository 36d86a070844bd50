"""Charsets: bytes of mail text → str, the way browsers and mail clients read real mail.

Mail often says one charset and means a superset of it: ``iso-8859-1`` text carries
windows-1252's € and ’, ``gb2312`` text GBK characters, ``shift_jis`` and ``iso-2022-jp``
text NEC/IBM extension characters (①, ㈱, 髙). The labels are therefore read as the WHATWG
Encoding Standard reads them (``_ALIASES``), and ISO-2022-JP is decoded as Microsoft's
CP50220 does when the strict codec refuses it (JIS X 0208 rows mapped onto CP932).

Order for a body (``decode_bytes``): the declared charset (through the aliases) strictly;
if that fails, the same charset with replacement characters — never another charset's
guess, except for text declared UTF-8 that holds no UTF-8 sequence at all (legacy 8-bit
text mislabelled by a gateway), read as windows-1252. No declared or an unknown charset:
ISO-2022-JP escapes, then UTF-8, then windows-1252. Detection (``charset-normalizer``) runs
only for raw 8-bit header bytes that neither UTF-8 nor the body's charset decode
(``guess_header_bytes``): never on text that decodes cleanly as declared.
"""

from __future__ import annotations

import codecs
import re
from functools import cache, lru_cache

# WHATWG Encoding Standard labels → the Python codec that decodes what mail means by them.
_ALIASES = {
    **dict.fromkeys(("iso-8859-1", "iso8859-1", "iso_8859-1", "iso-8859-1:1987", "latin-1",
                     "latin1", "l1", "cp819", "ibm819", "us-ascii", "ascii", "ansi_x3.4-1968",
                     "iso-ir-100", "csisolatin1", "iso88591", "windows-1252", "x-cp1252",
                     "cp1252"), "cp1252"),
    **dict.fromkeys(("gb2312", "gb_2312", "gb_2312-80", "gbk", "x-gbk", "cp936", "chinese",
                     "csgb2312", "csiso58gb231280", "iso-ir-58", "euc-cn", "gb18030",
                     "ms936", "windows-936"), "gb18030"),
    **dict.fromkeys(("ks_c_5601-1987", "ks_c_5601-1989", "ks_c_5601", "ksc5601", "ksc_5601",
                     "euc-kr", "euckr", "korean", "csksc56011987", "iso-ir-149",
                     "windows-949", "cp949", "cseuckr"), "cp949"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "ms932",
                     "windows-31j", "csshiftjis", "csWindows31J", "cp932"), "cp932"),
    **dict.fromkeys(("tis-620", "tis620", "iso-8859-11", "windows-874", "dos-874",
                     "cp874"), "cp874"),
    **dict.fromkeys(("iso-8859-9", "iso8859-9", "latin5", "l5", "iso-ir-148",
                     "windows-1254"), "cp1254"),
    **dict.fromkeys(("big5", "big5-hkscs", "cn-big5", "x-x-big5", "csbig5"), "big5hkscs"),
    **dict.fromkeys(("euc-jp", "x-euc-jp", "cseucpkdfmtjapanese"), "euc_jis_2004"),
    "x-mac-roman": "mac_roman", "macintosh": "mac_roman", "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8", "x-unicode20utf8": "utf-8",
}
_ISO2022JP_LABELS = {"iso-2022-jp", "csiso2022jp", "iso2022jp", "iso-2022-jp-1",
                     "iso-2022-jp-2", "iso-2022-jp-ext", "cp50220", "cp50221", "cp50222"}
# Legacy East Asian and Unicode codecs charset-normalizer may name for a raw header; for a
# guess of a single-byte code page the help desk's own default, windows-1252, is better.
_MULTIBYTE_GUESSES = ("gb18030", "gbk", "gb2312", "big5", "big5hkscs", "cp932", "shift_jis",
                      "euc_jp", "euc_jis_2004", "cp949", "euc_kr", "utf_8", "utf_16")
_WIDE = ("utf_16", "utf-16", "utf_32", "utf-32", "utf_7", "utf-7", "utf16", "utf32", "utf7")
_ISO2022_ESCAPE = re.compile(rb"\x1b(?:\$[@B]|\$\(D|\([BJI])")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
                            rb"|[\xf0-\xf4][\x80-\xbf]{3}")


@lru_cache(maxsize=512)
def codec_for(charset: str | None) -> str | None:
    """The Python codec for a MIME charset label (None: no label, or one nobody knows)."""
    label = (charset or "").strip().strip("\"'").lower()
    if not label:
        return None
    if label in _ISO2022JP_LABELS:
        return "iso2022_jp"
    name = _ALIASES.get(label, label)
    return name if _known(name) else None


@cache
def _known(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode text whose declared charset may be wrong, unknown or missing; never fails."""
    codec = codec_for(charset)
    if data.isascii() and b"\x1b" not in data and not (codec or "").startswith(_WIDE):
        return data.decode("ascii")  # the hot path: nearly all mail text
    if codec == "iso2022_jp" or (codec is None and _ISO2022_ESCAPE.search(data)):
        return decode_iso2022jp(data)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
        if codec == "utf-8" and not _UTF8_SEQUENCE.search(data):
            return data.decode("cp1252", "replace")  # 8-bit legacy text called UTF-8
        return data.decode(codec, "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def guess_header_bytes(data: bytes, hint: str | None) -> str:
    """Raw 8-bit header bytes (no RFC 2047, no declared charset): UTF-8 (RFC 6532), else
    the body's declared charset, else what charset-normalizer finds, else windows-1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _ISO2022_ESCAPE.search(data):
        return decode_iso2022jp(data)
    codec = codec_for(hint)
    if codec is not None and codec != "utf-8" and (hint or "").strip().lower() not in (
            "us-ascii", "ascii"):
        try:
            return decode_iso2022jp(data) if codec == "iso2022_jp" else data.decode(codec)
        except UnicodeDecodeError:
            pass
    guessed = _detect(data)
    if guessed is not None:
        return guessed
    return data.decode("cp1252", "replace")


def _detect(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
        best = from_bytes(data).best()
    except Exception:  # a detector bug must not lose a mail
        return None
    if best is None or best.encoding not in _MULTIBYTE_GUESSES:
        return None
    try:
        return data.decode(best.encoding)
    except (LookupError, UnicodeDecodeError):
        return None


def decode_iso2022jp(data: bytes) -> str:
    """ISO-2022-JP as CP50220/CP50221 read it: strict first; else every JIS X 0208 pair is
    read through CP932 (so NEC row 13 and IBM extension characters come out right), half-width
    katakana (``ESC ( I`` or SO/SI) too, and what still makes no sense becomes U+FFFD —
    never the raw escape sequences."""
    try:
        return data.decode("iso2022_jp")
    except UnicodeDecodeError:
        pass
    for codec in ("iso2022_jp_2", "iso2022_jp_ext"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    out: list[str] = []
    mode, shifted, i, n = "ascii", False, 0, len(data)
    while i < n:
        byte = data[i]
        if byte == 0x1B:
            for seq, new_mode in ((b"\x1b$B", "jis"), (b"\x1b$@", "jis"), (b"\x1b$(D", "x0212"),
                                  (b"\x1b(B", "ascii"), (b"\x1b(J", "ascii"),
                                  (b"\x1b(I", "kana")):
                if data.startswith(seq, i):
                    mode, i = new_mode, i + len(seq)
                    break
            else:
                out.append("\ufffd")
                i += 1
            continue
        if byte == 0x0E or byte == 0x0F:
            shifted, i = byte == 0x0E, i + 1
            continue
        if byte in (0x0A, 0x0D):
            out.append(chr(byte))
            i += 1
            continue
        if (mode == "kana" or shifted) and 0x21 <= byte <= 0x5F:
            out.append(bytes([byte + 0x80]).decode("cp932"))
            i += 1
        elif mode in ("jis", "x0212") and 0x21 <= byte <= 0x7E and i + 1 < n:
            second = data[i + 1]
            if mode == "jis" and 0x21 <= second <= 0x7E:
                out.append(_jis_to_cp932(byte, second).decode("cp932", "replace"))
            else:
                out.append("\ufffd")
            i += 2
        elif byte < 0x80:
            out.append(chr(byte))
            i += 1
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out)


def _jis_to_cp932(j1: int, j2: int) -> bytes:
    s1 = (j1 + 1) // 2 + 0x70
    if s1 >= 0xA0:
        s1 += 0x40
    if j1 % 2:
        s2 = j2 + 0x1F
        if s2 >= 0x7F:
            s2 += 1
    else:
        s2 = j2 + 0x7E
    return bytes([s1, s2])
