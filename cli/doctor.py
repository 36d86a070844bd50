"""``rnmail doctor``: check the config, database, mailboxes, SMTP, public folders, templates."""

from __future__ import annotations

from dataclasses import asdict

import click

from cli.app import App, emit_json, pass_app


@click.command()
@click.option("--json", "as_json", is_flag=True, help="A list of {name, ok, detail}.")
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check the installation: one line per check, exit status 1 if any fails."""
    from rnmail.ops.doctor import run_checks

    checks = run_checks(app.config_path)
    if as_json:
        emit_json([asdict(check) for check in checks])
    else:
        for check in checks:
            click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    if not all(check.ok for check in checks):
        click.get_current_context().exit(1)
