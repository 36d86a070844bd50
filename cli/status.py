"""``rnmail status``: the register's system status and its public page."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.app import (
    App,
    comment_options,
    deliver_or_leave_queued,
    emit_json,
    handle_errors,
    operator_required,
    pass_app,
    send_foreground,
    split_list,
)
from cli.preview import DRY_RUN, YES, comment_lines, go_ahead
from rnmail.vocab import StatusState, strings

if TYPE_CHECKING:  # types only: `status show` need not build them
    from rnmail.shapes import StatusPreviewJson, StatusSetJson


@click.group()
def status() -> None:
    """The register's system status and its public, trilingual page."""


@status.command("set")
@click.argument("state", type=click.Choice(strings(StatusState)))
@click.option("--component", "components", multiple=True,
              help="Component to set (repeatable; default: all).")
@comment_options
@click.option("--notify", "groups", multiple=True,
              help="Mail these user groups (comma-separated or repeated).")
@click.option("--notify-linked", is_flag=True,
              help="When this ends the incident, tell the requesters of its tickets.")
@click.option("--queue-only", is_flag=True, help="Queue the mail; let the daemon send it.")
@click.option("--again", is_flag=True,
              help="Send a notice the groups got within [status].repeat_window_minutes.")
@YES
@DRY_RUN
@click.option("--json", "as_json", is_flag=True)
@operator_required
@pass_app
@handle_errors
def status_set(app: App, operator: str, state: str, components: tuple[str, ...],
               comment: str | None, comment_nl: str | None, comment_fr: str | None,
               comment_de: str | None, groups: tuple[str, ...], notify_linked: bool,
               queue_only: bool, again: bool, yes: bool, dry_run: bool,
               as_json: bool) -> None:
    """Set the status (of every component, or of --component) and publish the page.

    With --notify it first shows the change and whom it mails, in which language and with
    which subject, and asks; --yes goes ahead without asking, --dry-run only shows.
    """
    from rnmail.status.components import comment_texts
    from rnmail.status.notices import change_status, preview_status_change

    texts = comment_texts(comment, {"nl": comment_nl, "fr": comment_fr, "de": comment_de})
    notify = split_list(groups)
    # With --yes nothing is shown: the preview (every member read, the notice rendered)
    # would only delay the notice; change_status makes the same checks.
    if dry_run or ((notify or notify_linked) and not yes):
        plan = preview_status_change(app.ready_db(), app.config, state, list(components),
                                     texts, notify, again, notify_linked)
        change = [f"status: {state} for {', '.join(plan.components)}", *comment_lines(texts)]
        if notify_linked:
            change.append(f"requesters told the incident is over: {plan.linked}")
        if not go_ahead(change, plan.notice, yes=yes, dry_run=dry_run, as_json=as_json,
                        also=plan.linked):
            if as_json:
                planned: StatusPreviewJson = {"dry_run": True, "state": state,
                                              "components": plan.components,
                                              "preview": plan.notice.as_json(),
                                              "linked_requesters": plan.linked}
                emit_json(planned)
            return
    result = change_status(app.ready_db(), app.config, operator, state, list(components),
                           texts, notify, notify_linked, again=again)
    if as_json:
        shape: StatusSetJson = {
            **result.view.as_json(), "incident_id": result.incident_id,
            "resolved": result.resolved, "announcement_id": result.announcement_id,
            "linked_notified": result.linked_notified}
        emit_json(shape)
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
            deliver_or_leave_queued(lambda: send_outbox(app.ready_db(), app.config))


@status.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def status_show(app: App, as_json: bool) -> None:
    """The current status (maintenance included, as it is now)."""
    from rnmail.status.components import current_status

    with app.ready_db().transaction() as session:
        view = current_status(session, app.config.status)
    if as_json:
        emit_json(view.as_json())
        return
    from rnmail.i18n.formats import text_time

    zone = app.config.helpdesk.zone
    click.echo(f"overall: {view.overall} (last change {text_time(view.updated_at, zone, 'never')})")
    for c in view.components:
        text = next((t for lang in ("nl", "fr", "de") if (t := c.comment.get(lang))), "")
        via = f" [maintenance #{c.maintenance_id}]" if c.maintenance_id else ""
        click.echo(f"  {c.name:<20} {c.state:<12}{via} {text}".rstrip())
    for m in view.maintenance:
        click.echo(f"maintenance #{m.id} {m.state}: {text_time(m.starts_at, zone)} → "
                   f"{text_time(m.ends_at, zone)} ({', '.join(m.components)})")


@status.command("publish")
@pass_app
@handle_errors
def status_publish(app: App) -> None:
    """Regenerate the public page (index.html, status.json, feed.atom)."""
    from rnmail.status.notices import publish

    view = publish(app.ready_db(), app.config)
    click.echo(f"status {view.overall}: published to {app.config.status.public_dir}")
