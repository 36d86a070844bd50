"""Mail in and out: ``ingest``, ``outbox`` and ``quarantine``."""

from __future__ import annotations

import click

from cli.app import App, emit_json, handle_errors, pass_app
from rnmail.dispatch.outbox import STATES


@click.group()
def ingest() -> None:
    """Turn mailbox messages into tickets."""


@ingest.command("once")
@click.option("--mailbox", help="Only this mailbox (by name).")
@pass_app
@handle_errors
def ingest_once(app: App, mailbox: str | None) -> None:
    """One pass over the mailboxes, then exit."""
    from rnmail.ingest.pipeline import run_ingest

    report = run_ingest(app.ready_db(), app.config, mailbox)
    parts = ", ".join(f"{n} {k}" for k, n in sorted(report.outcomes.items())) or "nothing to do"
    click.echo(f"{report.total} message(s): {parts}")
    if report.errors:
        raise click.ClickException("; ".join(report.errors))


@click.group()
def outbox() -> None:
    """The queue of outgoing mail."""


@outbox.command("send")
@pass_app
@handle_errors
def outbox_send(app: App) -> None:
    """Deliver every due message, then exit."""
    from rnmail.dispatch.send import send_outbox

    report = send_outbox(app.ready_db(), app.config)
    click.echo(f"{report.sent} sent, {report.retried} deferred, {report.failed} failed")


@outbox.command("list")
@click.option("--state", type=click.Choice(STATES))
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def outbox_list(app: App, state: str | None, limit: int, as_json: bool) -> None:
    """List outgoing mail, newest first."""
    from rnmail.dispatch.outbox import list_outbox, outbox_summary

    with app.ready_db().transaction() as session:
        rows = [outbox_summary(r) for r in list_outbox(session, state, limit)]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:<6} {row['state']:<8} {row['attempts']}x "
                   f"{row['to']:<36} {row['subject'][:60]}")


@click.group()
def quarantine() -> None:
    """Messages that could not be processed."""


@quarantine.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include released messages.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def quarantine_list(app: App, show_all: bool, as_json: bool) -> None:
    """List quarantined messages and why."""
    from rnmail.ingest.quarantine import list_quarantine

    rows = list_quarantine(app.ready_db(), None if show_all else "held")
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:<5} {row['state']:<8} {row['mailbox']:<8} {row['size']:>9} "
                   f"{(row['subject'] or '')[:40]:<40} {row['reason']}")


@quarantine.command("retry")
@click.argument("quarantine_id", type=int)
@pass_app
@handle_errors
def quarantine_retry(app: App, quarantine_id: int) -> None:
    """Process a quarantined message again."""
    from rnmail.ingest.quarantine import retry_quarantined

    outcome = retry_quarantined(app.ready_db(), app.config, quarantine_id)
    click.echo(f"quarantined message #{quarantine_id}: {outcome}")
    if outcome == "quarantined":
        raise click.ClickException(f"#{quarantine_id} still fails; see `rnmail quarantine list`")
