"""Forged delivery reports must not suppress anyone: a report counts only against a mail we
sent (outbox state ``sent``), named by our signed VERP envelope sender or signed Message-ID.

Attacks as a stranger would try them — forged reports in several MTAs' shapes, the
Reply-To trick with an acknowledgement still queued, guessed Message-IDs, VERP addresses with
a wrong signature, a signed token of a mail to the attacker — and the genuine path: a real
send through aiosmtpd, a DSN as Postfix writes it delivered to Dovecot, suppression after
``suppress_after_bounces``. Real servers, SQLite and PostgreSQL.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.models import Bounce, OutboxMessage, Suppression
from rnmail.util.tokens import make_bounce_address, verify_bounce_address
from tests.harness import corpus
from tests.harness.factories import HELPDESK, TEST_SECRET, Desk, make_config
from tests.harness.mailings import import_group, queue_mailing
from tests.harness.servers import Dovecot, SmtpServer

REPORTS = Path(__file__).parent / "data" / "bounces" / "reports"
VICTIM = "bevolking@gemeente-b.example"
ATTACKER = "mallory@evil.example"
SECRET = TEST_SECRET  # make_config's helpdesk.secret


@pytest.fixture
def desk(tmp_path: Path, db_url: str, imap: Dovecot, smtp_server: SmtpServer) -> Iterator[Desk]:
    d = Desk(make_config(tmp_path, db_url, imap, smtp_server))
    import_group(d, tmp_path, "communes", [(VICTIM, "Gemeente B", "nl"),
                                           ("population@commune-a.example", "Commune A", "fr")])
    yield d
    d.close()


CORPUS_RCPTS = ["bevolking@gemeente-b.example", "population@commune-a.example",
                "einwohner@gemeinde-c.example", "info@police-zone.example"]


def forged(name: str, n: int, **replace: str) -> bytes:
    """Corpus report ``name`` naming VICTIM as failed, with a Message-ID of its own."""
    raw = (REPORTS / name).read_bytes()
    for rcpt in CORPUS_RCPTS:
        raw = raw.replace(rcpt.encode(), VICTIM.encode())
    head, sep, body = raw.partition(b"\nMessage-ID: <")
    raw = head + sep + f"forged-{n}-".encode() + body
    for old, new in replace.items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


def suppressed(desk: Desk) -> list[str]:
    with desk.db.transaction() as session:
        return list(session.scalars(select(Suppression.email)))


def bounces(desk: Desk) -> list[tuple[int | None, str, bool]]:
    with desk.db.transaction() as session:
        return [(b.outbox_id, b.recipient, b.permanent)
                for b in session.scalars(select(Bounce).order_by(Bounce.id))]


def rows_to(desk: Desk, address: str) -> list[OutboxMessage]:
    with desk.db.transaction() as session:
        found = list(session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == address)
                                     .order_by(OutboxMessage.id)))
        session.expunge_all()
        return found


def assert_notice_reaches_victim(desk: Desk, smtp_server: SmtpServer) -> None:
    before = sum(VICTIM in e.rcpt_tos for e in smtp_server.messages)
    announcement = queue_mailing(desk, ["communes"])
    with desk.db.transaction() as session:
        state = session.scalar(select(OutboxMessage.state).where(
            OutboxMessage.announcement_id == announcement, OutboxMessage.to_addr == VICTIM))
    assert state == "queued"  # not "suppressed"
    desk.send()
    assert sum(VICTIM in e.rcpt_tos for e in smtp_server.messages) == before + 1


# --------------------------------------------------------------------------- attacks

@pytest.mark.parametrize("name", [
    "postfix_dsn_5_1_1.eml", "exim_failed_1.eml", "qmail_failure_notice_0.eml",
    "exchange_legacy_fr.eml", "gmail_dsn_failure_1.eml", "yahoo_failure_notice.eml",
])
def test_three_forged_reports_suppress_nobody(desk: Desk, imap: Dovecot,
                                             smtp_server: SmtpServer, name: str) -> None:
    imap.append_many("info", [forged(name, n) for n in range(3)])
    assert desk.ingest().outcomes == {"bounce": 3}
    assert suppressed(desk) == []
    recorded = bounces(desk)
    assert len(recorded) == 3 and all(outbox is None for outbox, _, _ in recorded)  # unmatched
    assert {r for _, r, _ in recorded} == {VICTIM}
    assert_notice_reaches_victim(desk, smtp_server)


def test_reply_to_victim_then_forged_report_while_the_ack_is_queued(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer) -> None:
    # Acknowledgements follow a Reply-To only in the From's domain, so the forger writes
    # from a made-up address in the victim's domain (no SPF/DKIM check in rnmail).
    for n in range(3):
        imap.append("info", corpus.simple(f"Vraag {n}", "Goedendag, ik heb een vraag.",
                                          from_addr=f"spoof{n}@gemeente-b.example",
                                          extra_headers={"Reply-To": VICTIM}, lang="nl"))
        assert desk.ingest().outcomes == {"ticket": 1}
        assert [r.state for r in rows_to(desk, VICTIM)][-1] == "queued"  # the acknowledgement
        imap.append("info", forged("postfix_dsn_5_1_1.eml", n))
        assert desk.ingest().outcomes == {"bounce": 1}
    acks = rows_to(desk, VICTIM)
    assert len(acks) == 3
    assert all(r.state == "queued" and r.bounced_at is None for r in acks)
    assert all(outbox is None for outbox, _, _ in bounces(desk))
    assert suppressed(desk) == []
    desk.send()
    assert [r.state for r in rows_to(desk, VICTIM)] == ["sent"] * 3
    # The same forged reports once the acknowledgements are sent: still nothing.
    imap.append_many("info", [forged("exim_failed_1.eml", 10 + n) for n in range(3)])
    assert desk.ingest().outcomes == {"bounce": 3}
    assert [r.state for r in rows_to(desk, VICTIM)] == ["sent"] * 3
    assert suppressed(desk) == []
    assert_notice_reaches_victim(desk, smtp_server)


def test_guessed_tampered_or_foreign_tokens_match_nothing(desk: Desk, imap: Dovecot,
                                                          smtp_server: SmtpServer) -> None:
    queue_mailing(desk, ["communes"])
    imap.append("info", corpus.simple("Question", "Bonjour, une question.", from_addr=ATTACKER))
    desk.ingest()
    desk.send()
    [victim_row] = rows_to(desk, VICTIM)
    [attacker_row] = rows_to(desk, ATTACKER)
    assert victim_row.state == attacker_row.state == "sent"
    real = victim_row.message_id
    good_verp = make_bounce_address(SECRET, HELPDESK, victim_row.id)
    local_part, domain = good_verp.split("@")
    local, sig = local_part.rsplit(".", 1)
    wrong_sig = ("a" if sig[0] != "a" else "b") + sig[1:]
    attempts = [
        # a Message-ID of our form, guessed: no valid signature
        forged("postfix_dsn_5_1_1.eml", 1, **{
            "<out-placeholder@rn.example>": "<rn.a1.0.000000000000.aaaaaaaaaaaaaaaa@rn.example>"}),
        # the victim's real Message-ID with one character of its signature changed
        forged("sendmail_dsn_0.eml", 2, **{
            "<out-placeholder@rn.example>": real[:-14] + ("x" if real[-14] != "x" else "y")
            + real[-13:]}),
        # our VERP form for the victim's row, signature wrong, in To and Delivered-To
        forged("exchange_legacy_fr.eml", 3, **{
            "To: info@rn.example": f"To: {local}.{wrong_sig}@{domain}"}),
        # an unsigned VERP-looking Return-Path in the quoted original (Exim text)
        forged("exim_failed_1.eml", 4, **{
            "Return-Path: <info@rn.example>": f"Return-Path: <info+b.{victim_row.id}.x@rn.example>"
        }),
        # the attacker's own acknowledgement, signed, quoted in a report about the victim
        forged("qmail_failure_notice_0.eml", 5, **{
            "<out-placeholder@rn.example>": attacker_row.message_id}),
    ]
    imap.append_many("info", attempts)
    assert desk.ingest().outcomes == {"bounce": 5}
    assert [(o, r) for o, r, _ in bounces(desk)] == [(None, VICTIM)] * 5
    [row] = rows_to(desk, VICTIM)
    assert row.state == "sent" and row.bounced_at is None
    assert suppressed(desk) == []
    assert_notice_reaches_victim(desk, smtp_server)


def test_a_report_about_a_mail_still_queued_changes_nothing(desk: Desk, imap: Dovecot,
                                                            smtp_server: SmtpServer) -> None:
    queue_mailing(desk, ["communes"])
    [row] = rows_to(desk, VICTIM)
    assert row.state == "queued"
    verp = make_bounce_address(SECRET, HELPDESK, row.id)  # the tokens it will carry
    imap.append("info", forged("postfix_dsn_5_1_1.eml", 1, **{
        "<out-placeholder@rn.example>": row.message_id,
        "To: info@rn.example": f"To: {verp}",
        "Return-Path: <info@rn.example>": f"Return-Path: <{verp}>"}))
    assert desk.ingest().outcomes == {"bounce": 1}
    [(outbox, recipient, _)] = bounces(desk)
    assert outbox is None and recipient == VICTIM
    [row] = rows_to(desk, VICTIM)
    assert row.state == "queued" and row.bounced_at is None
    desk.send()
    assert rows_to(desk, VICTIM)[0].state == "sent"
    assert suppressed(desk) == []


# --------------------------------------------------------------------------- the genuine path

def postfix_dsn(envelope_from: str, rcpt: str, original: bytes, n: int, *,
                to_verp: bool = True, quote: bool = True) -> bytes:
    """A DSN as Postfix writes it, for a mail it received with MAIL FROM ``envelope_from``."""
    to = envelope_from if to_verp else HELPDESK
    b = f"7D1E2F3A{n:02d}.1741000000/smtp-out.rn.example"
    head = original.replace(b"\r\n", b"\n").partition(b"\n\n")[0].decode()
    quoted = (f"Content-Description: Undelivered Message Headers\n"
              f"Content-Type: text/rfc822-headers\n\nReturn-Path: <{envelope_from}>\n{head}\n"
              if quote else "Content-Type: text/plain\n\n(original not returned)\n")
    return (f"Return-Path: <>\nDelivered-To: {to}\nX-Original-To: {to}\n"
            f"From: MAILER-DAEMON@smtp-out.rn.example (Mail Delivery System)\nTo: {to}\n"
            f"Subject: Undelivered Mail Returned to Sender\n"
            f"Date: Mon,  3 Mar 2025 10:15:0{n} +0100 (CET)\n"
            f"Message-Id: <2025030309150{n}.7D1E2F3A4B@smtp-out.rn.example>\n"
            f"Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
            f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{b}"\n\n'
            f"This is a MIME-encapsulated message.\n\n--{b}\n"
            f"Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
            f"This is the mail system at host smtp-out.rn.example.\n\n"
            f"<{rcpt}>: host mx.gemeente-b.example[192.0.2.25] said: 550 5.1.1\n"
            f"    <{rcpt}>: Recipient address rejected: User unknown\n\n--{b}\n"
            f"Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
            f"Reporting-MTA: dns; smtp-out.rn.example\nX-Postfix-Queue-ID: 3F1A2B0C{n:02d}\n"
            f"X-Postfix-Sender: rfc822; {envelope_from}\n\n"
            f"Final-Recipient: rfc822; {rcpt}\nOriginal-Recipient: rfc822;{rcpt}\n"
            f"Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.gemeente-b.example\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User "
            f"unknown\n\n--{b}\n{quoted}\n--{b}--\n").encode()


@pytest.mark.slow
def test_genuine_bounces_count_and_suppress_after_the_threshold(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer) -> None:
    ways = [  # how the report names our mail
        {"to_verp": True, "quote": True},     # returned to our VERP address
        {"to_verp": False, "quote": True},    # only the quoted Return-Path / X-Postfix-Sender
        {"to_verp": False, "quote": False},   # only X-Postfix-Sender (the DSN's envelope field)
    ]
    for n, way in enumerate(ways):
        queue_mailing(desk, ["communes"])
        desk.send()
        env = [e for e in smtp_server.messages if VICTIM in e.rcpt_tos][-1]
        row = rows_to(desk, VICTIM)[-1]
        assert verify_bounce_address(SECRET, env.mail_from) == row.id  # our signed MAIL FROM
        assert row.state == "sent"
        imap.append("info", postfix_dsn(env.mail_from, VICTIM, env.content, n, **way))
        assert desk.ingest().outcomes == {"bounce": 1}
        assert rows_to(desk, VICTIM)[-1].state == "bounced"
        assert bounces(desk)[-1] == (row.id, VICTIM, True)
        assert suppressed(desk) == ([VICTIM] if n == 2 else [])
    # a second report about the same mail counts once
    imap.append("info", postfix_dsn(env.mail_from, VICTIM, env.content, 7))
    assert desk.ingest().outcomes == {"bounce": 1}
    with desk.db.transaction() as session:
        assert session.get(Suppression, VICTIM).hard_bounces == 3  # type: ignore[union-attr]
    announcement = queue_mailing(desk, ["communes"])
    with desk.db.transaction() as session:
        assert session.scalar(select(OutboxMessage.state).where(
            OutboxMessage.announcement_id == announcement,
            OutboxMessage.to_addr == VICTIM)) == "suppressed"
    # The other member was never touched.
    assert [r.state for r in rows_to(desk, "population@commune-a.example")][:3] == ["sent"] * 3


def test_a_genuine_report_with_only_the_signed_message_id_counts(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer) -> None:
    queue_mailing(desk, ["communes"])
    desk.send()
    [row] = rows_to(desk, VICTIM)
    # e.g. an Exchange NDR rewritten by a gateway: the original headers quoted as text
    imap.append("info", forged("exchange_ndr_fr_text_only.eml", 1, **{
        "<out-placeholder@rn.example>": row.message_id}))
    assert desk.ingest().outcomes == {"bounce": 1}
    assert bounces(desk) == [(row.id, VICTIM, True)]
    assert rows_to(desk, VICTIM)[0].state == "bounced"


def test_the_file_transport_writes_the_signed_envelope_sender_as_return_path(
        tmp_path: Path, db_url: str) -> None:
    desk = Desk(make_config(tmp_path, db_url))
    import_group(desk, tmp_path, "communes", [(VICTIM, "Gemeente B", "nl")])
    queue_mailing(desk, ["communes"])
    desk.send()
    [row] = rows_to(desk, VICTIM)
    [path] = (tmp_path / "outgoing").glob("*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return_path = str(msg["Return-Path"]).strip("<>")
    assert return_path.startswith("info+b.") and return_path.endswith("@rn.example")
    assert verify_bounce_address(SECRET, return_path) == row.id
    assert verify_bounce_address(SECRET, return_path.upper()) == row.id
    assert verify_bounce_address("another-secret", return_path) is None
    desk.close()
