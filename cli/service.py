"""``rnmail service``: the second-line services tickets are delegated to."""

from __future__ import annotations

import click

from cli.app import App, emit_json, handle_errors, pass_app
from rnmail.config import LANGUAGES


@click.group()
def service() -> None:
    """Second-line services that tickets are delegated to."""


@service.command("add")
@click.argument("name")
@click.option("--email", required=True, help="The service's contact address.")
@click.option("--description", help="What the service handles.")
@click.option("--language", type=click.Choice(LANGUAGES),
              help="The language its contact reads (default: [helpdesk].default_language).")
@pass_app
@handle_errors
def service_add(app: App, name: str, email: str, description: str | None,
                language: str | None) -> None:
    """Add a second-line service."""
    from rnmail.tickets.team import add_service

    with app.ready_db().transaction() as session:
        added = add_service(session, name, email, description, language,
                            app.config.helpdesk.own_addresses)
        click.echo(f"service {added.name} <{added.email}> added")


@service.command("edit")
@click.argument("name")
@click.option("--email", help="A new contact address.")
@click.option("--description", help="What the service handles ('' to clear).")
@click.option("--language", type=click.Choice([*LANGUAGES, ""]),
              help="The language its contact reads ('' for [helpdesk].default_language).")
@pass_app
@handle_errors
def service_edit(app: App, name: str, email: str | None, description: str | None,
                 language: str | None) -> None:
    """Change a second-line service's address, description or language; tickets delegated
    to it stay so."""
    from rnmail.tickets.team import edit_service

    with app.ready_db().transaction() as session:
        edited = edit_service(session, name, email, description, language,
                              app.config.helpdesk.own_addresses)
        click.echo(f"service {edited.name} <{edited.email}> "
                   f"({edited.language or 'the help desk language'}) changed")


@service.command("remove")
@click.argument("name")
@pass_app
@handle_errors
def service_remove(app: App, name: str) -> None:
    """Take a service off the choices (delegation on the desk, the call form, #delegate).
    Its tickets keep it; `service add` brings it back."""
    from rnmail.tickets.team import remove_service

    with app.ready_db().transaction() as session:
        removed, waiting = remove_service(session, name)
        click.echo(f"service {removed.name} removed"
                   + (f"; {waiting} ticket(s) still delegated to it stay so" if waiting else ""))


@service.command("list")
@click.option("--all", "removed", is_flag=True, help="The removed services too.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def service_list(app: App, removed: bool, as_json: bool) -> None:
    """List the second-line services."""
    from rnmail.tickets.team import list_services

    with app.ready_db().transaction() as session:
        rows = list_services(session, removed)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']:<28} {row['email']:<36} {row['language'] or '--':<3} "
                   f"{row['description'] or ''}" + ("" if row["active"] else " (removed)"))
