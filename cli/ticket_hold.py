"""``rnmail ticket hold ID --reason TEXT`` and ``rnmail ticket unhold ID``: a ticket's legal
hold (``rnmail.privacy.hold``).

Kept apart from ``cli/ticket.py`` for that module's length; that module adds them to the
``ticket`` group.
"""

from __future__ import annotations

import click

from cli.app import TICKET, App, emit_json, handle_errors, login_name, pass_app
from cli.ticket_merge import ACTOR


@click.command("hold")
@click.argument("ticket_id", type=TICKET)
@click.option("--reason", required=True,
              help="Why it must be kept (a dispute, a court's or the authority's request...).")
@ACTOR
@click.option("--json", "as_json", is_flag=True, help="Print the ticket as `ticket show`.")
@pass_app
@handle_errors
def ticket_hold(app: App, ticket_id: int, reason: str, author: str | None,
                as_json: bool) -> None:
    """Put a ticket on legal hold: kept as it is, exempt from every purge and from
    anonymisation ([privacy]) until `ticket unhold`."""
    from rnmail.privacy.hold import hold_ticket
    from rnmail.tickets.lifecycle import cli_actor
    from rnmail.tickets.views import show_ticket

    with app.ready_db().transaction() as session:
        hold_ticket(session, ticket_id, reason, cli_actor(session, author, login_name()))
        session.flush()
        detail = show_ticket(session, ticket_id)
    if as_json:
        emit_json(detail)
        return
    click.echo(f"ticket #{ticket_id} on legal hold")


@click.command("unhold")
@click.argument("ticket_id", type=TICKET)
@ACTOR
@click.option("--json", "as_json", is_flag=True, help="Print the ticket as `ticket show`.")
@pass_app
@handle_errors
def ticket_unhold(app: App, ticket_id: int, author: str | None, as_json: bool) -> None:
    """Lift a ticket's legal hold: the [privacy] periods apply to it again."""
    from rnmail.privacy.hold import release_ticket
    from rnmail.tickets.lifecycle import cli_actor
    from rnmail.tickets.views import show_ticket

    with app.ready_db().transaction() as session:
        release_ticket(session, ticket_id, cli_actor(session, author, login_name()))
        session.flush()
        detail = show_ticket(session, ticket_id)
    if as_json:
        emit_json(detail)
        return
    click.echo(f"ticket #{ticket_id}: legal hold lifted")
