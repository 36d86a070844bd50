"""Who really sent it, through the real pipeline (issue 19): Dovecot, aiosmtpd, both databases.

With ``[ingest] trusted_authserv_id`` the gateway's verdict decides: a mail failing DMARC
(a forged pass written by the sender below the gateway's fail changes nothing) is a ticket
that is not the directory user's, gets no acknowledgement, makes no Cc a participant and is
flagged to the staff; without it nothing changes. Spam (a flag in any case, a score, the
blocklist with its tricks) is held: no ticket number, no mail; released once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.directory.unblock import blocked_requester, unblock_requester
from rnmail.errors import RnmailError
from rnmail.ingest.blocklist import add_block
from rnmail.ingest.spam import delete, list_spam, release
from rnmail.models import DirectoryUser, Organisation, SpamMessage, Ticket
from rnmail.tickets.history import Actor
from rnmail.tickets.team import add_staff
from rnmail.util.blobs import BlobStore
from tests.harness import corpus
from tests.harness.factories import Desk, make_config
from tests.harness.mail import JAN, MARIE, received, text_of
from tests.harness.servers import Dovecot, SmtpServer

GW = "mx.rn.example"
USER = "an.claes@zuidhoven.example"
ATTACKER = "mallory@attacker.invalid"
FAIL = (f"Authentication-Results: {GW}; dmarc=fail (p=reject dis=none) "
        "header.from=zuidhoven.example\n"
        f"Authentication-Results: {GW}; spf=fail smtp.mailfrom=zuidhoven.example\n"
        f"Authentication-Results: {GW}; dkim=none\n"
        f"Received: from attacker.invalid (unknown [192.0.2.66]) by {GW} (Postfix)\n")
PASS = (f"Authentication-Results: {GW};\n\tdkim=pass header.d=zuidhoven.example "
        "header.s=dkim header.b=XyZ123;\n\tdmarc=pass (policy=quarantine) "
        "header.from=zuidhoven.example;\n\tspf=pass smtp.mailfrom=an.claes@zuidhoven.example\n"
        f"Received: from mail.zuidhoven.example ([192.0.2.10]) by {GW} (Postfix)\n")
FORGED = f"Authentication-Results: {GW}; dmarc=pass header.from=zuidhoven.example\n"


def mail(gateway: str, subject: str, sender: str = USER, extra: dict[str, str] | None = None,
         message_id: str | None = None) -> bytes:
    """A request as the gateway hands it on: its headers above the sender's."""
    raw = corpus.simple(subject, "Bonjour, ma clé d'accès est bloquée depuis hier matin.",
                        from_addr=sender, message_id=message_id, extra_headers=extra)
    return gateway.encode() + raw


def make_desk(tmp_path: Path, db_url: str, imap: Dovecot, smtp: SmtpServer,
              **ingest: object) -> Desk:
    d = Desk(make_config(tmp_path, db_url, imap, smtp, ingest=dict(ingest)))
    with d.db.transaction() as session:
        add_staff(session, MARIE, "Marie Lambert", "fr")
        add_staff(session, JAN, "Jan Peeters", "nl")
        org = Organisation(name="Gemeente Zuidhoven", kind="municipality", code="99001",
                           language="nl")
        session.add(DirectoryUser(organisation=org, email=USER, name="An Claes", language="nl",
                                  role="bevolking", access_status="blocked"))
    return d


@pytest.fixture
def desk(tmp_path: Path, db_url: str, imap: Dovecot,
         smtp_server: SmtpServer) -> Iterator[Desk]:
    d = make_desk(tmp_path, db_url, imap, smtp_server, trusted_authserv_id=GW)
    yield d
    d.close()


def last_contact(desk: Desk) -> object:
    with desk.db.transaction() as session:
        return session.scalars(select(DirectoryUser.last_contact_at)
                               .where(DirectoryUser.email == USER)).one()


def test_a_forged_mail_is_unverified(desk: Desk, imap: Dovecot,
                                     smtp_server: SmtpServer) -> None:
    """The attack: An's address, a Cc to the attacker, a Reply-To in An's domain and a
    ``dmarc=pass`` written below the gateway's ``dmarc=fail``."""
    imap.append("info", mail(FAIL + FORGED, "Clé d'accès bloquée", extra={
        "Cc": ATTACKER, "Reply-To": "secretariaat@zuidhoven.example"}))
    assert desk.ingest().outcomes == {"ticket": 1}
    desk.send()
    ticket = desk.ticket(1)
    assert ticket["sender_verified"] is False
    assert (ticket["requester"], ticket["requester_org"], ticket["requester_type"]) == (
        USER, None, "other")
    assert ticket["directory"] is None
    assert [p["address"] for p in ticket["participants"]] == [USER]  # no Cc, no Reply-To
    assert [m["sender_verdict"] for m in ticket["messages"]
            if m["direction"] == "in"] == ["fail"]
    assert received(smtp_server, USER) == []  # no acknowledgement
    assert received(smtp_server, "secretariaat@zuidhoven.example") == []
    assert last_contact(desk) is None  # not a contact of the directory user
    [to_marie] = received(smtp_server, MARIE)
    assert "EXPÉDITEUR NON VÉRIFIÉ" in text_of(to_marie)
    [to_jan] = received(smtp_server, JAN)
    assert "AFZENDER NIET GEVERIFIEERD" in text_of(to_jan)
    with desk.db.transaction() as session:  # the desk's unblock card is not offered
        stored = session.get(Ticket, 1)
        assert stored is not None and blocked_requester(session, stored) is None
        with pytest.raises(RnmailError, match="not verified"):
            unblock_requester(session, desk.config, 1, True, True, "reset", "Marie",
                              by=Actor.system())

    # An writes for real: attributed, acknowledged, no flag
    imap.append("info", mail(PASS, "Certificat expiré"))
    assert desk.ingest().outcomes == {"ticket": 1}
    desk.send()
    ticket = desk.ticket(2)
    assert ticket["sender_verified"] is True
    assert (ticket["requester_org"], ticket["requester_type"]) == (
        "Gemeente Zuidhoven", "municipality")
    assert len(received(smtp_server, USER)) == 1
    assert all("NON VÉRIFIÉ" not in text_of(m) for m in received(smtp_server, MARIE)[1:])
    assert last_contact(desk) is not None


def test_spf_and_dkim_failing_without_dmarc_is_unverified(desk: Desk, imap: Dovecot) -> None:
    no_dmarc = (f"Authentication-Results: {GW}; spf=softfail smtp.mailfrom=x; "
                "dkim=fail header.d=zuidhoven.example\n")
    imap.append("info", mail(no_dmarc, "Clé bloquée", message_id="<a@zuidhoven.example>"))
    missing = mail("", "Autre question", message_id="<b@zuidhoven.example>")
    other_hop = mail("Authentication-Results: mx.attacker.invalid; dmarc=fail\n" + FORGED,
                     "Encore une", message_id="<c@zuidhoven.example>")
    imap.append("info", missing)
    imap.append("info", other_hop)
    assert desk.ingest().outcomes == {"ticket": 3}
    verdicts = [(t["id"], t["sender_verified"]) for t in desk.tickets()]
    assert verdicts == [(1, False), (2, True), (3, True)]
    assert [desk.ticket(i)["messages"][0]["sender_verdict"] for i in (1, 2, 3)] == [
        "fail", "none", "none"]


def test_without_a_trusted_gateway_nothing_changes(tmp_path: Path, db_url: str,
                                                   imap: Dovecot,
                                                   smtp_server: SmtpServer) -> None:
    d = make_desk(tmp_path, db_url, imap, smtp_server)
    try:
        imap.append("info", mail(FAIL, "Clé d'accès bloquée"))
        assert d.ingest().outcomes == {"ticket": 1}
        d.send()
        ticket = d.ticket(1)
        assert ticket["sender_verified"] is True
        assert ticket["requester_org"] == "Gemeente Zuidhoven"
        assert ticket["messages"][0]["sender_verdict"] is None
        assert len(received(smtp_server, USER)) == 1  # acknowledged
    finally:
        d.close()


def spam_rows(desk: Desk, state: str | None = "held") -> list[dict[str, object]]:
    with desk.db.transaction() as session:
        return list_spam(session, state)


def test_spam_is_held_and_released_once(desk: Desk, imap: Dovecot,
                                        smtp_server: SmtpServer) -> None:
    imap.append("info", mail(PASS + "x-spam-flag: yes\n", "Gagnez un iPhone",
                             message_id="<spam1@zuidhoven.example>"))
    imap.append("info", mail(PASS + "X-Spam-Status: No, score=11.2 required=5.0\n",
                             "Offre", message_id="<spam2@zuidhoven.example>"))
    assert desk.ingest().outcomes == {"spam": 2}
    desk.send()
    assert desk.tickets() == [] and received(smtp_server) == []  # no mail at all
    rows = spam_rows(desk)
    assert [r["subject"] for r in rows] == ["Offre", "Gagnez un iPhone"]
    assert "spam flag" in str(rows[1]["reason"]) and "score 11.2" in str(rows[0]["reason"])

    imap.append("info", mail(PASS, "Vraie question", message_id="<q@zuidhoven.example>"))
    assert desk.ingest().outcomes == {"ticket": 1}
    assert [t["id"] for t in desk.tickets()] == [1]  # spam used no ticket number

    first = int(str(rows[1]["id"]))
    assert release(desk.db, desk.config, first, "marie") == "ticket"
    with pytest.raises(RnmailError, match="already released"):
        release(desk.db, desk.config, first, "marie")
    desk.send()
    assert [t["subject"] for t in desk.tickets()] == ["Vraie question", "Gagnez un iPhone"]
    assert len(received(smtp_server, USER)) == 2  # each acknowledged once
    assert [r["id"] for r in spam_rows(desk)] == [rows[0]["id"]]

    # delete: gone with its raw file
    second = int(str(rows[0]["id"]))
    with desk.db.transaction() as session:
        digest = session.get(SpamMessage, second).raw_sha256  # type: ignore[union-attr]
    store = BlobStore(desk.config.helpdesk.attachments_dir)
    assert store.path(digest).exists()
    assert delete(desk.db, desk.config, second, "marie") is True
    assert not store.path(digest).exists()
    assert spam_rows(desk) == []
    with pytest.raises(RnmailError, match="already deleted"):
        release(desk.db, desk.config, second, "marie")


def test_the_blocklist_sees_through_tricks(desk: Desk, imap: Dovecot,
                                           smtp_server: SmtpServer) -> None:
    with desk.db.transaction() as session:
        add_block(session, "*.Spam.EXAMPLE.", "marie")
        add_block(session, "Mallory@Attacker.invalid", "marie")
        with pytest.raises(RnmailError, match="already blocked"):
            add_block(session, "spam.example", "marie")
    held = [
        ("sub", "x@mail.spam.example"),
        ("upper", "X@SPAM.EXAMPLE"),
        ("display", '"an.claes@zuidhoven.example" <x@spam.example>'),
        ("address", "MALLORY@attacker.invalid"),
    ]
    kept = [
        ("longer", "x@notspam.example"),
        ("name-only", '"x@spam.example" <ok@zuidhoven.example>'),
        ("other-local", "eve@attacker.invalid"),
    ]
    for subject, sender in held + kept:
        imap.append("info", mail("", subject, sender=sender,
                                 message_id=f"<{subject}@t.example>"))
    two_from = corpus.simple("two-from", "Bonjour", from_addr="ok@zuidhoven.example",
                             message_id="<two@t.example>").replace(
        b"From: ", b"From: x@spam.example\nFrom: ", 1)
    imap.append("info", two_from)
    report = desk.ingest()
    assert report.outcomes == {"spam": 5, "ticket": 3}
    assert sorted(str(r["subject"]) for r in spam_rows(desk)) == sorted(
        [s for s, _ in held] + ["two-from"])
    assert sorted(t["subject"] for t in desk.tickets()) == sorted(s for s, _ in kept)


def test_two_releases_at_once_process_the_mail_once(desk: Desk, imap: Dovecot,
                                                    smtp_server: SmtpServer) -> None:
    """The desk and a shell release the same mail at the same moment: one wins, the other
    is refused (the row is locked, its state read again), one ticket, one acknowledgement."""
    imap.append("info", mail(PASS + "X-Spam-Flag: YES\n", "Vraie demande filtrée"))
    assert desk.ingest().outcomes == {"spam": 1}
    [row] = spam_rows(desk)
    start = threading.Barrier(2)
    results: list[str] = []

    def press(who: str) -> None:
        start.wait()
        try:
            results.append(release(desk.db, desk.config, int(str(row["id"])), who))
        except RnmailError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=press, args=(who,)) for who in ("marie", "jan")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [f"spam message #{row['id']} was already released", "ticket"]
    desk.send()
    assert [t["subject"] for t in desk.tickets()] == ["Vraie demande filtrée"]
    assert len(received(smtp_server, USER)) == 1
