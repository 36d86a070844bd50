"""Staff answer by mail: full round trips through real Dovecot and SMTP, and forgeries."""

from __future__ import annotations

import email
import email.policy
import email.utils
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.dispatch.outbox import Queue
from rnmail.models import Message, OutboxMessage
from rnmail.tickets.team import add_staff
from tests.harness import corpus
from tests.harness.factories import Desk, make_config
from tests.harness.mail import JAN, MARIE, REQUESTER, first_request, received, reply_to
from tests.harness.mail import staffed_desk as staffed_desk  # the fixture ``desk``
from tests.harness.servers import Dovecot, SmtpServer


def test_round_trip_requester_staff_requester(desk: Desk, imap: Dovecot,
                                              smtp_server: SmtpServer) -> None:
    notification = first_request(desk, imap, smtp_server)
    assert "[RN #1]" in notification["Subject"] and "bloquée" in notification.get_content()
    [jan_note] = received(smtp_server, JAN)
    assert "Nieuw ticket" in jan_note["Subject"]  # in the staff member's language
    assert len(received(smtp_server, REQUESTER)) == 1  # the acknowledgement

    answer = reply_to(notification, MARIE, "Bonjour,\nVotre clé est débloquée.\nMarie")
    imap.append("info", answer)
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    [_, relayed] = received(smtp_server, REQUESTER)
    assert relayed["From"].addresses[0].addr_spec == "info@rn.example"
    assert "[RN #1]" in relayed["Subject"]
    assert relayed["In-Reply-To"] == "<q1@citizen.example>"
    body = relayed.get_body(("plain",)).get_content()
    assert "Votre clé est débloquée." in body and "a écrit" not in body and "> " not in body
    detail = desk.ticket(1)
    assert detail["first_response_at"] is not None
    kinds = [(m["direction"], m["kind"]) for m in detail["messages"]]
    assert ("out", "correspondence") in kinds and ("out", "notification") in kinds

    # The requester answers from Outlook: no References, no tag, "RE:".
    again = corpus.simple(f"RE: {relayed['Subject']}", "Merci, cela fonctionne !",
                          from_addr=REQUESTER,
                          extra_headers={"In-Reply-To": relayed["Message-ID"]})
    imap.append("info", again)
    assert desk.ingest().outcomes == {"reply": 1}
    desk.send()
    assert len(received(smtp_server, MARIE)) == 2  # told of the reply
    assert len(desk.tickets()) == 1


def test_staff_answer_keeps_attachments(desk: Desk, imap: Dovecot,
                                        smtp_server: SmtpServer) -> None:
    notification = first_request(desk, imap, smtp_server)
    msg = email.message_from_bytes(reply_to(notification, MARIE, "Voici le formulaire."),
                                   policy=email.policy.default)
    msg.add_attachment(b"%PDF-1.4 formulaire", maintype="application", subtype="pdf",
                       filename="formulaire été.pdf")
    imap.append("info", msg.as_bytes())
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    relayed = received(smtp_server, REQUESTER)[-1]
    [pdf] = list(relayed.iter_attachments())
    assert pdf.get_filename() == "formulaire été.pdf"
    assert pdf.get_content() == b"%PDF-1.4 formulaire"


def test_comment_and_commands(desk: Desk, imap: Dovecot, smtp_server: SmtpServer) -> None:
    from rnmail.tickets.team import add_service

    with desk.db.transaction() as session:
        add_service(session, "population-registers", "pop@second.example", None)
    notification = first_request(desk, imap, smtp_server)
    imap.append("info", reply_to(notification, MARIE, "#comment\nAppelé le demandeur."))
    imap.append("info", reply_to(notification, MARIE, "#category access-key\n#type citizen\n"
                                 f"#assign {JAN}"))
    assert desk.ingest().outcomes == {"staff": 2}
    detail = desk.ticket(1)
    assert (detail["category"], detail["requester_type"], detail["assignee"]) == (
        "access-key", "citizen", JAN)
    notes = [m["text"] for m in detail["messages"] if m["kind"] == "comment"]
    assert "Appelé le demandeur." in notes
    imap.append("info", reply_to(notification, MARIE, "#delegate population-registers"))
    desk.ingest()
    assert (desk.ticket(1)["status"], desk.ticket(1)["service"]) == (
        "delegated", "population-registers")
    imap.append("info", reply_to(notification, MARIE, "#close\nC'est réglé, bonne journée."))
    desk.ingest()
    detail = desk.ticket(1)
    assert (detail["status"], detail["resolution"]) == ("closed", "second-line")
    desk.send()
    assert "C'est réglé" in received(smtp_server, REQUESTER)[-1].get_content()  # type: ignore[attr-defined]


def test_wrong_command_changes_nothing_and_tells_the_staff_member(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer) -> None:
    notification = first_request(desk, imap, smtp_server)
    imap.append("info", reply_to(notification, MARIE, "#close\n#frobnicate now\nRéponse."))
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    assert desk.ticket(1)["status"] == "open"
    assert len(received(smtp_server, REQUESTER)) == 1  # only the acknowledgement
    [error] = [m for m in received(smtp_server, MARIE) if "refusée" in m["Subject"]]
    assert "#frobnicate" in error.get_content()


def test_forged_staff_sender_acts_on_nothing(desk: Desk, imap: Dovecot,
                                             smtp_server: SmtpServer) -> None:
    first_request(desk, imap, smtp_server)
    forged = corpus.simple("RE: [RN #1] Clé d'accès bloquée", "#close\nRéponse inventée.",
                           from_addr=MARIE)
    imap.append("info", forged)
    # A staff address without a reference to its notification: no ticket, nothing relayed,
    # no command applied (tests/test_staff_unproven.py has the rest).
    assert desk.ingest().outcomes == {"staff-unsent": 1}
    assert [t["id"] for t in desk.tickets()] == [1]
    assert desk.ticket(1)["status"] == "open"
    desk.send()
    assert len(received(smtp_server, REQUESTER)) == 1


def test_token_of_another_staff_member_is_refused(desk: Desk, imap: Dovecot,
                                                  smtp_server: SmtpServer) -> None:
    notification = first_request(desk, imap, smtp_server)
    imap.append("info", reply_to(notification, JAN, "#close\nGesloten."))  # Marie's token
    assert desk.ingest().outcomes == {"staff-unsent": 1}  # kept as a note, Jan is told
    assert desk.ticket(1)["status"] == "open"
    with desk.db.transaction() as session:
        assert session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "reply")).all() == []
    desk.send()
    [told] = [m for m in received(smtp_server, JAN) if "niet verstuurd" in m["Subject"]]
    assert "collega" in told.get_content()  # type: ignore[attr-defined]


def test_staff_out_of_office_is_not_an_answer(desk: Desk, imap: Dovecot,
                                              smtp_server: SmtpServer) -> None:
    notification = first_request(desk, imap, smtp_server)
    imap.append("info", reply_to(notification, MARIE, "Je suis absente jusqu'au 2 décembre.",
                                 extra={"Auto-Submitted": "auto-replied"}))
    desk.ingest()
    with desk.db.transaction() as session:
        relays = session.scalars(select(Message).where(Message.kind == "correspondence",
                                                       Message.direction == "out")).all()
    assert relays == []


def test_phone_ticket_cannot_be_answered_by_mail(desk: Desk, imap: Dovecot,
                                                 smtp_server: SmtpServer) -> None:
    from rnmail.tickets.history import Actor
    from rnmail.tickets.lifecycle import open_by_hand

    with desk.db.transaction() as session:
        ticket = open_by_hand(session, desk.config.workflow, "fr", actor=Actor.system("test"),
                              channel="phone",
                              requester="02/518.21.31", subject="Appel")
        from rnmail.ingest.parse import Limits, parse_message
        from rnmail.ingest.respond import StaffNotifier
        call = parse_message(corpus.simple("Appel", "Note d'appel", from_addr=MARIE),
                             Limits(max_attachment_bytes=10**6))
        queue = Queue()
        StaffNotifier.load(session, desk.config).notify(queue, ticket, call, "new")
        queue.write(session)
    desk.send()
    [notification] = received(smtp_server, MARIE)
    imap.append("info", reply_to(notification, MARIE, "Réponse par mail ?"))
    desk.ingest()
    desk.send()
    errors = [m for m in received(smtp_server, MARIE) if "refusée" in m["Subject"]]
    assert errors and "ne peut pas être joint par e-mail" in errors[0].get_content()


@pytest.mark.parametrize("mode", ["review", "requester"])
def test_second_line_answers_thread_back(tmp_path: Path, db_url: str, imap: Dovecot,
                                         smtp_server: SmtpServer, mode: str) -> None:
    from rnmail.tickets.team import add_service

    desk = Desk(make_config(tmp_path, db_url, imap, smtp_server,
                            workflow={"service_answers": mode}))
    with desk.db.transaction() as session:
        add_staff(session, MARIE, "Marie Lambert", "fr")
        add_service(session, "legal", "legal@second.example", "Legal questions")
    notification = first_request(desk, imap, smtp_server)
    imap.append("info", reply_to(notification, MARIE, "#delegate legal"))
    desk.ingest()
    desk.send()
    [handover] = received(smtp_server, "legal@second.example")
    assert "[RN #1]" in handover["Subject"] and "bloquée" in handover.get_content()
    assert desk.ticket(1)["status"] == "delegated"

    imap.append("info", reply_to(handover, "legal@second.example",
                                 "Article 3 de la loi : la clé peut être débloquée."))
    assert desk.ingest().outcomes == {"service": 1}
    desk.send()
    to_requester = received(smtp_server, REQUESTER)
    told = [m for m in received(smtp_server, MARIE) if "deuxième ligne" in m["Subject"]]
    assert told, "the help desk is told of the second line's answer"
    if mode == "requester":
        assert "Article 3" in to_requester[-1].get_content()  # type: ignore[attr-defined]
    else:
        assert len(to_requester) == 1  # only the acknowledgement: the desk reviews first
        notes = [m["text"] for m in desk.ticket(1)["messages"] if m["kind"] == "comment"]
        assert any("Article 3" in n for n in notes)
    desk.close()


def test_forged_second_line_sender_is_refused(desk: Desk, imap: Dovecot,
                                              smtp_server: SmtpServer) -> None:
    from rnmail.tickets.team import add_service

    with desk.db.transaction() as session:
        add_service(session, "legal", "legal@second.example", None)
    notification = first_request(desk, imap, smtp_server)
    imap.append("info", reply_to(notification, MARIE, "#delegate legal"))
    desk.ingest()
    desk.send()
    [handover] = received(smtp_server, "legal@second.example")
    imap.append("info", reply_to(handover, "intruder@elsewhere.example", "Accordé !"))
    # The delegation's token is legal's: from anyone else the mail is no second-line
    # answer, only a stranger's mail threaded on ticket 1 (as with a staff token above).
    assert desk.ingest().outcomes == {"reply": 1}
    assert [t["id"] for t in desk.tickets()] == [1]
    ticket = desk.ticket(1)
    assert ticket["status"] == "delegated"  # still waiting for the second line
    [forged] = [m for m in ticket["messages"]
                if m["direction"] == "in" and "Accordé" in m["text"]]
    assert (forged["direction"], forged["kind"], forged["from"]) == (
        "in", "correspondence", "intruder@elsewhere.example")
    assert not [m for m in ticket["messages"]
                if m["direction"] == "in" and m["from"] == "legal@second.example"]
    desk.send()
    assert len(received(smtp_server, REQUESTER)) == 1  # the acknowledgement, nothing relayed
    assert [str(m["Subject"]) for m in received(smtp_server, MARIE)] == [
        "[RN #1] Nouveau ticket: Clé d'accès bloquée",
        "[RN #1] Réponse du demandeur: Clé d'accès bloquée"]  # not "deuxième ligne"
    with desk.db.transaction() as session:
        assert session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "reply")).all() == []


def html_mail(subject: str, html: str, sender: str, headers: dict[str, str]) -> bytes:
    """An Outlook-style HTML-only mail (no text part)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "info@rn.example", subject
    msg["Message-ID"] = email.utils.make_msgid(domain="outlook.example")
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(html, subtype="html")
    return msg.as_bytes()


@pytest.mark.parametrize("prefix", ["RE:", "AW:", "Antw:"])
def test_outlook_style_html_replies_on_both_sides(desk: Desk, imap: Dovecot,
                                                  smtp_server: SmtpServer, prefix: str) -> None:
    notification = first_request(desk, imap, smtp_server)
    staff_html = ("<html><body><p>Bonjour,</p><p>Votre cl&eacute; est d&eacute;bloqu&eacute;e."
                  "</p><div><b>De :</b> Help Desk &lt;info@rn.example&gt;<br><b>Envoy&eacute; :"
                  "</b> vendredi<br><b>&Agrave; :</b> Marie<br><b>Objet :</b> "
                  f"{notification['Subject']}</div><p>Ancien texte cit&eacute;</p></body></html>")
    imap.append("info", html_mail(f"{prefix} {notification['Subject']}", staff_html, MARIE,
                                  {"In-Reply-To": notification["Message-ID"]}))
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    relayed = received(smtp_server, REQUESTER)[-1]
    text = relayed.get_body(("plain",)).get_content()
    assert "Votre clé est débloquée." in text and "Ancien texte" not in text
    requester_html = "<p>Merci beaucoup&nbsp;!</p>"
    imap.append("info", html_mail(f"{prefix} {relayed['Subject']}", requester_html, REQUESTER,
                                  {"In-Reply-To": relayed["Message-ID"]}))  # no References
    assert desk.ingest().outcomes == {"reply": 1}
    last_in = [m for m in desk.ticket(1)["messages"] if m["direction"] == "in"][-1]
    assert "Merci beaucoup" in last_in["text"]


def test_notify_assignee_only(tmp_path: Path, db_url: str, imap: Dovecot,
                              smtp_server: SmtpServer) -> None:
    from rnmail.tickets.history import Actor
    from rnmail.tickets.lifecycle import assign, find_staff, get_ticket

    desk = Desk(make_config(tmp_path, db_url, imap, smtp_server, workflow={"notify": "assignee"}))
    with desk.db.transaction() as session:
        add_staff(session, MARIE, "Marie Lambert", "fr")
        add_staff(session, JAN, "Jan Peeters", "nl")
    first_request(desk, imap, smtp_server)  # no assignee yet: everyone is told
    assert len(received(smtp_server, JAN)) == 1
    with desk.db.transaction() as session:
        assign(get_ticket(session, 1), find_staff(session, JAN), Actor.system("test"))
    imap.append("info", corpus.simple("RE: Clé", "J'ai encore une question.",
                                      from_addr=REQUESTER,
                                      extra_headers={"In-Reply-To": "<q1@citizen.example>"}))
    desk.ingest()
    desk.send()
    assert (len(received(smtp_server, JAN)), len(received(smtp_server, MARIE))) == (2, 1)
    desk.close()


@pytest.mark.parametrize("commands", [
    "#close\n#pending", "#close\n#close", "#close\n#delegate legal",
    "#delegate legal\n#close\n#pending",
])
def test_commands_that_contradict_each_other_are_refused(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer, commands: str) -> None:
    from rnmail.tickets.faq import add_entry
    from rnmail.tickets.team import add_service

    with desk.db.transaction() as session:
        add_service(session, "legal", "legal@second.example", None)
        add_entry(session, "fr", "Question ?", "Réponse.")
    notification = first_request(desk, imap, smtp_server)
    imap.append("info", reply_to(notification, MARIE, commands))
    assert desk.ingest().outcomes == {"staff": 1}  # refused, not quarantined
    desk.send()
    assert desk.ticket(1)["status"] == "open"
    assert [m for m in received(smtp_server, MARIE) if "refusée" in m["Subject"]]
    assert len(received(smtp_server, REQUESTER)) == 1


def test_export_shows_the_answer_the_requester_got(desk: Desk, imap: Dovecot,
                                                   smtp_server: SmtpServer) -> None:
    from rnmail.tickets.archive import message_bytes
    from rnmail.util.blobs import BlobStore

    notification = first_request(desk, imap, smtp_server)
    imap.append("info", reply_to(notification, MARIE, "La réponse pour vous."))
    desk.ingest()
    with desk.db.transaction() as session:
        relayed = session.scalars(select(Message).where(
            Message.direction == "out", Message.kind == "correspondence")).one()
        raw = message_bytes(session, BlobStore(desk.config.helpdesk.attachments_dir), relayed)
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert sent["To"] == REQUESTER and "a écrit" not in sent.get_body(("plain",)).get_content()


@pytest.mark.parametrize("staff_mail", ["reply", "unproven"])
def test_a_staff_mail_in_the_batch_of_the_requesters_mails_sees_and_keeps_their_order(
        desk: Desk, imap: Dovecot, smtp_server: SmtpServer, staff_mail: str) -> None:
    """One pass reads, in this order, a requester's follow-up, a staff member's mail on the
    same ticket and the requester's next mail. A reply to the notification with #delegate:
    the delegation sent to the second line has the follow-up; a mail without its headers
    (kept as a note, "not sent"): kept too. Either way the ticket lists the three in the
    order they came."""
    from rnmail.tickets.team import add_service

    with desk.db.transaction() as session:
        add_service(session, "population-registers", "pop@second.example", None)
    notification = first_request(desk, imap, smtp_server)
    [acknowledgement] = received(smtp_server, REQUESTER)
    staff_text = "#delegate population-registers\nMerci de vérifier la carte."
    for n, (sender, text) in enumerate((
            (REQUESTER, "Je précise : le numéro de carte est 592-0001234-56."),
            (MARIE, staff_text if staff_mail == "reply" else "Merci de vérifier la carte."),
            (REQUESTER, "Et le message d'erreur dit « clé révoquée »."))):
        if sender == MARIE and staff_mail == "reply":
            imap.append("info", reply_to(notification, MARIE, text))
        elif sender == MARIE:
            imap.append("info", corpus.simple(f"RE: [RN #1] {notification['Subject']}", text,
                                              from_addr=MARIE))
        else:
            imap.append("info", corpus.simple(
                f"RE: {acknowledgement['Subject']}", text, from_addr=REQUESTER,
                message_id=f"<follow{n}@citizen.example>",
                extra_headers={"In-Reply-To": acknowledgement["Message-ID"]}))
    staff_outcome = "staff" if staff_mail == "reply" else "staff-unsent"
    assert desk.ingest().outcomes == {"reply": 2, staff_outcome: 1}
    desk.send()
    if staff_mail == "reply":
        [delegation] = received(smtp_server, "pop@second.example")
        assert "592-0001234-56" in delegation.get_body(("plain",)).get_content()
    texts = [m["text"] for m in desk.ticket(1)["messages"]]
    positions = [next(i for i, text in enumerate(texts) if words in text)
                 for words in ("592-0001234-56", "vérifier la carte", "clé révoquée")]
    assert positions == sorted(positions), texts
