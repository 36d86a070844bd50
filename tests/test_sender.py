"""``From:`` read as RFC 5322 says: the addr-spec the standard parser reads, never an address
found in a display name or comment, and no verifiable sender for a From with several
addresses or none (automatic mail: stored, not acknowledged, no staff action).

Unit tests on ``parse_message`` first, then attacks end to end through the pipeline (real
Dovecot, SMTP and both databases).
"""

from __future__ import annotations

from email.headerregistry import HeaderRegistry

import pytest
from sqlalchemy import select

from rnmail.ingest.classify import classify_message
from rnmail.ingest.parse import Limits, parse_message
from rnmail.models import OutboxMessage
from tests.harness import corpus
from tests.harness.factories import Desk
from tests.harness.mail import JAN, MARIE, REQUESTER, first_request, received, reply_to
from tests.harness.mail import staffed_desk as staffed_desk  # the fixture ``desk``
from tests.harness.servers import Dovecot, SmtpServer

LIMITS = Limits(max_attachment_bytes=10**6)
MALLORY = "mallory@evil.example"


def _mail(from_lines: list[bytes], extra: bytes = b"") -> bytes:
    head = b"".join(b"From: " + line + b"\r\n" for line in from_lines)
    return (head + b"To: info@rn.example\r\nSubject: Test\r\nMessage-ID: <s1@evil.example>\r\n"
            + extra + b"Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour\r\n")


@pytest.mark.parametrize(("value", "sender"), [
    # An address inside an encoded display name is a display name.
    (b"=?utf-8?q?marie.lambert=40rn.example?= <mallory@evil.example>", MALLORY),
    (b"=?UTF-8?Q?marie=2Elambert=40rn=2Eexample?= <mallory@evil.example>", MALLORY),
    (b"=?utf-8?b?bWFyaWUubGFtYmVydEBybi5leGFtcGxl?= <mallory@evil.example>", MALLORY),
    (b"=?iso-8859-1?q?Marie_=3Cmarie.lambert=40rn.example=3E?= <mallory@evil.example>",
     MALLORY),
    (b"=?utf-8?q?marie.lambert=40rn.example?=<mallory@evil.example>", MALLORY),
    # ... and so is a quoted one, and a comment.
    (b'"marie.lambert@rn.example" <mallory@evil.example>', MALLORY),
    (b'"Marie <marie.lambert@rn.example>" <mallory@evil.example>', MALLORY),
    (b"mallory@evil.example (marie.lambert@rn.example)", MALLORY),
    (b"(marie.lambert@rn.example) mallory@evil.example", MALLORY),
    (b"mallory@evil.example (=?utf-8?q?marie.lambert=40rn.example?=)", MALLORY),
    # Raw UTF-8 (RFC 6532) display name holding an address.
    ("\"marié.lambert@rn.example\" <mallory@evil.example>".encode(), MALLORY),
    # An encoded word alone is not an address; nor is an unquoted address before <...>.
    (b"=?utf-8?q?marie.lambert=40rn.example?=", ""),
    (b"marie.lambert@rn.example <mallory@evil.example>", ""),
    (b"Marie <marie.lambert@rn.example> <mallory@evil.example>", ""),
    # Several addresses, or none: no verifiable sender.
    (b"a@citizen.example, b@citizen.example", ""),
    (b"Marie <marie.lambert@rn.example>, Mallory <mallory@evil.example>", ""),
    (b"undisclosed:;", ""),
    (b"undisclosed-recipients: ;", ""),
    (b"team: a@citizen.example, b@citizen.example;", ""),
    (b"", ""),
    (b"<>", ""),
    (b"MAILER DAEMON <>", ""),
    # Ordinary shapes still work.
    (b"Jean Dupont <Jean.Dupont@Citizen.example>", "jean.dupont@citizen.example"),
    (b'"Dupont, Jean" <jean.dupont@citizen.example>', "jean.dupont@citizen.example"),
    (b"=?utf-8?q?In=C3=A8s_Van_Damme?= <ines@citizen.example>", "ines@citizen.example"),
    (b"jean.dupont@citizen.example (Jean Dupont)", "jean.dupont@citizen.example"),
    (b"jean.dupont@citizen.example <jean.dupont@citizen.example>",
     "jean.dupont@citizen.example"),
    (b"J. Dupont <j@citizen.example>", "j@citizen.example"),
])
def test_sender_is_the_addr_spec_the_standard_parser_reads(value: bytes, sender: str) -> None:
    mail = parse_message(_mail([value]), LIMITS)
    assert mail.from_addr == sender
    assert (mail.sender_problem is None) == bool(sender)


def test_from_missing_or_twice_has_no_sender_even_with_a_sender_header() -> None:
    sender = b"Sender: =?utf-8?q?marie.lambert=40rn.example?= <marie.lambert@rn.example>\r\n"
    for lines in ([], [b"mallory@evil.example", b"marie.lambert@rn.example"]):
        mail = parse_message(_mail(lines, sender), LIMITS)
        assert mail.from_addr == "" and mail.sender_problem


def test_reply_to_and_cc_are_read_like_from() -> None:
    extra = (b"Reply-To: =?utf-8?q?jean.dupont=40citizen.example?= <mallory@evil.example>\r\n"
             b"Cc: =?utf-8?q?victim=40citizen.example?= <other@evil.example>\r\n")
    mail = parse_message(_mail([b"mallory@evil.example"], extra), LIMITS)
    assert mail.reply_to == [MALLORY] and mail.cc == ["other@evil.example"]


@pytest.mark.parametrize("value", [b"a@citizen.example, b@citizen.example", b"undisclosed:;",
                                   b"", b"marie.lambert@rn.example <mallory@evil.example>"])
def test_no_verifiable_sender_is_automatic_mail(value: bytes) -> None:
    mail = parse_message(_mail([value]), LIMITS)
    verdict = classify_message(mail, frozenset({"info@rn.example"}))
    assert verdict.kind == "requester" and verdict.is_auto


@pytest.mark.parametrize("value", [
    "Jean Dupont <jean.dupont@citizen.example>", "jean@citizen.example",
    "J. R. Dupont <j.r@citizen.example>, an@gemeente.example,  Els <els@gemeente.example>",
    "Jean  Dupont   <jean@citizen.example>", "O'Brien <ob@citizen.example>",
    "a-b_c <a.b+tag@sub.citizen.example>", "Jean <JEAN@CITIZEN.EXAMPLE>",
])
def test_fast_path_agrees_with_the_standard_parser(value: str) -> None:
    from rnmail.ingest.headers import _fast

    fast = _fast(value)
    assert fast is not None
    header = HeaderRegistry()("To", value)
    assert fast == [(" ".join(a.display_name.split()), a.addr_spec.lower())
                    for a in header.addresses]


# --------------------------------------------------------------------------- end to end


def _as_from(raw: bytes, value: bytes) -> bytes:
    """``raw`` (sent by MALLORY) with its From line replaced byte for byte."""
    assert b"From: " + MALLORY.encode() in raw
    return raw.replace(b"From: " + MALLORY.encode(), b"From: " + value, 1)


MARIE_Q = MARIE.replace("@", "=40").encode()


@pytest.mark.parametrize("value", [
    b"=?utf-8?q?" + MARIE_Q + b"?= <" + MALLORY.encode() + b">",
    b"Marie =?utf-8?q?=3C" + MARIE_Q + b"=3E?= <" + MALLORY.encode() + b">",
    b'"' + MARIE.encode() + b'" <' + MALLORY.encode() + b">",
    MALLORY.encode() + b" (" + MARIE.encode() + b")",
    MARIE.encode() + b" <" + MALLORY.encode() + b">",
    MARIE.encode() + b", " + MALLORY.encode(),
])
def test_staff_address_in_a_strangers_display_name_closes_nothing(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer, value: bytes) -> None:
    notification = first_request(desk, imap, smtp_server)  # Marie's token leaked to Mallory
    attack = _as_from(reply_to(notification, MALLORY, "#close\nC'est réglé."), value)
    imap.append("info", attack)
    outcomes = desk.ingest().outcomes
    assert "staff" not in outcomes
    assert desk.ticket(1)["status"] == "open"
    with desk.db.transaction() as session:
        assert session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "reply")).all() == []
    desk.send()
    assert len(received(smtp_server, REQUESTER)) == 1  # the acknowledgement, nothing more


@pytest.mark.parametrize("value", [
    b"=?utf-8?q?" + REQUESTER.replace("@", "=40").encode() + b"?= <" + MALLORY.encode() + b">",
    REQUESTER.encode() + b" <" + MALLORY.encode() + b">",
    b"=?utf-8?b?amVhbi5kdXBvbnRAY2l0aXplbi5leGFtcGxl?= <" + MALLORY.encode() + b">",
])
def test_requester_address_in_display_name_does_not_thread_into_their_ticket(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer, value: bytes) -> None:
    first_request(desk, imap, smtp_server)
    attack = _as_from(corpus.simple("RE: [RN #1] Clé d'accès bloquée", "Voici mon RIB.",
                                    from_addr=MALLORY), value)
    imap.append("info", attack)
    assert desk.ingest().outcomes == {"ticket": 1}  # a new ticket, linked, not ticket 1
    assert [m["text"] for m in desk.ticket(1)["messages"] if "RIB" in (m["text"] or "")] == []


@pytest.mark.parametrize("value", [b"a@citizen.example, b@citizen.example", b"undisclosed:;",
                                   b""])
def test_no_verifiable_sender_is_stored_but_never_acknowledged(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer, value: bytes) -> None:
    raw = _as_from(corpus.simple("Question", "Bonjour, une question.", from_addr=MALLORY),
                   value)
    imap.append("info", raw)
    assert desk.ingest().outcomes == {"ticket": 1}
    [ticket] = desk.tickets()
    assert ticket is not None
    desk.send()
    assert [m for m in received(smtp_server) if "Question" in str(m["Subject"])
            and MARIE not in str(m["To"]) and JAN not in str(m["To"])] == []


def test_reply_to_in_a_display_name_gets_no_acknowledgement(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer) -> None:
    victim = "victim@citizen.example"
    raw = corpus.simple("Question", "Bonjour.", from_addr=MALLORY, extra_headers={
        "X-Placeholder": "1"})
    raw = raw.replace(b"X-Placeholder: 1", b"Reply-To: =?utf-8?q?"
                      + victim.replace("@", "=40").encode() + b"?= <" + MALLORY.encode() + b">")
    imap.append("info", raw)
    assert desk.ingest().outcomes == {"ticket": 1}
    desk.send()
    assert received(smtp_server, victim) == []
    assert len(received(smtp_server, MALLORY)) == 1
