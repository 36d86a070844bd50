"""Mail as the tests see it: what the SMTP sink received, parsed; a staff round trip."""

from __future__ import annotations

import contextlib
import email
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as POLICY
from pathlib import Path

import pytest

from rnmail.tickets.team import add_staff
from tests.harness import corpus
from tests.harness.factories import Desk, make_config
from tests.harness.servers import Dovecot, SmtpServer
from tests.harness.wait import until

REQUESTER = "jean.dupont@citizen.example"
MARIE, JAN = "marie.lambert@rn.example", "jan.peeters@rn.example"


def parse(raw: bytes) -> EmailMessage:
    """``raw`` as an EmailMessage (the modern API: get_body, get_content, addresses)."""
    msg = email.message_from_bytes(raw, policy=POLICY)
    assert isinstance(msg, EmailMessage)
    return msg


def received(smtp: SmtpServer, to: str | None = None) -> list[EmailMessage]:
    """What ``smtp`` received so far, in order; only the envelopes for ``to`` if given."""
    return [parse(e.content) for e in smtp.messages if to is None or to in e.rcpt_tos]


def wait_for_mail(smtp: SmtpServer, count: int, timeout: float = 20) -> list[EmailMessage]:
    """Wait until ``smtp`` received ``count`` messages, then check it got exactly that."""
    with contextlib.suppress(AssertionError):  # the assertion below says what did arrive
        until(lambda: len(smtp.messages) >= count, timeout, f"{count} mail(s)")
    mails = received(smtp)
    assert len(mails) == count, [m["To"] for m in mails]
    return mails


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(mail: EmailMessage) -> str:
    part = mail.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def reply_to(notification: EmailMessage, sender: str, body: str,
             extra: dict[str, str] | None = None) -> bytes:
    """What a mail client sends when its user answers ``notification``."""
    quoted = "\n".join("> " + line for line in text_of(notification).splitlines())
    text = f"{body}\n\nLe 28 nov. 2026 à 10:00, Help Desk <info@rn.example> a écrit :\n{quoted}\n"
    headers = {"In-Reply-To": notification["Message-ID"],
               "References": notification["Message-ID"], **(extra or {})}
    return corpus.simple(f"RE: {notification['Subject']}", text, from_addr=sender,
                         extra_headers=headers)


def first_request(desk: Desk, imap: Dovecot, smtp: SmtpServer) -> EmailMessage:
    """REQUESTER's mail makes ticket 1; returns its notification to MARIE (staff)."""
    imap.append("info", corpus.simple("Clé d'accès bloquée",
                                      "Bonjour, ma clé d'accès est bloquée depuis hier.",
                                      from_addr=REQUESTER, message_id="<q1@citizen.example>"))
    assert desk.ingest().outcomes == {"ticket": 1}
    desk.send()
    [notification] = received(smtp, MARIE)
    return notification


@pytest.fixture(name="desk")
def staffed_desk(tmp_path: Path, db_url: str, imap: Dovecot,
                 smtp_server: SmtpServer) -> Iterator[Desk]:
    """``desk``: a desk on Dovecot and aiosmtpd with Marie (fr) and Jan (nl) on the staff."""
    d = Desk(make_config(tmp_path, db_url, imap, smtp_server))
    with d.db.transaction() as session:
        add_staff(session, MARIE, "Marie Lambert", "fr")
        add_staff(session, JAN, "Jan Peeters", "nl")
    yield d
    d.close()
