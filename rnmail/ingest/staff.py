"""Staff: a help-desk member answering a notification (or the second line a delegation).

A mail counts as a staff action only when it proves it answers a notification sent to that
staff member: it must reference the notification's Message-ID, whose signature (HMAC with
``helpdesk.secret``) names the staff member and the ticket, and come from that member's
address. Any other mail from an active staff address (a forged ``From:``, a reply that lost
its headers) is ``unproven``'s business; a second-line service's answer must likewise
reference the delegation mail sent to it.

Command lines at the top act on the ticket (``#close``, ``#pending [YYYY-MM-DD]``,
``#delegate SERVICE``, ``#assign EMAIL``, ``#category NAME``, ``#type TYPE``, ``#cc EMAIL``
makes an address a participant of the ticket, ``#merge N`` merges the ticket into ticket N,
``rnmail.tickets.merge``); ``#faq N`` answers with an FAQ entry, ``#text NAME`` adds a text
module (``rnmail.tickets.texts``) in the requester's language — refused, naming the
languages it has, when it has none in theirs;
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
comparing words, not quoting conventions (``rnmail.ingest.quoting``). A reply with no text
of its own left is refused, and the staff member is told so.

Next stage (for mail that is not a staff action): ``staff_mail`` (``unproven``).
"""

from __future__ import annotations

import difflib
import logging
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from sqlalchemy import select
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
from rnmail.dispatch.outbox import Queue, enqueue
from rnmail.dispatch.render import render
from rnmail.errors import RnmailError
from rnmail.ingest.parse import ParsedMail
from rnmail.ingest.quoting import reply_text, sent_texts
from rnmail.ingest.respond import StaffNotifier
from rnmail.ingest.thread import merged_target
from rnmail.models import FaqEntry, Message, Service, Staff, Ticket, utcnow
from rnmail.tickets import faq, lifecycle, texts
from rnmail.tickets.history import Actor, record_change
from rnmail.tickets.merge import merge, merge_problem, named_ticket
from rnmail.tickets.notes import refused_reply, second_line_author
from rnmail.util.addresses import deliverable_address
from rnmail.util.tokens import verify_message_id
from rnmail.vocab import RequesterType, TicketChange, TicketStatus, Via, normal_requester_type

log = logging.getLogger(__name__)
COMMANDS = ("comment", "close", "pending", "delegate", "assign", "category", "type", "faq",
            "text", "cc", "merge", SEND_COMMAND)
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
    "text": ("texte", "modele", "modèle", "tekst", "tekstblok", "textbaustein", "baustein"),
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
    "text": "no such text module; the modules are {value}",
    "text-language": "the text module has no text in the requester's language; it has "
                     "{value}",
    "day": "not a day after today and within a year, written YYYY-MM-DD",
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
    queue = Queue()
    StaffNotifier.load(session, config).notify(queue, ticket, mail, "service")
    queue.write(session)
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
            elif command.name == "text":  # "#text greeting": in the requester's language
                body = texts.with_text(session, ticket, body, command.argument, staff.email,
                                       config.helpdesk.zone)
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
    answers = ((bool(body) or any(c.name in ("faq", "text") for c in commands))
               and not comment) or any(
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
    """A service one may delegate to: not one that was removed (``service remove``)."""
    names = list(session.scalars(select(Service.name).where(Service.active)
                                 .order_by(Service.name)))
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


def _pending_day(session: Session, config: Config, ticket: Ticket, arg: str
                 ) -> Problem | None:
    if not arg:
        return None
    try:
        lifecycle.parse_pending_day(arg, lifecycle.local_today(config.helpdesk.zone))
    except RnmailError:
        return Problem("day")
    return None


def _faq(session: Session, config: Config, ticket: Ticket, arg: str) -> Problem | None:
    if not arg.isdigit() or session.get(FaqEntry, int(arg)) is None:
        return Problem("faq")
    return None


def _text(session: Session, config: Config, ticket: Ticket, arg: str) -> Problem | None:
    have = texts.missing_language(session, arg, ticket.language)
    if have is None:
        return None
    if have:
        return Problem("text-language", value=", ".join(have))
    known = texts.names(session)
    return Problem("text", value=", ".join(known) or "—", suggestion=suggest(arg, known))


def _merge(session: Session, config: Config, ticket: Ticket, arg: str) -> Problem | None:
    target = named_ticket(session, arg)
    if target is None:
        return Problem("merge-none")
    problem = merge_problem(session, ticket, target)
    return Problem(f"merge-{problem}") if problem else None


_STATUS_AFTER = {"close": TicketStatus.CLOSED, "pending": TicketStatus.PENDING,
                 "delegate": TicketStatus.DELEGATED, "merge": TicketStatus.CLOSED}
_CHECKS: dict[str, Callable[[Session, Config, Ticket, str], Problem | None]] = {
    "comment": _no_argument, "close": _no_argument, "pending": _pending_day,
    "delegate": _service, "assign": _staff, "category": _category, "type": _type, "faq": _faq,
    "text": _text, "cc": _cc, "merge": _merge, SEND_COMMAND: _no_argument,
}


def _apply(session: Session, config: Config, ticket: Ticket, command: Command,
           actor: Actor) -> None:
    if command.name == "close":
        lifecycle.close(ticket, actor)
    elif command.name == "pending":
        day = lifecycle.parse_pending_day(command.argument, lifecycle.local_today(
            config.helpdesk.zone)) if command.argument else None
        lifecycle.set_pending(ticket, actor, day)
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
    # "#comment", "#faq" and "#text" shape the text; they change nothing on the ticket itself


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
