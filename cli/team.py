"""The team: help-desk ``staff`` and second-line ``service`` contacts."""

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


@click.group()
def message() -> None:
    """Messages taken for absent colleagues."""


@message.command("take")
@click.option("--for", "for_staff", required=True, help="The absent colleague's address.")
@click.option("--caller", required=True, help="Who called.")
@click.option("--phone", required=True, help="Their number, any national format.")
@click.option("--text", required=True, help="The message.")
@pass_app
@handle_errors
def message_take(app: App, for_staff: str, caller: str, phone: str, text: str) -> None:
    """Take a phone message for a colleague: it is mailed to them and logged."""
    from rnmail.dispatch.answer import take_phone_message

    with app.ready_db().transaction() as session:
        message_id = take_phone_message(session, app.config, for_staff, caller, phone, text)
    click.echo(f"message for {for_staff} queued ({message_id})")
