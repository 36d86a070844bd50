"""The directory: organisations with access to the register and their users."""

from __future__ import annotations

import getpass
from datetime import tzinfo
from pathlib import Path

import click

from cli.app import ROW_ID, App, emit_json, emit_text, handle_errors, pass_app
from rnmail.i18n.formats import text_day
from rnmail.shapes import OrganisationEntry, UserEntry

_BY = click.option("--by", "actor", help="Who makes the change, for the audit log "
                   "(default: your user name).")


def _actor(actor: str | None) -> str:
    return (actor or getpass.getuser()).strip()[:64] or "unknown"


@click.group()
def directory() -> None:
    """Organisations and their users: import, show, search, access status, export."""


@directory.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and count, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_BY
@pass_app
@handle_errors
def directory_import(app: App, file: Path, dry_run: bool, as_json: bool,
                     actor: str | None) -> None:
    """Add and update organisations and users from a CSV file (one line per user). Nothing
    is imported unless every line is correct; users absent from the file are kept."""
    from rnmail.directory.import_export import import_directory
    from rnmail.directory.sheets import ListProblems

    try:
        with app.ready_db().transaction() as session:
            report = import_directory(session, file, _actor(actor), dry_run=dry_run)
    except ListProblems as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise
    if as_json:
        emit_json(report.as_dict())
        return
    click.echo(f"{file}: {report.rows} user(s); organisations: "
               f"{report.organisations_created} created, {report.organisations_updated} "
               f"updated; users: {report.users_created} created, {report.users_updated} "
               f"updated, {report.users_unchanged} unchanged; {report.status_changes} "
               f"access status change(s)" + (" — dry run, nothing written" if dry_run else ""))


def _print_user(entry: UserEntry, zone: tzinfo) -> None:
    click.echo(f"{entry['name']} <{entry['email']}>")
    code = f", code {entry['organisation_code']}" if entry["organisation_code"] else ""
    click.echo(f"  organisation: {entry['organisation']} ({entry['organisation_type']}{code})")
    click.echo(f"  phone: {entry['phone'] or '-'}  language: {entry['language']}  "
               f"role: {entry['role'] or '-'}")
    click.echo(f"  access: {entry['access_status']} "
               f"since {text_day(entry['status_since'], zone, 'never')}; "
               f"key sent: {text_day(entry['key_sent_at'], zone, 'never')}; "
               f"last contact: {text_day(entry['last_contact_at'], zone, 'never')}")
    tickets = entry["open_tickets"]
    click.echo(f"  open tickets: {len(tickets)}")
    for t in tickets:
        click.echo(f"    #{t['id']} [{t['status']}] {t['subject'][:70]}")


def _print_organisation(entry: OrganisationEntry) -> None:
    code = f", code {entry['code']}" if entry["code"] else ""
    click.echo(f"{entry['name']} ({entry['type']}{code}, language {entry['language']})")
    if entry["address"]:
        click.echo(f"  address: {' '.join(entry['address'].split())}")
    if entry["contact_emails"]:
        click.echo(f"  contacts: {', '.join(entry['contact_emails'])}")
    users = entry["users"]
    click.echo(f"  {len(users)} user(s)")
    width = max([len(u["email"]) for u in users] + [5])
    for u in users:
        click.echo(f"  {u['email']:<{width}}  {u['access_status']:<7}  {u['language']}  "
                   f"{u['name']}" + (f" ({u['role']})" if u["role"] else ""))


@directory.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def directory_show(app: App, key: str, as_json: bool) -> None:
    """A user (KEY is their address) with their open tickets, or an organisation (KEY is
    its code or name) with its users."""
    from rnmail.directory.people import show_entry

    with app.ready_db().transaction() as session:
        entry = show_entry(session, key)
    if as_json:
        emit_json(entry)
    elif entry["entry"] == "user":
        _print_user(entry, app.config.helpdesk.zone)
    else:
        _print_organisation(entry)


@directory.command("search")
@click.argument("query")
@click.option("--limit", type=ROW_ID, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def directory_search(app: App, query: str, limit: int, as_json: bool) -> None:
    """Organisations (name, code) and users (name, address) holding QUERY, accents and
    case ignored, and users whose phone number QUERY is (any notation, or its last digits)."""
    from rnmail.directory.people import search_directory

    with app.ready_db().transaction() as session:
        rows = search_directory(session, query, limit)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        if r["entry"] == "organisation":
            click.echo(f"organisation  {r['code'] or '-':<10} {r['name']} ({r['type']}, "
                       f"{r['users']} user(s))")
        else:
            click.echo(f"user          {r['email']}  {r['name']}  {r['phone'] or '-'}  "
                       f"{r['organisation']}  [{r['access_status']}]")
    click.echo(f"{len(rows)} found" + (" (limit reached)" if len(rows) == limit else ""))


@directory.command("lookup")
@click.argument("query")
@click.option("--limit", type=ROW_ID, default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def directory_lookup(app: App, query: str, limit: int, as_json: bool) -> None:
    """Who is calling: directory users, organisations and callers of earlier tickets, by
    phone number (any notation), name (accents ignored, any part), mail address or
    organisation; each with their open tickets."""
    from rnmail.directory.lookup import lookup_caller

    with app.ready_db().transaction() as session:
        found = lookup_caller(session, query, limit)
    if as_json:
        emit_json(found)
        return
    for c in found:
        org = f"{c['organisation']} ({c['requester_type']})" if c["organisation"] \
            else c["requester_type"]
        parts = [c["entry"].ljust(12), c["name"] or "-", c["email"] or "-", c["phone"] or "-",
                 c["language"], org]
        if c["access_status"]:
            parts.append(f"[{c['access_status']}]")
        if c["last_ticket_id"]:
            parts.append(f"last ticket #{c['last_ticket_id']}")
        click.echo("  ".join(parts))
        for t in c["open_tickets"]:
            click.echo(f"    #{t['id']} [{t['status']}] {t['subject'][:70]}")
    click.echo(f"{len(found)} found" + (" (limit reached)" if len(found) == limit else ""))


@directory.command("set-status")
@click.argument("email")
@click.argument("state")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@_BY
@pass_app
@handle_errors
def directory_set_status(app: App, email: str, state: str, reason: str,
                         actor: str | None) -> None:
    """Set a user's access: active, blocked or revoked. A revoked user leaves every user
    group."""
    from rnmail.directory.people import change_access

    with app.ready_db().transaction() as session:
        done = change_access(session, email, state, reason, _actor(actor))
    if not done["changed"]:
        click.echo(f"{done['email']} is already {done['after']}: nothing changed")
        return
    left = f"; left {done['groups_left']} user group(s)" if done["groups_left"] else ""
    click.echo(f"{done['email']}: {done['before']} -> {done['after']}{left}")


@directory.command("export")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_app
@handle_errors
def directory_export(app: App, out: Path | None) -> None:
    """The directory as CSV, in the columns `directory import` reads."""
    from rnmail.directory.import_export import export_directory

    with app.ready_db().transaction() as session:
        text = export_directory(session)
    emit_text(text, out, "directory")
