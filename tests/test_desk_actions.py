"""The ticket's actions on the desk (``/desk/tickets/{id}/<action>``), over HTTP on one served
installation (SQLite): each form changes the ticket through the core the command line uses,
its history names the member through the desk, the audit log the member and the client's
address; the answer reaches the requester in their language, in their thread, with its
files (through the real sender and aiosmtpd); two agents, one ticket: the second answer is
held and the page that follows names the first; an unblocking from the ticket mails the
confirmation. And what an attacker tries: no or a wrong CSRF token, a removed member's
session, another ticket's held answer, ids out of range, a huge upload, unknown values,
markup in a note. The race of two answers at once on PostgreSQL."""

from __future__ import annotations

import html
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from rnmail.config import Config, load_config
from rnmail.dispatch.send import send_outbox
from rnmail.ingest.runner import run_ingest
from rnmail.models import (
    DirectoryUser,
    Message,
    Organisation,
    OutboxMessage,
    Ticket,
    TicketEvent,
)
from rnmail.tickets.faq import add_entry
from rnmail.tickets.team import add_service, remove_service, remove_staff
from tests.harness import corpus
from tests.harness.admin import Admin, Page
from tests.harness.desk import (
    AGENT,
    HOSTILE,
    Desk,
    add_agent,
    all_sent,
    desk_served,
    desk_signed_in,
    open_ticket,
)
from tests.harness.mail import received, text_of
from tests.harness.servers import SmtpServer

JAN = "jan.peeters@rn.example"
SERVICE = "population"
REMOVED_SERVICE = "ancien-registre"  # a service that was removed
SERVICE_MAIL = "population@service.example"
BLOCKED = "els.wouters@zuidhoven.example"
DUTCH = ("Goedendag,\n\nIk kan mij niet meer aanmelden op het Rijksregister met mijn "
         "toegangssleutel. Kunt u mij helpen om opnieuw toegang te krijgen?\n\nMet "
         "vriendelijke groeten,\nPiet")


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


class Site:
    """The served desk with two signed-in agents (Marie in French, Jan in Dutch), a
    second-line service, an FAQ entry and a blocked directory user."""

    def __init__(self, desk: Desk, smtp: SmtpServer) -> None:
        self.desk, self.smtp = desk, smtp
        self.admin = desk.admin
        self.config: Config = load_config(desk.admin.path)
        self.marie = desk.agent
        self.jan = add_agent(desk.admin, JAN, "Jan Peeters", "nl")
        self.csrf = {AGENT: desk_signed_in(self.marie), JAN: desk_signed_in(self.jan, JAN)}
        with self.admin.db.transaction() as session:
            add_service(session, SERVICE, SERVICE_MAIL, "Registres de population")
            add_service(session, REMOVED_SERVICE, "ancien@second.example", None)
            remove_service(session, REMOVED_SERVICE)
            self.faq = add_entry(session, "fr", "Clé bloquée ?",
                                 "Votre clé est débloquée par votre commune.").id
            from rnmail.tickets.faq import edit_entry
            edit_entry(session, self.faq, "nl", "Sleutel geblokkeerd?",
                       "Uw sleutel wordt door uw gemeente gedeblokkeerd.")
            org = Organisation(name="Gemeente Zuidhoven", kind="municipality", code="99001",
                               language="nl")
            session.add(DirectoryUser(organisation=org, email=BLOCKED, name="Els Wouters",
                                      language="nl", access_status="blocked",
                                      status_since=datetime(2026, 1, 5, 9, tzinfo=UTC)))

    def token(self, client: Admin) -> str:
        return self.csrf[JAN if client is self.jan else AGENT]

    def post(self, client: Admin, ticket_id: int | str, what: str, /, **fields: str) -> Page:
        return client.post(f"/desk/tickets/{ticket_id}/{what}",
                           [("csrf", self.token(client)), *fields.items()])

    def upload(self, client: Admin, ticket_id: int, fields: list[tuple[str, str]],
               files: list[tuple[str, str, bytes]] = (), csrf: str | None = None) -> Page:
        """The reply form as a browser sends it (multipart/form-data)."""
        boundary = uuid.uuid4().hex
        parts = [(f'Content-Disposition: form-data; name="{name}"\r\n\r\n').encode()
                 + value.encode() for name, value in
                 [("csrf", self.token(client) if csrf is None else csrf), *fields]]
        parts += [(f'Content-Disposition: form-data; name="attachments"; '
                   f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n').encode() + data
                  for filename, kind, data in files]
        body = b"".join(f"--{boundary}\r\n".encode() + p + b"\r\n" for p in parts)
        body += f"--{boundary}--\r\n".encode()
        return client.http("POST", f"/desk/tickets/{ticket_id}/reply", body=body,
                           Content_Type=f"multipart/form-data; boundary={boundary}")

    def mail_ticket(self, body: str = DUTCH, sender: str = "piet@requester.example",
                    lang: str = "nl") -> tuple[int, str]:
        """A requester's mail, ingested: its ticket and its Message-ID."""
        subject = f"Toegang {uuid.uuid4().hex[:8]}"
        raw = corpus.simple(subject, body, from_addr=sender, lang=lang)
        new = self.admin.root / "maildir" / "new"
        new.mkdir(parents=True, exist_ok=True)
        (new / f"{uuid.uuid4().hex}.eml").write_bytes(raw)
        run_ingest(self.admin.db, self.config)
        found = re.search(rb"^Message-ID: (<[^>]+>)", raw, re.M | re.I)
        assert found
        with self.admin.db.transaction() as session:
            ticket_id = session.scalars(select(Ticket.id).where(Ticket.subject == subject)).one()
        return ticket_id, found.group(1).decode()

    def send(self) -> None:
        send_outbox(self.admin.db, self.config)
        all_sent(self.admin)

    def mails(self, to: str) -> list[EmailMessage]:
        return received(self.smtp, to)

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        with self.admin.db.transaction() as session:
            t = session.get(Ticket, ticket_id)
            assert t is not None
            return {"status": t.status, "resolution": t.resolution, "category": t.category,
                    "requester_type": t.requester_type,
                    "assignee": t.assignee.email if t.assignee else None,
                    "service": t.service.name if t.service else None}

    def events(self, ticket_id: int) -> list[TicketEvent]:
        with self.admin.db.transaction() as session:
            return list(session.scalars(select(TicketEvent).where(
                TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))

    def messages(self, ticket_id: int) -> list[tuple[str, str, str]]:
        with self.admin.db.transaction() as session:
            return [(m.direction, m.kind, m.display_text) for m in session.scalars(
                select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id))]

    def state(self, ticket_id: int) -> tuple[Any, ...]:
        """All a refused action must leave as it was."""
        with self.admin.db.transaction() as session:
            counts = tuple(session.scalar(select(func.count()).select_from(model))
                           for model in (OutboxMessage, TicketEvent, Message))
        return self.ticket(ticket_id), counts


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("desk-actions")
    with desk_served(root, f"sqlite:///{root}/rnmail.db", smtp) as desk:
        yield Site(desk, smtp)


def by_desk(event: TicketEvent, email: str = AGENT) -> bool:
    return event.actor_email == email and event.via == "desk" and event.actor_kind == "staff"


def refused_page(page: Page, status: int) -> str:
    assert page.status == status, page.text
    match = re.search(r'id="problem"[^>]*>([^<]*)<', page.text)
    assert match, page.text
    return html.unescape(match.group(1))


# --------------------------------------------------------------------------- the answer


def test_an_answer_reaches_the_requester_in_their_language_threaded_with_its_files(
        site: Site) -> None:
    ticket_id, asked = site.mail_ticket()
    page = site.marie.get(f"/desk/tickets/{ticket_id}")
    assert f'action="/desk/tickets/{ticket_id}/reply"' in page.text
    assert 'enctype="multipart/form-data"' in page.text
    assert "néerlandais" in page.text  # the mail is written in the requester's language
    assert f'action="/desk/tickets/{ticket_id}/reopen"' not in page.text  # open: no reopen

    reply = site.upload(site.marie, ticket_id, [("text", "Uw sleutel is gedeblokkeerd.")], [
        ("aanvraag.pdf", "application/pdf", b"%PDF-1.4 \x00\xff binary"),
        ("../../etc/notities.txt", "text/plain", "Één regel.".encode())])
    assert reply.status == 303, reply.text
    assert reply.header("Location") == f"/desk/tickets/{ticket_id}?done=replied"
    assert "Votre réponse est envoyée" in site.marie.get(reply.header("Location")).text

    site.send()
    [answer] = [m for m in site.mails("piet@requester.example")
                if "Uw sleutel is gedeblokkeerd." in text_of(m)]
    assert answer["In-Reply-To"] == asked  # in the requester's thread
    assert f"#{ticket_id}]" in answer["Subject"]
    assert "antwoordt u gewoon op dit bericht" in text_of(answer)  # Dutch, as they wrote
    files = {a.get_filename(): a.get_payload(decode=True) for a in answer.iter_attachments()}
    assert files == {"aanvraag.pdf": b"%PDF-1.4 \x00\xff binary",
                     "notities.txt": "Één regel.".encode()}

    assert site.ticket(ticket_id)["assignee"] == AGENT  # the first who answers has it
    events = site.events(ticket_id)
    reply_event = next(e for e in events if e.what == "reply")
    assignee_event = next(e for e in events if e.what == "assignee")
    assert by_desk(reply_event) and by_desk(assignee_event)
    audit = site.admin.audit("desk-reply")[-1]
    assert (audit.actor, audit.client) == (AGENT, "127.0.0.1")
    assert audit.detail["ticket"] == ticket_id


def test_an_faq_answer_is_inserted_in_the_language_chosen_without_sending(
        site: Site) -> None:
    ticket_id, _ = site.mail_ticket()
    before = site.state(ticket_id)
    page = site.upload(site.marie, ticket_id, [("text", "Goedendag,"), ("faq", str(site.faq)),
                                               ("faq_language", "nl"), ("insert", "1")])
    assert page.status == 200, page.text
    text = re.search(r'<textarea name="text" id="reply-text"[^>]*>([^<]*)</textarea>',
                     page.text)
    assert text and text.group(1) == ("Goedendag,\n\nUw sleutel wordt door uw gemeente "
                                      "gedeblokkeerd.")
    assert f'<option value="{site.faq}" selected>' in page.text
    assert site.state(ticket_id) == before  # nothing sent, nothing changed
    # The other language asked for; an entry that does not exist.
    page = site.upload(site.marie, ticket_id, [("text", ""), ("faq", str(site.faq)),
                                               ("faq_language", "fr"), ("insert", "1")])
    assert "Votre clé est débloquée par votre commune." in page.text
    missing = site.upload(site.marie, ticket_id, [("faq", "99999"), ("insert", "1")])
    assert "99999" in refused_page(missing, 404)


def test_two_agents_one_ticket_the_second_answer_is_held(site: Site) -> None:
    ticket_id, _ = site.mail_ticket(sender="an@requester.example")
    said = "Bonjour, votre clé est débloquée."
    assert site.upload(site.marie, ticket_id, [("text", said)]).status == 303
    jans = "Goedendag, uw sleutel moet opnieuw aangevraagd worden."
    held = site.upload(site.jan, ticket_id, [("text", jans)])
    assert held.status == 303 and held.header("Location") == f"/desk/tickets/{ticket_id}/held"
    page = site.jan.get(held.header("Location"))  # Jan reads Dutch
    assert re.search(r"Marie Lambert heeft 1 minuut geleden geantwoord: het uwe toch "
                     r"versturen\?", page.text), page.text
    assert said in page.text and jans in page.text
    assert f'action="/desk/tickets/{ticket_id}/held/send"' in page.text
    assert f'action="/desk/tickets/{ticket_id}/held/discard"' in page.text
    site.send()
    # the acknowledgement and Marie's answer, in either order (two senders may race)
    received = [text_of(m) for m in site.mails("an@requester.example")]
    assert len(received) == 2 and [said in t for t in received].count(True) == 1
    assert 'id="held-link"' in site.jan.get(f"/desk/tickets/{ticket_id}").text

    # Marie cannot send or discard Jan's held answer: it is his.
    refused = site.post(site.marie, ticket_id, "held/send")
    assert refused_page(refused, 409) == (f"le ticket n° {ticket_id} ne retient aucune réponse "
                                          "de Marie Lambert")
    assert 'id="nothing-held"' in site.marie.get(f"/desk/tickets/{ticket_id}/held").text

    sent = site.post(site.jan, ticket_id, "held/send")
    assert sent.header("Location") == f"/desk/tickets/{ticket_id}?done=held-sent"
    site.send()
    received = [text_of(m) for m in site.mails("an@requester.example")]
    assert len(received) == 3 and [jans in t for t in received].count(True) == 1
    assert site.ticket(ticket_id)["assignee"] == AGENT
    assert by_desk([e for e in site.events(ticket_id) if e.what == "reply"][-1], JAN)

    # Marie now, right after Jan: held; she discards it: a note, never sent.
    again = "Bonjour, encore moi : ignorez le message précédent."
    assert site.upload(site.marie, ticket_id, [("text", again)]).header(
        "Location").endswith("/held")
    discarded = site.post(site.marie, ticket_id, "held/discard")
    assert discarded.header("Location") == f"/desk/tickets/{ticket_id}?done=held-discarded"
    site.send()
    assert len(site.mails("an@requester.example")) == 3  # acknowledgement + two answers
    assert [kind for _, kind, text in site.messages(ticket_id) if again in text] == ["comment"]
    note = site.events(ticket_id)[-1]
    assert note.what == "note" and by_desk(note)
    assert site.admin.audit("desk-discard-held")[-1].client == "127.0.0.1"


def test_a_huge_upload_and_an_empty_answer_are_refused_with_a_page(site: Site) -> None:
    ticket_id, _ = site.mail_ticket()
    before = site.state(ticket_id)
    huge = site.upload(site.marie, ticket_id, [("text", "Zie bijlage.")],
                       [("groot.bin", "application/octet-stream", b"x" * (26 * 2**20))])
    assert "25 Mo" in refused_page(huge, 413) or "25 MB" in huge.text
    empty = site.upload(site.marie, ticket_id, [("text", "   ")])
    assert refused_page(empty, 400)
    assert site.state(ticket_id) == before


def test_an_answer_to_a_closed_ticket_or_a_caller_without_mail_is_refused(site: Site) -> None:
    phone = open_ticket(site.admin, subject="Appel sans adresse")
    page = site.marie.get(f"/desk/tickets/{phone}")
    assert 'id="reply-unreachable"' in page.text and 'id="reply-form"' not in page.text
    before = site.state(phone)
    refused = site.upload(site.marie, phone, [("text", "Bonjour")])
    assert "ne peut pas être joint par mail" in refused_page(refused, 409)
    assert site.state(phone) == before


# --------------------------------------------------------------------------- the others


def test_note_assign_take_set_pending_delegate_close_and_reopen(site: Site) -> None:
    ticket_id = open_ticket(site.admin, subject="Suivi complet")
    at = f"/desk/tickets/{ticket_id}"
    page = site.marie.get(at)
    for form in ("note", "take", "assign", "close", "pending", "delegate", "set"):
        assert f'id="{form}-form"' in page.text, form
    assert 'id="reopen-form"' not in page.text and 'id="unblock-form"' not in page.text

    assert site.post(site.marie, ticket_id, "note", text=f"Rappeler demain. {HOSTILE}"
                     ).header("Location") == f"{at}?done=noted"
    shown = site.marie.get(at).text
    assert HOSTILE not in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert site.post(site.jan, ticket_id, "take").header("Location") == f"{at}?done=taken"
    assert site.ticket(ticket_id)["assignee"] == JAN
    assert 'id="take-form"' not in site.jan.get(at).text  # his already
    assert site.post(site.jan, ticket_id, "assign", staff=AGENT).status == 303
    assert site.ticket(ticket_id)["assignee"] == AGENT
    assert site.post(site.marie, ticket_id, "set", category="certificate",
                     requester_type="notary").status == 303
    assert site.post(site.marie, ticket_id, "pending").status == 303
    assert site.ticket(ticket_id)["status"] == "pending"
    assert 'id="pending-form"' not in site.marie.get(at).text
    delegated = site.post(site.marie, ticket_id, "delegate", service=SERVICE,
                          note="Merci de vérifier le registre.")
    assert delegated.header("Location") == f"{at}?done=delegated"
    site.send()
    [to_service] = site.mails(SERVICE_MAIL)
    assert f"#{ticket_id}]" in to_service["Subject"]
    assert "Merci de vérifier le registre." in text_of(to_service)
    assert site.post(site.marie, ticket_id, "close", resolution="second-line",
                     category="legal").status == 303
    closed = site.marie.get(at).text
    assert 'id="reopen-form"' in closed
    for form in ("reply", "close", "pending", "delegate", "take"):
        assert f'id="{form}-form"' not in closed, form
    assert site.post(site.marie, ticket_id, "reopen").header("Location") == \
        f"{at}?done=reopened"

    assert site.ticket(ticket_id) == {
        "status": "delegated", "resolution": None, "category": "legal",
        "requester_type": "notary", "assignee": AGENT, "service": SERVICE}
    changes = [(e.what, e.new) for e in site.events(ticket_id)[1:]]
    assert changes == [
        ("note", "Rappeler demain. " + HOSTILE), ("assignee", JAN), ("assignee", AGENT),
        ("category", "certificate"), ("requester-type", "notary"), ("status", "pending"),
        ("service", SERVICE), ("status", "delegated"), ("category", "legal"),
        ("resolution", "second-line"), ("status", "closed"), ("status", "delegated"),
        ("resolution", None)]
    events = site.events(ticket_id)[1:]
    assert all(e.via == "desk" and e.actor_kind == "staff" for e in events)
    assert [e.actor_email for e in events[1:3]] == [JAN, JAN]
    for action in ("note", "take", "assign", "set", "pending", "delegate", "close", "reopen"):
        audit = site.admin.audit(f"desk-{action}")[-1]
        assert audit.client == "127.0.0.1" and audit.detail["ticket"] == ticket_id, action
    assert site.admin.audit("desk-take")[-1].actor == JAN
    assert site.admin.audit("desk-delegate")[-1].detail["service"] == SERVICE


@pytest.mark.parametrize(("action", "fields", "said"), [
    ("delegate", {"service": "nowhere"}, "nowhere"),
    ("close", {"resolution": "magic"}, "résolution inconnue"),
    ("close", {"category": "cooking"}, "catégorie inconnue"),
    ("set", {"category": "cooking"}, "catégorie inconnue"),
    ("set", {"requester_type": "alien"}, "type de demandeur inconnu"),
    ("assign", {"staff": "nobody@rn.example"}, "nobody@rn.example"),
    ("reopen", {}, "n'est pas clôturé"),
    ("note", {"text": "  "}, "note vide"),
    ("unblock", {"identity_confirmed": "yes", "entitled": "yes", "action": "reset"},
     "pas dans l'annuaire"),
])
def test_unknown_values_and_senseless_actions_are_refused_in_the_members_language(
        site: Site, action: str, fields: dict[str, str], said: str) -> None:
    ticket_id = open_ticket(site.admin, subject=f"Refus {action}")
    before = site.state(ticket_id)
    page = site.post(site.marie, ticket_id, action, **fields)
    assert said in refused_page(page, 404 if action in ("delegate", "assign") else 409)
    assert f'href="/desk/tickets/{ticket_id}"' in page.text
    assert '<html lang="fr">' in page.text
    assert site.state(ticket_id) == before


def test_a_removed_service_is_not_offered_nor_taken(site: Site) -> None:
    ticket_id = open_ticket(site.admin, subject="Service supprimé")
    form = site.marie.get(f"/desk/tickets/{ticket_id}").text
    assert f'value="{SERVICE}"' in form and REMOVED_SERVICE not in form
    before = site.state(ticket_id)
    page = site.post(site.marie, ticket_id, "delegate", service=REMOVED_SERVICE)
    assert refused_page(page, 409) == f"le service « {REMOVED_SERVICE} » a été supprimé"
    assert site.state(ticket_id) == before


def test_pending_until_a_day_and_the_refused_days(site: Site) -> None:
    ticket_id = open_ticket(site.admin, subject="Attendre une réponse")
    at = f"/desk/tickets/{ticket_id}"
    page = site.marie.get(at).text
    assert '<label for="pending-until">' in page and 'type="date" name="until"' in page
    before = site.state(ticket_id)
    for day in ("2026-02-30", "<b>x</b>", "2000-01-01"):
        refused = site.post(site.marie, ticket_id, "pending", until=day)
        assert "<b>x</b>" not in refused.text
        assert "AAAA-MM-JJ" in refused_page(refused, 409) or "après aujourd" in refused.text
    assert site.state(ticket_id) == before
    day = (datetime.now(UTC).date() + timedelta(days=4)).isoformat()
    assert site.post(site.marie, ticket_id, "pending", until=day).status == 303
    with site.admin.db.transaction() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.pending_until is not None
        assert (ticket.status, ticket.pending_until.isoformat()) == ("pending", day)
    assert 'id="pending-day"' in site.marie.get(at).text


def test_a_closed_ticket_refuses_what_it_cannot_take(site: Site) -> None:
    ticket_id, _ = site.mail_ticket()
    assert site.post(site.marie, ticket_id, "close").status == 303
    before = site.state(ticket_id)
    for action, fields in (("close", {}), ("pending", {}), ("delegate", {"service": SERVICE})):
        assert "clôturé" in refused_page(site.post(site.marie, ticket_id, action, **fields),
                                         409), action
    answer = site.upload(site.marie, ticket_id, [("text", "Toch nog iets.")])
    assert "rouvrez-le" in refused_page(answer, 409)
    assert "Toch nog iets." in answer.text  # what was written is kept
    assert site.state(ticket_id) == before


# --------------------------------------------------------------------------- unblocking


def test_an_unblocking_from_the_ticket_sends_the_confirmation(site: Site) -> None:
    ticket_id, _ = site.mail_ticket(sender=BLOCKED)
    page = site.marie.get(f"/desk/tickets/{ticket_id}")
    assert 'id="unblock-form"' in page.text and "Els Wouters" in page.text
    assert 'for="unblock-identity"' in page.text and 'for="unblock-entitled"' in page.text
    before = site.state(ticket_id)
    one_check = site.post(site.marie, ticket_id, "unblock", identity_confirmed="yes",
                          action="new-key")
    refusal = refused_page(one_check, 409)
    assert "non débloqué" in refusal and "organisation toujours habilitée" in refusal
    assert "--entitled" not in refusal and "still entitled" not in refusal  # not the CLI's
    assert site.state(ticket_id) == before
    # Both checks; an address slipped into the form is not whom it unblocks.
    done = site.post(site.marie, ticket_id, "unblock", identity_confirmed="yes",
                     entitled="yes", action="new-key", note="Identité vérifiée par rappel.",
                     email="other@zuidhoven.example")
    assert done.header("Location") == f"/desk/tickets/{ticket_id}?done=unblocked"
    with site.admin.db.transaction() as session:
        user = session.scalars(select(DirectoryUser).where(DirectoryUser.email == BLOCKED)).one()
        assert user.access_status == "active" and user.key_sent_at is not None
    site.send()
    [confirmation] = [m for m in site.mails(BLOCKED) if "gedeblokkeerd" in m["Subject"]]
    assert f"#{ticket_id}]" in confirmation["Subject"]  # Dutch, in the ticket's thread
    event = next(e for e in site.events(ticket_id) if e.what == "access-unblock")
    assert by_desk(event)
    assert site.admin.audit("desk-unblock")[-1].client == "127.0.0.1"
    assert site.admin.audit("access-unblock")[-1].actor == AGENT
    assert 'id="unblock-form"' not in site.marie.get(f"/desk/tickets/{ticket_id}").text


# --------------------------------------------------------------------------- attackers


ACTIONS = ("note", "close", "pending", "reopen", "delegate", "assign", "take", "set",
           "unblock", "held/send", "held/discard")


def test_forms_without_or_with_a_wrong_csrf_token_change_nothing(site: Site) -> None:
    ticket_id, _ = site.mail_ticket()
    before = site.state(ticket_id)
    for action in ACTIONS:
        path = f"/desk/tickets/{ticket_id}/{action}"
        fields = [("text", "x"), ("service", SERVICE), ("staff", JAN)]
        assert site.marie.post(path, fields).status == 403, action
        assert site.marie.post(path, [("csrf", "forged"), *fields]).status == 403, action
        assert site.marie.post(path, [("csrf", site.token(site.marie)), *fields],
                               Origin="http://evil.example").status == 403, action
    assert site.upload(site.marie, ticket_id, [("text", "x")], csrf="").status == 403
    assert site.upload(site.marie, ticket_id, [("text", "x")], csrf="forged").status == 403
    assert site.state(ticket_id) == before


def test_ids_out_of_range_and_tickets_that_do_not_exist(site: Site) -> None:
    for ticket_id in ("99999999999999999999", "%D9%A3", "0"):
        page = site.post(site.marie, ticket_id, "note", text="x")
        assert page.status == 404, (ticket_id, page.text)
    missing = site.post(site.marie, 987654, "take")
    assert "987654" in refused_page(missing, 404)
    assert site.marie.get("/desk/tickets/987654/held").status == 404
    assert site.upload(site.marie, 987654, [("text", "x")]).status == 404


def test_a_removed_member_cannot_act(site: Site) -> None:
    luc = add_agent(site.admin, "luc.martin@rn.example", "Luc Martin")
    csrf = desk_signed_in(luc, "luc.martin@rn.example")
    ticket_id = open_ticket(site.admin, subject="Membre retiré")
    with site.admin.db.transaction() as session:
        remove_staff(session, "luc.martin@rn.example")
    before = site.state(ticket_id)
    for action in ("note", "take", "close"):
        page = luc.post(f"/desk/tickets/{ticket_id}/{action}", [("csrf", csrf),
                                                                ("text", "x")])
        assert page.status == 303 and page.header("Location") == "/desk/login", action
    assert site.state(ticket_id) == before


# --------------------------------------------------------------------------- the race


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_answers_at_the_same_time_only_one_goes_out(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    with desk_served(tmp_path, db_url, smtp_server) as desk:
        site = Site(desk, smtp_server)
        ticket_id, _ = site.mail_ticket(sender="race@requester.example")
        start, replies = threading.Barrier(2), {}

        def answer(client: Admin, text: str) -> None:
            start.wait(10)
            replies[text] = site.upload(client, ticket_id, [("text", text)])

        threads = [threading.Thread(target=answer, args=(site.marie, "Réponse de Marie.")),
                   threading.Thread(target=answer, args=(site.jan, "Antwoord van Jan."))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        where = {r.header("Location").rsplit("/", 1)[-1] for r in replies.values()}
        assert where == {"held", f"{ticket_id}?done=replied"}, where
        site.send()
        assert len(site.mails("race@requester.example")) == 2  # acknowledgement + one answer
