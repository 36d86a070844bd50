"""Mail we write parses back, byte-exact where it matters, and resists header injection."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from rnmail.dispatch.compose import Draft, compose
from rnmail.dispatch.render import Rendered, render
from rnmail.util.tokens import verify_message_id
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
    assert html == rendered.html and "Zoë O&#39;Brien &lt;zoe&gt;" in html


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
