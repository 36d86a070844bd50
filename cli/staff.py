"""``rnmail staff``: help-desk members, who are notified and answer by mail."""

from __future__ import annotations

import click

from cli.app import App, emit_json, handle_errors, pass_app
from rnmail.config import LANGUAGES


@click.group()
def staff() -> None:
    """Help-desk members, who are notified and answer by mail."""


@staff.command("add")
@click.argument("email")
@click.option("--name", required=True, help="Full name, shown in notifications.")
@click.option("--language", type=click.Choice(LANGUAGES), default="fr", show_default=True)
@pass_app
@handle_errors
def staff_add(app: App, email: str, name: str, language: str) -> None:
    """Add a staff member."""
    from rnmail.tickets.team import add_staff

    with app.ready_db().transaction() as session:
        member = add_staff(session, email, name, language)
        click.echo(f"staff {member.email} ({member.name}, {member.language}) added")


@staff.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def staff_list(app: App, as_json: bool) -> None:
    """List the staff."""
    from rnmail.tickets.team import list_staff

    with app.ready_db().transaction() as session:
        rows = list_staff(session)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['email']:<36} {row['language']}  {row['name']}")


@staff.command("remove")
@click.argument("email")
@pass_app
@handle_errors
def staff_remove(app: App, email: str) -> None:
    """Remove a staff member (their tickets and history stay)."""
    from rnmail.tickets.team import remove_staff

    with app.ready_db().transaction() as session:
        member = remove_staff(session, email)
        click.echo(f"staff {member.email} removed")
