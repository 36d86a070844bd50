"""Two agents, one ticket: an answer written just after a colleague's is held, not sent.

Through the real mail pipeline (Dovecot, aiosmtpd) and the command line, on SQLite and
PostgreSQL: Marie answers by mail, Jan 4 minutes later — his answer is held, he gets a mail
in Dutch quoting Marie's answer, the requester only Marie's; Jan's reply ``#send`` sends his
answer as written. Outside the window, the same author twice, or after the requester wrote
again: not held. The first who
answers becomes the assignee. Two answers committed at the same time: one is held.
"""

from __future__ import annotations

import email
import email.policy
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from rnmail.dispatch.hold import Outcome, answer_or_hold
from rnmail.models import Message, Staff, Ticket
from rnmail.tickets.history import Actor
from rnmail.vocab import Via
from tests.harness import corpus
from tests.harness.factories import Desk
from tests.harness.install import install
from tests.harness.mail import (
    JAN,
    MARIE,
    REQUESTER,
    first_request,
    received,
    reply_to,
    text_of,
)
from tests.harness.mail import staffed_desk as staffed_desk  # the fixture ``desk``
from tests.harness.servers import Dovecot, SmtpServer

MARIE_SAYS = "Bonjour,\nVotre clé est débloquée, vous pouvez vous reconnecter.\nMarie"
JAN_SAYS = "Goedendag,\nUw sleutel moet opnieuw aangevraagd worden via uw gemeente.\nJan"


def backdate(desk: Desk, minutes: int) -> None:
    """Move every answer sent so far ``minutes`` into the past (the wait, without waiting)."""
    with desk.db.transaction() as session:
        for message in session.scalars(select(Message).where(
                Message.direction == "out", Message.kind == "correspondence")):
            message.created_at -= timedelta(minutes=minutes)


def answers_to_requester(smtp: SmtpServer) -> list[str]:
    """The texts the requester received, acknowledgement left out."""
    return [text_of(m) for m in received(smtp, REQUESTER)[1:]]


def test_a_second_answer_within_the_window_is_held_then_sent_with_send(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer) -> None:
    to_marie = first_request(desk, imap, smtp_server)
    [to_jan] = received(smtp_server, JAN)
    imap.append("info", reply_to(to_marie, MARIE, MARIE_SAYS))
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    assert desk.ticket(1)["assignee"] == MARIE  # the first who answers has it
    backdate(desk, 4)

    jan = email.message_from_bytes(reply_to(to_jan, JAN, JAN_SAYS),
                                   policy=email.policy.default)
    jan.add_attachment(b"%PDF-1.4 aanvraag", maintype="application", subtype="pdf",
                       filename="aanvraag.pdf")
    imap.append("info", jan.as_bytes())
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    [marie_answer] = answers_to_requester(smtp_server)  # only Marie's
    assert "Votre clé est débloquée" in marie_answer
    hold_mail = received(smtp_server, JAN)[-1]
    assert "Marie Lambert" in hold_mail["Subject"] and "tegengehouden" in hold_mail["Subject"]
    said = text_of(hold_mail)
    assert "Marie Lambert heeft 4 minuten geleden geantwoord" in said
    assert "> Votre clé est débloquée, vous pouvez vous reconnecter." in said
    assert "#send" in said and "Uw sleutel" not in said  # his own answer not echoed
    detail = desk.ticket(1)
    [held] = [m for m in detail["messages"] if m["role"] == "held"]
    assert "opnieuw aangevraagd" in held["text"] and held["author_email"] == JAN
    assert [a["filename"] for a in held["attachments"]] == ["aanvraag.pdf"]
    assert detail["assignee"] == MARIE

    # Only Jan's reply to it sends: Marie's (or a forged From) proves nothing and sends nothing.
    imap.append("info", reply_to(hold_mail, MARIE, "#send"))
    assert desk.ingest().outcomes == {"staff-unsent": 1}
    desk.send()
    assert len(answers_to_requester(smtp_server)) == 1
    assert [m for m in desk.ticket(1)["messages"] if m["role"] == "held"]

    imap.append("info", reply_to(hold_mail, JAN, "#send\n\nJan"))
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    [_, jan_answer] = answers_to_requester(smtp_server)
    assert "Uw sleutel moet opnieuw aangevraagd worden" in jan_answer
    assert "#send" not in jan_answer and "Marie" not in jan_answer  # as he wrote it
    [pdf] = list(received(smtp_server, REQUESTER)[-1].iter_attachments())
    assert pdf.get_content() == b"%PDF-1.4 aanvraag"
    detail = desk.ticket(1)
    assert not [m for m in detail["messages"] if m["role"] == "held"]
    jans = [m for m in detail["messages"] if m["role"] == "answer"
            and m["author_email"] == JAN]
    assert len(jans) == 1

    # The same #send again: nothing held any more; told so, nothing sent to the requester.
    imap.append("info", reply_to(hold_mail, JAN, "#send"))
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    assert len(answers_to_requester(smtp_server)) == 2
    refused = received(smtp_server, JAN)[-1]
    assert "#send" in text_of(refused) and "tegengehouden antwoord" in text_of(refused)


def test_outside_the_window_or_the_same_author_is_not_held(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer) -> None:
    to_marie = first_request(desk, imap, smtp_server)
    [to_jan] = received(smtp_server, JAN)
    imap.append("info", reply_to(to_marie, MARIE, MARIE_SAYS))
    desk.ingest()
    imap.append("info", reply_to(to_marie, MARIE, "Bonjour,\nJ'oubliais : pensez à votre "
                                 "code PIN.\nMarie"))
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    assert len(answers_to_requester(smtp_server)) == 2  # the same author twice: both sent
    backdate(desk, 31)  # past [helpdesk].answer_hold_minutes (30)
    imap.append("info", reply_to(to_jan, JAN, JAN_SAYS))
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    assert len(answers_to_requester(smtp_server)) == 3
    assert all("tegengehouden" not in (m["Subject"] or "") for m in received(smtp_server, JAN))
    assert desk.ticket(1)["assignee"] == MARIE

    # Jean writes again after Jan's answer: a new question, Marie may answer it at once.
    last = received(smtp_server, REQUESTER)[-1]
    imap.append("info", corpus.simple(f"RE: {last['Subject']}", "Et pour mon épouse ?",
                                      from_addr=REQUESTER,
                                      extra_headers={"In-Reply-To": last["Message-ID"]}))
    assert desk.ingest().outcomes == {"reply": 1}
    imap.append("info", reply_to(to_marie, MARIE, "Bonjour,\nMême procédure.\nMarie"))
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    assert "Même procédure." in answers_to_requester(smtp_server)[-1]
    assert all("retenue" not in (m["Subject"] or "") for m in received(smtp_server, MARIE))


def test_two_answers_committed_at_the_same_time_one_is_held(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer) -> None:
    """Two real transactions: Marie's holds the ticket's row; Jan's waits for her commit,
    then sees her answer and is held. Without the lock both would go out."""
    first_request(desk, imap, smtp_server)
    locked, results = threading.Event(), {}

    def answer(who: str, text: str, hold_open: bool) -> None:
        if not hold_open:  # Jan answers while Marie's transaction is still open
            locked.wait(10)
        with desk.db.transaction() as session:
            staff = session.scalars(select(Staff).where(Staff.email == who)).one()
            ticket = session.get(Ticket, 1)
            assert ticket is not None
            outcome = answer_or_hold(session, desk.config, ticket, text, [], staff,
                                     actor=Actor.of_staff(staff, Via.DESK))
            if hold_open:
                locked.set()
                threading.Event().wait(1.0)  # Jan's transaction runs into the lock now
            results[who] = outcome

    threads = [threading.Thread(target=answer, args=(MARIE, MARIE_SAYS, True)),
               threading.Thread(target=answer, args=(JAN, JAN_SAYS, False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    marie, jan = results[MARIE], results[JAN]
    assert isinstance(marie, Outcome) and marie.held_by is None
    assert jan.held_by is not None and jan.held_by.name == "Marie Lambert"
    desk.send()
    [sent] = answers_to_requester(smtp_server)
    assert "Votre clé" in sent


def test_the_command_line_refuses_then_sends_anyway(tmp_path: Path, db_url: str) -> None:
    site = install(tmp_path, db_url)
    site.ok("staff", "add", MARIE, "--name", "Marie Lambert")
    site.ok("staff", "add", JAN, "--name", "Jan Peeters", "--language", "nl")
    site.ok("ticket", "new", "--channel", "mail", "--requester", REQUESTER, "--subject",
            "Clé d'accès bloquée", "--language", "fr")
    site.ok("ticket", "reply", "1", "-m", "Votre clé est débloquée.", "--author", MARIE)
    assert site.json("ticket", "show", "1")["assignee"] == MARIE

    code, _, err = site.run("ticket", "reply", "1", "-m", "Uw sleutel is vervallen.",
                            "--author", JAN)
    assert code == 1 and "Traceback" not in err
    assert "Marie Lambert answered less than a minute ago (" in err
    assert " CET)" in err or " CEST)" in err  # [helpdesk].timezone, Brussels
    assert "  > Votre clé est débloquée." in err
    assert "rnmail ticket reply 1 --anyway" in err
    shown = site.ok("ticket", "show", "1")
    assert "HELD, not sent" in shown and "Uw sleutel is vervallen." in shown
    outgoing = tmp_path / "outgoing"
    assert len(list(outgoing.glob("*.eml"))) == 0  # nothing sent yet (queued: outbox)
    assert len([m for m in site.json("ticket", "show", "1")["messages"]
                if m["role"] == "answer"]) == 1

    site.ok("ticket", "reply", "1", "--anyway", "--author", JAN)  # his held one, as written
    detail = site.json("ticket", "show", "1")
    answers = [m["text"] for m in detail["messages"] if m["role"] == "answer"]
    assert len(answers) == 2 and "Uw sleutel is vervallen." in answers[1]
    assert not [m for m in detail["messages"] if m["role"] == "held"]
    assert detail["assignee"] == MARIE

    # Marie now, right after Jan: held; she drops it; it stays as a note, never sent.
    assert site.run("ticket", "reply", "1", "-m", "Encore moi.", "--author", MARIE)[0] == 1
    site.ok("ticket", "discard-held", "1", "--author", MARIE)
    detail = site.json("ticket", "show", "1")
    assert len([m for m in detail["messages"] if m["role"] == "answer"]) == 2
    [note] = [m for m in detail["messages"] if m["role"] == "note"
              and "Encore moi." in m["text"]]
    assert note["author_email"] == MARIE
    assert site.fails("ticket", "discard-held", "1", "--author", MARIE).startswith(
        "Error: ticket #1 holds no answer of")
    # --anyway with a text sends it at once; the same author again is never held.
    site.ok("ticket", "reply", "1", "-m", "Encore moi.", "--author", MARIE, "--anyway")
    site.ok("ticket", "reply", "1", "-m", "Et bonne journée.", "--author", MARIE)
    assert len([m for m in site.json("ticket", "show", "1")["messages"]
                if m["role"] == "answer"]) == 4


def test_no_hold_when_the_window_is_zero(tmp_path: Path, db_url: str) -> None:
    site = install(tmp_path, db_url)
    site.path.write_text(site.path.read_text().replace(
        'attachments_dir = "attachments"',
        'attachments_dir = "attachments"\nanswer_hold_minutes = 0'))
    site.ok("staff", "add", MARIE, "--name", "Marie Lambert")
    site.ok("ticket", "new", "--channel", "mail", "--requester", REQUESTER, "--subject",
            "Clé", "--language", "fr")
    site.ok("ticket", "reply", "1", "-m", "Un.", "--author", MARIE)
    site.ok("ticket", "reply", "1", "-m", "Deux.", "--author", "help desk")

