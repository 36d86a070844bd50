"""``rnmail audit``: what operators (and the help desk's tools) did, newest first."""

from __future__ import annotations

import click

from cli.app import App, emit_json, handle_errors, pass_app
from rnmail import audit as audit_log
from rnmail.i18n.formats import text_time


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", type=click.IntRange(1, 100000), default=100, show_default=True)
@click.option("--action", help="Only this action, e.g. status-set, login-failed.")
@click.option("--actor", help="Only this operator.")
@pass_app
@handle_errors
def audit(app: App, as_json: bool, limit: int, action: str | None, actor: str | None) -> None:
    """The audit log, newest first: status changes, maintenance, announcements, logins."""
    with app.ready_db().transaction() as session:
        events = [audit_log.event_json(e)
                  for e in audit_log.list_events(session, limit, action, actor)]
    if as_json:
        emit_json(events)
        return
    zone = app.config.helpdesk.zone
    for e in events:
        count = f" recipients={e['recipients']}" if e["recipients"] is not None else ""
        mark = "" if e["success"] else " REFUSED"
        detail = " ".join(f"{k}={v}" for k, v in e["detail"].items())
        source = f" from={e['client']}" if e["client"] else ""
        click.echo(f"{text_time(e['at'], zone, seconds=True)} {e['actor']:<16} "
                   f"{e['action']}{mark}{count}{source} "
                   f"{detail}".rstrip())
