"""``rnmail message``: phone messages taken for absent colleagues."""

from __future__ import annotations

import click

from cli.app import App, emit_json, handle_errors, pass_app


@click.group()
def message() -> None:
    """Messages taken for absent colleagues."""


@message.command("take")
@click.option("--for", "for_staff", required=True, help="The absent colleague's address.")
@click.option("--caller", required=True, help="Who called.")
@click.option("--phone", required=True, help="Their number, any national format.")
@click.option("--text", required=True, help="The message.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def message_take(app: App, for_staff: str, caller: str, phone: str, text: str,
                 as_json: bool) -> None:
    """Take a phone message for a colleague: it is mailed to them and logged."""
    from rnmail.tickets.calls import CallForm, take_message

    with app.ready_db().transaction() as session:
        taken = take_message(session, app.config, CallForm(phone=phone, caller=caller,
                                                           text=text), for_staff)
    if as_json:
        emit_json(taken)
    else:
        click.echo(f"message for {taken['to']} queued ({taken['message_id']})")
