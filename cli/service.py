"""``rnmail service``: the second-line services tickets are delegated to."""

from __future__ import annotations

import click

from cli.app import App, emit_json, handle_errors, pass_app


@click.group()
def service() -> None:
    """Second-line services that tickets are delegated to."""


@service.command("add")
@click.argument("name")
@click.option("--email", required=True, help="The service's contact address.")
@click.option("--description", help="What the service handles.")
@pass_app
@handle_errors
def service_add(app: App, name: str, email: str, description: str | None) -> None:
    """Add a second-line service."""
    from rnmail.tickets.team import add_service

    with app.ready_db().transaction() as session:
        added = add_service(session, name, email, description)
        click.echo(f"service {added.name} <{added.email}> added")


@service.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def service_list(app: App, as_json: bool) -> None:
    """List the second-line services."""
    from rnmail.tickets.team import list_services

    with app.ready_db().transaction() as session:
        rows = list_services(session)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']:<28} {row['email']:<36} {row['description'] or ''}")
