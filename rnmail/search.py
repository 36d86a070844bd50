"""Full-text search over tickets (subjects and message texts), accents folded.

``débloquer`` and ``debloquer`` find the same tickets. Every word must match (the last one
may be the start of a word, as people type); the tickets with the most recent matching mail
come first, as in a mail client.
SQLite uses the FTS5 table kept by triggers, PostgreSQL GIN indexes over folded text (see
migration 0003).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, joinedload

from rnmail.errors import RnmailError
from rnmail.folding import fold
from rnmail.models import Ticket
from rnmail.tickets import ticket_summary

_WORD = re.compile(r"\w+", re.UNICODE)


def search_tickets(session: Session, query: str, limit: int = 50) -> list[dict[str, Any]]:
    """Tickets matching every word of ``query``, the most recent matching mail first."""
    words = _WORD.findall(fold(query))
    if not words:
        raise RnmailError("search for at least one word")
    # Newest first lets both databases stop after the first hits instead of ranking every
    # match of a common word: a few hits more than asked, as one ticket may match twice.
    candidates = limit * 4
    if session.get_bind().dialect.name == "sqlite":
        hits = _sqlite(session, words, candidates)
    else:
        hits = _postgresql(session, words, candidates)
    ids = list(dict.fromkeys(hits))[:limit]
    tickets = {t.id: t for t in session.scalars(
        select(Ticket).where(Ticket.id.in_(ids))
        .options(joinedload(Ticket.assignee), joinedload(Ticket.service)))}
    return [ticket_summary(tickets[i]) for i in ids if i in tickets]


def _sqlite(session: Session, words: list[str], limit: int) -> list[int]:
    """Message rows (rowid = message id) newest first, then ticket subjects (rowid < 0)."""
    match = " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'
    rows = session.execute(text(
        "SELECT ticket_id FROM search_index WHERE search_index MATCH :match "
        "ORDER BY rowid DESC LIMIT :limit"
    ), {"match": match.strip(), "limit": limit})
    return [int(row[0]) for row in rows]


def _postgresql(session: Session, words: list[str], limit: int) -> list[int]:
    tsquery = " & ".join([*words[:-1], f"{words[-1]}:*"])
    params = {"tsquery": tsquery, "limit": limit}
    messages = session.execute(text(
        "SELECT ticket_id FROM message WHERE search_vector @@ to_tsquery('simple', :tsquery) "
        "ORDER BY id DESC LIMIT :limit"), params)
    subjects = session.execute(text(
        "SELECT id FROM ticket WHERE search_vector @@ to_tsquery('simple', :tsquery) "
        "ORDER BY id DESC LIMIT :limit"), params)
    return [int(row[0]) for row in messages] + [int(row[0]) for row in subjects]
