"""``rnmail staff``: help-desk members, who are notified and answer by mail, and sign in
to the desk (``passwd``, ``totp``, ``unlock``), and the privacy officers (``privacy``)."""

from __future__ import annotations

import click

from cli.app import App, emit_json, handle_errors, login_name, pass_app, read_password
from cli.operator import print_qr
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
        member = add_staff(session, email, name, language, app.config.helpdesk.own_addresses)
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
    """Remove a staff member (their tickets and history stay); ends their desk sessions
    at once."""
    from rnmail.tickets.team import remove_staff

    with app.ready_db().transaction() as session:
        member = remove_staff(session, email)
        click.echo(f"staff {member.email} removed")


@staff.command("passwd")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@pass_app
@handle_errors
def staff_passwd(app: App, email: str, password_stdin: bool) -> None:
    """Set a staff member's password for the desk (asks twice unless --password-stdin);
    ends their desk sessions. With a second factor (staff totp) they can sign in."""
    from rnmail.auth.staff import set_password

    password = read_password(password_stdin, confirm=True)
    with app.ready_db().transaction() as session:
        member = set_password(session, email, password)
    click.echo(f"desk password of {member.email} set")


@staff.command("totp")
@click.argument("email")
@click.option("--no-qr", is_flag=True, help="Print only the otpauth:// URI.")
@pass_app
@handle_errors
def staff_totp(app: App, email: str, no_qr: bool) -> None:
    """Give a staff member a new second factor (TOTP) for the desk: prints the
    otpauth:// URI and its QR code to scan with an authenticator app. A new one replaces
    the old and ends their desk sessions."""
    from rnmail.auth.signin import TotpCipher
    from rnmail.auth.staff import enable_totp

    with app.ready_db().transaction() as session:
        uri = enable_totp(session, email, cipher=TotpCipher(app.config.helpdesk.secret))
    click.echo(uri)
    if not no_qr:
        print_qr(uri)
        bind = app.config.web.admin_bind
        where = (f"http://{bind}/desk/ (or the HTTPS address your proxy gives it)" if bind
                 else "the desk (none configured yet: set [web].admin_bind)")
        click.echo(f"Next: {email} scans this QR code with an authenticator app on their "
                   f"phone, then signs in to {where} with their e-mail address, password "
                   "and the 6-digit code the app shows.")


@staff.command("unlock")
@click.argument("email")
@click.option("--by", help="Who lets them in (recorded in the audit log).")
@pass_app
@handle_errors
def staff_unlock(app: App, email: str, by: str | None) -> None:
    """Let a staff member locked out of the desk by failed sign-ins sign in again now
    (audited); a new password (passwd) does the same."""
    from rnmail.auth.staff import unlock

    with app.ready_db().transaction() as session:
        member = unlock(session, email, by)
    click.echo(f"staff {member.email} unlocked")


@staff.command("privacy")
@click.argument("email")
@click.option("--grant/--revoke", required=True,
              help="Let them answer a person's access and erasure requests on the desk "
                   "(/desk/privacy), or no longer.")
@click.option("--by", help="Who decides (recorded in the audit log; default: your user name).")
@pass_app
@handle_errors
def staff_privacy(app: App, email: str, grant: bool, by: str | None) -> None:
    """Make a staff member a privacy officer, who exports and erases a person's data from
    the desk (GDPR Art. 15 and 17), or no longer (audited)."""
    from rnmail.auth.staff import set_privacy_officer

    with app.ready_db().transaction() as session:
        changed = set_privacy_officer(session, email, grant, (by or login_name()).strip()
                                      or "help desk")
    state = "a privacy officer" if grant else "not a privacy officer"
    click.echo(f"staff {email.strip().lower()} is {state}" + ("" if changed else
                                                               " already: nothing changed"))
