"""The ``rnmail`` command: thin click commands that parse, call one core function, format.

Each command group lives in the module of its name (``rnmail ticket`` in ``cli.ticket``);
this one holds the root group, which loads nothing until a command needs it.
"""

from __future__ import annotations

import os

import click

from cli.app import App, handle_errors, pass_app
from rnmail.util.logs import configure_logging
from rnmail.util.publicfiles import restrict_umask


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="RNMAIL_CONFIG",
              help="Config file (default: $RNMAIL_CONFIG or ./rnmail.toml).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              envvar="RNMAIL_LOG_FORMAT", show_default=True,
              help="Log lines as text, or one JSON object per line for log shippers.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int, log_format: str) -> None:
    """rnmail — the help desk's tickets, by mail and by hand."""
    umask = restrict_umask()  # personal data: rnmail writes 0600/0700 (public pages aside)
    ctx.call_on_close(lambda: os.umask(umask))  # for callers that run it in-process
    configure_logging(verbose, log_format)
    ctx.obj = App(config_path)


@main.command()
@pass_app
@handle_errors
def init(app: App) -> None:
    """Create or upgrade the database schema (Alembic upgrade head)."""
    revision = app.db.upgrade()
    app.config.helpdesk.attachments_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"database {app.db.safe_url} at schema revision {revision}")




def _register() -> None:
    """Each command group lives in the module of its name (``rnmail ticket`` in ``cli.ticket``)."""
    from cli import (
        access,
        announce,
        archive,
        audit,
        block,
        db,
        demo,
        directory,
        doctor,
        faq,
        ingest,
        lists,
        maintenance,
        message,
        operator,
        outbox,
        privacy,
        privacy_rights,
        quarantine,
        report,
        run,
        scheduler,
        service,
        spam,
        staff,
        stats,
        status,
        template,
        text,
        ticket,
        ticket_hold,
        web,
    )

    for group in (ingest.ingest, outbox.outbox, quarantine.quarantine, ticket.ticket, staff.staff,
                  service.service, message.message, archive.archive, faq.faq, operator.operator,
                  audit.audit, lists.lists, status.status, maintenance.maintenance,
                  scheduler.scheduler, announce.announce, template.template, db.db, run.run,
                  doctor.doctor, demo.demo, stats.stats, report.report, access.access,
                  directory.directory, web.web, text.text, spam.spam, block.block,
                  privacy.privacy):
        main.add_command(group)
    for command in (ticket_hold.ticket_hold, ticket_hold.ticket_unhold):
        ticket.ticket.add_command(command)
    for command in (privacy_rights.export, privacy_rights.erase):
        privacy.privacy.add_command(command)


_register()
