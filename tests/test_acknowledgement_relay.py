"""An acknowledgement cannot be made to carry an attacker's text to a third party.

The attack: ``From: "Votre clé d'accès est bloquée. Reconnectez-vous sur https://…"
<x@evil.test>`` with ``Reply-To: target@municipality.example`` and a subject holding a link
made info@ send the target a mail from the help desk echoing both.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from rnmail.ingest.respond import SUBJECT_CHARS, quoted_subject
from tests.harness import corpus
from tests.harness.mail import html_of, text_of
from tests.harness.maildir import MaildirDesk, to

TARGET = "target@municipality.example"
EVIL = "x@evil.test"
LURE = {
    "fr": "Votre clé d'accès est bloquée. Reconnectez-vous sur https://rn-login.evil.test/fr",
    "nl": "Uw toegangssleutel is geblokkeerd. Meld u opnieuw aan op https://rn-login.evil.test",
    "de": "Ihr Zugangsschlüssel ist gesperrt. Melden Sie sich an: https://rn-login.evil.test",
    "en": "Your access key is blocked. Log in again at https://rn-login.evil.test/en",
}
MARKER = {"fr": "Accusé de réception", "nl": "Ontvangstbevestiging",
          "de": "Eingangsbestätigung", "en": "Acknowledgement"}
LANGUAGES = list(LURE)


def lure(lang: str, subject: str, reply_to: str = TARGET, sender: str = EVIL,
         encoded: bool = False) -> bytes:
    """The lure in the From's display name, written as a mail client writes it: quoted
    (raw UTF-8) or one RFC 2047 word. (Python's generator would re-fold the name and leave
    its ``:`` unquoted, which RFC 5322 reads as a group: no sender at all.)"""
    name = (f"=?utf-8?b?{base64.b64encode(LURE[lang].encode()).decode()}?="
            if encoded else '"' + LURE[lang] + '"')
    raw = corpus.simple(subject, None, from_addr=sender, lang=lang,
                        extra_headers={"Reply-To": reply_to})
    head, sep, body = raw.partition(b"\n\n")
    lines = [f"From: {name} <{sender}>".encode() if line.startswith(b"From:") else line
             for line in head.split(b"\n")]
    return b"\n".join(lines) + sep + body


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> MaildirDesk:
    return MaildirDesk(tmp_path, db_url)


@pytest.mark.parametrize("encoded", [False, True])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_display_name_no_link_and_not_to_a_foreign_reply_to(
        desk: MaildirDesk, lang: str, encoded: bool) -> None:
    subject = ("Clé d'accès — https://rn-login.evil.test/x www.evil.test/reset "
               "hxxps://evil[.]test/a evil.test/login?u=1")
    desk.drop(lure(lang, subject, encoded=encoded))
    assert desk.ingest().outcomes == {"ticket": 1}
    sent = desk.mails()
    assert to(sent, TARGET) == []
    [ack] = to(sent, EVIL)  # the From, who must then be the one who wrote
    assert MARKER[lang] in ack["Subject"]
    for part in (ack["Subject"], text_of(ack), html_of(ack)):
        for bad in ("Reconnectez", "Meld u opnieuw", "Melden Sie", "Log in again", "https",
                    "hxxp", "www.", "evil", "rn-login", "login?"):
            assert bad not in part, (bad, part)
    quoted = ack["Subject"].split(f"{MARKER[lang]}", 1)[1].lstrip(" :")
    assert len(quoted) <= SUBJECT_CHARS + 1
    desk.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_reply_to_in_the_senders_domain_is_used(desk: MaildirDesk, lang: str) -> None:
    desk.drop(lure(lang, "Clé", reply_to="secretariat@evil.test"))
    desk.ingest()
    assert [m["To"] for m in desk.mails()
            if MARKER[lang] in m["Subject"]] == ["secretariat@evil.test"]
    desk.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_long_subject_is_cut_on_a_word(desk: MaildirDesk, lang: str) -> None:
    subject = " ".join(["Registre"] * 30)  # 269 characters
    desk.drop(corpus.simple(subject, None, from_addr="a@citizen.example", lang=lang))
    desk.ingest()
    [ack] = desk.mails("a@citizen.example")
    quoted = ack["Subject"].split(": ", 1)[1]
    assert quoted.endswith(" Registre…") and len(quoted) <= SUBJECT_CHARS + 1
    desk.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_daily_cap_per_recipient_domain(tmp_path: Path, db_url: str, lang: str) -> None:
    desk = MaildirDesk(tmp_path, db_url, ingest={"auto_reply_domain_limit": 3})
    for n in range(5):  # five forged senders in one municipality
        desk.drop(corpus.simple(f"Question {n}", None, from_addr=f"agent{n}@municipality.example",
                                lang=lang))
    desk.drop(corpus.simple("Question", None, from_addr="a@citizen.example", lang=lang))
    assert desk.ingest().outcomes == {"ticket": 6}
    acks = [m for m in desk.mails() if MARKER[lang] in m["Subject"]]
    domains = [str(m["To"]).rpartition("@")[2] for m in acks]
    assert domains.count("municipality.example") == 3 and "citizen.example" in domains
    desk.drop(corpus.simple("Encore", None, from_addr="agent9@municipality.example", lang=lang))
    desk.ingest()  # the next pass counts what the outbox holds
    assert [m for m in desk.mails() if MARKER[lang] in m["Subject"]] == []
    desk.close()


@pytest.mark.parametrize(("subject", "expected"), [
    ("Accès bloqué https://evil.test/x", "Accès bloqué […]"),
    ("voir HTTP://EVIL.TEST", "voir […]"),
    ("hxxps://evil[.]test/login", "[…]"),
    ("www.evil.test", "[…]"),
    ("evil.test/reset?x=1 vite", "[…] vite"),
    ("evil[.]test", "[…]"),
    ("evil(.)test/a", "[…]"),
    ("evil．test/a", "[…]"),
    ("écrire à support@evil.test", "écrire à […]"),
    ("Réf. 12.3 dossier", "Réf. 12.3 dossier"),
    ("", "—"),
])
def test_quoted_subject(subject: str, expected: str) -> None:
    assert quoted_subject(subject) == expected
