"""``rnmail demo``: example data for a first look."""

from __future__ import annotations

import click

from cli.app import App, handle_errors, pass_app


@click.command()
@pass_app
@handle_errors
def demo(app: App) -> None:
    """Add example tickets, the example user groups and a planned maintenance (no mail is
    sent), and publish the status page. Running it again adds nothing."""
    from rnmail.ops.demo import seed_demo

    result = seed_demo(app.ready_db(), app.config)
    if result.already:
        click.echo("the demo data is already there")
        return
    click.echo(f"{result.tickets} example tickets, {result.groups} user group(s), "
               f"maintenance #{result.maintenance_id} planned; status page in "
               f"{app.config.status.public_dir}")
