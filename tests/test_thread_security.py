"""Threading cannot be hijacked: by a reused Message-ID, nor by one spoofed mail with a Cc.

Message-IDs are not secret (anyone in copy of a mail knows it), and From and Cc are written
by the sender: neither may pull a victim's mail into an attacker's ticket, nor let an
attacker into the victim's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rnmail.tickets.team import add_staff
from tests.harness import corpus
from tests.harness.install import install
from tests.harness.mail import MARIE, text_of
from tests.harness.maildir import MaildirDesk, plain, to

VICTIM = "victime@commune.example"
ATTACKER = "mallory@evil.test"
STOLEN = "<a1b2c3@commune.example>"  # the victim's Message-ID, known to the attacker


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[MaildirDesk]:
    d = MaildirDesk(tmp_path, db_url)
    with d.db.transaction() as session:
        add_staff(session, MARIE, "Marie Lambert", "fr")
    yield d
    d.close()


def mail(sender: str, subject: str, body: str, message_id: str | None = None,
         **headers: str) -> bytes:
    return corpus.simple(subject, body, from_addr=sender, message_id=message_id,
                         extra_headers={k.replace("_", "-"): v for k, v in headers.items()})


def tickets_of(desk: MaildirDesk) -> dict[int, list[str]]:
    """Each ticket with the senders of its incoming mails."""
    return {t["id"]: [m["from"] for m in desk.ticket(t["id"])["messages"]
                      if m["direction"] == "in"] for t in desk.tickets()}


def participants(desk: MaildirDesk, ticket_id: int) -> list[str]:
    return sorted(p["address"] for p in desk.ticket(ticket_id)["participants"])


@pytest.mark.parametrize("one_batch", [False, True])
def test_attacker_first_with_the_victims_message_id(desk: MaildirDesk, one_batch: bool) -> None:
    """The attacker knows the Message-ID of a mail the victim will answer with a copy to the
    help desk (a colleague's mail, a list), and opens a ticket with it first."""
    desk.drop(mail(ATTACKER, "Question", "Bonjour, une question.", STOLEN))
    if not one_batch:
        assert desk.ingest().outcomes == {"ticket": 1}
    desk.drop(mail(VICTIM, "RE: Accès bloqué", "Mon accès est bloqué, dossier 12345.",
                   "<v1@commune.example>", In_Reply_To=STOLEN, References=STOLEN))
    desk.drop(mail(VICTIM, "Accès bloqué", "Bonjour, mon accès est bloqué.", STOLEN))
    desk.drop(mail(VICTIM, "RE: Accès bloqué", "Encore moi.", In_Reply_To=STOLEN))
    report = desk.ingest()
    assert report.outcomes == ({"ticket": 3, "reply": 1} if one_batch
                               else {"ticket": 2, "reply": 1})  # the same id: not a duplicate
    assert tickets_of(desk) == {1: [ATTACKER], 2: [VICTIM], 3: [VICTIM, VICTIM]}
    assert desk.ticket(2)["linked_ticket_id"] == (None if one_batch else 1)


def test_victim_first_attacker_reuses_the_id(desk: MaildirDesk) -> None:
    desk.drop(mail(VICTIM, "Accès bloqué", "Bonjour, mon accès est bloqué.", STOLEN))
    desk.ingest()
    desk.drop(mail(ATTACKER, "Accès bloqué", "Autre chose.", STOLEN))
    desk.drop(mail(ATTACKER, "RE: Accès bloqué", "Envoyez-moi la réponse.",
                   In_Reply_To=STOLEN))
    assert desk.ingest().outcomes == {"ticket": 1, "reply": 1}
    desk.drop(mail(VICTIM, "RE: Accès bloqué", "Mon dossier 12345.", In_Reply_To=STOLEN))
    assert desk.ingest().outcomes == {"reply": 1}
    assert tickets_of(desk) == {1: [VICTIM, VICTIM], 2: [ATTACKER, ATTACKER]}


def test_a_strangers_reference_to_someones_mail_opens_a_linked_ticket(desk: MaildirDesk) -> None:
    desk.drop(mail(VICTIM, "Accès bloqué", "Bonjour, mon accès est bloqué.", STOLEN))
    desk.ingest()
    desk.drop(mail(ATTACKER, "RE: Accès bloqué", "Ajout.", References=f"<x@evil.test> {STOLEN}"))
    assert desk.ingest().outcomes == {"ticket": 1}
    assert tickets_of(desk) == {1: [VICTIM], 2: [ATTACKER]}
    assert desk.ticket(2)["linked_ticket_id"] == 1


def test_references_with_several_ids_find_the_senders_ticket(desk: MaildirDesk) -> None:
    desk.drop(mail(ATTACKER, "Piège", "Bonjour.", "<trap@evil.test>"))
    desk.drop(mail(VICTIM, "Accès bloqué", "Bonjour, mon accès est bloqué.", STOLEN))
    desk.ingest()
    # The victim's client lists the attacker's id too (e.g. it was in copy of both).
    desk.drop(mail(VICTIM, "RE: Accès bloqué", "Suite.", In_Reply_To="<trap@evil.test>",
                   References=f"{STOLEN} <trap@evil.test>"))
    assert desk.ingest().outcomes == {"reply": 1}
    assert tickets_of(desk) == {1: [ATTACKER], 2: [VICTIM, VICTIM]}


def test_the_victim_replying_to_our_acknowledgement_threads_right(desk: MaildirDesk) -> None:
    desk.drop(mail(ATTACKER, "Question", "Bonjour, une question.", STOLEN))
    desk.drop(mail(VICTIM, "Accès bloqué", "Bonjour, mon accès est bloqué.", STOLEN))
    desk.ingest()
    [ack] = to(desk.mails(), VICTIM)
    desk.drop(mail(VICTIM, f"RE: {ack['Subject']}", "Merci.", In_Reply_To=ack["Message-ID"],
                   References=f"{STOLEN} {ack['Message-ID']}"))
    assert desk.ingest().outcomes == {"reply": 1}
    assert tickets_of(desk)[2] == [VICTIM, VICTIM]


def test_our_own_message_id_from_a_stranger_is_not_a_duplicate(desk: MaildirDesk) -> None:
    desk.drop(mail(VICTIM, "Accès bloqué", "Bonjour, mon accès est bloqué.", STOLEN))
    desk.ingest()
    [ack] = to(desk.mails(), VICTIM)
    desk.drop(mail(ATTACKER, "Question", "Bonjour.", ack["Message-ID"]))
    assert desk.ingest().outcomes == {"ticket": 1}  # stored, in a ticket of its own
    assert tickets_of(desk) == {1: [VICTIM], 2: [ATTACKER]}


# --- participants ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["Cc", "To"])
def test_one_spoofed_mail_with_a_cc_makes_no_participant(desk: MaildirDesk, header: str) -> None:
    to_header = f"info@rn.example, {ATTACKER}" if header == "To" else "info@rn.example"
    extra = {"To": to_header, **({"Cc": f"Mallory <{ATTACKER}>"} if header == "Cc" else {})}
    desk.drop(corpus.simple("Accès bloqué", "Bonjour, mon accès est bloqué.", from_addr=VICTIM,
                            message_id=STOLEN, extra_headers=extra))
    desk.ingest()
    assert participants(desk, 1) == [VICTIM]
    desk.drop(mail(ATTACKER, "RE: [RN #1] Accès bloqué", "Envoyez la réponse ici."))
    desk.drop(mail(ATTACKER, "RE: Accès bloqué", "Et ici.", In_Reply_To=STOLEN))
    assert desk.ingest().outcomes == {"ticket": 2}
    assert tickets_of(desk) == {1: [VICTIM], 2: [ATTACKER], 3: [ATTACKER]}


def test_a_reply_with_a_cc_adds_no_participant(desk: MaildirDesk) -> None:
    desk.drop(mail(VICTIM, "Accès bloqué", "Bonjour.", STOLEN))
    desk.ingest()
    desk.drop(mail(VICTIM, "RE: [RN #1] Accès bloqué", "Suite.", Cc=ATTACKER))
    assert desk.ingest().outcomes == {"reply": 1}
    assert participants(desk, 1) == [VICTIM]


def test_a_reply_to_in_another_domain_is_no_participant(desk: MaildirDesk) -> None:
    desk.drop(mail(VICTIM, "Accès bloqué", "Bonjour.", Reply_To=ATTACKER))
    desk.drop(mail("agent@police.example", "Accès", "Bonjour.",
                   Reply_To="secretariat@police.example"))
    desk.ingest()
    assert participants(desk, 1) == [VICTIM]
    assert participants(desk, 2) == ["agent@police.example", "secretariat@police.example"]


def test_staff_add_a_participant_by_mail_with_cc(desk: MaildirDesk) -> None:
    desk.drop(mail(VICTIM, "Accès bloqué", "Bonjour.", STOLEN))
    desk.ingest()
    [notification] = to(desk.mails(), MARIE)
    colleague = "collegue@commune.example"
    desk.drop(plain(notification, MARIE, f"#cc {colleague}\n#cc not-an-address"))
    assert desk.ingest().outcomes == {"staff": 1}
    assert participants(desk, 1) == [VICTIM]  # one wrong command: nothing changed
    [error] = to(desk.mails(), MARIE)
    assert "not-an-address" in text_of(error)
    desk.drop(plain(notification, MARIE, f"#cc {colleague.upper()}"))
    desk.ingest()
    assert participants(desk, 1) == [colleague, VICTIM]
    desk.drop(mail(colleague, "RE: Accès bloqué", "Je complète.", In_Reply_To=STOLEN))
    assert desk.ingest().outcomes == {"reply": 1}


def test_ticket_participant_add_and_remove(tmp_path: Path, db_url: str) -> None:
    site = install(tmp_path, db_url)
    site.deliver(mail(VICTIM, "Accès bloqué", "Bonjour.", STOLEN, Cc=ATTACKER))
    out = site.json("ticket", "participant", "add", "1", "Collegue@Commune.example", "--json")
    assert out["participants"] == [{"address": VICTIM, "role": "requester"},
                                   {"address": "collegue@commune.example", "role": "cc"}]
    site.fails("ticket", "participant", "add", "1", "info@rn.example")
    site.fails("ticket", "participant", "add", "1", "pas une adresse")
    site.fails("ticket", "participant", "remove", "1", VICTIM)  # the requester stays
    site.fails("ticket", "participant", "remove", "1", ATTACKER)  # never was one
    result = site.ok("ticket", "participant", "remove", "1", "collegue@commune.example")
    assert "removed" in result
    assert site.json("ticket", "show", "1", "--json")["participants"] == [
        {"address": VICTIM, "role": "requester"}]
