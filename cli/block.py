"""``rnmail block``: the blocklist of addresses and domains whose mail goes to spam."""

from __future__ import annotations

import click

from cli.app import App, emit_json, handle_errors, login_name, pass_app


@click.group()
def block() -> None:
    """Addresses and domains (with their subdomains) whose mail goes straight to spam."""


@block.command("add")
@click.argument("pattern")
@click.option("--reason", help="Why (kept with the entry).")
@click.option("--by", "actor", help="Who blocks (default: your login name).")
@pass_app
@handle_errors
def block_add(app: App, pattern: str, reason: str | None, actor: str | None) -> None:
    """Block an address (x@example.org) or a domain (example.org and its subdomains)."""
    from rnmail import audit
    from rnmail.ingest.blocklist import add_block

    with app.ready_db().transaction() as session:
        row = add_block(session, pattern, actor or login_name(), reason)
        audit.record(session, row["by"], "block-add", {"pattern": row["pattern"]})
    click.echo(f"{row['pattern']} blocked ({row['kind']})")


@block.command("remove")
@click.argument("pattern")
@click.option("--by", "actor", help="Who unblocks (default: your login name).")
@pass_app
@handle_errors
def block_remove(app: App, pattern: str, actor: str | None) -> None:
    """Remove an entry of the blocklist (held mail stays held: `spam release`)."""
    from rnmail import audit
    from rnmail.ingest.blocklist import remove_block

    with app.ready_db().transaction() as session:
        value = remove_block(session, pattern)
        audit.record(session, (actor or login_name())[:64], "block-remove", {"pattern": value})
    click.echo(f"{value} no longer blocked")


@block.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def block_list(app: App, as_json: bool) -> None:
    """The blocklist, in alphabetical order."""
    from rnmail.ingest.blocklist import list_blocks

    with app.ready_db().transaction() as session:
        rows = list_blocks(session)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['pattern']:<40} {row['kind']:<8} {row['by']:<16} {row['reason'] or ''}")
    click.echo(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")
