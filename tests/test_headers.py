"""Outgoing header lines: folded per RFC 5322 (no physical line over 998 octets, none over
78 where a fold is possible) and References capped to the first and the last 20 ids — for
a long thread, long encoded subjects and long names; every mail parsed back with
``email.parser``. Through the real CLI (ingest → acknowledgement, announce) and compose."""

from __future__ import annotations

from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path

import pytest

from rnmail.config import load_config
from rnmail.dispatch.compose import Draft, compose
from rnmail.dispatch.render import Rendered
from tests.harness.factories import write_config
from tests.harness.install import rnmail

KEEP_REFERENCES = 20  # RFC 5322 §3.6.4 practice: the first id and the last 20
SUBJECTS = {
    "accents": "Clé d'accès bloquée — " + "é" * 300 + " fin",
    "one long word": "x" * 1200,
    "long ascii": " ".join(["Demande"] * 150),
    "long word, accents": "ü" * 500,
    "cjk": "登録" * 200,
    "mixed": ("word " * 50) + ("é" * 90) + (" y" * 90),
}


def physical_lines(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


def check_lines(raw: bytes) -> None:
    for line in physical_lines(raw):
        assert len(line) <= 998, line[:80]
        # Foldable: a line that holds a space after its first word could have been folded.
        if len(line) > 78:
            assert b" " not in line.strip()[line.find(b":") + 1:].strip(), line


def parse_raw_header(raw: bytes, name: str) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii").replace("\r\n ", " ")
    [line] = [h for h in head.split("\r\n") if h.startswith(f"{name}: ")]
    return line[len(name) + 2:]


def parse(raw: bytes):  # type: ignore[no-untyped-def]
    return BytesParser(policy=policy.default).parsebytes(raw)


@pytest.mark.parametrize("subject", list(SUBJECTS))
def test_compose_folds_long_subjects_and_caps_references(subject: str, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, f"sqlite:///{tmp_path}/db.sqlite"))
    thread = [make_msgid(domain="mua.example") for _ in range(300)]
    draft = Draft(to=["a@example.org", "b@example.org"],
                  rendered=Rendered("fr", SUBJECTS[subject], "text", None), kind="reply",
                  ticket_id=1, in_reply_to=thread[-1], references=thread[:-1])
    mail = compose(config.helpdesk, draft)
    check_lines(mail.raw)
    message = parse(mail.raw)
    assert message["Subject"] == " ".join(SUBJECTS[subject].split())
    refs = str(message["References"]).split()
    assert refs == [thread[0], *thread[-KEEP_REFERENCES:]]
    assert message["In-Reply-To"] == thread[-1]
    assert message.get_content().strip() == "text"  # type: ignore[attr-defined]


def test_long_ids_are_not_repeated_and_a_short_thread_is_whole(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, f"sqlite:///{tmp_path}/db.sqlite"))
    huge = "<" + "a" * 1000 + "@mua.example>"
    thread = [make_msgid(domain="mua.example") for _ in range(5)]
    draft = Draft(to=["a@example.org"], rendered=Rendered("fr", "s", "t", None), kind="reply",
                  in_reply_to=huge, references=[thread[0], huge, *thread[1:]])
    mail = compose(config.helpdesk, draft)
    check_lines(mail.raw)
    message = parse(mail.raw)
    assert message["In-Reply-To"] is None
    assert str(message["References"]).split() == thread


def test_acknowledgement_of_a_long_thread_through_the_cli(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url)
    assert rnmail(config, "init").code == 0
    thread = [make_msgid(domain="mua.example") for _ in range(300)]
    references = " ".join(thread)
    assert len(references) > 10_000
    subject = "=?utf-8?b?" + "w6nDqcOp" * 20 + "?= " + "Clé d'accès " * 40
    raw = (f"From: Jeanne <jeanne@example.org>\r\nTo: info@rn.example\r\n"
           f"Subject: {subject}\r\nMessage-ID: {make_msgid(domain='mua.example')}\r\n"
           f"In-Reply-To: {thread[-1]}\r\nReferences: {references}\r\n"
           f"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\nMa clé est bloquée.\r\n"
           ).encode()
    new = tmp_path / "maildir" / "new"
    new.mkdir(parents=True)
    (new / "1.eml").write_bytes(raw)
    assert rnmail(config, "ingest", "once").code == 0
    assert rnmail(config, "outbox", "send").code == 0
    sent = list((tmp_path / "outgoing").glob("*.eml"))
    assert sent
    for path in sent:
        data = path.read_bytes()
        check_lines(data)
        message = parse(data)
        assert len(str(message["References"]).split()) <= 1 + KEEP_REFERENCES
        assert "Clé d'accès" in str(message["Subject"])


def test_announcement_to_long_names_folds_the_to_header(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url, extra="""
[operators]
max_failures = 4
""")
    assert rnmail(config, "init").code == 0
    names = {"long-accents@ops.example": "Élodie " * 28,
             "long-ascii@ops.example": "Jan " * 49,
             "long-word@ops.example": "Ü" * 190}
    for address, name in names.items():
        ran = rnmail(config, "lists", "add", "ops", address, "--name", name.strip(),
                     "--language", "fr", "--create")
        assert ran.code == 0, ran.output
    assert rnmail(config, "operator", "add", "alice", "--password-stdin",
                  input="correct horse battery staple\n").code == 0
    ran = rnmail(config, "announce", "--yes", "--template", "circular", "--groups", "ops",
                 "--var", "subject=" + "Circulaire " + "é" * 200, "--var", "body=x",
                 "--operator", "alice", "--password-stdin",
                 input="correct horse battery staple\n")
    assert ran.code == 0, ran.output
    assert rnmail(config, "outbox", "send").code == 0
    sent = list((tmp_path / "outgoing").glob("*.eml"))
    assert len(sent) == 3
    for path in sent:
        data = path.read_bytes()
        check_lines(data)
        message = parse(data)
        [to] = message["To"].addresses
        expected = " ".join(names[to.addr_spec].split())
        # Python's address parser keeps the folds between encoded-words of a phrase (its
        # own generator writes the same header and cannot read it back); RFC 2047 §6.2
        # says to drop them, as decode_header does.
        assert to.display_name.replace(" ", "") == expected.replace(" ", "")
        value = parse_raw_header(data, "To")
        decoded = str(make_header(decode_header(value)))
        assert decoded in (f"{expected} <{to.addr_spec}>", f'"{expected}" <{to.addr_spec}>')
        assert str(message["Subject"]) == "Circulaire " + "é" * 200
