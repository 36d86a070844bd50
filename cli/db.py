"""``rnmail db``: the schema (upgrade) and backups."""

from __future__ import annotations

from pathlib import Path

import click

from cli.app import App, handle_errors, pass_app


@click.group()
def db() -> None:
    """The database: upgrade the schema, take a backup."""


@db.command("upgrade")
@pass_app
@handle_errors
def db_upgrade(app: App) -> None:
    """Upgrade the schema to the newest revision (what `rnmail init` does)."""
    revision = app.db.upgrade()
    click.echo(f"database {app.db.safe_url} at schema revision {revision}")


@db.command("backup")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="The backup file (SQLite database copy, or pg_dump custom format).")
@pass_app
@handle_errors
def db_backup(app: App, out: Path) -> None:
    """A consistent backup while rnmail runs (SQLite online backup, or pg_dump).

    rnmail does not rotate backups: a backup keeps the personal data the [privacy] periods
    later remove. Keep them no longer than those periods allow, and run `rnmail privacy
    purge` after a restore (docs/privacy.md)."""
    from rnmail.ops.backup import backup_database

    result = backup_database(app.ready_db(), out)
    click.echo(f"{result.kind} backup at schema revision {result.revision}: {result.path} "
               f"({result.size:,} bytes); copy {app.config.helpdesk.attachments_dir} too")
