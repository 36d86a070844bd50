"""Full-text search over tickets (subjects and message texts), accents folded.

``débloquer`` and ``debloquer`` find the same tickets. Every word must match (the last one
may be the start of a word, as people type); the tickets with the most recent matching mail
come first, as in a mail client.
Every ticket has at least one message (a call logged by hand gets one), and each message
carries its subject, so the messages are what is indexed: SQLite in the FTS5 table kept by
triggers, PostgreSQL in a GIN index over a stored vector of folded text (migration 0003).

Phone and fax numbers are one word in any notation: each message's numbers, and its ticket's
requester's, are indexed as their E.164 digits (``message.search_numbers``, migration 0012),
and a number in the query is looked up the same way, or as the words it was typed as
(``087/59.11.11``: ``087 59 11 11`` in a row). A query that is a ticket number (``8``,
``#8``) gives that ticket first, then the tickets that mention the number; a query that holds
an e-mail address gives that requester's tickets first (newest first: the requester index),
then the tickets that mention the address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session, joinedload

from rnmail.errors import RnmailError
from rnmail.i18n.catalogues import N_
from rnmail.models import Ticket
from rnmail.shapes import TicketRow
from rnmail.tickets.views import ticket_rows
from rnmail.util.folding import fold
from rnmail.util.phone import number_spans

_WORD = re.compile(r"\w+", re.UNICODE)
_TICKET = re.compile(r"#?\s*\d{1,9}")
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


PAGE = 200  # matching messages read per step, newest first
MAX_PAGES = 25  # a word in nearly every mail: the newest 5,000 mentions are enough


@dataclass(frozen=True)
class Query:
    """A query as the index reads it: words (the last one may be a prefix), numbers (E.164
    digits, each with the words it was typed as) and the ticket it names, if it is one."""

    words: list[str]
    numbers: list[tuple[str, list[str]]]
    ticket_id: int | None
    addresses: list[str]
    """The e-mail addresses in the query (lower case): their requester's tickets first."""


def parse_query(query: str) -> Query:
    bare = query.strip()
    ticket_id = int(bare.lstrip("#").strip()) if _TICKET.fullmatch(bare) else None
    numbers, rest, last = [], [], 0
    for start, end, number in number_spans(query):
        rest.append(query[last:start])
        numbers.append((number.lstrip("+"), _WORD.findall(query[start:end])))
        last = end
    rest.append(query[last:])
    addresses = list(dict.fromkeys(a.lower() for a in _ADDRESS.findall(query)))
    return Query(_WORD.findall(fold(" ".join(rest))), numbers, ticket_id, addresses)


def search_tickets(session: Session, query: str, limit: int = 50,
                   page_size: int = PAGE) -> list[TicketRow]:
    """Tickets matching every word and number of ``query``, the most recent matching mail
    first; the ticket it names (``#8``) and the tickets of the requester whose address it
    holds before them."""
    parsed = parse_query(query)
    if not parsed.words and not parsed.numbers:
        raise RnmailError.translatable(N_("search for at least one word"))
    page = _sqlite if session.get_bind().dialect.name == "sqlite" else _postgresql
    # Newest first lets both databases stop after the first hits instead of ranking every
    # match of a common word; read on until ``limit`` distinct tickets (a ticket's replies
    # repeat its subject, so one ticket may match many times).
    ids: dict[int, None] = {}
    if parsed.ticket_id is not None and session.get(Ticket, parsed.ticket_id) is not None:
        ids[parsed.ticket_id] = None
    if parsed.addresses:
        ids.update(dict.fromkeys(session.scalars(
            select(Ticket.id).where(Ticket.requester.in_(parsed.addresses))
            .order_by(Ticket.id.desc()).limit(limit))))
    for number in range(MAX_PAGES):
        if len(ids) >= limit:
            break
        hits = page(session, parsed, page_size, number * page_size)
        ids.update(dict.fromkeys(hits))
        if len(hits) < page_size:
            break
    chosen = list(ids)[:limit]
    tickets = {t.id: t for t in session.scalars(
        select(Ticket).where(Ticket.id.in_(chosen))
        .options(joinedload(Ticket.assignee), joinedload(Ticket.service)))}
    return ticket_rows(session, [tickets[i] for i in chosen if i in tickets])


def _sqlite(session: Session, query: Query, limit: int, offset: int) -> list[int]:
    words = query.words
    # A bare number ("8") is a whole word, not the start of every number.
    prefix = "" if query.ticket_id is not None else "*"
    terms = [f'"{w}"' for w in words[:-1]] + ([f'"{words[-1]}"{prefix}'] if words else [])
    terms += [f'("{digits}" OR "{" ".join(typed)}")' for digits, typed in query.numbers]
    rows = session.execute(text(
        "SELECT ticket_id FROM search_index WHERE search_index MATCH :match "
        "ORDER BY rowid DESC LIMIT :limit OFFSET :offset"
    ), {"match": " AND ".join(terms), "limit": limit, "offset": offset})
    return [int(row[0]) for row in rows]


def _postgresql(session: Session, query: Query, limit: int, offset: int) -> list[int]:
    words = query.words
    prefix = "" if query.ticket_id is not None else ":*"
    terms = [*words[:-1], f"{words[-1]}{prefix}"] if words else []
    terms += [f"({digits} | {' <-> '.join(typed)})" for digits, typed in query.numbers]
    rows = session.execute(text(
        "SELECT ticket_id FROM message WHERE search_vector @@ to_tsquery('simple', :tsquery) "
        "ORDER BY id DESC LIMIT :limit OFFSET :offset"
    ), {"tsquery": " & ".join(terms), "limit": limit, "offset": offset})
    return [int(row[0]) for row in rows]
