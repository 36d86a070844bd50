"""``rnmail announce``: document mailings to user groups, and their delivery."""

from __future__ import annotations

import mimetypes
from pathlib import Path

import click

from cli.app import (
    ROW_ID,
    App,
    authenticate,
    emit_json,
    handle_errors,
    parse_vars,
    pass_app,
    send_foreground,
    split_list,
)
from cli.preview import YES, go_ahead
from rnmail.config import LANGUAGES
from rnmail.shapes import AnnounceJson


@click.group(invoke_without_command=True)
@click.option("--template", help="Mailing template (see `rnmail template list`).")
@click.option("--groups", "groups", multiple=True,
              help="User groups (comma-separated or repeated).")
@click.option("--attach", "attachments", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="File to attach (repeatable).")
@click.option("--var", "variables", multiple=True,
              help="Template variable NAME=VALUE, or NAME.LANG=VALUE for one language "
                   "(body.nl=...).")
@click.option("--var-file", "var_files", multiple=True,
              help="A variable read from a UTF-8 file: NAME=FILE or NAME.LANG=FILE "
                   "(body.de=brief-de.txt; de=FILE is short for body.de=FILE).")
@click.option("--dry-run", is_flag=True,
              help="Show the summary (recipients per group and language, subjects, "
                   "fallbacks) and one sample per language; queue nothing.")
@click.option("--recipients", "show_recipients", is_flag=True,
              help="With --dry-run: list every recipient too.")
@click.option("--test-to", help="Send one sample per language to this address only "
                                "(its subject marked [TEST]).")
@click.option("--queue-only", is_flag=True, help="Queue the mail; let the daemon send it.")
@YES
@click.option("--json", "as_json", is_flag=True,
              help="Print what was queued (or would be) as JSON.")
@click.option("--operator", "operator_name", envvar="RNMAIL_OPERATOR",
              help="Operator name (or $RNMAIL_OPERATOR); required to send.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
@handle_errors
def announce(ctx: click.Context, template: str | None, groups: tuple[str, ...],
             attachments: tuple[Path, ...], variables: tuple[str, ...],
             var_files: tuple[str, ...], dry_run: bool, show_recipients: bool,
             test_to: str | None, queue_only: bool, yes: bool, as_json: bool,
             operator_name: str | None, password_stdin: bool) -> None:
    """Send a document mailing to user groups, each member in their language.

    Shows what it will send (recipients per group and language, the subject in each
    language, the languages that get a text written in another one) and asks; --yes goes
    ahead without asking, --dry-run only shows.

    \b
    rnmail announce --template circular --groups municipalities \\
        --var subject.fr="..." --var subject.nl="..." --var-file body.fr=fr.txt \\
        --var-file body.nl=nl.txt --attach letter.pdf --operator NAME
    """
    if ctx.invoked_subcommand is not None:
        return
    from rnmail.dispatch.announce import mailing_notice, render_notice, send_mailing, send_test
    from rnmail.dispatch.preview import preview_mailing

    app = ctx.find_object(App)
    assert app is not None
    if not template or not groups:
        raise click.UsageError("--template and --groups are needed (or a command: status, "
                               "retry, list)")
    files = [(p.name, mimetypes.guess_type(p.name)[0] or "application/octet-stream",
              p.read_bytes()) for p in attachments]
    given = {**parse_vars(variables), **read_var_files(var_files)}
    notice = mailing_notice(app.config, template, given, files)
    group_names = split_list(groups)
    sent, preview = preview_mailing(app.ready_db(), app.config, notice, group_names, test_to)
    change = [f"mailing: template {template}"
              + (f", {len(files)} attachment(s): {', '.join(f[0] for f in files)}"
                 if files else "")
              + (f"; a test: one sample per language to {test_to}" if test_to else "")]
    shape: AnnounceJson = {"dry_run": dry_run, "test": bool(test_to), "announcement_id": None,
                           "template": template, "preview": preview.as_json()}
    if dry_run:
        go_ahead(change, preview, yes=yes, dry_run=True, as_json=as_json)
        if as_json:
            if show_recipients:
                shape["recipient_list"] = [
                    {"email": m.email, "name": m.name, "language": m.language,
                     "group": m.group} for m in preview.members]
            emit_json(shape)
            return
        for lang in preview.languages:
            rendered = render_notice(app.config, sent, lang)
            other = f" (template in {rendered.language})" if rendered.language != lang else ""
            click.echo(f"\n-- sample for {lang}{other} --\nSubject: {rendered.subject}\n")
            click.echo(rendered.text)
        if show_recipients:
            click.echo("-- recipients --")
            for person in preview.members:
                click.echo(f"{person.email}  {person.language}  {person.name}  "
                           f"[{person.group}]")
        return
    if not operator_name:
        raise click.UsageError("sending needs --operator (or $RNMAIL_OPERATOR)")
    operator = authenticate(app, operator_name, password_stdin)
    if not test_to:  # samples to one's own address are no mass mail: not asked
        go_ahead(change, preview, yes=yes, dry_run=False, as_json=as_json)
    if test_to:
        record = send_test(app.ready_db(), app.config, notice, group_names, test_to, operator)
    else:
        record = send_mailing(app.ready_db(), app.config, notice, group_names, operator)
    if as_json:
        shape["announcement_id"] = record.id
        emit_json(shape)
    else:
        click.echo(f"announcement #{record.id}: {record.recipients} recipient(s) queued")
    if not queue_only:
        send_foreground(app, record.id)


def read_var_files(values: tuple[str, ...]) -> dict[str, str]:
    """``--var-file body.fr=FILE`` → {"body.fr": the file's text}; ``fr=FILE`` is short
    for ``body.fr=FILE``."""
    names = parse_vars(values, "--var-file")
    result = {}
    for name, path in names.items():
        if name in LANGUAGES:  # fr=FILE: the body in French
            name = f"body.{name}"
        try:
            result[name] = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise click.BadParameter(f"{name}={path}: {why or exc}",
                                     param_hint="--var-file") from None
    return result


@announce.command("status")
@click.argument("announcement_id", type=ROW_ID)
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
@click.argument("announcement_id", type=ROW_ID)
@pass_app
@handle_errors
def announce_retry(app: App, announcement_id: int) -> None:
    """Queue the failed deliveries of an announcement again."""
    from rnmail.dispatch.announce import retry_failed

    with app.ready_db().transaction() as session:
        count = retry_failed(session, announcement_id)
    click.echo(f"{count} failed delivery(ies) queued again")


@announce.command("list")
@click.option("--limit", type=ROW_ID, default=50, show_default=True)
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
