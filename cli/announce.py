"""``rnmail announce``: document mailings to user groups, and their delivery."""

from __future__ import annotations

import mimetypes
from pathlib import Path

import click

from cli.app import (
    App,
    authenticate,
    emit_json,
    handle_errors,
    parse_vars,
    pass_app,
    send_foreground,
    split_list,
)


@click.group(invoke_without_command=True)
@click.option("--template", help="Mailing template (see `rnmail template list`).")
@click.option("--groups", "groups", multiple=True,
              help="User groups (comma-separated or repeated).")
@click.option("--attach", "attachments", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="File to attach (repeatable).")
@click.option("--var", "variables", multiple=True, help="Template variable NAME=VALUE.")
@click.option("--dry-run", is_flag=True,
              help="List the recipients per language and print one sample per language.")
@click.option("--test-to", help="Send one sample per language to this address only.")
@click.option("--queue-only", is_flag=True, help="Queue the mail; let the daemon send it.")
@click.option("--operator", "operator_name", envvar="RNMAIL_OPERATOR",
              help="Operator name (or $RNMAIL_OPERATOR); required to send.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
@handle_errors
def announce(ctx: click.Context, template: str | None, groups: tuple[str, ...],
             attachments: tuple[Path, ...], variables: tuple[str, ...], dry_run: bool,
             test_to: str | None, queue_only: bool, operator_name: str | None,
             password_stdin: bool) -> None:
    """Send a document mailing to user groups, each member in their language.

    \b
    rnmail announce --template circular --groups municipalities \\
        --var subject="..." --var body="..." --attach letter.pdf --operator NAME
    """
    if ctx.invoked_subcommand is not None:
        return
    from rnmail.dispatch.announce import mailing_notice, preview, send_mailing, send_test

    app = ctx.find_object(App)
    assert app is not None
    if not template or not groups:
        raise click.UsageError("--template and --groups are needed (or a command: status, "
                               "retry, list)")
    files = [(p.name, mimetypes.guess_type(p.name)[0] or "application/octet-stream",
              p.read_bytes()) for p in attachments]
    notice = mailing_notice(app.config, template, parse_vars(variables), files)
    group_names = split_list(groups)
    if dry_run:
        from rnmail.directory.groups import recipients

        with app.ready_db().transaction() as session:
            members = recipients(session, group_names)
        for lang, (people, rendered) in preview(app.config, notice, members).items():
            click.echo(f"== {lang}: {len(people)} recipient(s)")
            for person in people:
                click.echo(f"   {person.email}  {person.name}  [{person.group}]")
            click.echo(f"-- sample ({rendered.language}) --\nSubject: {rendered.subject}\n")
            click.echo(rendered.text)
        return
    if not operator_name:
        raise click.UsageError("sending needs --operator (or $RNMAIL_OPERATOR)")
    operator = authenticate(app, operator_name, password_stdin)
    if test_to:
        record = send_test(app.ready_db(), app.config, notice, group_names, test_to, operator)
    else:
        record = send_mailing(app.ready_db(), app.config, notice, group_names, operator)
    click.echo(f"announcement #{record.id}: {record.recipients} recipient(s) queued")
    if not queue_only:
        send_foreground(app, record.id)


@announce.command("status")
@click.argument("announcement_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def announce_status(app: App, announcement_id: int, as_json: bool) -> None:
    """Delivery counts per state; finished when no row is queued or sending."""
    from rnmail.dispatch.announce import announcement_status

    with app.ready_db().transaction() as session:
        result = announcement_status(session, announcement_id)
    if as_json:
        emit_json(result)
        return
    counts = ", ".join(f"{n} {state}" for state, n in result["counts"].items())
    done = "finished" if result["finished"] else "in progress"
    click.echo(f"announcement #{announcement_id} ({result['kind']}, {result['template']}, "
               f"{result['recipients']} recipient(s)): {done}: {counts}")


@announce.command("retry")
@click.argument("announcement_id", type=int)
@pass_app
@handle_errors
def announce_retry(app: App, announcement_id: int) -> None:
    """Queue the failed deliveries of an announcement again."""
    from rnmail.dispatch.announce import retry_failed

    with app.ready_db().transaction() as session:
        count = retry_failed(session, announcement_id)
    click.echo(f"{count} failed delivery(ies) queued again")


@announce.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def announce_list(app: App, limit: int, as_json: bool) -> None:
    """The most recent announcements."""
    from rnmail.dispatch.announce import announcement_json, list_announcements
    from rnmail.i18n.formats import text_time

    with app.ready_db().transaction() as session:
        rows = [announcement_json(a) for a in list_announcements(session, limit)]
    if as_json:
        emit_json(rows)
        return
    zone = app.config.helpdesk.zone
    for row in rows:
        click.echo(f"#{row['id']} {text_time(row['created_at'], zone)} {row['kind']:<24} "
                   f"{row['template']:<16} {row['recipients']:>6} "
                   f"{','.join(row['groups']) or '-'}")
