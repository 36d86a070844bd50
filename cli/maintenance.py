"""``rnmail maintenance``: planned maintenance, its notices and steps."""

from __future__ import annotations

from datetime import timedelta

import click

from cli.app import (
    ROW_ID,
    App,
    comment_options,
    emit_json,
    handle_errors,
    operator_required,
    pass_app,
    send_foreground,
    split_list,
)
from cli.preview import DRY_RUN, YES, comment_lines, go_ahead, interactive
from rnmail.i18n.formats import text_time
from rnmail.shapes import MaintenanceCancelJson, MaintenanceScheduleJson


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
              help="Go ahead without the preview and the question (for scripts); also "
                   "confirms a duration over [status].max_maintenance_days.")
@DRY_RUN
@click.option("--json", "as_json", is_flag=True,
              help="Print what was scheduled and queued (or would be) as JSON.")
@operator_required
@pass_app
@handle_errors
def maintenance_schedule(app: App, operator: str, start: str, duration: str,
                         components: tuple[str, ...], groups: tuple[str, ...],
                         remind: str | None, comment: str | None, comment_nl: str | None,
                         comment_fr: str | None, comment_de: str | None,
                         queue_only: bool, yes: bool, dry_run: bool, as_json: bool) -> None:
    """Plan a maintenance and announce it to the groups now.

    With --groups (or a duration over [status].max_maintenance_days) it shows the window
    and whom it mails, in which language and with which subject, and asks; --yes goes ahead
    without asking, --dry-run only shows.
    """
    from rnmail.status.components import comment_texts
    from rnmail.status.maintenance import (
        is_long,
        parse_duration,
        parse_local_time,
        preview_schedule,
        schedule_maintenance,
        written_duration,
    )

    texts = comment_texts(comment, {"nl": comment_nl, "fr": comment_fr, "de": comment_de})
    remind_delta: timedelta | None = parse_duration(remind) if remind else None
    zone = app.config.helpdesk.zone
    begin, length = parse_local_time(start, zone), parse_duration(duration)
    group_names = split_list(groups)
    long = is_long(app.config, length)
    # a long one is confirmed by --yes or on a terminal; else refused, saying so
    plan = preview_schedule(app.ready_db(), app.config, begin, length, list(components),
                            group_names, remind_delta, texts,
                            long_ok=yes or dry_run or interactive())
    change = [f"maintenance: {text_time(begin, zone)} → {text_time(plan.ends_at, zone)} "
              f"({written_duration(length)}), components: {', '.join(plan.components)}",
              *comment_lines(texts)]
    if remind:
        change.append(f"reminder: {remind} before the start" if plan.reminder
                      else "reminder: none, its time has already passed")
    if long:
        change.append(f"note: longer than [status].max_maintenance_days "
                      f"({app.config.status.max_maintenance_days:g} days)")
    shape: MaintenanceScheduleJson = {
        "dry_run": dry_run, "maintenance_id": None, "announcement_id": None,
        "starts_at": plan.starts_at.isoformat(), "ends_at": plan.ends_at.isoformat(),
        "components": plan.components, "groups": group_names, "reminder": plan.reminder,
        "preview": plan.preview.as_json()}
    if (group_names or long or dry_run) and not go_ahead(
            change, plan.preview, yes=yes, dry_run=dry_run, as_json=as_json, must_ask=long):
        if as_json:
            emit_json(shape)
        return
    result = schedule_maintenance(app.ready_db(), app.config, operator, begin, length,
                                  list(components), group_names, remind_delta, texts,
                                  long_ok=True)
    if as_json:
        shape["maintenance_id"] = result.maintenance_id
        shape["announcement_id"] = result.announcement_id
        shape["reminder"] = result.reminder
        emit_json(shape)
    else:
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
@click.argument("maintenance_id", type=ROW_ID)
@click.option("--queue-only", is_flag=True, help="Queue the mail; let the daemon send it.")
@YES
@DRY_RUN
@click.option("--json", "as_json", is_flag=True,
              help="Print the cancellation and its notice (or what they would be) as JSON.")
@operator_required
@pass_app
@handle_errors
def maintenance_cancel(app: App, operator: str, maintenance_id: int, queue_only: bool,
                       yes: bool, dry_run: bool, as_json: bool) -> None:
    """Cancel a maintenance and tell its groups.

    When it has groups it shows whom it mails, in which language and with which subject,
    and asks; --yes goes ahead without asking, --dry-run only shows.
    """
    from rnmail.status.maintenance import cancel_maintenance, preview_cancel

    plan = preview_cancel(app.ready_db(), app.config, maintenance_id)
    zone = app.config.helpdesk.zone
    change = [f"cancel maintenance #{maintenance_id}: {text_time(plan.starts_at, zone)} → "
              f"{text_time(plan.ends_at, zone)}, components: "
              f"{', '.join(plan.components)}"]
    shape: MaintenanceCancelJson = {"dry_run": dry_run, "maintenance_id": maintenance_id,
                                    "announcement_id": None,
                                    "preview": plan.preview.as_json()}
    if (plan.groups or dry_run) and not go_ahead(
            change, plan.preview, yes=yes, dry_run=dry_run, as_json=as_json):
        if as_json:
            emit_json(shape)
        return
    announcement = cancel_maintenance(app.ready_db(), app.config, operator, maintenance_id)
    count = announcement.recipients if announcement else 0
    if as_json:
        shape["announcement_id"] = announcement.id if announcement else None
        emit_json(shape)
    else:
        click.echo(f"maintenance #{maintenance_id} cancelled; {count} recipient(s) notified")
    if announcement and not queue_only:
        send_foreground(app, announcement.id)
