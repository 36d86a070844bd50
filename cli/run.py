"""``rnmail run``: the daemon."""

from __future__ import annotations

import click

from cli.app import App, handle_errors, pass_app


@click.command()
@pass_app
@handle_errors
def run(app: App) -> None:
    """Run the help desk: read the mailboxes, send the outbox, run the maintenance steps,
    until SIGTERM or Ctrl-C (SIGHUP reloads the config)."""
    from rnmail.daemon.loop import Daemon

    Daemon(app.config_path).run()
