"""Every text a reader gets is in their language, the words rnmail inserts included.

Issue 16 E: the French delegation mail said ``Demandeur: … (citizen)``, notifications
``Canal: phone · Statut: open``, the FAQ ``hier die Fassung auf français``, and the notes
rnmail writes into tickets ``Comment on #7``. Here: every mail kind exists in every
language; each mail, rendered with the values of every vocabulary, shows none of the
English codes (``citizen``, ``phone``, ``closed``, ``English``) to a French, Dutch or German
reader; the delegation mail, the notifications, the FAQ page and a note made from the
command line, the way a user makes them.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from rnmail.config import LANGUAGES
from rnmail.dispatch import render as rendering
from rnmail.dispatch.render import MAIL, TEMPLATES
from rnmail.i18n.labels import VOCABULARIES, label
from rnmail.i18n.labels import table as label_table
from rnmail.vocab import AccessState, Channel, RequesterType, Resolution, TicketStatus, strings
from tests.harness import corpus
from tests.harness.install import Installation, install
from tests.harness.rendered import DESK

render = partial(rendering.render, directories=(MAIL, TEMPLATES), helpdesk=DESK)
MAILINGS = TEMPLATES / "mailings"
READERS = ("fr", "nl", "de")  # who must not read an English code
DEFAULT_CATEGORIES = ("access-key", "certificate", "address-change", "data-correction",
                      "legal", "web-services", "other")
LITERAL = re.compile(r"rnmail [a-z]+ [a-z-]+[^\"«“\n]*|In-Reply-To")
ENGLISH_NAMES = ("French", "Dutch", "German", "English")
# English words no French, Dutch or German mail has (the template's own words leaking).
ENGLISH = re.compile(r"\b(?:the|your|please|and|with|from|reply|received|requester|wrote|"
                     r"attached|message from|status page|help desk will)\b", re.I)
WHEN = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


def kinds(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in folder.glob("*.j2"):
        name, _, language = path.name.removesuffix(".j2").rpartition(".")
        found.setdefault(name, set()).add(language)
    return found


@pytest.mark.parametrize("folder", [MAIL, MAILINGS], ids=["mail", "mailings"])
def test_every_mail_kind_exists_in_every_language(folder: Path) -> None:
    """Requesters, staff and user groups write in fr, nl, de and en: each mail has its
    template in each (a fallback would send a German municipality a French mail)."""
    found = kinds(folder)
    assert found, folder
    for name, languages in sorted(found.items()):
        assert languages == set(LANGUAGES), (name, sorted(languages))


def test_every_vocabulary_value_has_its_words() -> None:
    """A new member of a vocabulary without its label would reach a mail as its code."""
    table = label_table("fr")
    assert set(table["channel"]) == set(strings(Channel))
    assert set(table["requester-type"]) == set(strings(RequesterType))
    assert set(table["resolution"]) == set(strings(Resolution))
    assert set(table["ticket-status"]) == set(strings(TicketStatus))
    assert set(table["category"]) == set(DEFAULT_CATEGORIES)
    assert set(table["access-state"]) == set(strings(AccessState))
    assert label("fr", "requester-type", "citizen") == "citoyen"
    assert label("nl", "channel", "phone") == "telefoon"
    assert label("de", "ticket-status", "closed") == "geschlossen"
    assert label("fr", "category", "passports") == "passports"  # an installation's own
    assert label("fr", "category", None) == ""
    with pytest.raises(KeyError):
        label("fr", "colour", "red")


def english_codes(language: str) -> set[str]:
    """The English codes a reader of ``language`` must not see: every value of a
    vocabulary whose word differs in that language (``open`` is Dutch too), and the
    English names of the languages."""
    codes = {value for vocabulary in VOCABULARIES for value in label_table("en")[vocabulary]
             if label(language, vocabulary, value) != value}
    return codes | set(ENGLISH_NAMES)


def leaks(text: str, language: str) -> list[str]:
    """English codes in ``text``, as words (``E-mail`` is not ``mail``; ``#pending`` is a
    command staff type, not a word they read)."""
    return sorted(code for code in english_codes(language)
                  if re.search(rf"(?<![\w#-]){re.escape(code)}(?![\w-])", text))


def ticket(channel: str, status: str, requester_type: str, category: str | None
           ) -> SimpleNamespace:
    return SimpleNamespace(id=1234, subject="Clé d'accès bloquée", channel=channel,
                           status=status, category=category,
                           requester="+3225182131", requester_name="Jan Peeters",
                           requester_type=requester_type, delegated_at=WHEN)


def tickets() -> Iterator[SimpleNamespace]:
    """Tickets that together take every value of every vocabulary a mail shows."""
    channels, statuses = strings(Channel), strings(TicketStatus)
    types, categories = strings(RequesterType), [*DEFAULT_CATEGORIES, None]
    for i in range(max(len(channels), len(statuses), len(types), len(categories))):
        yield ticket(channels[i % len(channels)], statuses[i % len(statuses)],
                     types[i % len(types)], categories[i % len(categories)])


HISTORY = [SimpleNamespace(date=WHEN, from_name="Jan Peeters", from_addr="+3225182131",
                           display_text="Mijn toegangssleutel is geblokkeerd.")]


def contexts(name: str) -> Iterator[dict[str, Any]]:
    """The variables each mail's caller passes, with every vocabulary value in turn."""
    tag = {"tag": "RN", "ticket_id": 1234, "subject": "Clé d'accès bloquée",
           "helpdesk_name": "Help desk RN"}
    notice = {"helpdesk_name": "Help desk RN", "helpdesk_address": "helpdesk@rn.example",
              "phone": "02/518 21 31", "contact": "", "status_url": "https://status.rn.example/",
              "language": "fr", "components": ["Services web"], "comment": "Voir ci-dessous."}
    if name in ("notification", "delegation", "service_reminder", "staff_alert"):
        for t in tickets():
            for event in ("new", "reply", "service", "due", "late", "overdue"):
                yield {"tag": "RN", "ticket": t, "event": event, "sender": "Jan Peeters",
                       "text": "Mijn sleutel.", "attachments": [], "faq": [],
                       "service": SimpleNamespace(name="registres",
                                                  email="registres@second.example"),
                       "note": "", "history": HISTORY, "number": 2, "delegated_at": WHEN,
                       "due_at": WHEN,
                       "which": "response" if event in ("due", "late") else "resolution",
                       "unverified": event == "new"}
    elif name in ("status_change", "maintenance", "incident_solved"):
        for written_in in LANGUAGES:
            common = {**tag, **notice, "comment_language": written_in}
            yield {**common, "state": "degraded", "banner": "—", "all_components": False,
                   "changed_at": "05/12/2026 10:30", "step": "announcement",
                   "starts_at": "19/12/2026 18:00", "ends_at": "19/12/2026 21:00",
                   "duration_hours": 3, "duration_minutes": 0, "maintenance_id": 17,
                   "requester_name": "Jan Peeters", "started_at": "05/12/2026 10:30",
                   "resolved_at": "05/12/2026 12:00"}
    else:
        yield {**tag, "text": "Bonjour.", "requester_name": "Jan Peeters", "faq_url": "",
               "disturbance": None, "caller": "Jan Peeters", "phone": "+3225182131",
               "taken_at": WHEN, "errors": [], "user_name": "Jan Peeters", "action": "reset",
               "name": "Help desk RN", "address": "helpdesk@rn.example", "fax": "",
               "opens": DESK.opens, "closes": DESK.closes, "body": "Bonjour.",
               "reference": "", "attachments": [], "why": "no-reference",
               "body_language": "nl", "colleague": "Marie Lambert", "minutes": 4,
               "answered_at": WHEN, "answer": "Bonjour,\nC'est réglé.", "command": "#send",
               "pending_since": WHEN, "mailbox": "info", "since": WHEN, "until": WHEN,
               "error": "IMAP: connection refused", "recovered": False}


@pytest.mark.parametrize("language", READERS)
@pytest.mark.parametrize("name", sorted(kinds(MAIL).keys() - {"contact_block"}))
def test_no_english_code_reaches_a_reader(name: str, language: str) -> None:
    for context in contexts(name):
        mail = render(name, language, language, context)
        assert mail.language == language
        text = "\n".join((mail.subject, mail.text, mail.html or ""))
        text = LITERAL.sub("", text)  # commands and header names are written as typed
        assert leaks(text, language) == [], (name, language, context.get("ticket"), text)
        assert not ENGLISH.findall(text), (name, language, ENGLISH.findall(text), text)


@pytest.mark.parametrize("language", READERS)
def test_no_english_code_reaches_the_reader_of_a_mailing(language: str) -> None:
    mail = render("mailings/circular", language, language, next(contexts("circular")))
    assert leaks("\n".join((mail.subject, mail.text, mail.html or "")), language) == []


def test_the_check_sees_what_the_old_mails_said() -> None:
    """What the French delegation mail and a notification said before (issue 16 E)."""
    assert leaks("Demandeur: Jan Peeters +3225182131 (citizen)", "fr") == ["citizen"]
    assert leaks("Canal: phone · Statut: closed · web-services", "fr") == [
        "closed", "phone", "web-services"]
    assert leaks("Kanaal: mail · Status: open", "nl") == ["mail"]  # "open" is Dutch
    assert leaks("(bericht enkel beschikbaar in het French)", "nl") == ["French"]
    assert leaks("E-mail : helpdesk@rn.example · Fax · #pending", "fr") == []


# --- the way users meet these words --------------------------------------------------------

@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url)
    (tmp_path / "maildir/new").mkdir(parents=True)
    yield site
    site.close()


def outgoing(desk: Installation) -> dict[str, EmailMessage]:
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in sorted((desk.root / "outgoing").glob("*.eml"))]
    return {str(m["To"]): m for m in mails if isinstance(m, EmailMessage)}


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def test_the_delegation_mail_and_the_notifications_speak_the_readers_words(
        desk: Installation) -> None:
    """A citizen phones, the agent delegates the ticket to the second line: the French
    delegation mail names the requester type in French; a mail from a municipality
    notifies a French and a Dutch colleague in their words."""
    desk.ok("staff", "add", "marie@rn.example", "--name", "Marie", "--language", "fr")
    desk.ok("staff", "add", "jan@rn.example", "--name", "Jan", "--language", "nl")
    desk.ok("service", "add", "legal", "--email", "legal@second.example")
    desk.ok("ticket", "new", "--requester", "02/518.21.31", "--subject", "Adresse",
            "--note", "Question sur un changement d'adresse.", "--requester-type", "citizen",
            "--category", "address-change", "--language", "fr")
    desk.ok("ticket", "delegate", "1", "legal", "--note", "Pouvez-vous vérifier ?")
    desk.deliver(corpus.simple("Toegangssleutel", "Onze toegangssleutel is geblokkeerd.",
                               from_addr="bevolking@gemeente.example"), "1.eml")
    desk.ok("ticket", "set", "2", "--type", "municipality", "--category", "access-key")
    desk.ok("outbox", "send")
    mails = outgoing(desk)

    handover = text_of(mails["legal@second.example"])
    assert "Demandeur:" in handover and "(citoyen)" in handover
    assert leaks(handover, "fr") == [], handover

    fr, nl = text_of(mails["marie@rn.example"]), text_of(mails["jan@rn.example"])
    assert "Canal: courriel · Statut: ouvert" in fr and leaks(fr, "fr") == [], fr
    assert "Kanaal: e-mail · Status: open" in nl and leaks(nl, "nl") == [], nl


def test_a_note_from_the_command_line_is_titled_in_the_help_desks_language(
        desk: Installation) -> None:
    desk.ok("ticket", "new", "--requester", "jan@gemeente.example", "--subject", "Sleutel")
    desk.ok("ticket", "comment", "1", "-m", "Teruggebeld.", "--author", "Marie")
    [_, note] = json.loads(desk.ok("ticket", "show", "1", "--json"))["messages"]
    assert note["kind"] == "comment" and note["subject"] == "Note sur le ticket #1"


def test_the_faq_names_the_language_of_an_answer_in_the_readers_language(
        tmp_path: Path, db_url: str) -> None:
    """An answer written only in French: each page says so in its own words, the language
    named as its readers write it (Dutch and German capitalise it, French does not)."""
    site = install(tmp_path, db_url, init=False)
    try:
        site.path.write_text(site.path.read_text().replace(
            'attachments_dir = "attachments"',
            'attachments_dir = "attachments"\npublic_dir = "public"'))
        site.ok("init")
        site.ok("faq", "add", "--lang", "fr", "--question", "Comment débloquer ma clé ?",
                "--answer", "Appelez le help desk.", "--publish")
        site.ok("faq", "add", "--lang", "nl", "--question", "Hoe verander ik mijn adres?",
                "--answer", "Bel de helpdesk.", "--publish")
        site.ok("faq", "publish")
        page = {lang: html.unescape((tmp_path / f"public/faq/{lang}.html").read_text())
                for lang in LANGUAGES}
    finally:
        site.close()
    assert "Diese Antwort gibt es noch nicht auf Deutsch; hier ist sie auf Französisch." in (
        page["de"])
    assert "Dit antwoord bestaat nog niet in het Nederlands; hier is het in het Frans." in (
        page["nl"])
    assert "This answer is not yet available in English; here it is in French." in page["en"]
    assert "Cette réponse n'existe pas encore en français ; la voici en néerlandais." in (
        page["fr"])
    for lang in LANGUAGES:  # the links to the pages: each language's own name, capitalised
        assert ">Français</a><a" in page[lang] and ">Nederlands</a>" in page[lang]
    assert "français" not in page["de"] + page["nl"] + page["en"]
    for lang in READERS:
        assert untranslated(page[lang], (lang,)) == [], lang


# --- the public pages ---------------------------------------------------------------------

def untranslated(page: str, languages: tuple[str, ...]) -> list[str]:
    """The English msgids (their literal parts of ten characters or more) that every one of
    ``languages`` translates otherwise, found in the visible text of ``page``."""
    from babel.messages.pofile import read_po

    from rnmail.i18n import translations
    from rnmail.i18n.catalogues import HERE

    seen = re.sub(r"(?s)<(style|script)\b.*?</\1>", " ", page)
    seen = html.unescape(re.sub(r"<[^>]+>", " ", seen))
    with (HERE / "rnmail.pot").open("rb") as handle:
        pot = read_po(handle)
    # What the languages' own texts say: the German banner is verbatim "National Register
    # arbeitet stabil", which is German however English its first words look.
    written = []
    for language in languages:
        with (HERE / language / "LC_MESSAGES" / "rnmail.po").open("rb") as handle:
            written += [m.string for m in read_po(handle)
                        if m.id and isinstance(m.string, str) and m.string]
    found = []
    for message in pot:
        if not isinstance(message.id, str) or not message.id:
            continue

        def said(language: str, msgid: str = message.id, context: str | None = message.context
                 ) -> str:
            t = translations(language)
            return t.pgettext(context, msgid) if context else t.gettext(msgid)

        if any(said(language) == message.id for language in languages):
            continue
        found += [part for part in re.split(r"\{\w*\}", message.id)
                  if len(part.strip()) >= 10 and part.strip() in seen
                  and not any(part.strip() in text for text in written)]
    return found


def test_the_status_page_shows_no_english_text(tmp_path: Path) -> None:
    """Its nl, fr and de sections, with a maintenance ahead and incidents: every word from
    the catalogues, none left in English."""
    from rnmail.config import StatusConfig
    from rnmail.status.page import publish_status
    from tests.harness.statuspage import make_view

    for overall in ("operational", "degraded", "down"):
        publish_status(make_view(overall), StatusConfig(public_dir=tmp_path), DESK)
        page = (tmp_path / "index.html").read_text()
        assert untranslated(page, ("nl", "fr", "de")) == [], overall
    assert untranslated("<p>No planned maintenance.</p>", ("nl", "fr", "de")) == [
        "No planned maintenance."]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_notes_rnmail_writes_are_in_the_help_desks_language(language: str) -> None:
    """[helpdesk].default_language may be any of the four: each note exists in each, and
    names the user's language in it."""
    from rnmail.tickets import notes

    written = "\n".join((
        notes.note_subject(language, 7),
        notes.refused_reply(language, ["#categorie"]),
        notes.second_line_author(language, "legal"),
        notes.unblock_record(language, email="jan@zuidhoven.example", name="Jan",
                             organisation="Gemeente Zuidhoven (23001)", action="new-key",
                             note="teruggebeld", address="jan@zuidhoven.example",
                             user_language="nl"),
    ))
    expected = {"fr": ("Note sur le ticket #7", "legal (deuxième ligne)", "(en néerlandais)"),
                "nl": ("Notitie bij ticket #7", "legal (tweede lijn)", "(in het Nederlands)"),
                "de": ("Notiz zu Ticket #7", "legal (zweite Linie)", "(auf Niederländisch)"),
                "en": ("Note on ticket #7", "legal (second line)", "(in Dutch)")}[language]
    for text in expected:
        assert text in written, (language, written)
    if language != "en":
        for english in ("Comment on", "Refused", "unblocked", "Checks", "identity",
                        "entitled", "Action taken", "new key", "second line", "Dutch"):
            assert english not in written, (language, english, written)


@pytest.mark.parametrize("language", READERS)
def test_the_note_of_an_unsent_answer_is_in_the_help_desks_language(language: str) -> None:
    """For the note kept of a staff mail that is not a proven reply (issue 16 C)."""
    from rnmail.tickets import notes

    for why in notes.UNSENT_WHY:
        text = notes.unsent_answer(language, name="Marie", email="marie@rn.example", why=why,
                                   ticket_id=12)
        assert "rnmail ticket reply 12" in text and why not in text, (language, why)
        for english in ("Unsent", "nothing was sent", "notification,", "reply to", "forward"):
            assert english not in text, (language, english, text)
    automatic = notes.unsent_answer(language, name="Marie", email="marie@rn.example",
                                    why="forward", ticket_id=12, automatic=True)
    assert "marie@rn.example" in automatic and "Automatic" not in automatic
