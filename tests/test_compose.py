"""Mail we write parses back, byte-exact where it matters, and resists header injection."""

from __future__ import annotations

import email
import email.policy
import random
from email.header import Header
from pathlib import Path

import pytest

from rnmail.dispatch.compose import Draft, Utf8, compose, encode_header
from rnmail.dispatch.render import Rendered, render
from rnmail.util.tokens import make_message_ids, verify_message_id
from tests.harness.factories import make_config

LANGS = ("fr", "nl", "de", "en")


@pytest.fixture
def helpdesk(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_config(tmp_path, "sqlite://").helpdesk


@pytest.mark.parametrize("language", LANGS)
def test_acknowledgement_round_trips(helpdesk, language: str) -> None:  # type: ignore[no-untyped-def]
    rendered = render("acknowledgement", language, "fr", {
        "tag": "RN", "ticket_id": 42, "subject": "Clé d'accès « bloquée » – urgent " * 4,
        "requester_name": "Zoë O'Brien <zoe>", "helpdesk_name": helpdesk.name,
        "faq_url": "https://www.rn.example/helpdesk/faq/fr.html",
    }, helpdesk=helpdesk)
    mail = compose(helpdesk, Draft(to=["zoe@citizen.example"], rendered=rendered, kind="ack",
                                   ticket_id=42, automatic=True, in_reply_to="<a@citizen.example>",
                                   references=["<root@citizen.example>"]))
    assert all(len(line) <= 998 for line in mail.raw.split(b"\r\n"))
    parsed = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert parsed.defects == []
    assert parsed["Subject"] == rendered.subject and "[RN #42]" in parsed["Subject"]
    assert parsed["Message-ID"] == mail.message_id
    assert verify_message_id(helpdesk.secret, mail.message_id) == ("ack", 42)
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["In-Reply-To"] == "<a@citizen.example>"
    assert parsed["References"] == "<root@citizen.example> <a@citizen.example>"
    assert parsed["Content-Language"] == language
    assert parsed["From"].addresses[0].display_name == helpdesk.name
    assert parsed.get_body(("plain",)).get_content() == rendered.text
    html = parsed.get_body(("html",)).get_content()
    assert html == rendered.html
    assert "Zoë" not in html and "Zoë" not in rendered.text  # the sender's name is never echoed


def test_header_injection_is_refused(helpdesk) -> None:  # type: ignore[no-untyped-def]
    rendered = Rendered(language="fr", subject="ok", text="x", html=None)
    with pytest.raises(ValueError, match="line break in To"):
        compose(helpdesk, Draft(to=["a@citizen.example\r\nBcc: all@example.org"],
                                rendered=rendered, kind="ack"))


def test_subject_newlines_are_flattened(helpdesk) -> None:  # type: ignore[no-untyped-def]
    rendered = Rendered(language="fr", subject="a\r\nBcc: x@example.org", text="x", html=None)
    mail = compose(helpdesk, Draft(to=["a@citizen.example"], rendered=rendered, kind="ack"))
    parsed = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert parsed["Bcc"] is None and parsed["Subject"] == "a Bcc: x@example.org"


def test_forged_or_foreign_message_ids_do_not_verify(helpdesk) -> None:  # type: ignore[no-untyped-def]
    rendered = Rendered(language="fr", subject="s", text="x", html=None)
    mid = compose(helpdesk, Draft(to=["a@citizen.example"], rendered=rendered, kind="ack",
                                  ticket_id=7)).message_id
    assert verify_message_id("other-secret", mid) is None
    assert verify_message_id(helpdesk.secret, mid.replace(".7.", ".8.")) is None
    assert verify_message_id(helpdesk.secret, "<CAF00@mail.example>") is None


def test_subjects_are_encoded_as_the_stdlib_encodes_them() -> None:
    """``Utf8`` cuts encoded-words into lines in linear time: the very lines of
    ``email.header`` (quoted-printable or base64, whichever is shorter), for short and long
    subjects, mostly accented or not, in any script."""
    rng = random.Random(7)
    alphabet = "abcdefgh ijklm nop ééèàçœ ÄÖÜß ĳ €…–— 日本語 Ελλάδα"
    subjects = ["Accusé de réception [RN #12] Clé d'accès bloquée", "é" * 300, "a" * 200,
                "日本語のテキスト" * 20]
    subjects += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 400)))
                 for _ in range(300)]
    for subject in subjects:
        for name, width in (("Subject", 78), ("Subject", 40), ("X-Long-Header-Name", 78)):
            ours = Header(subject, Utf8(), header_name=name).encode(maxlinelen=width)
            stdlib = Header(subject, "utf-8", header_name=name).encode(maxlinelen=width)
            assert ours == stdlib, subject
    assert "=?utf-8?" in encode_header("é" * 300)


def test_a_mailings_message_ids_are_distinct_and_each_verifies() -> None:
    """``make_message_ids`` signs them all in one base32 encoding: each slice must be that
    Message-ID's own signature."""
    ids = make_message_ids("s3cret", "rn.example", "a7", None, 2000)
    assert len(set(ids)) == 2000
    assert all(verify_message_id("s3cret", mid) == ("a7", 0) for mid in ids)
    payload = ids[0].split("@")[0].rpartition(".")[0]
    other = ids[1].split("@")[0].rpartition(".")[2]
    assert verify_message_id("s3cret", f"{payload}.{other}@rn.example>") is None
    assert make_message_ids("s3cret", "rn.example", "a7", None, 0) == []
