"""Parsing real-world mail: charsets, encoded words, bodies, attachments (no servers needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnmail.errors import Quarantine
from rnmail.ingest.parse import Limits, parse_message
from rnmail.ingest.thread import ticket_number_in_subject

DATA = Path(__file__).parent / "data"
LIMITS = Limits(max_attachment_bytes=25 * 2**20)


def parse(name: str):  # type: ignore[no-untyped-def]
    return parse_message((DATA / name).read_bytes(), LIMITS)


@pytest.mark.parametrize(("name", "expected"), [
    ("charset_cp1252_declared_latin1.eml", "€"),
    ("charset_iso8859_15_euro.eml", "€"),
    ("charset_latin1_undeclared.eml", "é"),
    ("charset_unknown_declared.eml", "é"),
    ("charset_utf8_8bit_body.eml", "€"),
    ("charset_iso8859_1_qp_body.eml", "é"),
])
def test_body_charsets_decode_to_the_right_characters(name: str, expected: str) -> None:
    mail = parse(name)
    assert expected in mail.text
    assert not any("\x80" <= ch <= "\x9f" for ch in mail.text)  # no C1 controls from latin-1
    assert "\ufffd" not in mail.text


@pytest.mark.parametrize("name", [
    "encword_q_utf8_subject_from.eml", "encword_b_iso8859_1_subject_from.eml",
    "encword_split_mixed_subject.eml", "header_raw_8bit_latin1_subject.eml",
    "header_raw_utf8_smtputf8.eml",
])
def test_headers_decode_without_mojibake(name: str) -> None:
    mail = parse(name)
    assert mail.subject and "=?" not in mail.subject
    assert "\ufffd" not in mail.subject and "Ã" not in mail.subject
    assert mail.from_addr and "@" in mail.from_addr


def test_split_multibyte_encoded_word() -> None:
    assert parse("encword_split_multibyte_char.eml").subject == "Clé d'accès – bloquée"


def test_cp1252_subject_declared_latin1() -> None:
    subject = parse("charset_cp1252_declared_latin1.eml").subject
    assert not any("\x80" <= ch <= "\x9f" for ch in subject)


def test_html_only_mail_keeps_html_and_derives_text() -> None:
    mail = parse("html_only.eml")
    assert mail.html and "<" in mail.html
    assert mail.text and "<" not in mail.text
    assert "function" not in mail.text  # script content is not text


def test_multipart_alternative_prefers_plain_text() -> None:
    mail = parse("multipart_alternative.eml")
    assert mail.html is not None and mail.text and "<" not in mail.text
    assert mail.attachments == []


def test_inline_image_is_an_inline_attachment_with_content_id() -> None:
    mail = parse("multipart_related_inline_png.eml")
    [png] = mail.attachments
    assert png.content_type == "image/png" and png.inline and png.content_id
    assert png.data and png.data.startswith(b"\x89PNG")


@pytest.mark.parametrize(("name", "filename"), [
    ("attachment_pdf_rfc2231_filename.eml", "attestation résidence été.pdf"),
    ("attachment_winmail_dat_tnef.eml", "winmail.dat"),
])
def test_attachment_filenames(name: str, filename: str) -> None:
    assert filename in [a.filename for a in parse(name).attachments]


def test_forwarded_message_is_one_eml_attachment() -> None:
    mail = parse("forwarded_message_rfc822.eml")
    [fwd] = [a for a in mail.attachments if a.content_type == "message/rfc822"]
    assert fwd.filename.endswith(".eml") and fwd.data and b"Message-ID" in fwd.data


@pytest.mark.parametrize(("name", "kept", "gone"), [
    ("reply_fr_outlook_quoted_signature.eml", None, "De :"),
    ("reply_fr_gmail_quoted.eml", None, "a écrit"),
    ("reply_nl_quoted.eml", None, "schreef"),
])
def test_quoted_history_is_stripped_for_display(name: str, kept: str | None, gone: str) -> None:
    mail = parse(name)
    assert gone in mail.text
    assert gone not in mail.display_text and mail.display_text


def test_thread_ids_from_in_reply_to_and_references() -> None:
    mail = parse("reply_fr_outlook_quoted_signature.eml")
    assert "<placeholder-msgid@rn.example>" in mail.thread_ids


@pytest.mark.parametrize(("subject", "number"), [
    ("RE: [RN #42] Clé", 42), ("TR: AW: [RN#7] x", 7), ("[ RN # 12 ] x", 12),
    ("Antw: RN #3 vraag", 3), ("WG: (rn #99)", 99), ("Fwd: [RN #1234567]", 1234567),
    ("BRN #4 no", None), ("[RN #] nothing", None), ("Plain subject", None),
])
def test_subject_tag_tolerates_prefixes_and_mangling(subject: str, number: int | None) -> None:
    assert ticket_number_in_subject(subject, "RN") == number


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00\x01\x02garbage without headers"])
def test_not_a_message_is_quarantined(raw: bytes) -> None:
    with pytest.raises(Quarantine):
        parse_message(raw, LIMITS)


def test_limits_on_parts_and_depth() -> None:
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment"
                     b"\r\n\r\nx\r\n" for _ in range(30))
    raw = (b"From: a@citizen.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           + parts + b"--b--\r\n")
    with pytest.raises(Quarantine, match="parts"):
        parse_message(raw, Limits(max_attachment_bytes=10**6, max_parts=10))
    assert len(parse_message(raw, Limits(max_attachment_bytes=10**6)).attachments) == 30
