"""Sanity checks for the mail test corpus: tests/data/*.eml and tests/harness/corpus.py."""

from __future__ import annotations

import email
import email.message
import email.policy
import io
import re
import statistics
import zipfile
from pathlib import Path

import pytest
from flufl.bounce import all_failures, scan_message

try:
    from tests.harness import corpus
except ModuleNotFoundError:  # pragma: no cover - run from inside tests/ without the package
    import corpus  # type: ignore[no-redef]

DATA = Path(__file__).parent / "data"
EML = sorted(DATA.glob("*.eml"))
NAMES = [p.name for p in EML]
POLICY = email.policy.default

# Files that parse fine but are meant to break *decoding*: part -> exception
# raised by EmailMessage.get_content() under email.policy.default.
DECODE_BROKEN = {
    "charset_unknown_declared.eml": LookupError,  # charset="x-unknown"
}

UNKNOWN = b"unknown-user@municipality.example"
# file -> (temporary failures, permanent failures) from flufl.bounce.all_failures
BOUNCES_RECOGNISED = {
    "bounce_dsn_permanent_5_1_1.eml": (set(), {UNKNOWN}),
    "bounce_dsn_delayed_4_4_1.eml": ({b"bevolking@gemeente.example"}, set()),
    "bounce_exim_plain_text.eml": (set(), {UNKNOWN}),  # via X-Failed-Recipients
}
# Real-world bounce formats flufl.bounce does not recognise (ingest needs a fallback).
BOUNCES_NOT_RECOGNISED = {
    "bounce_postfix_plain_text.eml": UNKNOWN,  # Postfix text flattened to one text/plain part
    "bounce_exchange_fr_localized.eml": UNKNOWN,  # French-localised Exchange NDR, no DSN
}

RESERVED = re.compile(r"(^|\.)(example|test|invalid)$|^example\.org$")


def _read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=POLICY)  # type: ignore[return-value]


# --------------------------------------------------------------------------- static files
def test_data_dir_is_populated_and_documented() -> None:
    assert len(EML) >= 50
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([^`]+\.eml)` \|", readme, re.M))
    assert documented == set(NAMES)
    assert all(p.stat().st_size < 8 * 1024 for p in EML), "static samples must stay small"


def test_both_line_endings_present() -> None:
    crlf = [p.name for p in EML if b"\r\n" in p.read_bytes()]
    lf_only = [p.name for p in EML if b"\r\n" not in p.read_bytes()]
    assert crlf and lf_only
    for p in EML:  # never mixed within one file
        raw = p.read_bytes()
        assert raw.count(b"\n") == raw.count(b"\r\n") or b"\r" not in raw, p.name


@pytest.mark.parametrize("name", NAMES)
def test_every_file_parses_and_decodes(name: str) -> None:
    msg = _parse(_read(name))
    assert msg["From"] is not None
    for _key, value in msg.items():
        str(value)  # forces header parsing (lazy under policy.default)
    errors = []
    for part in msg.walk():
        for _key, value in part.items():
            str(value)
        if part.is_multipart():
            continue
        try:
            part.get_content()
        except Exception as exc:  # collected and compared below
            errors.append(type(exc))
    expected = DECODE_BROKEN.get(name)
    assert errors == ([expected] if expected else [])


def test_only_reserved_domains() -> None:
    pattern = re.compile(rb"[\w.+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
    blobs = [p.read_bytes() for p in EML] + corpus.mixed_batch(300, seed=3)
    blobs += [corpus.simple(lang=lang) for lang in corpus.LANGS]
    blobs = [re.sub(rb"=\r?\n", b"", raw) for raw in blobs]  # undo quoted-printable soft breaks
    domains = {m.group(1).decode().lower() for raw in blobs for m in pattern.finditer(raw)}
    assert domains
    assert not [d for d in domains if not RESERVED.search(d)]


def test_reply_files_point_to_placeholders_and_ticket_1() -> None:
    replies = [n for n in NAMES if n.startswith("reply_")]
    assert len(replies) >= 12
    for name in replies:
        msg = _parse(_read(name))
        assert msg["In-Reply-To"] == "<placeholder-msgid@rn.example>", name
        assert "<placeholder-msgid@rn.example>" in msg["References"], name
        assert re.search(r"\[?\s*RN\s*#1\s*\]?", msg["Subject"]), name


def test_duplicate_message_id_pair() -> None:
    a = _parse(_read("lang_fr_citizen_cle_bloquee.eml"))
    b = _parse(_read("duplicate_msgid_fax_mailbox.eml"))
    assert a["Message-ID"] == b["Message-ID"]
    assert a.get_all("Received") != b.get_all("Received")
    assert "Message-ID" not in _parse(_read("no_message_id.eml"))


def test_binary_attachments_are_real() -> None:
    def attachment(name: str, ctype: str) -> bytes:
        msg = _parse(_read(name))
        part = next(p for p in msg.walk() if p.get_content_type() == ctype)
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        return data

    pdf = attachment("attachment_pdf_rfc2231_filename.eml", "application/pdf")
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert attachment("multipart_related_inline_png.eml", "image/png").startswith(
        b"\x89PNG\r\n\x1a\n"
    )
    assert attachment("fax_tiff_attachment.eml", "image/tiff").startswith(b"II*\x00")
    assert attachment("attachment_winmail_dat_tnef.eml", "application/ms-tnef").startswith(
        b"\x78\x9f\x3e\x22"
    )
    fax3 = attachment("fax_pdf_subject_en_slash_dots.eml", "application/pdf")
    assert b"/Count 3" in fax3
    msg = _parse(_read("attachment_pdf_rfc2231_filename.eml"))
    assert [p.get_filename() for p in msg.iter_attachments()] == ["attestation résidence été.pdf"]


def test_decoded_headers() -> None:
    assert _parse(_read("encword_split_multibyte_char.eml"))["Subject"] == "Clé d'accès – bloquée"
    assert _parse(_read("fax_pdf_subject_fr_0032_encoded.eml"))["Subject"] == (
        "Télécopie de 0032 2 518 21 31"
    )
    fax = _parse(_read("fax_pdf_number_in_header_only.eml"))
    assert (fax["X-Fax-Sender"], fax["X-Fax-Pages"]) == ("025182131", "4")


# --------------------------------------------------------------------------- bounces
@pytest.mark.parametrize("name", sorted(BOUNCES_RECOGNISED))
@pytest.mark.parametrize("policy", [email.policy.compat32, POLICY], ids=["compat32", "default"])
def test_bounce_recognised(name: str, policy: email.policy.Policy) -> None:
    msg = email.message_from_bytes(_read(name), policy=policy)
    temporary, permanent = all_failures(msg)
    assert (set(temporary), set(permanent)) == BOUNCES_RECOGNISED[name]
    assert set(scan_message(msg)) == BOUNCES_RECOGNISED[name][1]


def test_bounces_carry_our_message_id() -> None:
    dsn = _parse(_read("bounce_dsn_permanent_5_1_1.eml"))
    assert dsn.get_content_type() == "multipart/report"
    original = next(p for p in dsn.walk() if p.get_content_type() == "message/rfc822")
    assert original.get_payload()[0]["Message-ID"] == "<out-placeholder@rn.example>"
    for name in (
        "bounce_dsn_delayed_4_4_1.eml",
        "bounce_exim_plain_text.eml",
        "bounce_postfix_plain_text.eml",
        "bounce_exchange_fr_localized.eml",
    ):
        assert b"<out-placeholder@rn.example>" in _read(name), name


def test_no_bounce_false_positives() -> None:
    for name in NAMES:
        if name.startswith("bounce_"):
            continue
        temporary, permanent = all_failures(_parse(_read(name)))
        assert not temporary and not permanent, name


# --------------------------------------------------------------------------- corpus.py
def test_mixed_batch_size_and_determinism() -> None:
    batch = corpus.mixed_batch(5000)
    assert len(batch) == 5000
    assert 2500 <= statistics.mean(len(raw) for raw in batch) <= 5000
    assert corpus.mixed_batch(50, seed=0) == batch[:50]
    assert corpus.mixed_batch(50, seed=1) != batch[:50]
    assert len({raw.split(b"Message-ID: ", 1)[1][:40] for raw in batch}) == 5000


def test_mixed_batch_variety_and_cleanliness() -> None:
    langs: dict[str, int] = {}
    kinds = {"reply": 0, "html": 0, "attachment": 0, "crlf": 0}
    for raw in corpus.mixed_batch(400, seed=42):
        msg = _parse(raw)
        assert not [d for p in msg.walk() for d in p.defects]
        lang = msg["Content-Language"][:2]
        langs[lang] = langs.get(lang, 0) + 1
        kinds["reply"] += "In-Reply-To" in msg
        kinds["html"] += any(p.get_content_type() == "text/html" for p in msg.walk())
        kinds["attachment"] += any(True for _ in msg.iter_attachments())
        kinds["crlf"] += b"\r\n" in raw
        assert msg.get_body(("plain", "html")).get_content().strip()
    assert set(langs) == {"fr", "nl", "de", "en"}
    assert all(count > 10 for count in kinds.values()), kinds


def test_simple_factory() -> None:
    msg = _parse(corpus.simple())
    assert msg["To"] == "info@rn.example" and msg["Content-Language"] == "fr-BE"
    assert msg["Message-ID"].endswith("@citizen.example>")
    raw = corpus.simple(
        "RE: [RN #7] Sleutel",
        "Dank u.\n",
        "An <an@gemeente.example>",
        message_id="fixed@gemeente.example",
        lang="nl",
        crlf=True,
        extra_headers=[("In-Reply-To", "<x@rn.example>"), ("To", "fax@rn.example")],
    )
    msg = _parse(raw)
    assert b"\r\n" in raw
    assert (msg["Subject"], msg["Message-ID"], msg["In-Reply-To"]) == (
        "RE: [RN #7] Sleutel",
        "<fixed@gemeente.example>",
        "<x@rn.example>",
    )
    assert msg.get_all("To") == ["fax@rn.example"]
    assert msg.get_content() == "Dank u.\r\n"
    assert "Message-ID" not in _parse(corpus.simple(message_id=""))
    for lang in corpus.LANGS:
        assert _parse(corpus.simple(lang=lang)).get_content().strip()


def test_zip_bomb_small_compressed_huge_declared() -> None:
    raw = corpus.zip_bomb()
    assert len(raw) < 2 * 1024 * 1024
    data = next(_parse(raw).iter_attachments()).get_content()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        (info,) = zf.infolist()
        assert info.file_size > 1_000_000_000
        assert info.compress_size < 1_500_000
        assert info.file_size / info.compress_size > 500
        with zf.open(info) as stream:
            assert stream.read(1 << 20) == bytes(1 << 20)


def test_huge_attachment() -> None:
    raw = corpus.huge_attachment(mb=2)
    data = next(_parse(raw).iter_attachments()).get_content()
    assert len(data) == 2 * 1024 * 1024 and data.startswith(b"%PDF")
    assert len(raw) > 2 * 1024 * 1024 * 4 // 3


def test_many_parts_and_deep_nesting() -> None:
    assert corpus.many_parts().count(b"partie-5000.txt") == 1
    msg = _parse(corpus.many_parts(300))
    assert sum(1 for _ in msg.iter_attachments()) == 300
    msg = _parse(corpus.deep_nesting(200))
    depth, part = 0, msg
    while part.is_multipart():
        part, depth = part.get_payload(0), depth + 1
    assert depth == 200 and "profond" in part.get_content()


def test_broken_builders_parse_with_defects() -> None:
    truncated = _parse(corpus.truncated_mime())
    assert any(isinstance(d, email.errors.CloseBoundaryNotFoundDefect) for d in truncated.defects)
    assert not corpus.truncated_mime().rstrip().endswith(b"--")

    raw = corpus.garbage_headers()
    assert b"\x00" in raw and max(len(line) for line in raw.split(b"\n")) > 100 * 1024
    garbage = _parse(raw)
    assert any(
        isinstance(d, email.errors.MissingHeaderBodySeparatorDefect) for d in garbage.defects
    )
    assert len(garbage["X-Overlong"]) == 100 * 1024

    assert b"\n\n" not in corpus.no_body() and _parse(corpus.no_body())["Subject"] == "Sans corps"
    assert corpus.empty() == b"" and list(_parse(corpus.empty()).keys()) == []
    junk = corpus.binary_junk(1000)
    assert len(junk) == 1000 and junk == corpus.binary_junk(1000)
    assert junk != corpus.binary_junk(1000, seed=1)
    _parse(junk)


def test_corpus_functions_have_one_line_docstrings() -> None:
    for name in corpus.__all__:
        doc = getattr(corpus, name).__doc__
        assert doc and "\n" not in doc.strip(), name
