"""``rnmail quarantine``: messages that could not be processed."""

from __future__ import annotations

import click

from cli.app import ROW_ID, App, emit_json, handle_errors, pass_app
from rnmail.vocab import IngestOutcome


@click.group()
def quarantine() -> None:
    """Messages that could not be processed."""


@quarantine.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include released messages.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def quarantine_list(app: App, show_all: bool, as_json: bool) -> None:
    """List quarantined messages and why; a held one with the day it is deleted unless
    retried ([privacy].quarantine_months)."""
    from rnmail.ingest.quarantine import list_quarantine

    rows = list_quarantine(app.ready_db(), None if show_all else "held",
                           app.config.privacy.quarantine_months)
    if as_json:
        emit_json(rows)
        return
    from rnmail.i18n.formats import text_day

    zone = app.config.helpdesk.zone
    for row in rows:
        until = f"until {text_day(row['deleted_after'], zone)}" if row["deleted_after"] else ""
        click.echo(f"{row['id']:<5} {row['state']:<8} {row['mailbox']:<8} {row['size']:>9} "
                   f"{until:<16} {(row['subject'] or '')[:40]:<40} {row['reason']}")


@quarantine.command("retry")
@click.argument("quarantine_id", type=ROW_ID)
@pass_app
@handle_errors
def quarantine_retry(app: App, quarantine_id: int) -> None:
    """Process a quarantined message again."""
    from rnmail.ingest.quarantine import retry_quarantined

    outcome = retry_quarantined(app.ready_db(), app.config, quarantine_id)
    click.echo(f"quarantined message #{quarantine_id}: {outcome}")
    if outcome == IngestOutcome.QUARANTINED:
        raise click.ClickException(f"#{quarantine_id} still fails; see `rnmail quarantine list`")
