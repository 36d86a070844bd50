"""Outlook's winmail.dat (TNEF) unpacked into its files at parse time; a damaged one kept."""

from __future__ import annotations

import base64
import logging
import struct
from pathlib import Path

import pytest
from compressed_rtf import compress

from rnmail.ingest import tnef
from rnmail.ingest.parse import Limits, ParsedAttachment, _unpacked, parse_message

DATA = Path(__file__).parent / "data"
OUTLOOK = "attachment_winmail_dat_outlook_two_files.eml"  # a real Outlook/Exchange stream
LIMITS = Limits(max_attachment_bytes=25 * 2**20)


def parse(raw: bytes, limits: Limits = LIMITS) -> list[ParsedAttachment]:
    return parse_message(raw, limits).attachments


def winmail(name: str = OUTLOOK) -> bytes:
    """The TNEF stream inside a sample."""
    [att] = [a for a in parse((DATA / name).read_bytes()) if a.filename == "winmail.dat"]
    assert att.data is not None
    return att.data


def with_winmail(stream: bytes, ctype: str = "application/ms-tnef") -> bytes:
    """The Outlook sample with its winmail.dat replaced by ``stream``."""
    head, _, _ = (DATA / OUTLOOK).read_bytes().partition(b"Content-Type: application/ms-tnef")
    body = base64.encodebytes(stream).replace(b"\n", b"\r\n")
    return (head + f"Content-Type: {ctype}; name=\"winmail.dat\"\r\n".encode()
            + b"Content-Transfer-Encoding: base64\r\n"
            + b"Content-Disposition: attachment; filename=\"winmail.dat\"\r\n\r\n"
            + body + b"\r\n------_=_NextPart_001_01C0A8B1.2C3D4E50--\r\n")


def test_a_real_outlook_winmail_dat_becomes_its_two_files_and_is_kept() -> None:
    names = [a.filename for a in parse((DATA / OUTLOOK).read_bytes())]
    assert names == ["winmail.dat", "AUTHORS", "README"]
    atts = {a.filename: a for a in parse((DATA / OUTLOOK).read_bytes())}
    assert atts["winmail.dat"].content_type == "application/ms-tnef"
    assert atts["winmail.dat"].data == winmail()
    authors, readme = atts["AUTHORS"], atts["README"]
    assert authors.data and authors.data.lstrip().startswith(b"Authors of tnef")
    assert authors.size == len(authors.data) == 244
    assert readme.data and b"TNEF" in readme.data and readme.size == 893
    assert authors.omitted_reason is None and not authors.inline


def test_the_older_sample_is_unpacked_too() -> None:
    atts = parse((DATA / "attachment_winmail_dat_tnef.eml").read_bytes())
    assert [(a.filename, a.content_type) for a in atts] == [
        ("winmail.dat", "application/ms-tnef"), ("ATTEST~1.DOC", "application/msword")]


def test_a_winmail_dat_sent_as_octet_stream_is_recognised_by_name_and_signature() -> None:
    names = [a.filename for a in parse(with_winmail(winmail(), "application/octet-stream"))]
    assert names == ["winmail.dat", "AUTHORS", "README"]


@pytest.mark.parametrize("stream", [
    pytest.param(lambda s: s[:3000], id="cut-inside-README"),
    pytest.param(lambda s: s[:1745], id="cut-inside-an-object-header"),
    pytest.param(lambda s: s[:4], id="signature-only"),
    pytest.param(lambda s: s[:40] + b"\xff" * 300, id="garbage-after-header"),
    pytest.param(lambda s: b"not tnef at all", id="no-signature"),
])
def test_a_damaged_winmail_dat_is_kept_alone_and_logged(
        stream, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    broken = stream(winmail())
    with caplog.at_level(logging.WARNING, logger="rnmail.ingest"):
        atts = parse(with_winmail(broken))
    assert [(a.filename, a.data) for a in atts] == [("winmail.dat", broken)]
    if broken.startswith(b"\x78\x9f\x3e\x22") and len(broken) > 4:
        assert "not unpacked (kept as is)" in caplog.text
        assert "<tnef-outlook-0002@exch.gemeente.example>" in caplog.text


def test_unpacked_files_count_against_the_size_and_parts_limits() -> None:
    stream = winmail()
    # the stream itself over the limit: omitted, nothing to unpack
    assert [a.data for a in parse(with_winmail(stream), Limits(len(stream) - 1))] == [None]
    atts = parse(with_winmail(stream), Limits(max_attachment_bytes=len(stream)))
    assert [a.filename for a in atts] == ["winmail.dat", "AUTHORS", "README"]
    assert all(a.data for a in atts)
    # each file against the size limit: AUTHORS (244 B) fits, README (893 B) is omitted
    files = _unpacked(atts[0], 1, Limits(max_attachment_bytes=500), None)
    assert [(f.filename, f.size, f.data is None) for f in files] == [
        ("AUTHORS", 244, False), ("README", 893, True)]
    assert files[1].omitted_reason and "limit" in files[1].omitted_reason
    # and against the number of parts: room for one more
    one_more = _unpacked(atts[0], 9, Limits(max_attachment_bytes=4000, max_parts=10), None)
    assert [f.filename for f in one_more] == ["AUTHORS"]


# --- a mail sent as nothing but its winmail.dat: the text is inside the stream -------------

MAPI_BINARY, MAPI_STRING8, MAPI_UNICODE = 0x0102, 0x001E, 0x001F
BODY, RTF_COMPRESSED, BODY_HTML = 0x1000, 0x1009, 0x1013


def tnef_object(name: int, kind: int, data: bytes) -> bytes:
    """One TNEF object of the message level: level, id, type, length, data, checksum."""
    return (struct.pack("<BHHI", 1, name, kind, len(data)) + data
            + struct.pack("<H", sum(data) & 0xFFFF))


def tnef_stream(*props: tuple[int, int, bytes]) -> bytes:
    """A stream as Exchange writes one: signature, key, TNEF version, code page (1252) and
    the message's MAPI properties (type, id, value), each value as one counted, padded item."""
    mapi = struct.pack("<I", len(props))
    for kind, prop, value in props:
        mapi += struct.pack("<HHII", kind, prop, 1, len(value)) + value + bytes(-len(value) % 4)
    return (b"\x78\x9f\x3e\x22\x5a\x01" + tnef_object(0x9006, 0x0008, struct.pack("<I", 0x10000))
            + tnef_object(0x9007, 0x0006, struct.pack("<II", 1252, 0))
            + tnef_object(0x9003, 0x0006, mapi))


def rtf_body(rtf: bytes) -> tuple[int, int, bytes]:
    return (MAPI_BINARY, RTF_COMPRESSED, compress(rtf))


def only_winmail(stream: bytes, shape: str = "multipart") -> bytes:
    """A mail whose one part is the winmail.dat, as a multipart/mixed or as the whole mail."""
    head = (b"From: Jan Peeters <jan.peeters@gemeente.example>\r\n"
            b"To: info@rn.example\r\nSubject: Kaart geblokkeerd\r\n"
            b"Message-ID: <rtf-only-1@exch.gemeente.example>\r\nMIME-Version: 1.0\r\n")
    part = (b"Content-Type: application/ms-tnef; name=\"winmail.dat\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"winmail.dat\"\r\n\r\n"
            + base64.encodebytes(stream).replace(b"\n", b"\r\n"))
    if shape == "whole":
        return head + part
    return (head + b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n" + part
            + b"\r\n--b1--\r\n")


FRENCH_RTF = (rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Calibri;}}"
              rb"\viewkind4\uc1\pard\f0\fs22 Bonjour,\par\par Ma carte d'identit\'e9 est "
              rb"bloqu\'e9e depuis le 3 d\'e9cembre.\par Cordialement,\par Jan\par}")


@pytest.mark.parametrize("shape", ["multipart", "whole"])
def test_the_rtf_body_of_a_winmail_only_mail_is_its_text(shape: str) -> None:
    mail = parse_message(only_winmail(tnef_stream(rtf_body(FRENCH_RTF)), shape), LIMITS)
    assert "Ma carte d'identité est bloquée depuis le 3 décembre." in mail.text
    assert "\\par" not in mail.text and "Calibri" not in mail.text
    assert "bloquée" in mail.display_text
    assert [a.filename for a in mail.attachments] == ["winmail.dat"]  # kept as received


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param((MAPI_UNICODE, BODY, "Mijn kaart is geblokkeerd.\r\nGroeten\0"
                  .encode("utf-16-le")), "Mijn kaart is geblokkeerd.\nGroeten", id="unicode"),
    pytest.param((MAPI_STRING8, BODY, "Meine Karte ist gesperrt, bitte prüfen.\0"
                  .encode("cp1252")), "Meine Karte ist gesperrt, bitte prüfen.", id="8-bit"),
    pytest.param((MAPI_BINARY, BODY_HTML, b"<html><body><p>Guten Tag,</p><p>meine Karte "
                  b"ist <b>gesperrt</b>.</p></body></html>"),
                 "meine Karte ist gesperrt.", id="html"),
    pytest.param(rtf_body(rb"{\rtf1\ansi\ansicpg1250\deff0 Dzie\'f1 dobry, karta "
                          rb"zablokowana.\par}"), "Dzień dobry, karta zablokowana.",
                 id="rtf-code-page-1250"),
    pytest.param(rtf_body(rb"{\rtf1\ansi\deff0 N\u225?m\u283?st\'ed\par}"), "Náměstí",
                 id="rtf-unicode-escapes"),
    pytest.param(rtf_body(
        rb"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}"
        rb"{\*\htmltag19 <html>}{\*\htmltag34 <head>}{\*\htmltag41 </head>}"
        rb"{\*\htmltag50 <body>}{\*\htmltag64 <p>}\htmlrtf {\htmlrtf0 Bonjour, mon mot de "
        rb"passe ne fonctionne plus.{\*\htmltag72 </p>}\htmlrtf\par}\htmlrtf0 "
        rb"{\*\htmltag58 </body>}{\*\htmltag27 </html>}}"),
        "Bonjour, mon mot de passe ne fonctionne plus.", id="rtf-encapsulating-html"),
])
def test_each_kind_of_body_in_the_stream_is_read(body: tuple[int, int, bytes],
                                                 expected: str) -> None:
    text = parse_message(only_winmail(tnef_stream(body)), LIMITS).text
    assert expected in text
    assert "<" not in text and "\\" not in text


def test_the_plain_body_is_preferred_to_the_rtf_one() -> None:
    stream = tnef_stream((MAPI_UNICODE, BODY, "Texte brut\0".encode("utf-16-le")),
                         rtf_body(rb"{\rtf1\ansi Texte riche\par}"))
    assert parse_message(only_winmail(stream), LIMITS).text == "Texte brut"


def test_a_text_part_beside_the_winmail_dat_stays_the_text() -> None:
    """Outlook's usual shape (the Outlook sample): the stream's body is not read at all."""
    mail = parse_message((DATA / OUTLOOK).read_bytes(), LIMITS)
    assert mail.text.strip() and "rtf" not in mail.text
    raw = with_winmail(tnef_stream(rtf_body(FRENCH_RTF)))
    assert "identité" not in parse_message(raw, LIMITS).text


@pytest.mark.parametrize("damage", [
    pytest.param(lambda c: c[:16] + bytes(len(c) - 16), id="crc-wrong"),
    pytest.param(lambda c: c[:10], id="cut-header"),
    pytest.param(lambda c: c[:8] + b"XXXX" + c[12:], id="unknown-compression"),
])
def test_a_damaged_rtf_body_leaves_the_text_empty_and_the_mail_stored(
        damage, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    compressed = damage(compress(FRENCH_RTF))
    with caplog.at_level(logging.WARNING, logger="rnmail.ingest"):
        mail = parse_message(only_winmail(tnef_stream(
            (MAPI_BINARY, RTF_COMPRESSED, compressed))), LIMITS)
    assert "identité" not in mail.text
    assert [a.filename for a in mail.attachments] == ["winmail.dat"]
    assert "text of the winmail.dat of <rtf-only-1@exch.gemeente.example> not read" in (
        caplog.text)


def test_an_rtf_body_over_the_limit_is_not_decompressed(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    compressed = compress(FRENCH_RTF)
    monkeypatch.setattr(tnef, "MAX_RTF_BYTES", len(compressed) - 1)
    calls: list[bytes] = []
    monkeypatch.setattr(tnef, "decompress", calls.append)
    with caplog.at_level(logging.WARNING, logger="rnmail.ingest"):
        mail = parse_message(only_winmail(tnef_stream(rtf_body(FRENCH_RTF))), LIMITS)
    assert calls == [] and mail.text == ""
    assert "over the" in caplog.text
