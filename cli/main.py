"""The ``rnmail`` command: thin click commands that parse, call one core function, format.

Each command group lives in the module of its name (``rnmail ticket`` in ``cli.ticket``);
this one holds the root group, which imports a group's module only when that group runs:
an agent's ``rnmail ticket show`` does not pay for the imports of ``rnmail report`` or
``rnmail web`` (docs/performance.md, *CLI start*). When ``rnmail run`` keeps a command
server (``[daemon].command_socket``), the program (``cli.program``) hands it the command line
before it imports this module (``rnmail.commandserver``).
"""

from __future__ import annotations

import gc
import importlib
import os
from typing import Any

import click

from cli.app import App, handle_errors, pass_app
from rnmail.util.gcpause import gc_paused
from rnmail.util.logs import configure_logging
from rnmail.util.publicfiles import restrict_umask

# The command groups, each in ``cli/<name>.py`` as ``<name>``, with the first paragraph of its
# help: what ``rnmail --help`` lists without importing them (tests/test_cli_start.py checks
# that this agrees with the commands).
COMMANDS = {
    "access": "Directory users' access: unblock a blocked user (access keys), list who is "
              "blocked.",
    "announce": "Send a document mailing to user groups, each member in their language.",
    "archive": "Closed tickets, exported for the records (they stay searchable).",
    "audit": "The audit log, newest first: status changes, maintenance, announcements, logins.",
    "block": "Addresses and domains (with their subdomains) whose mail goes straight to spam.",
    "db": "The database: upgrade the schema, take a backup.",
    "demo": "Add example tickets, the example user groups and a planned maintenance (no mail "
            "is sent), and publish the status page. Running it again adds nothing.",
    "directory": "Organisations and their users: import, show, search, access status, export.",
    "doctor": "Check the installation: one line per check, exit status 1 if any fails.",
    "faq": "Frequently asked questions, per language.",
    "ingest": "Turn mailbox messages into tickets.",
    "lists": "User groups (address lists): import, check, show and edit them; bounced "
             "addresses.",
    "maintenance": "Planned maintenance: announced, reminded, started and ended "
                   "automatically.",
    "message": "Messages taken for absent colleagues.",
    "operator": "Technical staff allowed to change the status and send announcements.",
    "outbox": "The queue of outgoing mail.",
    "privacy": "Personal data: apply the retention periods of [privacy]; a person's export "
               "and erasure (docs/privacy.md).",
    "quarantine": "Messages that could not be processed.",
    "report": "Write the activity report for management: one self-contained HTML file. "
              "Without --from/--to it covers every ticket, as `rnmail stats` does.",
    "run": "Run the help desk: read the mailboxes, send the outbox, run the maintenance steps, "
           "until SIGTERM or Ctrl-C (SIGHUP reloads the config).",
    "scheduler": "The process that runs the maintenance steps (reminder, start, end) on time.",
    "serve-commands": "Keep a warm rnmail on a Unix socket, so that the commands agents and "
                      "operators type (`ticket`, `status`, `directory`…) answer at once; `rnmail "
                      "run` starts it when [daemon].command_socket is set. Until SIGTERM or "
                      "Ctrl-C.",
    "service": "Second-line services that tickets are delegated to.",
    "spam": "Mail held as spam: no ticket, no mail sent, kept raw until released or deleted.",
    "staff": "Help-desk members, who are notified and answer by mail.",
    "stats": "Contacts (tickets) in a period, counted by month, channel, requester type...",
    "status": "The register's system status and its public, trilingual page.",
    "template": "The mail templates: mailings and status/maintenance notices.",
    "text": "Text modules: answer pieces per language with placeholders.",
    "ticket": "Tickets: inspect them, log calls, answer, delegate and close them.",
    "web": "Serve the published status page (/, status.json, feed.atom, /nl /fr /de) and FAQ "
           "(/faq/), and the status administration (/admin/) and the help desk's desk "
           "(/desk/) on their own address, until SIGTERM or Ctrl-C. The public site never "
           "opens the database.",
}


class LazyGroup(click.Group):
    """A group whose commands of ``COMMANDS`` are imported when one is run or asked for its
    own help; the list of ``--help`` is written from the table (click's lazy-loading
    pattern).

    Run as the program (``rnmail``, or ``main()``; not click's test runner, which calls
    ``main.main`` in a process that goes on), what the command's import made, and at the
    end everything left, is frozen out of Python's cyclic collector (``gc.freeze``): it
    lives until the process ends, and the collections that walked it again and again, the
    last one at exit included, were a quarter of the CPU time of ``rnmail ticket show``."""

    program = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.program = True
        try:
            return super().__call__(*args, **kwargs)
        finally:
            gc.freeze()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            attribute = cmd_name.replace("-", "_")
            with gc_paused():  # an import makes many objects and no garbage
                module = importlib.import_module(f"cli.{attribute}")
            if self.program:
                gc.freeze()
            self.add_command(getattr(module, attribute))
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click writes it, the commands not yet imported stood in for by their help."""
        commands = {name: self.commands.get(name) or click.Command(name, help=COMMANDS[name])
                    for name in self.list_commands(ctx)}
        limit = formatter.width - 6 - max(map(len, commands))
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit))
                                for name, command in commands.items() if not command.hidden])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
