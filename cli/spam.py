"""``rnmail spam``: mail held as spam (gateway flag or score, blocklist)."""

from __future__ import annotations

import click

from cli.app import ROW_ID, App, emit_json, handle_errors, login_name, pass_app


@click.group()
def spam() -> None:
    """Mail held as spam: no ticket, no mail sent, kept raw until released or deleted."""


@spam.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include released and deleted mail.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def spam_list(app: App, show_all: bool, as_json: bool) -> None:
    """List held mail, newest first, and why it is held."""
    from rnmail.ingest.spam import list_spam

    with app.ready_db().transaction() as session:
        rows = list_spam(session, None if show_all else "held")
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:<5} {row['state']:<8} {(row['from'] or '')[:30]:<30} "
                   f"{(row['subject'] or '')[:40]:<40} {row['reason']}")
    click.echo(f"{len(rows)} message(s)")


@spam.command("release")
@click.argument("spam_id", type=ROW_ID)
@click.option("--by", "actor", help="Who releases it (default: your login name).")
@pass_app
@handle_errors
def spam_release(app: App, spam_id: int, actor: str | None) -> None:
    """Process a held mail normally (once): a ticket or a reply, acknowledged as usual."""
    from rnmail.ingest.spam import release

    outcome = release(app.ready_db(), app.config, spam_id, actor or login_name())
    click.echo(f"spam #{spam_id} released: {outcome}")


@spam.command("delete")
@click.argument("spam_id", type=ROW_ID)
@click.option("--by", "actor", help="Who deletes it (default: your login name).")
@pass_app
@handle_errors
def spam_delete(app: App, spam_id: int, actor: str | None) -> None:
    """Delete a held mail and its raw file."""
    from rnmail.ingest.spam import delete

    removed = delete(app.ready_db(), app.config, spam_id, actor or login_name())
    click.echo(f"spam #{spam_id} deleted" + ("" if removed else
                                             " (its raw file is kept: still referred to)"))
