"""Tickets: inspect them, log phone calls, and move them through their life."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from cli.app import ROW_ID, TICKET, App, emit_json, handle_errors, login_name, pass_app
from cli.ticket_due import ticket_due
from cli.ticket_hold import ticket_hold, ticket_unhold
from cli.ticket_merge import ticket_merge, ticket_split
from cli.ticket_queue import filter_options, ticket_filter, ticket_queue
from cli.ticket_text import ticket_lines
from rnmail.vocab import (
    CLOSING_RESOLUTIONS,
    ArchiveFormat,
    CallOutcome,
    Channel,
    TicketStatus,
    strings,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from rnmail.models import Ticket
    from rnmail.tickets.history import Actor


@click.group()
def ticket() -> None:
    """Tickets: inspect them, log calls, answer, delegate and close them."""


for command in (ticket_queue, ticket_due, ticket_merge, ticket_split, ticket_hold, ticket_unhold):
    ticket.add_command(command)


AUTHOR = click.option(
    "--author", envvar="RNMAIL_STAFF", default="help desk", show_default=True,
    help="Who writes it: your staff address or name (recorded as the author), or any name "
    "(or $RNMAIL_STAFF).")


ACTOR = click.option(
    "--author", envvar="RNMAIL_STAFF",
    help="Who does it, for the ticket's history: your staff address or name, or any name "
    "(or $RNMAIL_STAFF; default: your login name).")


def _actor(author: str | None) -> Callable[[Session], Actor]:
    """The actor of a command, found in its transaction: ``--author`` and the OS user."""
    from rnmail.tickets.lifecycle import cli_actor

    login = login_name()
    return lambda session: cli_actor(session, author, login)


def _cut(text: str, width: int | None) -> str:
    """``text`` in at most ``width`` characters, an ellipsis marking a cut."""
    return text if width is None or len(text) <= width else text[:width - 1] + "…"


def _requester(row: Mapping[str, Any]) -> str:
    """Who asked, as the list shows it: the name for a number whose caller is known."""
    name = row.get("caller_name")
    if name and row["requester"].startswith("+"):
        return str(name)
    return str(row["requester"])


# The columns of the list: (heading, value, widest or None: never cut). An address is never
# cut (the requester column is as wide as the longest); a long name or subject is, with "…".
COLUMNS: tuple[tuple[str, Callable[[Mapping[str, Any]], str], int | None], ...] = (
    ("#", lambda r: f"#{r['id']}", None),
    ("", lambda r: "*" if r.get("unanswered") else "", None),
    ("status", lambda r: str(r["status"]), None),
    ("channel", lambda r: str(r["channel"]), None),
    ("lang", lambda r: str(r["language"]), None),
    ("requester", _requester, None),
    ("assignee", lambda r: str(r.get("assignee_name") or r["assignee"] or "-"), 24),
    ("subject", lambda r: str(r["subject"]), 70),
    # past its due time, or due within the hour (rnmail.tickets.due)
    ("", lambda r: "LATE" if r["due"]["late"] else "soon" if r["due"]["soon"] else "", None),
)


def print_tickets(rows: Sequence[Mapping[str, Any]], as_json: bool, empty: str) -> None:
    """A ticket per line under a heading, columns as wide as their content (long values cut
    with an ellipsis), ``*`` marking a requester's mail not answered yet; or the rows as
    JSON. ``empty``: the line said when there are none."""
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo(empty)
        return
    cells = [[_cut(value(row), widest) for _, value, widest in COLUMNS] for row in rows]
    widths = [max(len(heading), *(len(line[i]) for line in cells))
              for i, (heading, _, _) in enumerate(COLUMNS)]
    for line in [[heading for heading, _, _ in COLUMNS], *cells]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                   .rstrip())
    if any(row.get("unanswered") for row in rows):
        click.echo("* the requester's last mail is not answered yet")


@ticket.command("list")
@click.option("--status", type=click.Choice(strings(TicketStatus)))
@filter_options
@click.option("--late", is_flag=True, help="Only tickets past their due time, most overdue "
              "first.")
@click.option("--limit", type=ROW_ID, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def ticket_list(app: App, /, status: str | None, late: bool, limit: int, as_json: bool,
                **options: Any) -> None:
    """List tickets, newest first; * marks a requester's mail not answered yet."""
    from rnmail.tickets.views import TicketFilter, list_tickets

    wanted = ticket_filter(options, status)
    with app.ready_db().transaction() as session:
        rows = list_tickets(session, limit=limit, wanted=wanted,
                            late_at=datetime.now(UTC) if late else None)
    print_tickets(rows, as_json, "no ticket matches these filters" if wanted != TicketFilter()
                  else "no ticket yet")


@ticket.command("show")
@click.argument("ticket_id", type=TICKET)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: every "
              "message in full, notifications included.")
@pass_app
@handle_errors
def ticket_show(app: App, ticket_id: int, as_json: bool) -> None:
    """Show one ticket with its messages (each staff notification folded into one line)."""
    from rnmail.tickets.views import show_ticket

    zone = app.config.helpdesk.zone
    with app.ready_db().transaction() as session:
        detail = show_ticket(session, ticket_id)
    if as_json:
        emit_json(detail)
        return
    for line in ticket_lines(detail, zone):
        click.echo(line)


def _show(detail: Mapping[str, object], as_json: bool, what: str) -> None:
    if as_json:
        emit_json(detail)
    else:
        click.echo(f"#{detail['id']} {what}: {detail['status']}"
                   + (f" ({detail['resolution']})" if detail.get("resolution") else ""))


@ticket.command("new")
@click.option("--channel", type=click.Choice(strings((Channel.PHONE, Channel.LETTER, Channel.FAX,
                                                    Channel.MAIL))),
              default=Channel.PHONE.value, show_default=True)
@click.option("--requester", help="Mail address, phone number or name (or give --email, "
              "--phone and/or --name).")
@click.option("--phone", default="", help="The caller's number, any notation (stored in "
              "E.164).")
@click.option("--email", default="", help="The caller's mail address (the requester when "
              "given).")
@click.option("--name", "requester_name", default="", help="The requester's name.")
@click.option("--org", "requester_org", help="The requester's organisation.")
@click.option("--requester-type", help="citizen, municipality, police, notary, ...")
@click.option("--category", help="Question category (see [workflow].categories).")
@click.option("--language", type=click.Choice(["fr", "nl", "de", "en"]))
@click.option("--subject", default="", help="What the call is about (required unless --link).")
@click.option("--note", default="", help="What was asked and answered.")
@click.option("--outcome", type=click.Choice(strings(CallOutcome)),
              help="close: answered at once (first contact); open: to investigate "
              "(default); delegate: to --service.")
@click.option("--close", "close_now", is_flag=True, help="Closed at first contact "
              "(--outcome close).")
@click.option("--service", help="The second-line service of --outcome delegate.")
@click.option("--link", type=TICKET, help="Add the call to this ticket of the same caller "
              "instead of opening one.")
@ACTOR
@click.option("--json", "as_json", is_flag=True, help="Print the ticket as `ticket show`.")
@pass_app
@handle_errors
def ticket_new(app: App, channel: str, requester: str | None, phone: str, email: str,
               requester_name: str, requester_org: str | None, requester_type: str | None,
               category: str | None, language: str | None, subject: str, note: str,
               outcome: str | None, close_now: bool, service: str | None, link: int | None,
               author: str, as_json: bool) -> None:
    """Log a phone call (or letter) as a ticket, or add it to one of the caller's tickets
    (--link): prints "ticket #N opened"."""
    from rnmail.tickets.calls import CallForm, log_call
    from rnmail.tickets.views import show_ticket

    if close_now and outcome not in (None, CallOutcome.CLOSE):
        raise click.UsageError("--close is --outcome close")
    fields: dict[str, Any] = {
        "phone": phone, "caller": requester_name, "email": email, "language": language,
        "subject": subject, "text": note, "category": category,
        "requester_type": requester_type,
        "outcome": CallOutcome.CLOSE if close_now else outcome or CallOutcome.OPEN,
        "service": service, "link": link, "organisation": requester_org, "channel": channel}
    form = CallForm(**fields) if requester is None else CallForm.for_requester(requester,
                                                                               **fields)
    with app.ready_db().transaction() as session:
        done = log_call(session, app.config, form, _actor(author)(session))
        detail = show_ticket(session, done.ticket_id)
    if as_json:
        emit_json(detail)
        return
    what = {CallOutcome.CLOSE: f" and closed ({done.resolution})".replace("-", " "),
            CallOutcome.DELEGATE: f" and delegated to {done.service}",
            CallOutcome.OPEN: ""}[done.outcome]
    if done.linked:
        click.echo(f"call added to ticket #{done.ticket_id}{what}")
    else:
        click.echo(f"ticket #{done.ticket_id} opened{what}")


@ticket.command("close")
@click.argument("ticket_id", type=TICKET)
@click.option("--resolution", type=click.Choice(strings(CLOSING_RESOLUTIONS)),
              help="How it was resolved (default: from its history).")
@ACTOR
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def ticket_close(app: App, ticket_id: int, resolution: str | None, author: str | None,
                 as_json: bool) -> None:
    """Close a ticket."""
    from rnmail.tickets.lifecycle import close, update_ticket

    detail = update_ticket(app.ready_db(), ticket_id,
                           lambda _s, t, a: close(t, a, resolution), _actor(author))
    _show(detail, as_json, "closed")


@ticket.command("reopen")
@click.argument("ticket_id", type=TICKET)
@ACTOR
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def ticket_reopen(app: App, ticket_id: int, author: str | None, as_json: bool) -> None:
    """Reopen a closed ticket."""
    from rnmail.tickets.lifecycle import reopen, update_ticket

    detail = update_ticket(app.ready_db(), ticket_id, lambda _s, t, a: reopen(t, a),
                           _actor(author))
    _show(detail, as_json, "reopened")


@ticket.command("pending")
@click.argument("ticket_id", type=TICKET)
@click.option("--until", metavar="YYYY-MM-DD", help="The day it comes back to the queue by "
              "itself (the daemon reopens it).")
@ACTOR
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def ticket_pending(app: App, ticket_id: int, until: str | None, author: str | None,
                   as_json: bool) -> None:
    """Wait on the requester (their next mail reopens the ticket)."""
    from rnmail.tickets.lifecycle import local_today, parse_pending_day, set_pending, update_ticket

    day = parse_pending_day(until, local_today(app.config.helpdesk.zone)) if until else None
    detail = update_ticket(app.ready_db(), ticket_id, lambda _s, t, a: set_pending(t, a, day),
                           _actor(author))
    _show(detail, as_json, "pending")


@ticket.command("assign")
@click.argument("ticket_id", type=TICKET)
@click.argument("staff_email")
@ACTOR
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def ticket_assign(app: App, ticket_id: int, staff_email: str, author: str | None,
                  as_json: bool) -> None:
    """Give a ticket to a staff member."""
    from rnmail.tickets.lifecycle import assign, find_staff, update_ticket

    detail = update_ticket(app.ready_db(), ticket_id,
                           lambda s, t, a: assign(t, find_staff(s, staff_email), a),
                           _actor(author))
    _show(detail, as_json, f"assigned to {detail['assignee']}")


@ticket.command("set")
@click.argument("ticket_id", type=TICKET)
@click.option("--category", help="Question category.")
@click.option("--type", "requester_type", help="Requester type.")
@ACTOR
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def ticket_set(app: App, ticket_id: int, category: str | None, requester_type: str | None,
               author: str | None, as_json: bool) -> None:
    """Set a ticket's category and/or requester type."""
    from rnmail.tickets.lifecycle import classify, update_ticket

    if category is None and requester_type is None:
        raise click.UsageError("give --category and/or --type")

    def change(_session: object, found: Ticket, actor: Actor) -> None:
        classify(found, app.config.workflow, actor, category, requester_type)

    detail = update_ticket(app.ready_db(), ticket_id, change, _actor(author))
    if as_json:
        emit_json(detail)
    else:
        click.echo(f"#{detail['id']}: category {detail['category']}, "
                   f"requester type {detail['requester_type']}")


@ticket.command("comment")
@click.argument("ticket_id", type=TICKET)
@click.option("-m", "--message", "text", required=True, help="The internal note.")
@AUTHOR
@click.option("--json", "as_json", is_flag=True, help="Print the note as in `ticket show --json`.")
@pass_app
@handle_errors
def ticket_comment(app: App, ticket_id: int, text: str, author: str, as_json: bool) -> None:
    """Add an internal note (never sent to the requester)."""
    from rnmail.tickets.lifecycle import add_comment, get_ticket
    from rnmail.tickets.views import message_detail

    with app.ready_db().transaction() as session:
        note = add_comment(session, get_ticket(session, ticket_id), text, author,
                           language=app.config.helpdesk.default_language,
                           actor=_actor(author)(session))
        session.flush()
        detail = message_detail(note)
    if as_json:
        emit_json(detail)
    else:
        click.echo(f"#{ticket_id}: comment added")


@ticket.command("reply")
@click.argument("ticket_id", type=TICKET)
@click.option("-m", "--message", "text", help="The answer.")
@click.option("--file", "text_file", type=click.File("r", encoding="utf-8"),
              help="Read the answer from a file ('-' for standard input).")
@click.option("--attach", "attach", type=click.Path(exists=True, dir_okay=False), multiple=True,
              help="A file to attach (repeatable).")
@click.option("--faq", "faq_id", type=ROW_ID, help="Answer with this FAQ entry, in the "
              "requester's language.")
@click.option("--text", "text_name", help="Add this text module, in the ticket's language.")
@click.option("--anyway", is_flag=True, help="Send even though a colleague answered within "
              "[helpdesk].answer_hold_minutes; without an answer: send your held one.")
@AUTHOR
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def ticket_reply(app: App, ticket_id: int, text: str | None, text_file: TextIO | None,
                 attach: tuple[str, ...], faq_id: int | None, text_name: str | None,
                 anyway: bool, author: str, as_json: bool) -> None:
    """Answer the requester by mail (queued in the outbox).

    Within [helpdesk].answer_hold_minutes after a colleague's answer it is held (kept, shown
    by `ticket show`, not sent) and the command fails, quoting the colleague's answer."""
    import mimetypes
    from pathlib import Path

    from rnmail.dispatch.compose import Attachment, attachment_bytes
    from rnmail.dispatch.hold import answer_or_hold, find_held, held_refusal, send_held
    from rnmail.tickets.faq import answer_for
    from rnmail.tickets.lifecycle import get_ticket
    from rnmail.tickets.texts import with_text
    from rnmail.tickets.views import message_detail

    if anyway and [text, text_file, faq_id, text_name, *attach] == [None] * 4:
        with app.ready_db().transaction() as session:  # the held answer, as written
            record = send_held(session, app.config, find_held(
                session, get_ticket(session, ticket_id), author), _actor(author)(session))
            session.flush()
            detail = message_detail(record)
        return _answered(ticket_id, detail, as_json)
    if [text, text_file, faq_id].count(None) not in ((2, 3) if text_name else (2,)):
        raise click.UsageError("give the answer with one of -m TEXT, --file F, --faq ID "
                               "(and/or --text NAME)")
    body = text if text is not None else text_file.read() if text_file else ""
    if faq_id is None and text_name is None and not body.strip():
        raise click.UsageError("the answer is empty")
    files = [Attachment(Path(p).name, mimetypes.guess_type(p)[0] or "application/octet-stream",
                        attachment_bytes(Path(p), app.config.helpdesk.max_attachment_mb))
             for p in attach]
    with app.ready_db().transaction() as session:
        found = get_ticket(session, ticket_id)
        if faq_id is not None:
            body = answer_for(session, faq_id, found.language,
                              app.config.helpdesk.default_language)
        if text_name is not None:  # after what was written, in the ticket's language
            body = with_text(session, found, body, text_name, author, app.config.helpdesk.zone)
        outcome = answer_or_hold(session, app.config, found, body, files, author,
                                 actor=_actor(author)(session), anyway=anyway)
        session.flush()
        detail = message_detail(outcome.message)
    if outcome.held_by is not None:  # committed: kept on the ticket, not sent
        raise click.ClickException(held_refusal(ticket_id, outcome.held_by,
                                                app.config.helpdesk.zone, author))
    _answered(ticket_id, detail, as_json)


def _answered(ticket_id: int, detail: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(detail)
    else:
        click.echo(f"#{ticket_id}: answer queued to {', '.join(detail['to'])}")


@ticket.command("discard-held")
@click.argument("ticket_id", type=TICKET)
@AUTHOR
@pass_app
@handle_errors
def ticket_discard_held(app: App, ticket_id: int, author: str) -> None:
    """Drop your answer held on a ticket: kept as an internal note, never sent."""
    from rnmail.dispatch.hold import discard_held, find_held
    from rnmail.tickets.lifecycle import get_ticket

    with app.ready_db().transaction() as session:
        discard_held(session, app.config, find_held(session, get_ticket(session, ticket_id),
                                                    author), author, _actor(author)(session))
    click.echo(f"#{ticket_id}: held answer discarded (kept as a note)")


@ticket.command("delegate")
@click.argument("ticket_id", type=TICKET)
@click.argument("service_name")
@click.option("--note", default="", help="A word for the second line.")
@ACTOR
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def ticket_delegate(app: App, ticket_id: int, service_name: str, note: str,
                    author: str | None, as_json: bool) -> None:
    """Delegate to a second-line service, who is sent the ticket's history."""
    from rnmail.dispatch.answer import delegate_to_service
    from rnmail.tickets.lifecycle import find_service, update_ticket

    detail = update_ticket(app.ready_db(), ticket_id, lambda s, t, a: delegate_to_service(
        s, app.config, t, find_service(s, service_name), a, note), _actor(author))
    _show(detail, as_json, f"delegated to {detail['service']}")


@ticket.command("search")
@click.argument("query")
@click.option("--limit", type=ROW_ID, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def ticket_search(app: App, query: str, limit: int, as_json: bool) -> None:
    """Full-text search over subjects and messages (accents folded); phone and fax numbers
    in any notation; a ticket number (8, #8) gives that ticket first."""
    from rnmail.tickets.search import search_tickets

    with app.ready_db().transaction() as session:
        rows = search_tickets(session, query, limit)
    print_tickets(rows, as_json, f"no ticket matches {query!r}")


@ticket.command("export")
@click.argument("ticket_id", type=TICKET)
@click.option("--format", "fmt", type=click.Choice(strings(ArchiveFormat)), required=True)
@click.option("--out", type=click.Path(path_type=Path),
              help="File (mbox, json) or folder (eml); json goes to standard output without.")
@pass_app
@handle_errors
def ticket_export(app: App, ticket_id: int, fmt: str, out: Path | None) -> None:
    """Export a ticket with all its messages."""
    from rnmail.tickets.archive import export_ticket
    from rnmail.util.blobs import BlobStore

    blobs = BlobStore(app.config.helpdesk.attachments_dir)
    with app.ready_db().transaction() as session:
        result = export_ticket(session, blobs, ticket_id, fmt, out)
    if isinstance(result, bytes):
        click.echo(result.decode(), nl=False)
    else:
        for path in result:
            click.echo(str(path))


@ticket.group("participant")
def ticket_participant() -> None:
    """Who takes part in a ticket: only participants' mail joins it by the subject tag or by
    a Message-ID it received. Incoming mail makes no one a participant but its requester."""


@ticket_participant.command("add")
@click.argument("ticket_id", type=TICKET)
@click.argument("address")
@ACTOR
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def ticket_participant_add(app: App, ticket_id: int, address: str, author: str | None,
                           as_json: bool) -> None:
    """Make ADDRESS a participant of the ticket."""
    from rnmail.tickets.lifecycle import add_participant, get_ticket

    with app.ready_db().transaction() as session:
        found = get_ticket(session, ticket_id)
        added = add_participant(found, address, _actor(author)(session),
                                app.config.helpdesk.own_addresses)
        participants = _participants(found)
    _show_participants(ticket_id, participants, as_json, f"{added} added")


@ticket_participant.command("remove")
@click.argument("ticket_id", type=TICKET)
@click.argument("address")
@ACTOR
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def ticket_participant_remove(app: App, ticket_id: int, address: str, author: str | None,
                           as_json: bool) -> None:
    """Take ADDRESS off the participants of the ticket (not its requester)."""
    from rnmail.tickets.lifecycle import get_ticket, remove_participant

    with app.ready_db().transaction() as session:
        found = get_ticket(session, ticket_id)
        removed = remove_participant(session, found, address, _actor(author)(session))
        participants = _participants(found)
    _show_participants(ticket_id, participants, as_json, f"{removed} removed")


def _participants(found: Ticket) -> list[dict[str, str]]:
    return [{"address": p.address, "role": p.role} for p in found.participants]


def _show_participants(ticket_id: int, participants: list[dict[str, str]], as_json: bool,
                       what: str) -> None:
    if as_json:
        emit_json({"id": ticket_id, "participants": participants})
    else:
        click.echo(f"#{ticket_id}: {what}; participants "
                   + ", ".join(p["address"] for p in participants))
