"""``rnmail ingest``: turn mailbox messages into tickets."""

from __future__ import annotations

import click

from cli.app import App, handle_errors, pass_app


@click.group()
def ingest() -> None:
    """Turn mailbox messages into tickets."""


@ingest.command("once")
@click.option("--mailbox", help="Only this mailbox (by name).")
@pass_app
@handle_errors
def ingest_once(app: App, mailbox: str | None) -> None:
    """One pass over the mailboxes, then exit."""
    from rnmail.ingest.runner import run_ingest

    report = run_ingest(app.ready_db(), app.config, mailbox)
    parts = ", ".join(f"{n} {k}" for k, n in sorted(report.outcomes.items())) or "nothing to do"
    click.echo(f"{report.total} message(s): {parts}")
    if report.errors:
        raise click.ClickException("; ".join(report.errors))
