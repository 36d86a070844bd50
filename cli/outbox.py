"""``rnmail outbox``: the queue of outgoing mail."""

from __future__ import annotations

import click

from cli.app import ROW_ID, App, emit_json, handle_errors, pass_app
from rnmail.vocab import OutboxState, strings


@click.group()
def outbox() -> None:
    """The queue of outgoing mail."""


@outbox.command("send")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: sent, deferred, failed.")
@pass_app
@handle_errors
def outbox_send(app: App, as_json: bool) -> None:
    """Deliver every due message, then exit."""
    from rnmail.dispatch.send import send_outbox

    report = send_outbox(app.ready_db(), app.config)
    if as_json:
        emit_json(report.as_json())
        return
    click.echo(f"{report.sent} sent, {report.retried} deferred, {report.failed} failed")


@outbox.command("list")
@click.option("--state", type=click.Choice(strings(OutboxState)))
@click.option("--limit", type=ROW_ID, default=200, show_default=True)
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
