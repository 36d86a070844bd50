"""``rnmail maintenance``: planned maintenance, its notices and steps."""

from __future__ import annotations

from datetime import timedelta

import click

from cli.app import (
    App,
    comment_options,
    emit_json,
    handle_errors,
    operator_required,
    pass_app,
    send_foreground,
    split_list,
)


@click.group()
def maintenance() -> None:
    """Planned maintenance: announced, reminded, started and ended automatically."""


@maintenance.command("schedule")
@click.option("--start", required=True,
              help='Start, in [helpdesk].timezone (Brussels): "2026-12-05 18:00".')
@click.option("--duration", required=True, help="Expected duration: 3h, 90m, 1h30.")
@click.option("--component", "components", multiple=True,
              help="Component concerned (repeatable; default: all).")
@click.option("--groups", "groups", multiple=True,
              help="User groups to mail (comma-separated or repeated).")
@click.option("--remind", help="Send a reminder this long before the start: 24h, 2h.")
@comment_options
@click.option("--queue-only", is_flag=True, help="Queue the mail; let the daemon send it.")
@click.option("--yes", is_flag=True,
              help="Confirm a duration over [status].max_maintenance_days.")
@operator_required
@pass_app
@handle_errors
def maintenance_schedule(app: App, operator: str, start: str, duration: str,
                         components: tuple[str, ...], groups: tuple[str, ...],
                         remind: str | None, comment: str | None, comment_nl: str | None,
                         comment_fr: str | None, comment_de: str | None,
                         queue_only: bool, yes: bool) -> None:
    """Plan a maintenance and announce it to the groups now."""
    from rnmail.status.components import comment_texts
    from rnmail.status.maintenance import parse_duration, parse_local_time, schedule_maintenance

    texts = comment_texts(comment, {"nl": comment_nl, "fr": comment_fr, "de": comment_de})
    remind_delta: timedelta | None = parse_duration(remind) if remind else None
    result = schedule_maintenance(app.ready_db(), app.config, operator,
                                  parse_local_time(start, app.config.helpdesk.zone),
                                  parse_duration(duration),
                                  list(components), split_list(groups), remind_delta, texts,
                                  long_ok=yes)
    click.echo(f"maintenance #{result.maintenance_id} scheduled; "
               f"{result.recipients} recipient(s) notified")
    if remind and not result.reminder:
        click.echo("no reminder: its time has already passed", err=True)
    if not queue_only:
        send_foreground(app, result.announcement_id)


@maintenance.command("list")
@click.option("--all", "include_past", is_flag=True, help="Include past and cancelled ones.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def maintenance_list(app: App, include_past: bool, as_json: bool) -> None:
    """Upcoming and running maintenance, with the notices sent."""
    from rnmail.i18n.formats import text_time
    from rnmail.status.maintenance import list_maintenance

    with app.ready_db().transaction() as session:
        rows = list_maintenance(session, include_past)
    if as_json:
        emit_json(rows)
        return
    zone = app.config.helpdesk.zone
    for row in rows:
        sent = ", ".join(n["step"] for n in row["notices"]) or "none"
        click.echo(f"#{row['id']} {row['state']:<11} {text_time(row['starts_at'], zone)} → "
                   f"{text_time(row['ends_at'], zone)} "
                   f"{','.join(row['components'])} groups={','.join(row['groups']) or '-'} "
                   f"notices: {sent}")


@maintenance.command("cancel")
@click.argument("maintenance_id", type=int)
@click.option("--queue-only", is_flag=True, help="Queue the mail; let the daemon send it.")
@operator_required
@pass_app
@handle_errors
def maintenance_cancel(app: App, operator: str, maintenance_id: int, queue_only: bool) -> None:
    """Cancel a maintenance and tell its groups."""
    from rnmail.status.maintenance import cancel_maintenance

    announcement = cancel_maintenance(app.ready_db(), app.config, operator, maintenance_id)
    count = announcement.recipients if announcement else 0
    click.echo(f"maintenance #{maintenance_id} cancelled; {count} recipient(s) notified")
    if announcement and not queue_only:
        send_foreground(app, announcement.id)
