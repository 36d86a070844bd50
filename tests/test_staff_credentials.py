"""A signed reference is not enough to act as a staff member when it may have leaked.

A staff reply by mail is proven by two things: it references a Message-ID rnmail signed for
that member (a notification, a delegation, a held answer) and it comes from the member's
address. The requester could get the first from their own data export (every mail of their
ticket, notifications included) and forge the second: then ``#cc``, ``#close``, ``#merge``
and a relayed answer in the help desk's name were theirs to send. Now the export blunts
those signatures, and a mail whose sender the trusted gateway could not verify proves no
staff reply, whatever it references. Real mail through the real pipeline, both databases.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from rnmail import audit
from rnmail.dispatch.hold import HOLD_KIND
from rnmail.ingest.staff import DELEGATION_KIND, NOTIFICATION_KIND
from rnmail.privacy.export import export_zip
from rnmail.privacy.person import person_of
from rnmail.util.blobs import BlobStore
from rnmail.util.tokens import (
    STAFF_PROOF_KINDS,
    blunt_staff_proofs,
    make_message_id,
    verify_message_id,
)
from tests.harness import corpus
from tests.harness.mail import JAN, MARIE, REQUESTER, text_of
from tests.harness.maildir import SERVICE, MaildirDesk, plain, team_desk, to

GW = "mx.rn.example"
ATTACKER = "mallory@attacker.invalid"
SIGNED = re.compile(rb"<rn\.[^<>@\s]+@[^<>\s]+>")
COMMANDS = f"#cc {ATTACKER}\n#close\n"


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[MaildirDesk]:
    with team_desk(tmp_path, db_url, ingest={"trusted_authserv_id": GW},
                   workflow={"service_answers": "requester"}) as d:
        yield d


def gateway(verdict: str, raw: bytes) -> bytes:
    """``raw`` as the trusted gateway hands it on, its verdict above the sender's headers."""
    return f"Authentication-Results: {GW}; {verdict}\n".encode() + raw


def open_ticket(desk: MaildirDesk) -> EmailMessage:
    """Ticket 1 from the requester (verified); returns Marie's notification."""
    desk.drop(gateway("dmarc=pass header.from=citizen.example", corpus.simple(
        "Clé d'accès bloquée", "Bonjour, ma clé d'accès est bloquée depuis hier.",
        from_addr=REQUESTER, message_id="<q1@citizen.example>")))
    assert desk.ingest().outcomes == {"ticket": 1}
    [notification] = desk.mails(MARIE)
    return notification


def state(desk: MaildirDesk) -> tuple[str, list[str]]:
    ticket = desk.ticket(1)
    return ticket["status"], sorted(p["address"] for p in ticket["participants"])


def valid_proofs(secret: str, data: bytes) -> list[str]:
    found = []
    for match in SIGNED.findall(data):
        verified = verify_message_id(secret, match.decode())
        if verified and verified[0][:1] in STAFF_PROOF_KINDS:
            found.append(match.decode())
    return found


def test_the_proof_kinds_are_the_ones_staff_recognises() -> None:
    assert set(STAFF_PROOF_KINDS) == {NOTIFICATION_KIND, DELEGATION_KIND, HOLD_KIND}


def test_blunting_keeps_length_and_other_ids_and_only_ours() -> None:
    secret = "s3cret"
    proofs = [make_message_id(secret, "rn.example", kind, 7) for kind in ("n3", "s2", "h3-41")]
    others = [make_message_id(secret, "rn.example", kind, 7) for kind in ("r", "a5", "u")]
    foreign = make_message_id("another secret", "rn.example", "n3", 7)
    text = " ".join([*proofs, *others, foreign]).encode()
    blunted, count = blunt_staff_proofs(secret, text)
    assert count == 3 and len(blunted) == len(text)
    assert valid_proofs(secret, blunted) == []
    for message_id in others:  # a requester's replies thread with these: kept valid
        assert message_id.encode() in blunted
    assert foreign.encode() in blunted  # not ours: not touched
    for message_id in proofs:
        zeroed = message_id[:-len("@rn.example>")].rsplit(".", 1)[0]
        assert zeroed.encode() + b"." + b"0" * 16 + b"@rn.example>" in blunted
    assert blunt_staff_proofs(secret, blunted) == (blunted, 0)  # nothing more to do


def test_the_requesters_export_holds_no_staff_proof_and_a_forged_reply_with_it_fails(
        desk: MaildirDesk) -> None:
    """The attack the audit found: export, then a forged ``From: Marie`` referencing the
    notification's Message-ID, with no gateway verdict at all."""
    notification = open_ticket(desk)
    desk.drop(plain(notification, MARIE, "#delegate population-registers"))
    assert desk.ingest().outcomes == {"staff": 1}
    [delegation] = desk.mails(SERVICE)
    desk.drop(plain(delegation, SERVICE, "Clé réinitialisée de notre côté."))
    assert desk.ingest().outcomes == {"service": 1}
    secret = desk.config.helpdesk.secret
    with desk.db.transaction() as session:
        data, _ = export_zip(session, desk.config,
                             BlobStore(desk.config.helpdesk.attachments_dir),
                             person_of(desk.config, REQUESTER, None))
    archive = zipfile.ZipFile(io.BytesIO(data))
    blunted = []
    for name in archive.namelist():
        content = archive.read(name)
        assert valid_proofs(secret, content) == [], name
        blunted += [m.decode() for m in SIGNED.findall(content) if b".0000000000000000@" in m]
    # the notification's and the delegation's ids are there to read, not to use
    assert {notification["Message-ID"][:-28], delegation["Message-ID"][:-28]} <= {
        b[:-28] for b in blunted}
    assert any(verify_message_id(secret, m.decode()) for name in archive.namelist()
               for m in SIGNED.findall(archive.read(name)))  # our other ids stay valid
    before = state(desk)
    for leaked in dict.fromkeys(blunted):
        desk.drop(corpus.simple("RE: x", COMMANDS, from_addr=MARIE, extra_headers={
            "In-Reply-To": leaked, "References": leaked}))
        desk.drop(corpus.simple("RE: x", "Réponse du second niveau", from_addr=SERVICE,
                                extra_headers={"In-Reply-To": leaked, "References": leaked}))
    outcomes = desk.ingest().outcomes
    assert "staff" not in outcomes and "service" not in outcomes, outcomes
    assert state(desk) == before and ATTACKER not in before[1]
    assert [m for m in desk.mails(REQUESTER) if "second niveau" in text_of(m)] == []


@pytest.mark.parametrize("verdict", [
    "dmarc=fail (p=reject dis=none) header.from=rn.example",
    "dmarc=fail header.from=rn.example; spf=pass smtp.mailfrom=rn.example; "
    "dkim=pass header.d=rn.example",  # DMARC decides, whatever else passed
    "spf=fail smtp.mailfrom=rn.example; dkim=fail header.d=rn.example",  # no DMARC
    "dmarc=FAIL header.from=rn.example",
])
def test_a_staff_reply_the_gateway_could_not_verify_acts_on_nothing(
        desk: MaildirDesk, verdict: str) -> None:
    """The signed reference is genuine (leaked by a forward, say); the From is forged."""
    notification = open_ticket(desk)
    before = state(desk)
    desk.drop(gateway(verdict, plain(notification, MARIE,
                                     COMMANDS + "Votre clé est débloquée, cliquez ici.")))
    assert desk.ingest().outcomes == {"staff-unsent": 1}
    assert state(desk) == before
    sent = desk.mails()
    assert [m for m in to(sent, REQUESTER) if "cliquez ici" in text_of(m)] == []
    assert to(sent, ATTACKER) == []
    told = [m for m in to(sent, MARIE) if "n'a pas été envoyée" in str(m["Subject"])]
    assert len(told) == 1
    body = text_of(told[0])
    assert "n'a pas pu vérifier qu'il vient bien de votre adresse" in body
    assert "prévenez l'administrateur" in body and "cliquez ici" not in body
    with desk.db.transaction() as session:
        [event] = audit.list_events(session, action="staff-mail-unsent")
        assert (event.detail["why"], event.detail["ticket"]) == ("unverified", 1)
    note = [m for m in desk.ticket(1)["messages"] if m["kind"] == "comment"]
    assert len(note) == 1 and "(DMARC)" in note[0]["text"]


def test_a_delegation_answer_the_gateway_could_not_verify_is_not_relayed(
        desk: MaildirDesk) -> None:
    notification = open_ticket(desk)
    desk.drop(gateway("dmarc=pass header.from=rn.example",
                      plain(notification, MARIE, "#delegate population-registers")))
    assert desk.ingest().outcomes == {"staff": 1}
    [delegation] = desk.mails(SERVICE)
    desk.drop(gateway("dmarc=fail header.from=second.example",
                      plain(delegation, SERVICE, "Réponse falsifiée du second niveau.")))
    assert "service" not in desk.ingest().outcomes
    assert [m for m in desk.mails(REQUESTER) if "falsifiée" in text_of(m)] == []
    assert desk.ticket(1)["status"] == "delegated"


def test_the_same_reply_verified_is_carried_out(desk: MaildirDesk) -> None:
    """The control: the gateway says DMARC passed, and Marie's commands apply."""
    notification = open_ticket(desk)
    desk.drop(gateway("dmarc=pass header.from=rn.example",
                      plain(notification, MARIE, f"#cc {JAN}\n#close\n")))
    assert desk.ingest().outcomes == {"staff": 1}
    status, participants = state(desk)
    assert status == "closed" and JAN in participants
