"""``rnmail web``: the public status page and FAQ over HTTP."""

from __future__ import annotations

import click

from cli.app import App, handle_errors, pass_app


@click.command()
@click.option("--bind", metavar="HOST:PORT",
              help="Address to listen on (default: [web].bind, 127.0.0.1:8080).")
@click.option("--admin-bind", metavar="HOST:PORT",
              help="Address of the status administration, /admin (default: "
                   "[web].admin_bind; none if that is empty).")
@pass_app
@handle_errors
def web(app: App, bind: str | None, admin_bind: str | None) -> None:
    """Serve the published status page (/, status.json, feed.atom, /nl /fr /de) and FAQ
    (/faq/), and the status administration (/admin/) and the help desk's desk (/desk/) on
    their own address, until SIGTERM or Ctrl-C.
    The public site never opens the database."""
    from rnmail.web.server import Listening, serve

    def ready(listening: Listening) -> None:
        click.echo(f"rnmail web: serving {listening.url} (Ctrl-C to stop)", err=True)
        if listening.admin_url:
            click.echo(f"rnmail web: status administration on {listening.admin_url}",
                       err=True)
        if listening.admin_note:
            click.echo(f"rnmail web: {listening.admin_note.text}", err=True)
        if listening.admin_url:
            click.echo(f"rnmail web: the help desk's desk on {listening.desk_url}", err=True)

    serve(app.config, bind, admin_bind, ready)
    click.echo("rnmail web: stopped", err=True)
