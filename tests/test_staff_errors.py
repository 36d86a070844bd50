"""A refused staff reply is explained in the staff member's language, with "did you mean".

Issue 16 E: Jan (nl) typed ``#categorie access-key`` and got "unknown command #categorie",
in English, with no hint that the command is ``#category``. Real replies to real
notifications go through the whole ingest pipeline (Maildir in, mails written as files).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from rnmail.dispatch.render import render
from rnmail.ingest.staff import COMMAND_WORDS, COMMANDS, PROBLEM_TEXTS, Problem, suggest
from rnmail.tickets.team import add_service, add_staff, remove_service
from tests.harness import corpus
from tests.harness.mail import JAN, MARIE, REQUESTER, text_of
from tests.harness.maildir import MaildirDesk, plain, to
from tests.harness.rendered import DESK

# English words of the error lines that must not reach a French or Dutch reader.
ENGLISH = re.compile(r"\b(unknown|command|categories|types|reach|requester|reply|empty|"
                     r"did you mean|no such|takes no)\b", re.IGNORECASE)


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[MaildirDesk]:
    d = MaildirDesk(tmp_path, db_url)
    with d.db.transaction() as session:
        add_staff(session, MARIE, "Marie Lambert", "fr")
        add_staff(session, JAN, "Jan Peeters", "nl")
        add_service(session, "population-registers", "pop@second.example", None)
        add_service(session, "old-registers", "old@second.example", None)
        remove_service(session, "old-registers")
    yield d
    d.close()


def notifications(desk: MaildirDesk) -> dict[str, EmailMessage]:
    desk.drop(corpus.simple("Clé d'accès bloquée", "Bonjour, ma clé d'accès est bloquée.",
                            from_addr=REQUESTER))
    assert desk.ingest().outcomes == {"ticket": 1}
    sent = desk.mails()
    return {MARIE: to(sent, MARIE)[0], JAN: to(sent, JAN)[0]}


@pytest.mark.parametrize(("staff", "subject", "lines"), [
    (JAN, "Opdracht geweigerd", [
        "#categorie: onbekende opdracht – bedoelde u #category?",
        "#sluiten: onbekende opdracht – bedoelde u #close?",
        "#category acces-key: onbekende categorie; de categorieën zijn: access-key,",
        "#delegate population-register: onbekende dienst; de diensten zijn: "
        "population-registers – bedoelde u population-registers?",
        "#frobnicate: onbekende opdracht.",
    ]),
    (MARIE, "Commande refusée", [
        "#categorie : commande inconnue – vouliez-vous dire #category ?",
        "#sluiten : commande inconnue – vouliez-vous dire #close ?",
        "#category acces-key : catégorie inconnue ; les catégories sont : access-key,",
        "#delegate population-register : service inconnu ; les services sont : "
        "population-registers – vouliez-vous dire population-registers ?",
        "#frobnicate : commande inconnue.",
    ]),
])
def test_the_error_mail_is_in_the_staff_members_language_and_suggests(
        desk: MaildirDesk, staff: str, subject: str, lines: list[str]) -> None:
    notification = notifications(desk)[staff]
    desk.drop(plain(notification, staff,
                    "#categorie access-key\n#sluiten\n#category acces-key\n"
                    "#delegate population-register\n#frobnicate\nBonjour, c'est réglé."))
    assert desk.ingest().outcomes == {"staff": 1}
    [error] = desk.mails(staff)
    assert error["Subject"] == f"[RN #1] {subject}"
    body = text_of(error)
    for line in lines:
        assert f"- {line}" in body, body
    assert ENGLISH.findall(body.split("\n-- \n")[0].replace("#category", "")) == [], body
    detail = desk.ticket(1)
    assert detail["status"] == "open" and detail["category"] is None  # nothing applied
    assert desk.mails(REQUESTER) == []  # nothing relayed
    # The team's note keeps the English line, suggestion included.
    note = [m["text"] for m in detail["messages"] if m["kind"] == "comment"][-1]
    assert "#categorie: unknown command (did you mean #category?)" in note


def test_a_delegation_to_a_removed_service_is_refused_by_mail(desk: MaildirDesk) -> None:
    """``#delegate`` to a service that was removed: the member is told, as for an unknown
    one, with the services there are; nothing is applied and nothing is quarantined."""
    notification = notifications(desk)[MARIE]
    desk.drop(plain(notification, MARIE, "#delegate old-registers\nÀ vérifier."))
    assert desk.ingest().outcomes == {"staff": 1}
    [error] = desk.mails(MARIE)
    assert ("- #delegate old-registers : service inconnu ; les services sont : "
            "population-registers") in text_of(error)
    detail = desk.ticket(1)
    assert detail["status"] == "open" and detail["service"] is None
    assert desk.mails("old@second.example") == []


@pytest.mark.parametrize("language", ["fr", "nl", "de", "en"])
def test_every_problem_is_worded_in_every_language(language: str) -> None:
    problems = [Problem(code, "#x", value="a, b", suggestion="b") for code in PROBLEM_TEXTS]
    rendered = render("staff_error", language, "fr", {"tag": "RN", "ticket_id": 3,
                                                       "errors": problems}, helpdesk=DESK)
    items = [line for line in rendered.text.splitlines() if line.startswith("- #x")]
    assert len(items) == len(PROBLEM_TEXTS)
    for problem in problems:
        assert str(problem).split(": ", 1)[1] not in rendered.text or language == "en"


@pytest.mark.parametrize(("typed", "meant"), [
    ("categorie", "category"), ("catégorie", "category"), ("Kategorie", "category"),
    ("clsoe", "close"), ("fermer", "close"), ("sluiten", "close"), ("attente", "pending"),
    ("wachten", "pending"), ("déléguer", "delegate"), ("toewijzen", "assign"),
    ("commentaire", "comment"), ("opmerking", "comment"), ("assing", "assign"),
    ("xyz", ""), ("bonjour", ""),
])
def test_suggestions_for_commands(typed: str, meant: str) -> None:
    assert suggest(typed, COMMANDS, COMMAND_WORDS) == meant
