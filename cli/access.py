"""Access of directory users: the unblocking procedure and who is blocked."""

from __future__ import annotations

import click

from cli.app import TICKET, App, emit_json, handle_errors, login_name, pass_app
from rnmail.vocab import UnblockAction, strings


@click.group()
def access() -> None:
    """Directory users' access: unblock a blocked user (access keys), list who is blocked."""


@access.command("unblock")
@click.argument("email")
@click.option("--ticket", "ticket_id", type=TICKET, required=True,
              help="The ticket of the request (category access-key).")
@click.option("--identity-confirmed", is_flag=True,
              help="The caller's identity has been confirmed.")
@click.option("--entitled", is_flag=True,
              help="The user's organisation is still entitled to the register.")
@click.option("--action", type=click.Choice(strings(UnblockAction)), required=True,
              help="reset: a reset of the access was requested; new-key: a new key was sent.")
@click.option("--note", help="Kept in the ticket comment and the audit log, not mailed.")
@click.option("--by", "actor", help="Who unblocks (default: your login name).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def access_unblock(app: App, email: str, ticket_id: int, identity_confirmed: bool,
                   entitled: bool, action: str, note: str | None, actor: str | None,
                   as_json: bool) -> None:
    """Unblock a blocked user once both checks are confirmed: the ticket gets a comment,
    the change is audited, the user is active again and is mailed a confirmation in their
    language, in the ticket's thread (through the outbox)."""
    from rnmail.directory.unblock import ACTION_TEXT, unblock
    from rnmail.tickets.lifecycle import cli_actor

    login = login_name()
    with app.ready_db().transaction() as session:
        result = unblock(session, app.config, email, ticket_id,
                         identity_confirmed=identity_confirmed, entitled=entitled,
                         action=action, actor=actor or login, note=note,
                         by=cli_actor(session, actor, login))
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(f"{result.email} ({result.name}, {result.organisation}) unblocked on ticket "
               f"#{result.ticket_id}: {ACTION_TEXT[result.action]}; checks: "
               f"{', '.join(result.checks)}; access active"
               + ("; ticket category set to access-key" if result.category_set else ""))
    click.echo(f"confirmation ({result.language}) queued: outbox #{result.outbox_id} "
               "(sent by `rnmail outbox send` or the daemon)")


@access.command("blocked")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def access_blocked(app: App, as_json: bool) -> None:
    """Users whose access is blocked, oldest block first, with their open tickets."""
    from rnmail.directory.unblock import blocked_users
    from rnmail.i18n.formats import text_time

    with app.ready_db().transaction() as session:
        rows = blocked_users(session)
    if as_json:
        emit_json(rows)
        return
    zone = app.config.helpdesk.zone
    for r in rows:
        org = f"{r['organisation']} ({r['organisation_code']})" if r["organisation_code"] \
            else r["organisation"]
        tickets = ", ".join(f"#{t}" for t in r["open_tickets"]) or "no open ticket"
        click.echo(f"{r['email']}  {r['name']}  {org}  "
                   f"blocked since {text_time(r['since'], zone)}  {tickets}")
    click.echo(f"{len(rows)} blocked user(s)")
