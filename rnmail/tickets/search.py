"""Full-text search over tickets (subjects and message texts), accents folded.

``débloquer`` and ``debloquer`` find the same tickets. Every word must match (the last one
may be the start of a word, as people type); the tickets with the most recent matching mail
come first, as in a mail client.
Every ticket has at least one message (a call logged by hand gets one), and each message
carries its subject, so the messages are what is indexed: SQLite in the FTS5 table kept by
triggers, PostgreSQL in a GIN index over a stored vector of folded text (migration 0003).
"""

from __future__ import annotations

import re

from sqlalchemy import select, text
from sqlalchemy.orm import Session, joinedload

from rnmail.errors import RnmailError
from rnmail.models import Ticket
from rnmail.shapes import TicketSummary
from rnmail.tickets.views import ticket_summary
from rnmail.util.folding import fold

_WORD = re.compile(r"\w+", re.UNICODE)


PAGE = 200  # matching messages read per step, newest first
MAX_PAGES = 25  # a word in nearly every mail: the newest 5,000 mentions are enough


def search_tickets(session: Session, query: str, limit: int = 50,
                   page_size: int = PAGE) -> list[TicketSummary]:
    """Tickets matching every word of ``query``, the most recent matching mail first."""
    words = _WORD.findall(fold(query))
    if not words:
        raise RnmailError("search for at least one word")
    page = _sqlite if session.get_bind().dialect.name == "sqlite" else _postgresql
    # Newest first lets both databases stop after the first hits instead of ranking every
    # match of a common word; read on until ``limit`` distinct tickets (a ticket's replies
    # repeat its subject, so one ticket may match many times).
    ids: dict[int, None] = {}
    for number in range(MAX_PAGES):
        hits = page(session, words, page_size, number * page_size)
        ids.update(dict.fromkeys(hits))
        if len(ids) >= limit or len(hits) < page_size:
            break
    chosen = list(ids)[:limit]
    tickets = {t.id: t for t in session.scalars(
        select(Ticket).where(Ticket.id.in_(chosen))
        .options(joinedload(Ticket.assignee), joinedload(Ticket.service)))}
    return [ticket_summary(tickets[i]) for i in chosen if i in tickets]


def _sqlite(session: Session, words: list[str], limit: int, offset: int) -> list[int]:
    match = " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'
    rows = session.execute(text(
        "SELECT ticket_id FROM search_index WHERE search_index MATCH :match "
        "ORDER BY rowid DESC LIMIT :limit OFFSET :offset"
    ), {"match": match.strip(), "limit": limit, "offset": offset})
    return [int(row[0]) for row in rows]


def _postgresql(session: Session, words: list[str], limit: int, offset: int) -> list[int]:
    tsquery = " & ".join([*words[:-1], f"{words[-1]}:*"])
    rows = session.execute(text(
        "SELECT ticket_id FROM message WHERE search_vector @@ to_tsquery('simple', :tsquery) "
        "ORDER BY id DESC LIMIT :limit OFFSET :offset"
    ), {"tsquery": tsquery, "limit": limit, "offset": offset})
    return [int(row[0]) for row in rows]
