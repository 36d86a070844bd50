"""``rnmail operator``: the technical staff who may change the status and send announcements."""

from __future__ import annotations

import io

import click

from cli.app import App, emit_json, handle_errors, pass_app, read_password
from rnmail.auth import operators
from rnmail.i18n.formats import text_time


@click.group()
def operator() -> None:
    """Technical staff allowed to change the status and send announcements."""


@operator.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@pass_app
@handle_errors
def operator_add(app: App, name: str, password_stdin: bool) -> None:
    """Add an operator (asks for the password twice unless --password-stdin)."""
    password = read_password(password_stdin, confirm=True)
    with app.ready_db().transaction() as session:
        operators.add_operator(session, name, password)
    click.echo(f"operator {name} added")


@operator.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@pass_app
@handle_errors
def operator_passwd(app: App, name: str, password_stdin: bool) -> None:
    """Set an operator's password (and enable the operator again); ends the operator's
    web admin sessions."""
    password = read_password(password_stdin, confirm=True)
    with app.ready_db().transaction() as session:
        operators.change_password(session, name, password)
    click.echo(f"password of {name} changed")


@operator.command("unlock")
@click.argument("name")
@click.option("--by", help="Who lets them in (recorded in the audit log).")
@pass_app
@handle_errors
def operator_unlock(app: App, name: str, by: str | None) -> None:
    """Let an operator locked out by failed sign-ins sign in again now (audited); a new
    password (passwd) does the same."""
    with app.ready_db().transaction() as session:
        failures = operators.unlock_operator(session, name, by)
    click.echo(f"operator {name} unlocked ({failures} failed attempt(s) today no longer "
               "count)")


@operator.command("disable")
@click.argument("name")
@pass_app
@handle_errors
def operator_disable(app: App, name: str) -> None:
    """Stop an operator from logging in and end their web admin sessions (passwd enables
    the operator again)."""
    with app.ready_db().transaction() as session:
        operators.disable_operator(session, name)
    click.echo(f"operator {name} disabled")


@operator.command("totp")
@click.argument("name")
@click.option("--no-qr", is_flag=True, help="Print only the otpauth:// URI.")
@pass_app
@handle_errors
def operator_totp(app: App, name: str, no_qr: bool) -> None:
    """Give an operator a new second factor (TOTP) for the web admin: prints the
    otpauth:// URI and its QR code to scan with an authenticator app. A new one replaces
    the old and ends the operator's web admin sessions."""
    with app.ready_db().transaction() as session:
        uri = operators.enable_totp(session, name,
                                    cipher=operators.TotpCipher(app.config.helpdesk.secret))
    click.echo(uri)
    if not no_qr:
        print_qr(uri)
        click.echo(_totp_next_steps(app, name, uri))


def print_qr(uri: str) -> None:
    """The ``otpauth://`` URI as a QR code in the terminal (``operator/staff totp``)."""
    import qrcode

    code = qrcode.QRCode(border=1)
    code.add_data(uri)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    click.echo(out.getvalue(), nl=False)


def _totp_next_steps(app: App, name: str, uri: str) -> str:
    """What the operator does with the QR code, and how to check that it works."""
    from urllib.parse import parse_qs, urlsplit

    secret = parse_qs(urlsplit(uri).query).get("secret", ["?"])[0]
    bind = app.config.web.admin_bind
    where = (f"the web admin, http://{bind}/admin/ (or the HTTPS address your proxy gives it)"
             if bind else "the web admin (none configured yet: set [web].admin_bind, e.g. "
             "\"127.0.0.1:8081\", and start `rnmail web`)")
    return (f"Next: {name} scans this QR code with an authenticator app on their phone "
            f"(FreeOTP, Aegis, Google or Microsoft Authenticator...), or types in the secret "
            f"{secret} (time-based, 6 digits, 30 seconds).\n"
            f"Then, to check it, {name} signs in to {where} with their password and the "
            f"6-digit code the app shows now. A refused code: check the phone's clock; the old "
            f"code no longer works and {name}'s open sessions have ended.")


@operator.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def operator_list(app: App, as_json: bool) -> None:
    """List the operators."""
    with app.ready_db().transaction() as session:
        rows = [{"name": o.name, "active": o.active, "created_at": o.created_at.isoformat(),
                 "password_changed_at": o.password_changed_at.isoformat()}
                for o in operators.list_operators(session)]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        state = "active" if row["active"] else "disabled"
        click.echo(f"{row['name']:<24} {state:<9} password set "
                   f"{text_time(str(row['password_changed_at']), app.config.helpdesk.zone)}")
