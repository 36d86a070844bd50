"""The desk's FAQ (``/desk/faq/``) over HTTP: browse and search in a language, an entry's
texts in each language and those missing, add, edit, start from a ticket, publish (the
files written), each audited with the member and the client; CSRF, bad ids and hostile
texts. One served installation for the module (SQLite: the FAQ reads nothing
dialect-specific)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rnmail.models import Message, Ticket
from rnmail.tickets import faq
from tests.harness.admin import Admin
from tests.harness.desk import AGENT, HOSTILE, Desk, add_agent, desk_served, desk_signed_in
from tests.harness.servers import SmtpServer


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("faq")
    with SmtpServer() as smtp, desk_served(root, f"sqlite:///{root}/rnmail.db", smtp) as found:
        with found.admin.db.transaction() as session:
            first = faq.add_entry(session, "fr", "Comment débloquer ma clé d'accès ?",
                                  "Appelez le help desk au 02/518 21 31.", "access-key",
                                  publish=True)
            faq.edit_entry(session, first.id, "nl", "Hoe deblokkeer ik mijn toegangssleutel?",
                           "Bel de helpdesk.")
            faq.add_entry(session, "nl", "Waar vind ik een attest van woonst?",
                          "Via het e-loket van uw gemeente.", "certificate")
        yield found


@pytest.fixture(scope="module")
def csrf(desk: Desk) -> str:
    return desk_signed_in(desk.agent)


def entry_id(page_location: str) -> int:
    match = re.fullmatch(r"/desk/faq/(\d+)\?done=[\w-]+", page_location)
    assert match, page_location
    return int(match.group(1))


def test_browse_and_search_in_a_language(desk: Desk, csrf: str) -> None:
    agent = desk.agent
    assert agent.get("/desk/faq").header("Location") == "/desk/faq/"
    fr = agent.get("/desk/faq/?language=fr")
    assert fr.status == 200
    assert "Comment débloquer ma clé d&#39;accès ?" in fr.text
    # The Dutch-only entry is shown in Dutch, and said to be so.
    assert "Waar vind ik een attest van woonst?" in fr.text and "(en néerlandais)" in fr.text
    nl = agent.get("/desk/faq/?language=nl")
    assert "Hoe deblokkeer ik mijn toegangssleutel?" in nl.text
    assert "Comment débloquer" not in nl.text
    # Searching: the matching entry first, in the language asked for, accents folded.
    found = agent.get("/desk/faq/?language=nl&q=debloquer+cle")
    rows = re.findall(r'<tr id="faq-(\d+)">', found.text)
    assert rows and "Hoe deblokkeer ik" in found.text and "attest" not in found.text
    # Too short a query is said in the member's language, not a traceback.
    short = agent.get("/desk/faq/?q=a")
    assert short.status == 200 and 'id="problem"' in short.text
    assert "au moins un mot de trois lettres" in short.text
    # Missing languages are listed.
    assert "allemand" in fr.text


def test_an_entry_shows_each_language_and_what_is_missing(desk: Desk, csrf: str) -> None:
    [first] = [e for e in list_all(desk) if "fr" in e["texts"] and "nl" in e["texts"]][:1]
    page = desk.agent.get(f"/desk/faq/{first['id']}")
    assert page.status == 200
    assert 'id="question-fr"' in page.text and 'id="question-nl"' in page.text
    assert 'id="missing-de"' in page.text and 'id="missing-en"' in page.text
    assert 'id="missing-fr"' not in page.text
    for bad in ("/desk/faq/999999", "/desk/faq/99999999999999999999"):
        assert desk.agent.get(bad).status == 404


def list_all(desk: Desk) -> list[dict[str, object]]:
    with desk.admin.db.transaction() as session:
        return faq.list_entries(session)


def test_add_edit_and_the_audit(desk: Desk, csrf: str) -> None:
    agent = desk.agent
    form = agent.get("/desk/faq/new")
    assert form.status == 200 and 'for="new-question"' in form.text
    added = agent.post("/desk/faq/new", [
        ("csrf", csrf), ("language", "fr"), ("question", f"Question {HOSTILE}"),
        ("answer", f"Réponse {HOSTILE}\nligne deux"), ("category", "certificate"),
        ("state", "draft")])
    assert added.status == 303
    new_id = entry_id(added.header("Location"))
    page = agent.get(added.header("Location"))
    assert 'id="notice"' in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    event = desk.admin.audit("desk-faq-add")[-1]
    assert (event.actor, event.client) == (AGENT, "127.0.0.1")
    assert event.detail == {"language": "fr", "entry": new_id}
    # Edit: the German text added, then the state and category.
    edited = agent.post(f"/desk/faq/{new_id}", [
        ("csrf", csrf), ("language", "de"), ("question", "Wie bekomme ich eine Bescheinigung?"),
        ("answer", "Über den E-Schalter Ihrer Gemeinde.")])
    assert edited.status == 303 and edited.header("Location").endswith("?done=faq-saved")
    agent.post(f"/desk/faq/{new_id}", [("csrf", csrf), ("state", "published"),
                                       ("category", "legal")])
    with desk.admin.db.transaction() as session:
        detail = faq.entry_detail(faq.get_entry(session, new_id))
    assert detail["texts"]["de"]["question"] == "Wie bekomme ich eine Bescheinigung?"
    assert detail["published"] and detail["category"] == "legal"
    edits = desk.admin.audit("desk-faq-edit")[-2:]
    assert [e.detail for e in edits] == [
        {"entry": new_id, "language": "de"},
        {"entry": new_id, "category": "legal", "published": True}]
    assert all((e.actor, e.client) == (AGENT, "127.0.0.1") for e in edits)


def test_refusals_are_pages_in_the_members_language(desk: Desk, csrf: str) -> None:
    agent = desk.agent
    before = len(list_all(desk))
    # No CSRF token: refused, nothing added.
    refused = agent.post("/desk/faq/new", [("language", "fr"), ("question", "Q?"),
                                            ("answer", "A.")])
    assert refused.status == 403 and "CSRF" in refused.text
    assert agent.post("/desk/faq/publish", []).status == 403
    assert len(list_all(desk)) == before
    # An empty answer: the core's refusal, in French (Marie's language).
    empty = agent.post("/desk/faq/new", [("csrf", csrf), ("language", "fr"),
                                          ("question", "Q?"), ("answer", " ")])
    assert empty.status == 400 and "une question et une réponse" in empty.text
    # A new language needs both texts; an unknown entry is a 404.
    [entry] = list_all(desk)[:1]
    half = agent.post(f"/desk/faq/{entry['id']}", [("csrf", csrf), ("language", "en"),
                                                   ("question", "Only a question?")])
    assert half.status == 400
    assert "une nouvelle langue (en) demande une question et une réponse" in half.text
    assert agent.post("/desk/faq/999999", [("csrf", csrf), ("state", "draft")]).status == 404
    bad_language = agent.post(f"/desk/faq/{entry['id']}", [
        ("csrf", csrf), ("language", "es"), ("question", "q"), ("answer", "a")])
    assert bad_language.status == 400
    assert len(list_all(desk)) == before
    # Without a session: to the sign-in. Another member's session has its own token:
    # Marie's does not work with it.
    stranger = Admin(desk.admin.root, desk.admin.db, desk.admin.smtp, desk.admin.public_port,
                     desk.admin.admin_port, desk.agent.secret)
    assert stranger.post("/desk/faq/new", [("csrf", csrf), ("language", "fr"),
                                           ("question", "Q?"), ("answer", "A.")]
                         ).header("Location") == "/desk/login"
    colleague = add_agent(desk.admin, "piet.peeters@rn.example", "Piet Peeters", "nl")
    desk_signed_in(colleague, "piet.peeters@rn.example")
    assert colleague.post("/desk/faq/publish", [("csrf", csrf)]).status == 403
    assert len(list_all(desk)) == before


def test_from_a_ticket(desk: Desk, csrf: str) -> None:
    agent = desk.agent
    form = agent.get(f"/desk/faq/new?ticket={desk.ticket_id}")
    assert f'name="ticket" value="{desk.ticket_id}"' in form.text
    # The phone ticket has no question and answer by mail: said, in French.
    refused = agent.post("/desk/faq/from-ticket", [("csrf", csrf),
                                                   ("ticket", f"#{desk.ticket_id}")])
    assert refused.status == 400 and "aucune question" in refused.text
    assert agent.post("/desk/faq/from-ticket", [("csrf", csrf), ("ticket", "999999")]
                      ).status == 404
    assert agent.post("/desk/faq/from-ticket", [("csrf", csrf), ("ticket", "abc")]
                      ).status == 400
    ticket = mail_ticket(desk)
    started = agent.post("/desk/faq/from-ticket", [("csrf", csrf), ("ticket", f"#{ticket}")])
    assert started.status == 303, started.text
    new_id = entry_id(started.header("Location"))
    page = agent.get(started.header("Location"))
    assert "Via le guichet électronique" in page.text and f'href="/desk/tickets/{ticket}"' \
        in page.text
    event = desk.admin.audit("desk-faq-from-ticket")[-1]
    assert event.detail == {"ticket": ticket, "entry": new_id}
    assert (event.actor, event.client) == (AGENT, "127.0.0.1")


def mail_ticket(desk: Desk) -> int:
    """A ticket asked by mail and answered by mail."""
    with desk.admin.db.transaction() as session:
        ticket = Ticket(subject="Certificat", channel="mail", requester="jean@citizen.example",
                        requester_type="citizen", language="fr")
        session.add(ticket)
        session.flush()
        session.add(Message(ticket_id=ticket.id, direction="in", from_addr=ticket.requester,
                            subject="Certificat",
                            text="Bonjour, comment obtenir un certificat ?"))
        session.add(Message(ticket_id=ticket.id, direction="out", from_addr="info@rn.example",
                            from_name="Marie Lambert", subject="Re: Certificat",
                            text="Via le guichet électronique."))
        return ticket.id


def test_publish_writes_the_pages(desk: Desk, csrf: str) -> None:
    published = desk.agent.post("/desk/faq/publish", [("csrf", csrf)])
    assert published.status == 303
    page = desk.agent.get(published.header("Location"))
    folder = desk.admin.root / "var/public/faq"
    for language in ("fr", "nl", "de", "en"):
        assert f"<code>{folder / f'{language}.html'}</code>" in page.text
    fr = (folder / "fr.html").read_text()
    assert "Comment débloquer ma clé" in fr and "attest van woonst" not in fr  # a draft
    event = desk.admin.audit("desk-faq-publish")[-1]
    assert (event.actor, event.client) == (AGENT, "127.0.0.1")
    assert event.detail == {"files": [str(folder / f"{x}.html")
                                      for x in ("fr", "nl", "de", "en")]}
    assert Path(event.detail["files"][0]).is_file()
