"""The ``rnmail`` command: thin click commands that parse, call one core function, format.

Errors the user can act on (``RnmailError``) are printed as one line on stderr with exit
status 1; nothing below this module calls ``sys.exit``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import cached_property, update_wrapper
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError

from rnmail.config import Config, load_config
from rnmail.db import Database
from rnmail.errors import RnmailError

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """What a command needs, loaded on first use: the config and the database."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @cached_property
    def db(self) -> Database:
        return Database(self.config.database.url)

    def ready_db(self) -> Database:
        """The database, checked to hold the rnmail schema."""
        self.db.check_schema()
        return self.db


pass_app = click.make_pass_decorator(App)


def handle_errors(func: F) -> F:
    """Turn RnmailError into one clear line and exit status 1, never a traceback."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RnmailError as exc:
            raise click.ClickException(str(exc)) from None
        except OperationalError as exc:  # the database went away mid-command
            raise click.ClickException(f"database error: {exc.orig}") from None

    return update_wrapper(wrapper, func)  # type: ignore[return-value]


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="RNMAIL_CONFIG",
              help="Config file (default: $RNMAIL_CONFIG or ./rnmail.toml).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """rnmail — help-desk tickets and announcements by email."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = App(config_path)


@main.command()
@pass_app
@handle_errors
def init(app: App) -> None:
    """Create or upgrade the database schema (Alembic upgrade head)."""
    revision = app.db.upgrade()
    app.config.helpdesk.attachments_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"database {app.db.safe_url} at schema revision {revision}")


@main.group()
def ingest() -> None:
    """Turn mailbox messages into tickets."""


@ingest.command("once")
@click.option("--mailbox", help="Only this mailbox (by name).")
@pass_app
@handle_errors
def ingest_once(app: App, mailbox: str | None) -> None:
    """One pass over the mailboxes, then exit."""
    from rnmail.ingest.pipeline import run_ingest

    report = run_ingest(app.ready_db(), app.config, mailbox)
    parts = ", ".join(f"{n} {k}" for k, n in sorted(report.outcomes.items())) or "nothing to do"
    click.echo(f"{report.total} message(s): {parts}")
    if report.errors:
        raise click.ClickException("; ".join(report.errors))


@main.group()
def ticket() -> None:
    """Inspect tickets."""


@ticket.command("list")
@click.option("--status", type=click.Choice(["open", "pending", "delegated", "closed"]))
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def ticket_list(app: App, status: str | None, limit: int, as_json: bool) -> None:
    """List tickets, newest first."""
    from rnmail.tickets import list_tickets

    with app.ready_db().transaction() as session:
        rows = list_tickets(session, status, limit)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"#{row['id']:<6} {row['status']:<9} {row['channel']:<5} {row['language']} "
                   f"{row['requester'][:32]:<32} {row['subject'][:60]}")


@ticket.command("show")
@click.argument("ticket_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def ticket_show(app: App, ticket_id: int, as_json: bool) -> None:
    """Show one ticket with its messages."""
    from rnmail.tickets import show_ticket

    with app.ready_db().transaction() as session:
        detail = show_ticket(session, ticket_id)
    if as_json:
        emit_json(detail)
        return
    click.echo(f"#{detail['id']} [{detail['status']}] {detail['subject']}")
    click.echo(f"requester: {detail['requester']}  channel: {detail['channel']}  "
               f"language: {detail['language']}  created: {detail['created_at']}")
    for msg in detail["messages"]:
        arrow = "<-" if msg["direction"] == "in" else "->"
        click.echo(f"\n{arrow} {msg['date']} {msg['from']} ({msg['kind']}): {msg['subject']}")
        click.echo(msg["text"])
        for att in msg["attachments"]:
            note = f" OMITTED: {att['omitted']}" if att["omitted"] else ""
            click.echo(f"   [{att['content_type']}] {att['filename']} ({att['size']} bytes){note}")


@main.group()
def outbox() -> None:
    """The queue of outgoing mail."""


@outbox.command("send")
@pass_app
@handle_errors
def outbox_send(app: App) -> None:
    """Deliver every due message, then exit."""
    from rnmail.dispatch.send import send_outbox

    report = send_outbox(app.ready_db(), app.config)
    click.echo(f"{report.sent} sent, {report.retried} deferred, {report.failed} failed")


@outbox.command("list")
@click.option("--state", type=click.Choice(["queued", "sending", "sent", "failed"]))
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def outbox_list(app: App, state: str | None, limit: int, as_json: bool) -> None:
    """List outgoing mail, newest first."""
    from rnmail.dispatch.outbox import list_outbox, outbox_summary

    with app.ready_db().transaction() as session:
        rows = [outbox_summary(r) for r in list_outbox(session, state, limit)]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:<6} {row['state']:<8} {row['attempts']}x "
                   f"{row['to']:<36} {row['subject'][:60]}")


@main.group()
def quarantine() -> None:
    """Messages that could not be processed."""


@quarantine.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include released messages.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def quarantine_list(app: App, show_all: bool, as_json: bool) -> None:
    """List quarantined messages and why."""
    from rnmail.quarantine import list_quarantine

    rows = list_quarantine(app.ready_db(), None if show_all else "held")
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:<5} {row['state']:<8} {row['mailbox']:<8} {row['size']:>9} "
                   f"{(row['subject'] or '')[:40]:<40} {row['reason']}")


@quarantine.command("retry")
@click.argument("quarantine_id", type=int)
@pass_app
@handle_errors
def quarantine_retry(app: App, quarantine_id: int) -> None:
    """Process a quarantined message again."""
    from rnmail.quarantine import retry_quarantined

    outcome = retry_quarantined(app.ready_db(), app.config, quarantine_id)
    click.echo(f"quarantined message #{quarantine_id}: {outcome}")
    if outcome == "quarantined":
        raise click.ClickException(f"#{quarantine_id} still fails; see `rnmail quarantine list`")
