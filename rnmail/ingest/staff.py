"""Staff: a help-desk member answering a notification (or the second line a delegation).

A mail counts as a staff action only when it proves it answers a notification sent to that
staff member: it must reference the notification's Message-ID, whose signature (HMAC with
``helpdesk.secret``) names the staff member and the ticket, and come from that member's
address. Any other mail from an active staff address (a forged ``From:``, a reply that lost
its headers) is ``unproven``'s business; a second-line service's answer must likewise
reference the delegation mail sent to it.

Command lines at the top act on the ticket (``#close``, ``#pending``, ``#delegate SERVICE``,
``#assign EMAIL``, ``#category NAME``, ``#type TYPE``, ``#cc EMAIL`` makes an address a
participant of the ticket, ``#merge N`` merges the ticket into ticket N,
``rnmail.tickets.merge``); ``#faq N`` answers with an FAQ entry;
``#comment`` makes the rest an internal note; any other text is relayed to the requester —
unless a colleague answered just before: then it is held (``rnmail.dispatch.hold``), and
``#send`` in a reply to the ``staff_held`` mail that says so sends it (that mail's signed
Message-ID proves the reply like a notification's; the reply's own text stays a note).
Every command is checked, in order and against the status the earlier ones leave, before
anything changes: one wrong command refuses the whole mail, and the staff member is told why
in their language (``Problem``: a code the ``staff_error`` template words per language, with
"did you mean" for a mistyped command — also for the French, Dutch or German word for it —
or a mistyped category, type or service).

Nothing of a mail rnmail sent to the staff is ever relayed: the text of the notifications the
reply references (and of every notification and delegation mail of the ticket) is cut from
the reply wherever it is quoted, whatever the client's quoting shape (``>``, an HTML
blockquote, Outlook's header block, an attribution line alone, re-wrapped lines), by
comparing words, not quoting conventions (``own_text``). A reply with no text of its own left
is refused, and the staff member is told so.

Next stage (for mail that is not a staff action): ``staff_mail`` (``unproven``).
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.dispatch.answer import answer_requester, delegate_to_service, requester_address
from rnmail.dispatch.compose import Attachment, Draft, compose
from rnmail.dispatch.hold import (
    HOLD_KIND,
    SEND_COMMAND,
    Source,
    answer_or_hold,
    named_held,
    send_held,
    tell_held,
)
from rnmail.dispatch.outbox import enqueue
from rnmail.dispatch.render import render
from rnmail.errors import RnmailError
from rnmail.ingest.parse import ParsedMail
from rnmail.ingest.respond import StaffNotifier
from rnmail.ingest.thread import merged_target
from rnmail.models import FaqEntry, Message, Service, Staff, Ticket, utcnow
from rnmail.tickets import faq, lifecycle
from rnmail.tickets.history import Actor, record_change
from rnmail.tickets.merge import merge, merge_problem, named_ticket
from rnmail.tickets.notes import refused_reply, second_line_author
from rnmail.util.addresses import deliverable_address
from rnmail.util.tokens import verify_message_id
from rnmail.vocab import RequesterType, TicketChange, TicketStatus, Via, normal_requester_type

log = logging.getLogger(__name__)
COMMANDS = ("comment", "close", "pending", "delegate", "assign", "category", "type", "faq",
            "cc", "merge", SEND_COMMAND)
NOTIFICATION_KIND = "n"  # Message-ID kind of a notification: "n<staff id>"
DELEGATION_KIND = "s"  # of a delegation to a second-line service: "s<service id>"
# The words staff may type for a command in their language: never accepted as commands (a
# command means the same for everyone), only suggested ("#categorie": did you mean
# "#category"?).
COMMAND_WORDS = {
    "comment": ("commentaire", "commenter", "remarque", "note", "interne", "opmerking",
                "commentaar", "notitie", "intern", "kommentar", "notiz"),
    "close": ("fermer", "clore", "cloturer", "clôturer", "clos", "ferme", "fermé", "sluiten",
              "afsluiten", "gesloten", "schliessen", "schließen", "abschliessen"),
    "pending": ("attente", "attendre", "suspendre", "wachten", "afwachten", "wachtend",
                "afwachting", "warten", "wartend"),
    "delegate": ("deleguer", "déléguer", "delegation", "délégation", "transferer",
                 "transférer", "delegeren", "doorsturen", "delegieren", "weiterleiten"),
    "assign": ("assigner", "attribuer", "affecter", "toewijzen", "toekennen", "zuweisen",
               "zuordnen"),
    "category": ("categorie", "catégorie", "rubrique", "kategorie", "rubriek"),
    "type": ("typ", "soort", "genre", "art"),
    "faq": ("vragen", "foire"),
    "cc": ("copie", "kopie", "copy"),
    "merge": ("fusionner", "fusion", "samenvoegen", "zusammenfuehren", "zusammenführen"),
    SEND_COMMAND: ("envoyer", "envoie", "envoi", "expedier", "expédier", "verzenden",
                   "versturen", "verstuur", "verzend", "zenden", "senden", "abschicken",
                   "anyway", "toch"),
}


@dataclass(frozen=True)
class Problem:
    """Why a staff mail is refused: a ``code`` the ``staff_error`` template words in the
    staff member's language; ``str()`` is the English line of the ticket's note and the
    log."""

    code: str
    command: str = ""  # the command line as written: "#category acces-key"
    value: str = ""  # what the text names: the known values, the requester
    suggestion: str = ""  # "did you mean": a command name or a known value

    def __str__(self) -> str:
        text = PROBLEM_TEXTS[self.code].format(value=self.value)
        if self.suggestion:
            text += f" (did you mean {self.suggestion}?)"
        return f"{self.command}: {text}" if self.command else text


PROBLEM_TEXTS = {
    "unknown": "unknown command",
    "no-argument": "takes no argument",
    "service": "no such service; services are {value}",
    "staff": "no such staff member",
    "category": "categories are {value}",
    "type": "types are {value}",
    "address": "not a mail address",
    "helpdesk": "that is the help desk",
    "faq": "no such FAQ entry",
    "closed": "the ticket is closed",
    "empty": "the reply is empty",
    "quoted-only": "the reply holds no text of its own, only the quoted notification",
    "answer-closed": "the ticket is closed; reopen it first",
    "unreachable": "the requester ({value}) cannot be reached by mail",
    "not-held": "no held answer of yours to send: reply with it to the mail that said it "
                "was held (it may have been sent or discarded already)",
    "merge-none": "no such ticket to merge into",
    "merge-self": "a ticket cannot be merged into itself",
    "merge-source-merged": "this ticket was merged already",
    "merge-target-merged": "that ticket was merged into another: merge into that one",
    "merge-chain": "tickets were merged into this one: merge the other ticket into it instead",
}
# The refusal of a reply that only quotes what we sent.
EMPTY = Problem("empty")
QUOTED_ONLY = Problem("quoted-only")


def suggest(word: str, known: Iterable[str],
            aliases: dict[str, tuple[str, ...]] | None = None) -> str:
    """The known value closest to ``word`` (also through the ``aliases`` of each value), or
    "" when none is close enough: ``difflib``, case- and accent-blind."""
    choices: dict[str, str] = {}
    for value in known:
        for spelling in (value, *(aliases or {}).get(value, ())):
            choices.setdefault(_fold(spelling), value)
    if _fold(word) in choices:
        return choices[_fold(word)]
    close = difflib.get_close_matches(_fold(word), list(choices), n=1, cutoff=0.7)
    return choices[close[0]] if close else ""


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class Command:
    name: str
    argument: str


def notification_kind(staff: Staff) -> str:
    return f"{NOTIFICATION_KIND}{staff.id}"


def recognise(session: Session, mail: ParsedMail,
              secret: str) -> tuple[Staff | Service, Ticket] | None:
    """The staff member (or second-line service) and ticket this mail answers, if the mail
    proves it: it references a mail we signed for them, and comes from their address."""
    for message_id in mail.thread_ids:
        verified = verify_message_id(secret, message_id)
        if verified is None:
            continue
        kind, ticket_id = verified
        if kind[:1] == HOLD_KIND:  # "h<staff id>-<held id>": our staff_held mail
            kind = NOTIFICATION_KIND + kind[1:].partition("-")[0]
        if kind[:1] not in (NOTIFICATION_KIND, DELEGATION_KIND) or not kind[1:].isdigit():
            continue
        who: Staff | Service | None = (
            session.get(Staff, int(kind[1:])) if kind[:1] == NOTIFICATION_KIND
            else session.get(Service, int(kind[1:])))
        if who is None or getattr(who, "active", True) is False or (
                who.email != mail.from_addr.lower()):
            log.warning("token of %s for another sender message_id=%s from=%s",
                        kind, mail.message_id, mail.from_addr)
            continue
        ticket = session.get(Ticket, ticket_id)
        if ticket is not None:  # a merged ticket's notification: the ticket it went into
            return who, merged_target(ticket)
    return None


def handle_service_reply(session: Session, config: Config, service: Service, ticket: Ticket,
                         mail: ParsedMail, raw_sha256: str) -> Message:
    """The second line answered: straight to the requester, or to the help desk for review
    (``[workflow].service_answers``), who is told either way."""
    body = reply_text(mail.display_text, mail.text,
                      sent_texts(session, config.helpdesk.secret, ticket, mail))
    if config.workflow.service_answers == "requester" and body and requester_address(
            config, ticket) is not None and ticket.status != TicketStatus.CLOSED:
        attachments = [Attachment(a.filename, a.content_type, a.data)
                       for a in mail.attachments if a.data is not None and not a.inline]
        record = answer_requester(session, config, ticket, body, attachments,
                                  second_line_author(config.helpdesk.default_language,
                                                     service.name),
                                  actor=Actor.of_service(service))
        record.dedupe_key, record.raw_sha256 = mail.dedupe_key, raw_sha256
    else:
        record = Message(ticket=ticket, direction="in", kind="comment",
                         message_id=mail.message_id, dedupe_key=mail.dedupe_key,
                         from_addr=service.email, from_name=service.name, to_addrs=mail.to,
                         cc_addrs=mail.cc, subject=mail.subject, date=mail.date,
                         text=mail.text, display_text=body or mail.display_text,
                         raw_sha256=raw_sha256,
                         raw_size=len(mail.raw))
        session.add(record)
        record_change(ticket, TicketChange.SERVICE_ANSWER, None, service.name,
                      Actor.of_service(service))
    ticket.updated_at = utcnow()
    StaffNotifier.load(session, config).notify(session, ticket, mail, "service")
    log.info("second line answered ticket=%d service=%s", ticket.id, service.name)
    return record


def read_commands(text: str) -> tuple[list[Command], str]:
    """The ``#command`` lines at the top of ``text``, and the text after them."""
    lines = text.strip().splitlines()
    commands = []
    while lines and lines[0].strip().startswith("#"):
        name, _, argument = lines.pop(0).strip()[1:].partition(" ")
        commands.append(Command(name.lower(), argument.strip()))
    return commands, "\n".join(lines).strip()


def handle_staff_reply(session: Session, config: Config, staff: Staff, ticket: Ticket,
                       mail: ParsedMail, raw_sha256: str) -> Message:
    """Carry out a staff member's reply; returns the ticket message that records it (the
    relayed answer, an internal note, or the refused mail as a note)."""
    commands, body = read_commands(mail.display_text)
    written = bool(body)
    body = reply_text(body, read_commands(mail.text)[1],
                      sent_texts(session, config.helpdesk.secret, ticket, mail))
    # "#send" sends the held answer the mail replies to; its own text stays a note
    held = named_held(session, config.helpdesk.secret, staff, ticket, mail.thread_ids)
    comment = any(c.name in ("comment", SEND_COMMAND) for c in commands)
    errors = _check(session, config, ticket, commands, body, comment)
    if held is None and any(c.name == SEND_COMMAND for c in commands):
        errors.append(Problem("not-held", f"#{SEND_COMMAND}"))
    if not commands and not body and written:  # only what we sent, quoted: never relayed
        errors = [QUOTED_ONLY if e == EMPTY else e for e in errors]
    if not errors:
        for command in commands:  # "#faq 12": the entry's answer, in the requester's language
            if command.name == "faq":
                answer = faq.answer_for(session, int(command.argument), ticket.language,
                                        config.helpdesk.default_language)
                body = f"{body}\n\n{answer}" if body else answer
    if errors:
        _tell_staff(session, config, staff, ticket, errors)
        log.warning("staff reply refused ticket=%d staff=%s errors=%s", ticket.id, staff.email,
                    "; ".join(map(str, errors)))
        return _note(session, ticket, staff, mail, raw_sha256,
                     refused_reply(config.helpdesk.default_language, errors))
    if body and not comment:
        attachments = [Attachment(a.filename, a.content_type, a.data)
                       for a in mail.attachments if a.data is not None and not a.inline]
        outcome = answer_or_hold(
            session, config, ticket, body, attachments, staff,
            actor=Actor.of_staff(staff, Via.MAIL), mail=Source(
                mail.message_id, mail.dedupe_key, raw_sha256, len(mail.raw), mail.subject))
        record = outcome.message
        if outcome.held_by is not None:
            tell_held(session, config, staff, outcome, mail.message_id)
    else:
        record = _note(session, ticket, staff, mail, raw_sha256,
                       body or " ".join(f"#{c.name} {c.argument}".strip() for c in commands))
    for command in commands:
        if command.name == SEND_COMMAND and held is not None:
            send_held(session, config, held, Actor.of_staff(staff, Via.MAIL))
        _apply(session, config, ticket, command, Actor.of_staff(staff, Via.MAIL))
    ticket.updated_at = utcnow()
    return record


def _note(session: Session, ticket: Ticket, staff: Staff, mail: ParsedMail, raw_sha256: str,
          text: str) -> Message:
    """The staff mail kept as an internal note (never sent to the requester)."""
    note = Message(ticket=ticket, direction="in", kind="comment",
                   message_id=mail.message_id, dedupe_key=mail.dedupe_key,
                   from_addr=staff.email, from_name=staff.name, author=staff,
                   to_addrs=mail.to, cc_addrs=mail.cc, subject=mail.subject, date=mail.date,
                   text=mail.text, display_text=text, raw_sha256=raw_sha256,
                   raw_size=len(mail.raw))
    session.add(note)
    record_change(ticket, TicketChange.NOTE, None, " ".join(text.split())[:80],
                  Actor.of_staff(staff, Via.MAIL))
    return note


def _check(session: Session, config: Config, ticket: Ticket, commands: list[Command],
           body: str, comment: bool) -> list[Problem]:
    errors = []
    status = ticket.status  # as it will be after the commands before this one
    for command in commands:
        written = f"#{command.name} {command.argument}".strip()
        check = _CHECKS.get(command.name)
        if check is None:
            errors.append(Problem("unknown", f"#{command.name}", suggestion=(
                "#" + found if (found := suggest(command.name, COMMANDS, COMMAND_WORDS))
                else "")))
            continue
        problem = check(session, config, ticket, command.argument)
        if problem is None and command.name in _STATUS_AFTER:
            if status == TicketStatus.CLOSED and command.name != "merge":
                problem = Problem("closed")
            else:
                status = _STATUS_AFTER[command.name]
        if problem:
            errors.append(replace(problem, command=written))
    if not commands and not body:
        errors.append(EMPTY)
    answers = ((bool(body) or any(c.name == "faq" for c in commands)) and not comment) or any(
        c.name == SEND_COMMAND for c in commands)  # "#send": the held answer goes out
    if answers and ticket.status == TicketStatus.CLOSED:
        errors.append(Problem("answer-closed"))
    if answers and requester_address(config, ticket) is None:
        errors.append(Problem("unreachable", value=ticket.requester))
    return errors


def _no_argument(session: Session, config: Config, ticket: Ticket, arg: str
                 ) -> Problem | None:
    return Problem("no-argument") if arg else None


def _service(session: Session, config: Config, ticket: Ticket, arg: str) -> Problem | None:
    names = list(session.scalars(select(Service.name).order_by(Service.name)))
    if arg in names:
        return None
    return Problem("service", value=", ".join(names) or "—", suggestion=suggest(arg, names))


def _staff(session: Session, config: Config, ticket: Ticket, arg: str) -> Problem | None:
    found = session.scalars(select(Staff).where(Staff.email == arg.lower())).first()
    return None if found is not None and found.active else Problem("staff")


def _category(session: Session, config: Config, ticket: Ticket, arg: str) -> Problem | None:
    known = config.workflow.categories
    return None if arg in known else Problem("category", value=", ".join(known),
                                             suggestion=suggest(arg, known))


def _type(session: Session, config: Config, ticket: Ticket, arg: str) -> Problem | None:
    try:
        normal_requester_type(arg)
    except RnmailError:
        return Problem("type", value=", ".join(RequesterType),
                       suggestion=suggest(arg, list(RequesterType)))
    return None


def _cc(session: Session, config: Config, ticket: Ticket, arg: str) -> Problem | None:
    address = deliverable_address(arg)
    if address is None:
        return Problem("address")
    return Problem("helpdesk") if address.lower() in config.helpdesk.own_addresses else None


def _faq(session: Session, config: Config, ticket: Ticket, arg: str) -> Problem | None:
    if not arg.isdigit() or session.get(FaqEntry, int(arg)) is None:
        return Problem("faq")
    return None


def _merge(session: Session, config: Config, ticket: Ticket, arg: str) -> Problem | None:
    target = named_ticket(session, arg)
    if target is None:
        return Problem("merge-none")
    problem = merge_problem(session, ticket, target)
    return Problem(f"merge-{problem}") if problem else None


_STATUS_AFTER = {"close": TicketStatus.CLOSED, "pending": TicketStatus.PENDING,
                 "delegate": TicketStatus.DELEGATED, "merge": TicketStatus.CLOSED}
_CHECKS: dict[str, Callable[[Session, Config, Ticket, str], Problem | None]] = {
    "comment": _no_argument, "close": _no_argument, "pending": _no_argument,
    "delegate": _service, "assign": _staff, "category": _category, "type": _type, "faq": _faq,
    "cc": _cc, "merge": _merge, SEND_COMMAND: _no_argument,
}


def _apply(session: Session, config: Config, ticket: Ticket, command: Command,
           actor: Actor) -> None:
    if command.name == "close":
        lifecycle.close(ticket, actor)
    elif command.name == "pending":
        lifecycle.set_pending(ticket, actor)
    elif command.name == "delegate":
        delegate_to_service(session, config, ticket,
                            lifecycle.find_service(session, command.argument), actor)
    elif command.name == "assign":
        lifecycle.assign(ticket, lifecycle.find_staff(session, command.argument), actor)
    elif command.name == "category":
        lifecycle.set_category(ticket, command.argument, config.workflow, actor)
    elif command.name == "type":
        lifecycle.set_requester_type(ticket, command.argument, actor)
    elif command.name == "cc":
        lifecycle.add_participant(ticket, command.argument, actor,
                                  config.helpdesk.own_addresses)
    elif command.name == "merge":
        target = named_ticket(session, command.argument)
        assert target is not None  # checked by _merge
        merge(session, ticket, target, actor)
    # "#comment" and "#faq" shape the text; they change nothing on the ticket itself


def _tell_staff(session: Session, config: Config, staff: Staff, ticket: Ticket,
                errors: list[Problem]) -> None:
    hd = config.helpdesk
    rendered = render("staff_error", staff.language, hd.default_language,
                      {"tag": hd.tag, "ticket_id": ticket.id, "errors": errors},
                      helpdesk=hd)
    enqueue(session, compose(hd, Draft(to=[staff.email], rendered=rendered, kind="err",
                                       ticket_id=ticket.id, generated=True)),
            purpose="staff-error")


# --- what of a reply is the staff member's own text -------------------------------------------

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
