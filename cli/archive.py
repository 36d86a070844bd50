"""The archive of closed tickets."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import click

from cli.app import DAY, App, emit_json, handle_errors, pass_app


@click.group()
def archive() -> None:
    """Closed tickets, exported for the records (they stay searchable)."""


@archive.command("export")
@click.option("--before", type=DAY, required=True,
              help="Tickets closed before this day (YYYY-MM-DD; midnight in "
                   "[helpdesk].timezone, Brussels).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for ticket-<id>.mbox files and index.json.")
@click.option("--json", "as_json", is_flag=True, help="Print the index.")
@pass_app
@handle_errors
def archive_export(app: App, before: date, out: Path, as_json: bool) -> None:
    """Write closed tickets as one mbox each, plus a JSON index."""
    from rnmail.tickets.archive import archive_closed
    from rnmail.util.blobs import BlobStore

    blobs = BlobStore(app.config.helpdesk.attachments_dir)
    with app.ready_db().transaction() as session:
        index = archive_closed(session, blobs,
                               datetime.combine(before, time(), app.config.helpdesk.zone), out)
    if as_json:
        emit_json(index)
    else:
        click.echo(f"{len(index)} closed ticket(s) archived in {out}")
