"""Text modules (``rnmail.tickets.texts``): what a staff member's text may hold (only the
placeholders, refused at saving otherwise) and what the sandbox stops when a text reaches the
renderer by other means; the commands ``rnmail text …`` and ``ticket reply --text`` on both
databases (a missing language refused, naming those it has; the audit); ``#text NAME`` in a
staff member's mail reply reaching the requester in their language; the desk's reply form
inserting a module."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from jinja2 import UndefinedError
from jinja2.sandbox import SecurityError

from rnmail.errors import RnmailError
from rnmail.models import AuditEvent, TextModule
from rnmail.tickets import texts
from tests.harness.admin import Page
from tests.harness.desk import desk_served, desk_signed_in
from tests.harness.factories import Desk as MailDesk
from tests.harness.factories import make_config
from tests.harness.install import Installation, install
from tests.harness.mail import MARIE, REQUESTER, first_request, received, reply_to
from tests.harness.servers import Dovecot, SmtpServer

CONTEXT = texts.Context(requester="Jean Dupont", ticket_id=42, organisation="Commune de Sud",
                        agent="Marie Lambert", today="08/12/2026")
ATTACKS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ requester.__class__ }}",
    "{{ config }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ lipsum }}",
    "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
    "{{ requester.name * 100000000 }}",
    "{% set x = 1 %}",
    "{{ requester.name|upper }}",
    "{{ requester.email }}",
    "{{ ticket.id() }}",
    "{{ ticket.id }",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_anything_but_a_placeholder_is_refused_at_saving(text: str) -> None:
    with pytest.raises(RnmailError) as refused:
        texts.check(f"Bonjour {text}")
    assert "{{ requester.name }}" in str(refused.value)  # it says what may be used


def test_placeholders_are_filled_in() -> None:
    text = ("Bonjour {{ requester.name }}, ticket {{ ticket.id }} de {{organisation.name}} "
            "le {{ today }}.\n{{ agent.name }} <b>")
    assert texts.render(text, CONTEXT) == ("Bonjour Jean Dupont, ticket 42 de Commune de Sud "
                                           "le 08/12/2026.\nMarie Lambert <b>")
    assert texts.render("{{ requester.name }}", texts.Context(
        "{{ config }}", 1, "", "", "")) == "{{ config }}"  # a value is never rendered again


def test_the_sandbox_holds_when_the_check_is_bypassed() -> None:
    """The renderer's environment alone: unsafe attributes and calls stop."""
    env = texts._ENV
    with pytest.raises((SecurityError, UndefinedError)):
        env.from_string("{{ ''.__class__.__mro__ }}").render()
    with pytest.raises(SecurityError):
        env.from_string("{{ ''.format.__self__.__class__.__subclasses__() }}").render()
    with pytest.raises(UndefinedError):
        env.from_string("{{ config }}").render(CONTEXT.values())
    with pytest.raises(OverflowError):  # the sandbox's range() is bounded
        env.from_string("{% for i in range(10**9) %}{% endfor %}").render()
    with pytest.raises(RnmailError):  # and render() checks again what it is given
        texts.render("{% for a in range(9) %}{{ a }}{% endfor %}", CONTEXT)


# --- the commands, on both databases ---------------------------------------------------------

@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    installed = install(tmp_path, db_url)
    yield installed
    installed.close()


def test_text_commands_and_reply_in_the_tickets_language(site: Installation) -> None:
    from tests.harness import corpus

    assert "5 example" not in site.ok("text", "list")
    added = site.ok("text", "load-examples", "--author", "marie")
    assert added.startswith("15 example texts added")
    assert site.ok("text", "load-examples").startswith("0 example")  # never twice
    listed = json.loads(site.ok("text", "list", "--json"))
    assert {row["name"] for row in listed} == {"greeting", "closing", "key-unblocked",
                                               "identity-card", "population-service"}
    assert all(set(row["texts"]) == {"fr", "nl", "de"} for row in listed)
    site.ok("text", "add", "thanks", "--lang", "fr", "--file", "-", "--author", "marie",
            input="Merci {{ requester.name }} !")
    code, _, err = site.run("text", "add", "thanks", "--lang", "fr", "--file", "-",
                            input="x")
    assert code == 1 and "already" in err
    code, _, err = site.run("text", "add", "bad", "--lang", "fr", "--file", "-",
                            input="Bonjour {{ requester.phone }}")
    assert code == 1 and "requester.phone" in err
    site.ok("text", "edit", "thanks", "--lang", "fr", "--file", "-", "--author", "jan",
            input="Merci beaucoup {{ requester.name }} !")
    shown = json.loads(site.ok("text", "show", "thanks", "--json"))
    assert shown["texts"]["fr"]["text"] == "Merci beaucoup {{ requester.name }} !"
    assert shown["texts"]["fr"]["changed_by"] == "jan"
    assert "[fr] changed" in site.ok("text", "show", "thanks")
    # A reply with a module, in the ticket's language (a Dutch requester).
    site.deliver(corpus.simple(
        "Sleutel", "Goedendag, mijn sleutel is geblokkeerd.", from_addr="an@citizen.example",
        lang="nl"), "1.eml")
    reply = json.loads(site.ok("ticket", "reply", "1", "-m", "Beste,", "--text",
                               "key-unblocked", "--json"))
    assert reply["text"].startswith("Beste,\n\nDe toegang van")
    assert "gedeblokkeerd" in reply["text"] and "{{" not in reply["text"]
    code, _, err = site.run("ticket", "reply", "1", "--text", "thanks")
    assert code == 1 and "no text in nl" in err and "it has: fr" in err  # no fallback
    code, _, err = site.run("ticket", "reply", "1", "--text", "nope")
    assert code == 1 and "no text module 'nope'" in err
    site.ok("text", "remove", "thanks", "--author", "jan")
    code, _, err = site.run("text", "show", "thanks")
    assert code == 1
    with site.db.transaction() as session:
        actions = [(e.action, e.actor) for e in session.query(AuditEvent).filter(
            AuditEvent.action.like("text-%")).order_by(AuditEvent.id)]
    assert actions[-3:] == [("text-add", "marie"), ("text-edit", "jan"),
                            ("text-remove", "jan")]
    assert actions.count(("text-add", "marie")) == 16


def test_a_stored_text_is_checked_again_when_inserted(site: Installation) -> None:
    """A row written by other means than ``text add`` (the database, an old version)."""
    from tests.harness import corpus

    with site.db.transaction() as session:
        session.add(TextModule(name="evil", language="fr", changed_by="x",
                               text="{{ ''.__class__.__mro__ }}"))
    site.deliver(corpus.simple(
        "Clé", "Bonjour, ma clé est bloquée.", from_addr="an@citizen.example", lang="fr"), "1.eml")
    code, _, err = site.run("ticket", "reply", "1", "--text", "evil")
    assert code == 1 and "may hold only the placeholders" in err


# --- "#text NAME" in a staff reply -----------------------------------------------------------

def test_staff_mail_text_command_in_the_requesters_language(
        tmp_path: Path, db_url: str, imap: Dovecot, smtp_server: SmtpServer) -> None:
    from rnmail.tickets.team import add_staff

    desk = MailDesk(make_config(tmp_path, db_url, imap, smtp_server))
    with desk.db.transaction() as session:
        add_staff(session, MARIE, "Marie Lambert", "fr")
        texts.add_text(session, "closing", "fr",
                       "Cordialement,\n{{ agent.name }} (ticket {{ ticket.id }})", "test")
        texts.add_text(session, "nl-only", "nl", "Met vriendelijke groeten", "test")
    notification = first_request(desk, imap, smtp_server)
    imap.append("info", reply_to(notification, MARIE, "#text closing\nVotre clé est débloquée."))
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    answer = received(smtp_server, REQUESTER)[-1].get_content()  # type: ignore[attr-defined]
    assert "Votre clé est débloquée.\n\nCordialement,\nMarie Lambert (ticket 1)" in answer
    for command, said in (("#text nl-only", "existe en : nl"),
                          ("#text closng", "aucun module de texte de ce nom")):
        imap.append("info", reply_to(notification, MARIE, f"{command}\nMerci."))
        desk.ingest()
        desk.send()
        assert any(said in m.get_content() for m in received(smtp_server, MARIE))
    assert any("vouliez-vous dire closing" in m.get_content() or "closing ?" in m.get_content()
               for m in received(smtp_server, MARIE))
    assert len(received(smtp_server, REQUESTER)) == 2  # the acknowledgement and one answer


# --- the desk's reply form -------------------------------------------------------------------

def test_the_desk_inserts_a_text_module(tmp_path: Path, smtp_server: SmtpServer) -> None:
    with desk_served(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server) as desk:
        with desk.admin.db.transaction() as session:
            texts.add_text(session, "greeting", "fr",
                           "Bonjour {{ requester.name }} ({{ organisation.name }}),", "test")
            texts.add_text(session, "dutch", "nl", "Goedendag", "test")
        csrf = desk_signed_in(desk.agent)

        def insert(name: str, token: str = csrf) -> Page:
            boundary = uuid.uuid4().hex
            fields = [("csrf", token), ("text", "Merci de votre appel."),
                      ("text_module", name), ("insert_text", "1")]
            body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"'
                           f"\r\n\r\n{v}\r\n" for k, v in fields) + f"--{boundary}--\r\n"
            return desk.agent.http("POST", f"/desk/tickets/{desk.ticket_id}/reply",
                                   body=body.encode(),
                                   Content_Type=f"multipart/form-data; boundary={boundary}")

        page = insert("greeting")
        assert page.status == 200, page.text
        text = re.search(r'<textarea name="text" id="reply-text"[^>]*>([^<]*)</textarea>',
                         page.text)
        assert text and text.group(1) == ("Merci de votre appel.\n\nBonjour Jean Dupont "
                                          "(Commune de Sud),")
        assert '<option value="greeting" selected>' in page.text
        refused = insert("dutch")  # the ticket is in French: said, what was written kept
        assert "nl" in refused.text and 'id="problem"' in refused.text
        assert "Merci de votre appel.</textarea>" in refused.text
        assert insert("greeting", token="forged").status in (400, 403)
