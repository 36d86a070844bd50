"""Outlook's winmail.dat (TNEF) unpacked into its files at parse time; a damaged one kept."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

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
