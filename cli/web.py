"""``rnmail web``: the public status page and FAQ over HTTP."""

from __future__ import annotations

import click

from cli.app import App, handle_errors, pass_app


@click.command()
@click.option("--bind", metavar="HOST:PORT",
              help="Address to listen on (default: [web].bind, 127.0.0.1:8080).")
@pass_app
@handle_errors
def web(app: App, bind: str | None) -> None:
    """Serve the published status page (/, status.json, feed.atom, /nl /fr /de) and FAQ
    (/faq/) until SIGTERM or Ctrl-C. Never opens the database."""
    from rnmail.web import serve

    def ready(url: str) -> None:
        click.echo(f"rnmail web: serving {url} (Ctrl-C to stop)", err=True)

    serve(app.config, bind, ready)
    click.echo("rnmail web: stopped", err=True)
