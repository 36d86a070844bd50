"""``rnmail status`` (the system status and its public page), ``rnmail maintenance`` and
``rnmail scheduler`` (the process that runs the maintenance steps)."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import click

from cli.app import App, emit_json, handle_errors, pass_app
from cli.operator import operator_required
from rnmail.config import STATUS_STATES
from rnmail.dispatch.outbox import Leased

F = TypeVar("F", bound=Callable[..., Any])

COMMENT_OPTIONS = [
    click.option("--comment", help="Short comment for all languages (e.g. expected duration)."),
    click.option("--comment-nl", help="The comment in Dutch (overrides --comment)."),
    click.option("--comment-fr", help="The comment in French (overrides --comment)."),
    click.option("--comment-de", help="The comment in German (overrides --comment)."),
]


def comment_options(func: F) -> F:
    for option in reversed(COMMENT_OPTIONS):
        func = option(func)
    return func


def split_list(values: tuple[str, ...]) -> list[str]:
    """``--groups a,b --groups c`` → [a, b, c]."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def send_foreground(app: App, announcement_id: int | None) -> int:
    """Send the outbox now, with a progress bar for the announcement's deliveries still to
    make on stderr; returns how many there were."""
    if announcement_id is None:
        return 0
    from rnmail.dispatch.announce import announcement_status
    from rnmail.dispatch.send import send_outbox

    with app.ready_db().transaction() as session:
        counts = announcement_status(session, announcement_id)["counts"]
    total = int(counts["queued"] + counts["sending"])
    if total == 0:
        return 0

    with click.progressbar(length=total, label=f"announcement #{announcement_id}",
                           file=sys.stderr) as bar:
        def progress(item: Leased, state: str) -> None:
            if item.announcement_id == announcement_id and state != "queued":
                bar.update(1)

        report = send_outbox(app.ready_db(), app.config, progress=progress)
    click.echo(f"{report.sent} sent, {report.retried} deferred, {report.failed} failed "
               f"(`rnmail announce status {announcement_id}` for the details)", err=True)
    return total


@click.group()
def status() -> None:
    """The register's system status and its public, trilingual page."""


@status.command("set")
@click.argument("state", type=click.Choice(STATUS_STATES))
@click.option("--component", "components", multiple=True,
              help="Component to set (repeatable; default: all).")
@comment_options
@click.option("--notify", "groups", multiple=True,
              help="Mail these user groups (comma-separated or repeated).")
@click.option("--notify-linked", is_flag=True,
              help="When this ends the incident, tell the requesters of its tickets.")
@click.option("--queue-only", is_flag=True, help="Queue the mail; let the daemon send it.")
@click.option("--json", "as_json", is_flag=True)
@operator_required
@pass_app
@handle_errors
def status_set(app: App, operator: str, state: str, components: tuple[str, ...],
               comment: str | None, comment_nl: str | None, comment_fr: str | None,
               comment_de: str | None, groups: tuple[str, ...], notify_linked: bool,
               queue_only: bool, as_json: bool) -> None:
    """Set the status (of every component, or of --component) and publish the page."""
    from rnmail.status.components import comment_texts
    from rnmail.status.notices import change_status

    texts = comment_texts(comment, {"nl": comment_nl, "fr": comment_fr, "de": comment_de})
    result = change_status(app.ready_db(), app.config, operator, state, list(components),
                           texts, split_list(groups), notify_linked)
    if as_json:
        emit_json({**result.view.as_json(), "incident_id": result.incident_id,
                   "resolved": result.resolved, "announcement_id": result.announcement_id,
                   "linked_notified": result.linked_notified})
    else:
        click.echo(f"status: {result.view.overall} — page published to "
                   f"{app.config.status.public_dir}")
        if result.announcement_id:
            click.echo(f"announcement #{result.announcement_id} queued")
        if result.linked_notified:
            click.echo(f"{result.linked_notified} requester(s) told the incident is over")
    if not queue_only:
        from rnmail.dispatch.send import send_outbox

        total = send_foreground(app, result.announcement_id)
        if result.linked_notified and not total:  # else already sent with the announcement
            send_outbox(app.ready_db(), app.config)


@status.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def status_show(app: App, as_json: bool) -> None:
    """The current status (maintenance included, as it is now)."""
    from rnmail.status.components import current_status
    from rnmail.status.page import format_time

    with app.ready_db().transaction() as session:
        view = current_status(session, app.config.status)
    if as_json:
        emit_json(view.as_json())
        return
    changed = format_time(view.updated_at, "fr") if view.updated_at else "never"
    click.echo(f"overall: {view.overall} (last change {changed}, Brussels time)")
    for c in view.components:
        text = next((t for lang in ("nl", "fr", "de") if (t := c.comment.get(lang))), "")
        via = f" [maintenance #{c.maintenance_id}]" if c.maintenance_id else ""
        click.echo(f"  {c.name:<20} {c.state:<12}{via} {text}".rstrip())
    for m in view.maintenance:
        click.echo(f"maintenance #{m.id} {m.state}: {format_time(m.starts_at, 'fr')} → "
                   f"{format_time(m.ends_at, 'fr')} ({', '.join(m.components)})")


@status.command("publish")
@pass_app
@handle_errors
def status_publish(app: App) -> None:
    """Regenerate the public page (index.html, status.json, feed.atom)."""
    from rnmail.status.notices import publish

    view = publish(app.ready_db(), app.config)
    click.echo(f"status {view.overall}: published to {app.config.status.public_dir}")


@click.group()
def maintenance() -> None:
    """Planned maintenance: announced, reminded, started and ended automatically."""


@maintenance.command("schedule")
@click.option("--start", required=True, help='Start, Brussels time: "2026-12-05 18:00".')
@click.option("--duration", required=True, help="Expected duration: 3h, 90m, 1h30.")
@click.option("--component", "components", multiple=True,
              help="Component concerned (repeatable; default: all).")
@click.option("--groups", "groups", multiple=True,
              help="User groups to mail (comma-separated or repeated).")
@click.option("--remind", help="Send a reminder this long before the start: 24h, 2h.")
@comment_options
@click.option("--queue-only", is_flag=True, help="Queue the mail; let the daemon send it.")
@operator_required
@pass_app
@handle_errors
def maintenance_schedule(app: App, operator: str, start: str, duration: str,
                         components: tuple[str, ...], groups: tuple[str, ...],
                         remind: str | None, comment: str | None, comment_nl: str | None,
                         comment_fr: str | None, comment_de: str | None,
                         queue_only: bool) -> None:
    """Plan a maintenance and announce it to the groups now."""
    from rnmail.status.components import comment_texts
    from rnmail.status.maintenance import parse_duration, parse_local_time, schedule_maintenance

    texts = comment_texts(comment, {"nl": comment_nl, "fr": comment_fr, "de": comment_de})
    remind_delta: timedelta | None = parse_duration(remind) if remind else None
    result = schedule_maintenance(app.ready_db(), app.config, operator,
                                  parse_local_time(start), parse_duration(duration),
                                  list(components), split_list(groups), remind_delta, texts)
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
    from rnmail.status.maintenance import list_maintenance

    with app.ready_db().transaction() as session:
        rows = list_maintenance(session, include_past)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        sent = ", ".join(n["step"] for n in row["notices"]) or "none"
        click.echo(f"#{row['id']} {row['state']:<11} {row['starts_at']} → {row['ends_at']} "
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


@click.group()
def scheduler() -> None:
    """The process that runs the maintenance steps (reminder, start, end) on time."""


@scheduler.command("run")
@pass_app
@handle_errors
def scheduler_run(app: App) -> None:
    """Run the steps as they fall due and send their mail, until interrupted."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from rnmail.dispatch.send import send_outbox
    from rnmail.status.maintenance import start_maintenance_jobs

    db = app.ready_db()
    scheduler = BlockingScheduler()

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # out of the scheduler's loop, as Ctrl-C does

    # SIGTERM (systemd, docker stop, kill) would otherwise end the process on the spot.
    signal.signal(signal.SIGTERM, stop)
    click.echo("scheduler running (Ctrl-C to stop)", err=True)
    try:
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            start_maintenance_jobs(db, app.config, scheduler,
                                   after_step=lambda: send_outbox(db, app.config))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if scheduler.running:
            scheduler.shutdown()  # lets a step under way finish, with its mail
    click.echo("scheduler stopped", err=True)
