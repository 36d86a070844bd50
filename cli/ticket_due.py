"""``rnmail ticket due``: the due times (SLA) worked out again for every ticket.

Kept apart from ``cli/ticket.py`` (which registers it in the ``ticket`` group) for that
module's length; the due times are ``rnmail.tickets.due``.
"""

from __future__ import annotations

import click

from cli.app import App, handle_errors, pass_app


@click.command("due")
@click.option("--recompute", is_flag=True, required=True,
              help="Work out every ticket's due times again from [due] and [stats].")
@pass_app
@handle_errors
def ticket_due(app: App, recompute: bool) -> None:
    """Update the due times after the targets of [due] or the calendar of [stats] changed,
    and for the tickets stored before due times existed."""
    from rnmail.tickets.due import DueRules
    from rnmail.tickets.due import recompute as work_out

    with app.ready_db().transaction() as session:
        count = work_out(session, DueRules(app.config))
    click.echo(f"due times worked out for {count} tickets")
