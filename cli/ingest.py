"""``rnmail ingest``: turn mailbox messages into tickets."""

from __future__ import annotations

import click

from cli.app import App, emit_json, handle_errors, pass_app


@click.group()
def ingest() -> None:
    """Turn mailbox messages into tickets."""


@ingest.command("once")
@click.option("--mailbox", help="Only this mailbox (by name).")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: total, outcomes, errors.")
@pass_app
@handle_errors
def ingest_once(app: App, mailbox: str | None, as_json: bool) -> None:
    """One pass over the mailboxes, then exit. Exit status 1 if a mailbox could not be
    read (the others are read all the same)."""
    from rnmail.ingest.runner import run_ingest

    report = run_ingest(app.ready_db(), app.config, mailbox)
    if as_json:
        emit_json(report.as_json())
    else:
        parts = (", ".join(f"{n} {k}" for k, n in sorted(report.outcomes.items()))
                 or "nothing to do")
        click.echo(f"{report.total} message(s): {parts}")
    if report.errors:
        raise click.ClickException("; ".join(report.errors))
