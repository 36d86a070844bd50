"""An empty staff reply never relays the notification it quotes, whatever the mail client.

A staff member who presses "reply" and sends without writing (or who writes below a quote
the parser does not recognise) must not send the requester the internal notification: its
headers, a second line's internal answer, the FAQ suggestions. Each test builds the reply
the way one client quotes; each relayed the notification before rnmail compared replies
with the text it sent.
"""

from __future__ import annotations

import email.utils
import html
import textwrap
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from rnmail.dispatch.render import render
from rnmail.ingest.quoting import own_text
from rnmail.ingest.staff import QUOTED_ONLY
from rnmail.tickets.team import add_service, add_staff
from tests.harness import corpus
from tests.harness.mail import MARIE, REQUESTER, text_of
from tests.harness.maildir import SERVICE, MaildirDesk, headers_of, plain, team_desk, to
from tests.harness.rendered import DESK

SECRET_ANSWER = "compte 4711 verrouillé par la police judiciaire"


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[MaildirDesk]:
    with team_desk(tmp_path, db_url, workflow={"service_answers": "review"}) as d:
        yield d


def notified(desk: MaildirDesk) -> EmailMessage:
    """Ticket 1 from REQUESTER, answered by the second line with an internal remark, and the
    notification of that answer to MARIE: what a careless reply would quote."""
    desk.drop(corpus.simple("Clé d'accès bloquée",
                            "Bonjour, ma clé d'accès est bloquée depuis hier.\nMerci d'avance.",
                            from_addr=REQUESTER, message_id="<q1@citizen.example>"))
    assert desk.ingest().outcomes == {"ticket": 1}
    [first] = desk.mails(MARIE)
    desk.drop(plain(first, MARIE, "#delegate population-registers"))
    assert desk.ingest().outcomes == {"staff": 1}
    [delegation] = desk.mails(SERVICE)
    desk.drop(plain(delegation, SERVICE, f"Interne : {SECRET_ANSWER}, ne pas débloquer.\n"
                    "Ne pas communiquer au citoyen."))
    assert desk.ingest().outcomes == {"service": 1}
    [notification] = desk.mails(MARIE)
    assert SECRET_ANSWER in text_of(notification)
    return notification


def html_only(notification: EmailMessage, sender: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, "info@rn.example"
    msg["Subject"] = f"RE: {notification['Subject']}"
    msg["Message-ID"] = email.utils.make_msgid(domain="rn.example")
    for name, value in headers_of(notification).items():
        msg[name] = value
    msg.set_content(f"<html><body>{body}</body></html>", subtype="html")
    return msg.as_bytes()


def html_lines(text: str) -> str:
    return "<br>\n".join(html.escape(line) for line in text.splitlines())


def quoted(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines())


GMAIL = {
    "fr": "Le lun. 30 nov. 2026 à 10:02, Help Desk <info@rn.example> a écrit :",
    "nl": "Op ma 30 nov. 2026 om 10:02 schreef Help Desk <info@rn.example>:",
    "de": "Am Mo., 30. Nov. 2026 um 10:02 Uhr schrieb Help Desk <info@rn.example>:",
    "en": "On Mon, Nov 30, 2026 at 10:02 AM Help Desk <info@rn.example> wrote:",
}


def shapes(n: EmailMessage, own: str) -> dict[str, bytes]:
    """Each client's reply to ``n`` with ``own`` as the staff member's text ("" for none)."""
    text = text_of(n)
    top = f"{own}\n\n" if own else ""
    outlook_block = (f"From: Help Desk <info@rn.example>\nSent: Monday, November 30, 2026 "
                     f"10:02 AM\nTo: Marie Lambert <{MARIE}>\nSubject: {n['Subject']}\n\n")
    return {
        "outlook-desktop-html": html_only(n, MARIE, (
            f"<div class=WordSection1><p class=MsoNormal>{html.escape(own)}</p></div>"
            '<hr style="display:inline-block;width:98%" tabindex="-1">'
            '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>De :</b> Help Desk '
            "&lt;info@rn.example&gt;<br><b>Envoyé :</b> lundi 30 novembre 2026 10:02<br>"
            f"<b>À :</b> Marie Lambert<br><b>Objet :</b> {html.escape(n['Subject'])}</font>"
            f"<div>&nbsp;</div></div><div><p>{html_lines(text)}</p></div>")),
        "outlook-plain-original-message": plain(
            n, MARIE, f"{top}-----Original Message-----\n{outlook_block}{text}", True),
        "outlook-plain-underscores": plain(
            n, MARIE, f"{top}________________________________\n{outlook_block}{text}", True),
        **{f"gmail-{lang}": plain(n, MARIE, f"{top}{line}\n\n{quoted(text)}\n", True)
           for lang, line in GMAIL.items()},
        "gmail-fr-wrapped-attribution": plain(
            n, MARIE, f"{top}Le lun. 30 nov. 2026 à 10:02, Help Desk <\ninfo@rn.example> "
            f"a écrit :\n\n{quoted(text)}\n", True),
        "gmail-attribution-without-quote-marks": plain(
            n, MARIE, f"{top}{GMAIL['nl']}\n\n{text}\n", True),
        "thunderbird": plain(
            n, MARIE, f"{top}Le 30/11/2026 à 10:02, Help Desk a écrit :\n{quoted(text)}\n"),
        "apple-mail-blockquote": html_only(n, MARIE, (
            f"<div>{html.escape(own)}</div><div><br><blockquote type=\"cite\"><div>Le 30 nov. "
            "2026 à 10:02, Help Desk &lt;info@rn.example&gt; a écrit :</div><br><div><div>"
            f"{html_lines(text)}</div></div></blockquote></div>")),
        "plain-quote-without-marks": plain(n, MARIE, f"{top}{text}\n", True),
        "rewrapped-at-60": plain(n, MARIE, top + "\n".join(
            textwrap.wrap(" ".join(text.split()), 60)), True),
        "rewrapped-with-marks": plain(n, MARIE, top + GMAIL["en"] + "\n" + "\n".join(
            f"> {line}" for line in textwrap.wrap(" ".join(text.split()), 66))),
    }


SHAPES = ["outlook-desktop-html", "outlook-plain-original-message", "outlook-plain-underscores",
          *(f"gmail-{lang}" for lang in GMAIL), "gmail-fr-wrapped-attribution",
          "gmail-attribution-without-quote-marks", "thunderbird", "apple-mail-blockquote",
          "plain-quote-without-marks", "rewrapped-at-60", "rewrapped-with-marks"]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_reply_that_only_quotes_the_notification_is_refused(
        desk: MaildirDesk, shape: str) -> None:
    notification = notified(desk)
    desk.drop(shapes(notification, "")[shape])
    assert desk.ingest().outcomes == {"staff": 1}
    sent = desk.mails()
    assert to(sent, REQUESTER) == []  # nothing relayed: not the notification, nor the PDF
    [error] = to(sent, MARIE)
    assert "refusée" in error["Subject"]
    assert "aucun texte de votre part" in text_of(error)
    notes = [m for m in desk.ticket(1)["messages"] if m["kind"] == "comment"]
    assert notes[-1]["text"].startswith(  # in the help desk's language (fr)
        "Réponse d'un membre du help desk refusée, rien n'a été envoyé ni modifié : ")


@pytest.mark.parametrize("shape", SHAPES)
def test_own_text_above_the_full_quote_is_all_that_is_relayed(
        desk: MaildirDesk, shape: str) -> None:
    notification = notified(desk)
    desk.drop(shapes(notification, "Votre clé est débloquée, bonne journée.")[shape])
    assert desk.ingest().outcomes == {"staff": 1}
    [answer] = desk.mails(REQUESTER)
    body = text_of(answer)
    assert "Votre clé est débloquée, bonne journée." in body
    for leaked in (SECRET_ANSWER, "deuxième ligne", "#comment", "Help Desk <info",
                   "ma clé d'accès est bloquée"):
        assert leaked not in body, (leaked, body)


def test_bottom_posted_answer_below_a_marked_quote_is_relayed(desk: MaildirDesk) -> None:
    notification = notified(desk)
    desk.drop(plain(notification, MARIE, f"{GMAIL['fr']}\n{quoted(text_of(notification))}\n\n"
                    "C'est réglé, votre clé est débloquée.\n"))
    assert desk.ingest().outcomes == {"staff": 1}
    [answer] = desk.mails(REQUESTER)
    assert "C'est réglé" in text_of(answer) and SECRET_ANSWER not in text_of(answer)


def test_a_command_with_only_the_quote_acts_and_relays_nothing(desk: MaildirDesk) -> None:
    notification = notified(desk)
    desk.drop(plain(notification, MARIE, f"#pending\n{text_of(notification)}"))
    assert desk.ingest().outcomes == {"staff": 1}
    assert desk.ticket(1)["status"] == "pending"
    assert desk.mails(REQUESTER) == []


def test_the_second_line_quoting_its_delegation_sends_nothing_on(tmp_path: Path,
                                                                 db_url: str) -> None:
    desk = MaildirDesk(tmp_path, db_url, workflow={"service_answers": "requester"})
    with desk.db.transaction() as session:
        add_staff(session, MARIE, "Marie Lambert", "fr")
        add_service(session, "population-registers", SERVICE, None)
    desk.drop(corpus.simple("Clé d'accès bloquée", "Ma clé est bloquée.", from_addr=REQUESTER))
    desk.ingest()
    [first] = desk.mails(MARIE)
    desk.drop(plain(first, MARIE, "#comment\nInterne : ne pas débloquer avant l'enquête."))
    desk.drop(plain(first, MARIE, "#delegate population-registers"))
    desk.ingest()
    [delegation] = desk.mails(SERVICE)
    desk.drop(plain(delegation, SERVICE, f"{GMAIL['en']}\n\n{text_of(delegation)}"))
    assert desk.ingest().outcomes == {"service": 1}
    assert desk.mails(REQUESTER) == []  # kept for review, not sent on
    desk.close()


@pytest.mark.parametrize(("language", "words"), [
    ("fr", "aucun texte de votre part"), ("nl", "geen eigen tekst"),
    ("de", "keinen eigenen Text"), ("en", "no text of your own")])
def test_the_refusal_says_why_in_the_staff_members_language(language: str, words: str) -> None:
    rendered = render("staff_error", language, "fr", {
        "tag": "RN", "ticket_id": 7, "errors": [QUOTED_ONLY]}, helpdesk=DESK)
    assert words in rendered.text and str(QUOTED_ONLY) not in rendered.text


def test_own_text_keeps_short_lines_that_happen_to_be_in_the_notification() -> None:
    sent = ["[RN #1] Nouveau ticket\nBonjour,\nma clé d'accès est bloquée depuis hier."]
    assert own_text("Bonjour,\nC'est fait.", sent) == "Bonjour,\nC'est fait."
    assert own_text("Objet : votre clé\nC'est fait.", sent) == "Objet : votre clé\nC'est fait."
