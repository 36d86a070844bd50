"""Personal data: `rnmail privacy purge` (the [privacy] periods, by hand)."""

from __future__ import annotations

import click

from cli.app import App, emit_json, handle_errors, login_name, pass_app
from cli.privacy_rights import erase, export

KINDS = (
    ("tickets_anonymised", "tickets anonymised"),
    ("messages", "messages emptied"),
    ("raw_mails", "raw mails unlinked"),
    ("attachments", "attachments' files unlinked"),
    ("participants", "participants removed"),
    ("history_entries", "history entries cleared"),
    ("outbox", "outgoing mails removed"),
    ("bounces", "bounce reports removed"),
    ("quarantine", "quarantined mails removed (released, or held too long)"),
    ("spam", "mails held as spam removed"),
    ("audit_entries", "audit entries removed"),
    ("presence_views", "desk views of tickets removed"),
    ("stray_files", "files no row referred to (counted above)"),
)


@click.group()
def privacy() -> None:
    """Personal data: apply the retention periods of [privacy]; a person's export and
    erasure (docs/privacy.md)."""


privacy.add_command(export)
privacy.add_command(erase)


@privacy.command("purge")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def privacy_purge(app: App, dry_run: bool, as_json: bool) -> None:
    """Remove what the [privacy] periods say is kept long enough (the daemon does it once
    a day): anonymise old closed tickets, delete raw mails, attachments' files, old
    outgoing mails and audit entries, and the files of the store no row refers to. Tickets
    on legal hold are left alone. Prints the counts per kind and the bytes freed."""
    from rnmail.privacy.retention import purge

    report = purge(app.ready_db(), app.config, dry_run=dry_run,
                   actor=f"cli:{login_name()}")
    if as_json:
        emit_json(report.as_json())
        return
    verb = "dry run: would delete" if dry_run else "deleted"
    click.echo(f"{verb} {report.files} file(s) ({report.bytes} bytes) from the blob store")
    for name, label in KINDS:
        click.echo(f"  {getattr(report, name):>8}  {label}")
    if report.held:
        click.echo(f"  {report.held:>8}  tickets kept as they are: on legal hold")
