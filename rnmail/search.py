"""Full-text search over tickets (subjects and message texts), accents folded.

``débloquer`` and ``debloquer`` find the same tickets. Every word must match (the last one
may be the start of a word, as people type); results are the best-matching tickets first.
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
    words = _WORD.findall(fold(query))
    if not words:
        raise RnmailError("search for at least one word")
    if session.get_bind().dialect.name == "sqlite":
        ids = _sqlite(session, words, limit)
    else:
        ids = _postgresql(session, words, limit)
    tickets = {t.id: t for t in session.scalars(
        select(Ticket).where(Ticket.id.in_(ids))
        .options(joinedload(Ticket.assignee), joinedload(Ticket.service)))}
    return [ticket_summary(tickets[i]) for i in ids if i in tickets]


def _sqlite(session: Session, words: list[str], limit: int) -> list[int]:
    match = " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'
    rows = session.execute(text(
        "SELECT ticket_id FROM search_index WHERE search_index MATCH :match "
        "GROUP BY ticket_id ORDER BY min(rank) LIMIT :limit"
    ), {"match": match.strip(), "limit": limit})
    return [int(row[0]) for row in rows]


def _postgresql(session: Session, words: list[str], limit: int) -> list[int]:
    tsquery = " & ".join([*words[:-1], f"{words[-1]}:*"])
    rows = session.execute(text("""
        WITH q AS (SELECT to_tsquery('simple', :tsquery) AS q),
        hits AS (
            SELECT m.ticket_id, ts_rank(to_tsvector('simple',
                       rn_fold(m.subject || ' ' || m.display_text)), q.q) AS rank
            FROM message m, q
            WHERE to_tsvector('simple', rn_fold(m.subject || ' ' || m.display_text)) @@ q.q
            UNION ALL
            SELECT t.id, ts_rank(to_tsvector('simple', rn_fold(t.subject)), q.q)
            FROM ticket t, q
            WHERE to_tsvector('simple', rn_fold(t.subject)) @@ q.q
        )
        SELECT ticket_id FROM hits GROUP BY ticket_id ORDER BY max(rank) DESC, ticket_id DESC
        LIMIT :limit
    """), {"tsquery": tsquery, "limit": limit})
    return [int(row[0]) for row in rows]
