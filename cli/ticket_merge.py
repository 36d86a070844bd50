"""``rnmail ticket merge SOURCE into TARGET`` and ``rnmail ticket split ID --message MSG``.

Kept apart from ``cli/ticket.py`` (which registers them in the ``ticket`` group) for that
module's length; merging and splitting are ``rnmail.tickets.merge``.
"""

from __future__ import annotations

import click

from cli.app import ROW_ID, TICKET, App, emit_json, handle_errors, login_name, pass_app

ACTOR = click.option(
    "--author", envvar="RNMAIL_STAFF",
    help="Who does it, for the ticket's history and the audit: your staff address or name, "
    "or any name (or $RNMAIL_STAFF; default: your login name).")


@click.command("merge")
@click.argument("source", type=TICKET)
@click.argument("into", metavar="into", type=click.Choice(["into"]))
@click.argument("target", type=TICKET)
@ACTOR
@click.option("--json", "as_json", is_flag=True, help="Print the target as `ticket show`.")
@pass_app
@handle_errors
def ticket_merge(app: App, source: int, into: str, target: int, author: str | None,
                 as_json: bool) -> None:
    """Merge ticket SOURCE into TARGET (the same request twice): its messages, notes,
    files, participants and history move to TARGET; SOURCE is closed as merged, its mail
    goes to TARGET and the statistics count TARGET only."""
    from rnmail.tickets.lifecycle import cli_actor
    from rnmail.tickets.merge import merge_tickets
    from rnmail.tickets.views import show_ticket

    with app.ready_db().transaction() as session:
        merged = merge_tickets(session, source, target,
                               cli_actor(session, author, login_name()))
        session.flush()
        detail = show_ticket(session, merged.id)
    if as_json:
        emit_json(detail)
        return
    click.echo(f"ticket #{source} merged into #{target}")


@click.command("split")
@click.argument("ticket_id", type=TICKET)
@click.option("--message", "message_id", type=ROW_ID, required=True,
              help="The number of the request to take out (`ticket show --json`: its id).")
@ACTOR
@click.option("--json", "as_json", is_flag=True, help="Print the new ticket as `ticket show`.")
@pass_app
@handle_errors
def ticket_split(app: App, ticket_id: int, message_id: int, author: str | None,
                 as_json: bool) -> None:
    """Make one request received in a ticket (a mail, a call) a ticket of its own, linked to
    the first: prints "ticket #N opened"."""
    from rnmail.tickets.lifecycle import cli_actor
    from rnmail.tickets.merge import split
    from rnmail.tickets.views import show_ticket

    with app.ready_db().transaction() as session:
        new = split(session, ticket_id, message_id, cli_actor(session, author, login_name()))
        detail = show_ticket(session, new.id)
    if as_json:
        emit_json(detail)
        return
    click.echo(f"ticket #{new.id} opened from message {message_id} of #{ticket_id}")
