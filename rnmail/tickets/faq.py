"""The FAQ: answers the help desk gives often, per language, built from closed tickets.

Entries are written per language (fr, nl, de; en optional) and never machine-translated; a
page or an answer in a language an entry lacks says so and shows another language. The
published entries are rendered as static HTML pages, one per language, into the public
folder; lexical matching (folded words, question weighted over answer) puts the best entries
in front of the staff with every new ticket.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from rnmail.config import LANGUAGES, Config
from rnmail.dispatch.render import contact_block, render_page
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n import N_
from rnmail.i18n.formats import capitalised, language_name
from rnmail.models import FaqEntry, FaqText, Message, utcnow
from rnmail.status.statement import publish_statement
from rnmail.tickets.lifecycle import get_ticket
from rnmail.util.folding import fold
from rnmail.util.publicfiles import public_folder, write_public_file

_WORD = re.compile(r"\w{3,}")
# Words too common in help-desk mail to tell one question from another.
_STOPWORDS = frozenset(fold(w) for w in (  # noqa: SIM905 - a word list reads best as text
    "bonjour madame monsieur merci pour avec dans votre vous nous est une des les que qui pas "
    "plus sur par cette mon mes suis goedendag dag mevrouw meneer bedankt voor met het een "
    "van dat die niet mijn ik wij uw zijn heb guten tag frau herr danke fur mit der das ein "
    "eine nicht mein ich sie ihr ist hello thank thanks you your the and for with this that have"
).split())


def _language(language: str) -> str:
    if language not in LANGUAGES:
        raise RnmailError.translatable(N_("unknown language {language!r} ({languages})"),
                                       language=language, languages=", ".join(LANGUAGES))
    return language


def get_entry(session: Session, entry_id: int) -> FaqEntry:
    entry = session.get(FaqEntry, entry_id)
    if entry is None:
        raise NotFound.translatable(N_("no FAQ entry #{id}"), id=entry_id)
    return entry


def add_entry(session: Session, language: str, question: str, answer: str,
              category: str | None = None, publish: bool = False) -> FaqEntry:
    if not question.strip() or not answer.strip():
        raise RnmailError.translatable(N_("an FAQ entry needs a question and an answer"))
    entry = FaqEntry(category=category, published=publish, source_ticket_ids=[])
    entry.texts.append(FaqText(language=_language(language), question=question.strip(),
                               answer=answer.strip()))
    session.add(entry)
    session.flush()
    return entry


def edit_entry(session: Session, entry_id: int, language: str | None = None,
               question: str | None = None, answer: str | None = None,
               category: str | None = None, publish: bool | None = None) -> FaqEntry:
    """Change an entry; with a language, set (or add) that language's question/answer."""
    entry = get_entry(session, entry_id)
    if language is not None:
        text = next((t for t in entry.texts if t.language == _language(language)), None)
        if text is None:
            if not (question and answer):
                raise RnmailError.translatable(
                    N_("a new language ({language}) needs a question and an answer"),
                    language=language)
            entry.texts.append(FaqText(language=language, question=question.strip(),
                                       answer=answer.strip()))
        else:
            text.question = (question or text.question).strip()
            text.answer = (answer or text.answer).strip()
    elif question or answer:
        raise RnmailError.translatable(
            N_("say which language the question or answer is in (--lang)"))
    if category is not None:
        entry.category = category
    if publish is not None:
        entry.published = publish
    entry.updated_at = utcnow()
    return entry


def from_ticket(session: Session, ticket_id: int) -> FaqEntry:
    """Start an (unpublished) entry from a ticket's question and the help desk's answer."""
    ticket = get_ticket(session, ticket_id)
    texts = [m for m in ticket.messages if m.kind == "correspondence"]
    question = next((m for m in texts if m.direction == "in"), None)
    answer = next((m for m in reversed(texts) if m.direction == "out"), None)
    if question is None or answer is None:
        raise RnmailError.translatable(
            N_("ticket #{id} has no question and answer by mail to start from"), id=ticket_id)
    entry = add_entry(session, ticket.language, _first_lines(question), _first_lines(answer),
                      ticket.category)
    entry.source_ticket_ids = [ticket.id]
    return entry


def _first_lines(message: Message, limit: int = 2000) -> str:
    return (message.display_text or message.text).strip()[:limit] or message.subject


def entry_detail(entry: FaqEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "category": entry.category,
        "published": entry.published,
        "source_tickets": list(entry.source_ticket_ids or []),
        "texts": {t.language: {"question": t.question, "answer": t.answer} for t in entry.texts},
        "updated_at": entry.updated_at.isoformat(),
    }


def list_entries(session: Session) -> list[dict[str, Any]]:
    entries = session.scalars(select(FaqEntry).options(selectinload(FaqEntry.texts))
                              .order_by(FaqEntry.id))
    return [entry_detail(e) for e in entries]


def nearest_language(written: Iterable[str], language: str, fallback: str) -> str | None:
    """Of the languages an entry is ``written`` in, the one to show a reader of
    ``language``: that one, else the fallback, else French, Dutch, German, English."""
    available = set(written)
    return next((lang for lang in (language, fallback, *LANGUAGES) if lang in available),
                None)


def text_in(entry: FaqEntry, language: str, fallback: str) -> tuple[FaqText, bool]:
    """The entry's wording in ``language``, else the fallback's or any; and whether it is
    the language asked for (so a page can say it is not)."""
    by_language = {t.language: t for t in entry.texts}
    lang = nearest_language(by_language, language, fallback)
    if lang is None:
        raise RnmailError(f"FAQ entry #{entry.id} has no text")
    return by_language[lang], lang == language


def detail_in(detail: dict[str, Any], language: str, fallback: str) -> dict[str, Any]:
    """An ``entry_detail`` for a reader of ``language``: ``shown`` (the language its
    ``question`` and ``answer`` are shown in, ``text_in``'s choice) and ``missing`` (the
    languages it is not written in yet)."""
    texts = detail["texts"]
    shown = nearest_language(texts, language, fallback)
    return {**detail, "shown": shown,
            "question": texts[shown]["question"] if shown else "",
            "answer": texts[shown]["answer"] if shown else "",
            "missing": [lang for lang in LANGUAGES if lang not in texts]}


@dataclass(frozen=True)
class FaqIndex:
    """The entries with their words folded once, to match many mails against them."""

    entries: list[tuple[FaqEntry, list[tuple[set[str], set[str]]]]]

    @classmethod
    def load(cls, session: Session, published_only: bool = False) -> FaqIndex:
        query = select(FaqEntry).options(selectinload(FaqEntry.texts)).order_by(FaqEntry.id)
        if published_only:
            query = query.where(FaqEntry.published.is_(True))
        return cls([(entry, [(_words(t.question), _words(t.answer)) for t in entry.texts])
                    for entry in session.scalars(query)])

    def best(self, text: str, limit: int = 3) -> list[tuple[FaqEntry, float]]:
        """The entries whose words best match ``text`` (question words count double)."""
        words = _words(text)
        if not words or not self.entries:
            return []
        scored = []
        for entry, texts in self.entries:
            score = max((2 * len(words & q) + len(words & a) for q, a in texts), default=0)
            if score > 0:
                scored.append((entry, score / len(words)))
        scored.sort(key=lambda pair: (-pair[1], pair[0].id))
        return scored[:limit]


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(fold(text)) if w not in _STOPWORDS}


def search_entries(session: Session, query: str, limit: int = 10) -> list[dict[str, Any]]:
    if not _WORD.findall(fold(query)):
        raise RnmailError.translatable(
            N_("search for at least one word of three letters or more"))
    return [{**entry_detail(e), "score": round(s, 3)}
            for e, s in FaqIndex.load(session).best(query, limit)]


def publish(session: Session, config: Config) -> list[Path]:
    """Render the published entries as static HTML, one page per language, and the
    accessibility statement their footers link to (beside the status page)."""
    out = public_folder(config.helpdesk.public_dir / "faq")
    statement = publish_statement(config.status, config.helpdesk)
    # Served beside the status page: by its address when known, else as the site lays
    # them out (/faq/<lang>.html and /accessibility.html).
    statement_url = (f"{config.status.public_url}/{statement.name}" if config.status.public_url
                     else f"../{statement.name}")
    entries = list(session.scalars(
        select(FaqEntry).where(FaqEntry.published.is_(True))
        .options(selectinload(FaqEntry.texts)).order_by(FaqEntry.category, FaqEntry.id)))
    written = []
    for language in LANGUAGES:
        items = []
        for entry in entries:
            text, exact = text_in(entry, language, config.helpdesk.default_language)
            items.append({"id": entry.id, "category": entry.category or "",
                          "question": text.question, "answer": text.answer,
                          "shown_in": None if exact else text.language})
        html = render_page("faq_page", language, {
            "helpdesk_name": config.helpdesk.name, "items": items, "languages": LANGUAGES,
            "names": {code: capitalised(language_name(code)) for code in LANGUAGES},
            "in_reader": {code: language_name(code, language) for code in LANGUAGES},
            "contact": contact_block(config.helpdesk, language).html,
            "statement": f"{statement_url}#{language}",
        })
        path = out / f"{language}.html"
        write_public_file(path, html)
        written.append(path)
    return written


def answer_for(session: Session, entry_id: int, language: str, fallback: str) -> str:
    """The entry's answer in the requester's language (or the nearest one written)."""
    text, _exact = text_in(get_entry(session, entry_id), language, fallback)
    return text.answer
