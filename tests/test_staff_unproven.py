"""A staff member's mail that lost its thread never becomes a ticket (issue 16 C).

Marie answered ``RE: [RN #1] …`` from a client that dropped In-Reply-To and References: the
mail became ticket #2 with Marie as requester, acknowledged and notified to the whole team,
and the requester got nothing. Now mail from an active staff address that is no proven reply
to that member's notification is kept (a note on the ticket it names, with the raw mail; an
audit record) and the member is told in their language — except for automatic mail, loops
and past the day's limit (a forged sender). Real mail through the real pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from rnmail import audit
from rnmail.models import Message
from rnmail.tickets.archive import message_bytes
from rnmail.tickets.team import add_staff, remove_staff
from rnmail.util.blobs import BlobStore
from tests.harness import corpus
from tests.harness.factories import Desk
from tests.harness.mail import JAN, MARIE, REQUESTER, first_request, received, text_of
from tests.harness.mail import staffed_desk as staffed_desk  # the fixture ``desk``
from tests.harness.maildir import MaildirDesk, headers_of, plain, to
from tests.harness.servers import Dovecot, SmtpServer

SUBJECT = "Clé d'accès bloquée"


def unsent_events(desk: Desk) -> list[dict[str, object]]:
    with desk.db.transaction() as session:
        return [e.detail for e in reversed(audit.list_events(session,
                                                             action="staff-mail-unsent"))]


def test_a_staff_answer_without_its_headers_is_not_a_ticket(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer) -> None:
    """The issue's case, on Dovecot and SMTP: ``RE: [RN #1]`` with no In-Reply-To."""
    first_request(desk, imap, smtp_server)
    raw = corpus.simple(f"RE: [RN #1] {SUBJECT}", "Bonjour,\nVotre clé est débloquée.\nMarie",
                        from_addr=MARIE, message_id="<answer1@rn.example>")
    imap.append("info", raw)
    assert desk.ingest().outcomes == {"staff-unsent": 1}
    desk.send()
    assert [t["id"] for t in desk.tickets()] == [1]  # no ticket #2
    assert len(received(smtp_server, REQUESTER)) == 1  # the acknowledgement only
    assert len(received(smtp_server, JAN)) == 1  # the team is not notified
    [_, told] = received(smtp_server, MARIE)
    assert told["Subject"] == "[RN #1] Votre réponse n'a pas été envoyée"
    assert told["Auto-Submitted"] == "auto-generated"
    body = text_of(told)
    for words in ("n'a PAS été envoyé au demandeur du ticket RN #1", "In-Reply-To",
                  "répondez (« Répondre ») au courriel de notification",
                  "rnmail ticket reply 1"):
        assert words in body, body
    detail = desk.ticket(1)
    assert detail["status"] == "open"
    [note] = [m for m in detail["messages"] if m["kind"] == "comment"]
    assert note["from"] == MARIE and note["direction"] == "in"
    assert note["text"].startswith("Réponse non envoyée de Marie Lambert")  # fr desk
    assert "Votre clé est débloquée." in note["text"]
    with desk.db.transaction() as session:  # the raw mail is kept: export gives it back
        stored = session.get(Message, note["id"])
        assert stored is not None
        kept = message_bytes(session, BlobStore(desk.config.helpdesk.attachments_dir), stored)
        assert kept.replace(b"\r\n", b"\n") == raw  # as IMAP delivered it (CRLF)
    [event] = unsent_events(desk)
    assert (event["ticket"], event["why"], event["told"]) == (1, "no-reference", True)


@pytest.fixture
def mdesk(tmp_path: Path, db_url: str) -> Iterator[MaildirDesk]:
    d = MaildirDesk(tmp_path, db_url, ingest={"auto_reply_limit": 3})
    with d.db.transaction() as session:
        add_staff(session, MARIE, "Marie Lambert", "fr")
        add_staff(session, JAN, "Jan Peeters", "nl")
    yield d
    d.close()


def opened(desk: MaildirDesk) -> dict[str, EmailMessage]:
    """Ticket 1 from REQUESTER; each staff member's notification of it."""
    desk.drop(corpus.simple(SUBJECT, "Bonjour, ma clé d'accès est bloquée depuis hier.",
                            from_addr=REQUESTER, message_id="<q1@citizen.example>"))
    assert desk.ingest().outcomes == {"ticket": 1}
    sent = desk.mails()
    return {MARIE: to(sent, MARIE)[0], JAN: to(sent, JAN)[0]}


@pytest.mark.parametrize(("sender", "prefix", "why", "words"), [
    (MARIE, "RE:", "no-reference", "il ne porte pas la référence de la notification"),
    (MARIE, "AW:", "no-reference", "il ne porte pas la référence de la notification"),
    (JAN, "Antw:", "no-reference", "het draagt de verwijzing naar de melding niet"),
    (MARIE, "TR:", "forward", "c'est un transfert"),
    (MARIE, "Fwd:", "forward", "c'est un transfert"),
    (JAN, "Doorst:", "forward", "het is een doorgestuurd bericht"),
    (JAN, "WG:", "forward", "het is een doorgestuurd bericht"),
    (JAN, "RE: Fwd:", "forward", "het is een doorgestuurd bericht"),
])
def test_every_prefix_and_forward_is_kept_and_explained(
        mdesk: MaildirDesk, sender: str, prefix: str, why: str, words: str) -> None:
    opened(mdesk)
    mdesk.drop(corpus.simple(f"{prefix} [RN #1] {SUBJECT}", "#close\nC'est réglé.",
                             from_addr=sender))
    assert mdesk.ingest().outcomes == {"staff-unsent": 1}
    sent = mdesk.mails()
    assert to(sent, REQUESTER) == [] and len(sent) == 1
    [told] = to(sent, sender)
    assert words in text_of(told)
    detail = mdesk.ticket(1)
    assert (detail["status"], len(mdesk.tickets())) == ("open", 1)  # #close not applied
    assert [e["why"] for e in unsent_events(mdesk)] == [why]


def test_a_reply_to_a_colleagues_notification(mdesk: MaildirDesk) -> None:
    notifications = opened(mdesk)
    mdesk.drop(plain(notifications[MARIE], JAN, "Ik neem het over."))  # Marie's, by Jan
    assert mdesk.ingest().outcomes == {"staff-unsent": 1}
    [told] = mdesk.mails(JAN)
    assert told["Subject"] == "[RN #1] Uw antwoord is niet verstuurd"
    assert "het antwoordt op de melding die naar een collega is gestuurd" in text_of(told)
    assert mdesk.mails(REQUESTER) == []


def test_a_reply_to_all_on_the_requesters_mail_joins_its_ticket(mdesk: MaildirDesk) -> None:
    opened(mdesk)
    mdesk.drop(corpus.simple(f"RE: {SUBJECT}", "Je regarde.", from_addr=MARIE,
                             extra_headers={"In-Reply-To": "<q1@citizen.example>"}))
    assert mdesk.ingest().outcomes == {"staff-unsent": 1}
    assert [m["text"] for m in mdesk.ticket(1)["messages"] if m["kind"] == "comment"]


def test_a_new_request_written_by_staff_opens_no_ticket(mdesk: MaildirDesk) -> None:
    raw = corpus.simple("Question de la commune de Namur", "Pouvez-vous ouvrir un ticket ?",
                        from_addr=MARIE)
    mdesk.drop(raw)
    assert mdesk.ingest().outcomes == {"staff-unsent": 1}
    assert mdesk.tickets() == []
    [told] = mdesk.mails(MARIE)
    assert told["Subject"] == "Votre message n'a pas été traité"
    assert "rnmail ticket new --channel mail" in text_of(told)
    [event] = unsent_events(mdesk)
    assert (event["ticket"], event["why"]) == (None, "no-reference")
    blobs = BlobStore(mdesk.config.helpdesk.attachments_dir)
    assert blobs.get(str(event["raw_sha256"])) == raw  # the mail is kept


def test_a_tag_naming_no_ticket(mdesk: MaildirDesk) -> None:
    mdesk.drop(corpus.simple(f"RE: [RN #99] {SUBJECT}", "Réponse.", from_addr=MARIE))
    assert mdesk.ingest().outcomes == {"staff-unsent": 1}
    assert mdesk.tickets() == []
    assert mdesk.mails(MARIE)[0]["Subject"] == "Votre message n'a pas été traité"


def test_forged_staff_sender_cannot_flood_the_staff_member(mdesk: MaildirDesk) -> None:
    """Anyone can write From: Marie: each forgery is kept, Marie is told at most
    ``ingest.auto_reply_limit`` (3 here) times a day, and no ticket is opened."""
    opened(mdesk)
    for n in range(5):
        mdesk.drop(corpus.simple(f"RE: [RN #1] {SUBJECT} https://evil.test/{n}",
                                 "#close\nhttps://evil.test/phish", from_addr=MARIE,
                                 extra_headers={"Reply-To": "mallory@evil.test"}))
    assert mdesk.ingest().outcomes == {"staff-unsent": 5}
    sent = mdesk.mails()
    assert len(to(sent, MARIE)) == 3 and len(sent) == 3  # never to the Reply-To
    for told in sent:
        assert "evil.test" not in text_of(told)  # quotes nothing of the mail's text
    assert [e["told"] for e in unsent_events(mdesk)] == [True] * 3 + [False] * 2
    assert len(mdesk.tickets()) == 1 and mdesk.ticket(1)["status"] == "open"


def test_no_loop_with_a_client_that_sends_our_mail_back(mdesk: MaildirDesk) -> None:
    opened(mdesk)
    mdesk.drop(corpus.simple(f"RE: [RN #1] {SUBJECT}", "Réponse.", from_addr=MARIE))
    mdesk.ingest()
    [told] = mdesk.mails(MARIE)
    # Marie's mailbox rule answers what she gets, as a person would (no Auto-Submitted):
    # a person replying to our mail is told once more; the rule's next round is not.
    counts = []
    for _ in range(3):
        mdesk.drop(corpus.simple(f"RE: {told['Subject']}", text_of(told), from_addr=MARIE,
                                 extra_headers=headers_of(told)))
        assert mdesk.ingest().outcomes == {"staff-unsent": 1}
        sent = mdesk.mails()
        counts.append(len(sent))
        told = sent[0] if sent else told
    assert counts == [1, 0, 0]
    assert "il répond à un message comme celui-ci" in text_of(told)
    assert [e["why"] for e in unsent_events(mdesk)] == ["no-reference"] + ["error-mail"] * 3


def test_a_reply_to_a_refused_command_is_told_once(mdesk: MaildirDesk) -> None:
    notifications = opened(mdesk)
    mdesk.drop(plain(notifications[JAN], JAN, "#categorie access-key"))
    assert mdesk.ingest().outcomes == {"staff": 1}
    [refused] = mdesk.mails(JAN)
    mdesk.drop(corpus.simple(f"RE: {refused['Subject']}", "#category access-key",
                             from_addr=JAN, extra_headers=headers_of(refused)))
    assert mdesk.ingest().outcomes == {"staff-unsent": 1}
    [told] = mdesk.mails(JAN)
    assert "het antwoordt op een bericht zoals dit" in text_of(told)
    assert mdesk.ticket(1)["category"] is None


@pytest.mark.parametrize("references", [False, True])
def test_a_staff_out_of_office_is_kept_and_answered_by_nothing(
        mdesk: MaildirDesk, references: bool) -> None:
    notifications = opened(mdesk)
    headers = {"Auto-Submitted": "auto-replied",
               **(headers_of(notifications[MARIE]) if references else {})}
    mdesk.drop(corpus.simple(f"Réponse automatique : [RN #1] {SUBJECT}",
                             "Je suis absente jusqu'au 2 décembre.", from_addr=MARIE,
                             extra_headers=headers))
    assert mdesk.ingest().outcomes == {"staff-unsent": 1}
    assert mdesk.mails() == []  # no error mail, no notification, no acknowledgement
    [note] = [m for m in mdesk.ticket(1)["messages"] if m["kind"] == "comment"]
    assert note["text"].startswith("Courriel automatique de")
    assert len(mdesk.tickets()) == 1


def test_a_proven_reply_still_answers(mdesk: MaildirDesk) -> None:
    notifications = opened(mdesk)
    mdesk.drop(plain(notifications[MARIE], MARIE, "Votre clé est débloquée."))
    assert mdesk.ingest().outcomes == {"staff": 1}
    [answer] = mdesk.mails(REQUESTER)
    assert "Votre clé est débloquée." in text_of(answer)
    assert unsent_events(mdesk) == []


def test_a_former_staff_member_writes_as_anyone(mdesk: MaildirDesk) -> None:
    with mdesk.db.transaction() as session:
        remove_staff(session, JAN)
    mdesk.drop(corpus.simple("Vraag", "Ik heb een vraag als burger.", from_addr=JAN))
    assert mdesk.ingest().outcomes == {"ticket": 1}


@pytest.mark.parametrize(("language", "subject", "no_english"), [
    ("fr", "Votre réponse n'a pas été envoyée", True),
    ("nl", "Uw antwoord is niet verstuurd", True),
    ("de", "Ihre Antwort wurde nicht gesendet", True),
    ("en", "Your answer was not sent", False)])
def test_the_unsent_mail_says_every_reason_in_the_members_language(
        language: str, subject: str, no_english: bool) -> None:
    from rnmail.dispatch.render import render
    from tests.harness.rendered import DESK

    texts = set()
    for why in ("forward", "colleague", "other-mail", "error-mail", "no-reference"):
        for ticket_id in (12, None):
            rendered = render("staff_unsent", language, "fr", {
                "tag": "RN", "ticket_id": ticket_id, "subject": "RE: Clé", "why": why},
                helpdesk=DESK)
            assert rendered.language == language
            assert (subject in rendered.subject) == (ticket_id is not None)
            texts.add(rendered.text.split("\n-- \n")[0])
            if no_english:
                assert not re.search(r"\b(the|was|your|answer|reply)\b",
                                     rendered.text.replace("ticket reply", ""))
    assert len(texts) == 10  # each reason has its own words
