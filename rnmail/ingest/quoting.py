"""What in a staff member's reply is their own text: the notifications and delegation mails
rnmail sent them are cut wherever they are quoted, whatever the client's quoting shape
(``>``, an HTML blockquote, Outlook's header block, an attribution line alone, re-wrapped
lines), by comparing words, not quoting conventions (``own_text``). Used by ``staff`` for
the staff's and the second line's replies.
"""

from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rnmail.ingest.parse import ParsedMail
from rnmail.models import Message, Ticket
from rnmail.util.tokens import verify_message_id

_WORD_RE = re.compile(r"\w+")
_HEADER_RE = re.compile(  # a line of a quoted header block (Outlook, Apple Mail, forwards)
    r"^\s*[*_]*(from|sent|to|cc|bcc|subject|date|reply-to|de|envoy[ée]|[àa]|objet|van|"
    r"verzonden|aan|onderwerp|datum|von|gesendet|an|betreff|antwort an)[*_]*\s*:", re.I)
_SEPARATOR_RE = re.compile(
    r"^\s*(?:[-_=*~]{3,}\s*(?:[^\w\s]*\s*[\w' ]{0,40}(?:original|origine|oorspronkelijk|"
    r"ursprüngliche|forwarded|transféré|doorgestuurd|weitergeleitete)[\w' ]{0,40}\s*"
    r"[-_=*~]*)?|[-_=*~]{3,}.*[-_=*~]{3,})\s*$", re.I)
_ATTRIBUTION_END_RE = re.compile(r"\b(a\s+écrit|schreef|schrieb|wrote)\b[^\n]{0,200}:\s*$", re.I)
_ATTRIBUTION_START_RE = re.compile(r"^\s*(le|op|am|on)\s.*\d", re.I)
QUOTE_WORDS = 6  # so many words of ours in a row make a quotation, not a coincidence


def sent_texts(session: Session, secret: str, ticket: Ticket, mail: ParsedMail) -> list[str]:
    """The subject and text of what we sent that this reply may quote: the mails whose
    signed Message-ID it references, and every notification and delegation mail of the
    ticket (a client may quote an older one)."""
    ours = [mid for mid in mail.thread_ids if verify_message_id(secret, mid) is not None]
    rows = session.execute(select(Message.subject, Message.text).where(
        Message.direction == "out",
        or_(Message.message_id.in_(ours),
            (Message.ticket_id == ticket.id) & (Message.kind == "notification")))).all()
    return [f"{subject or ''}\n{text or ''}" for subject, text in rows]


def reply_text(shown: str, whole: str, sent: list[str]) -> str:
    """The writer's own text of a reply: of its display text (quotes and signature already
    stripped by ``parse``) when that is part of what ``own_text`` finds in the whole text,
    else of the whole text — the parser's quoting conventions can leave a scrap of a quote
    header ("Le") or lose an answer written below the quote."""
    own = own_text(whole, sent)
    if not own:
        return ""
    shown = own_text(shown, sent)
    return shown if shown and f" {_words(shown)} " in f" {_words(own)} " else own


def _words(line: str) -> str:
    return " ".join(w.casefold() for w in _WORD_RE.findall(line))


def _kind(line: str, references: list[str]) -> tuple[str, int]:
    """``blank`` (no words), ``quoted`` (``>``), ``header`` (a quote's header, attribution or
    separator), ``match`` (words we sent, in a row: a quoted or re-wrapped line of ours) or
    ``own``; with the number of words that matched."""
    stripped = line.strip()
    if stripped.startswith(">"):
        return "quoted", 0
    if _SEPARATOR_RE.match(stripped) or _ATTRIBUTION_END_RE.search(stripped) or (
            _HEADER_RE.match(stripped) and len(stripped) < 300):
        return "header", 0
    words = _words(stripped)
    if not words:
        return "blank", 0
    if any(f" {words} " in reference for reference in references):
        return "match", words.count(" ") + 1
    return "own", 0


def own_text(text: str, sent: list[str]) -> str:
    """``text`` without anything quoted from ``sent`` (mails we sent).

    The lines are grouped in blocks of lines that are not the writer's own (quoted with
    ``>``, a quote's header, or words of ours in a row, re-wrapped or not). A block that
    holds ``>`` lines, a header followed by our words, or at least ``QUOTE_WORDS`` of our
    words is a quotation: a ``>`` quotation is dropped and what follows kept (bottom posting,
    interleaved answers); any other quotation is cut with everything after it, since without
    quote marks nothing after it can be told apart from the quoted mail.
    """
    references = [f" {_words(t)} " for t in sent if _words(t)]
    lines = text.splitlines()
    kinds = [_kind(line, references) for line in lines]
    for i, line in enumerate(lines):  # "Le 28 nov. 2026 à 10:00, Help Desk <" + "info@…> a écrit :"
        if (kinds[i][0] == "header" and i > 0 and kinds[i - 1][0] in ("own", "match")
                and _ATTRIBUTION_START_RE.match(lines[i - 1])
                and _ATTRIBUTION_END_RE.search(line)):
            kinds[i - 1] = ("header", 0)
    whole = min(QUOTE_WORDS, max((r.count(" ") - 1 for r in references), default=0)) or 1
    kept: list[str] = []
    i = 0
    while i < len(lines):
        if kinds[i][0] == "own":
            kept.append(lines[i])
            i += 1
            continue
        end = i
        while end < len(lines) and kinds[end][0] != "own":
            end += 1
        block = [k for k, _ in kinds[i:end]]
        matched = sum(n for _, n in kinds[i:end])
        header_then_ours = "header" in block and any(
            k in ("match", "quoted") for k in block[block.index("header"):])
        if "match" in block and (matched >= whole or header_then_ours):
            break  # our text, unmarked: the rest cannot be told apart from it
        if "quoted" in block or header_then_ours:
            i = end  # a ">" quotation: dropped, what follows is the writer's again
            continue
        if any(k == "header" for k in block) and end == len(lines):
            break  # a quote header with nothing after it ("Le … a écrit :" alone)
        kept.extend(lines[i:end])
        i = end
    return "\n".join(kept).strip()
