"""``rnmail scheduler``: the process that runs the maintenance steps as they fall due."""

from __future__ import annotations

import contextlib
import signal

import click

from cli.app import (
    App,
    handle_errors,
    pass_app,
)


@click.group()
def scheduler() -> None:
    """The process that runs the maintenance steps (reminder, start, end) on time."""


@scheduler.command("run")
@pass_app
@handle_errors
def scheduler_run(app: App) -> None:
    """Run the steps as they fall due and send their mail, until interrupted."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from rnmail.dispatch.send import send_outbox
    from rnmail.status.maintenance import start_maintenance_jobs

    db = app.ready_db()
    scheduler = BlockingScheduler()
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt  # out of the scheduler's loop, as Ctrl-C does

    # SIGTERM (systemd, docker stop, kill) would otherwise end the process on the spot.
    signal.signal(signal.SIGTERM, stop)
    click.echo("scheduler running (Ctrl-C to stop)", err=True)
    try:
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            try:
                start_maintenance_jobs(db, app.config, scheduler,
                                       after_step=lambda: send_outbox(db, app.config))
            except Exception:
                # The interrupt landed inside the scheduler's own look at its job store
                # (a pool's pre-ping on PostgreSQL): that call fails because of it; the
                # steps run in their threads and are waited for below. Anything else is a
                # real error.
                if not stopping:
                    raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if scheduler.running:
            scheduler.shutdown()  # lets a step under way finish, with its mail
    click.echo("scheduler stopped", err=True)
