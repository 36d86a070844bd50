"""``rnmail operator`` (who may change the status) and ``rnmail audit`` (what they did)."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar

import click

from cli.app import App, emit_json, handle_errors, pass_app
from rnmail import audit as audit_log
from rnmail.auth import operators
from rnmail.errors import RnmailError

F = TypeVar("F", bound=Callable[..., Any])


def read_password(from_stdin: bool, confirm: bool = False) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm))


def authenticate(app: App, operator_name: str, password_stdin: bool) -> str:
    """The operator's name once their password is checked; a refusal ends the command."""
    try:
        password = read_password(password_stdin)
        return operators.authenticate(app.ready_db(), app.config.operators, operator_name,
                                      password)
    except RnmailError as exc:
        raise click.ClickException(str(exc)) from None


def operator_required(func: F) -> F:
    """Add ``--operator``/``--password-stdin`` and pass the authenticated operator's name
    as ``operator``; a wrong password stops the command (and is logged)."""

    @click.option("--operator", "operator_name", envvar="RNMAIL_OPERATOR", required=True,
                  help="Operator name (or $RNMAIL_OPERATOR).")
    @click.option("--password-stdin", is_flag=True,
                  help="Read the operator's password from the first line of stdin.")
    def wrapper(*args: Any, operator_name: str, password_stdin: bool, **kwargs: Any) -> Any:
        app = click.get_current_context().find_object(App)
        assert app is not None
        name = authenticate(app, operator_name, password_stdin)
        return func(*args, operator=name, **kwargs)

    return update_wrapper(wrapper, func)  # type: ignore[return-value]


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
    """Set an operator's password (and enable the operator again)."""
    password = read_password(password_stdin, confirm=True)
    with app.ready_db().transaction() as session:
        operators.change_password(session, name, password)
    click.echo(f"password of {name} changed")


@operator.command("disable")
@click.argument("name")
@pass_app
@handle_errors
def operator_disable(app: App, name: str) -> None:
    """Stop an operator from logging in (passwd enables it again)."""
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
    the old."""
    with app.ready_db().transaction() as session:
        uri = operators.enable_totp(session, name)
    click.echo(uri)
    if not no_qr:
        import qrcode

        code = qrcode.QRCode(border=1)
        code.add_data(uri)
        out = io.StringIO()
        code.print_ascii(out=out, invert=True)
        click.echo(out.getvalue(), nl=False)


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
        click.echo(f"{row['name']:<24} {state:<9} password set {row['password_changed_at']}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", type=click.IntRange(1, 100000), default=100, show_default=True)
@click.option("--action", help="Only this action, e.g. status-set, login-failed.")
@click.option("--actor", help="Only this operator.")
@pass_app
@handle_errors
def audit(app: App, as_json: bool, limit: int, action: str | None, actor: str | None) -> None:
    """The audit log, newest first: status changes, maintenance, announcements, logins."""
    with app.ready_db().transaction() as session:
        events = [audit_log.event_json(e)
                  for e in audit_log.list_events(session, limit, action, actor)]
    if as_json:
        emit_json(events)
        return
    for e in events:
        count = f" recipients={e['recipients']}" if e["recipients"] is not None else ""
        mark = "" if e["success"] else " REFUSED"
        detail = " ".join(f"{k}={v}" for k, v in e["detail"].items())
        source = f" from={e['client']}" if e["client"] else ""
        click.echo(f"{e['at'][:19]} {e['actor']:<16} {e['action']}{mark}{count}{source} "
                   f"{detail}".rstrip())
