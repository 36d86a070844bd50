"""``rnmail demo``: example data for a first look, and ``demo reply`` to answer an outgoing
mail as its recipient would on the Maildir/file set-up."""

from __future__ import annotations

from pathlib import Path

import click

from cli.app import App, handle_errors, pass_app


@click.group(invoke_without_command=True)
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Add example tickets, the example user groups and a planned maintenance (no mail is
    sent), and publish the status page. Running it again adds nothing.

    `rnmail demo reply` answers an outgoing mail as its recipient would."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(demo_seed)


@pass_app
@handle_errors
def demo_seed(app: App) -> None:
    from rnmail.ops.demo import seed_demo

    result = seed_demo(app.ready_db(), app.config)
    if result.already:
        click.echo("the demo data is already there")
        return
    click.echo(f"{result.tickets} example tickets, {result.groups} user group(s), "
               f"maintenance #{result.maintenance_id} planned; status page in "
               f"{app.config.status.public_dir}")


@demo.command("reply", short_help="Answer an outgoing .eml as its recipient would.")
@click.argument("eml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--text", "lines", multiple=True, required=True,
              help="A line of the reply, above the quoted mail (repeat for more lines; "
                   "`#` commands first, as at the top of a real reply).")
@click.option("--mailbox", help="The Maildir mailbox to drop it in (default: the info one).")
@pass_app
@handle_errors
def demo_reply(app: App, eml: Path, lines: tuple[str, ...], mailbox: str | None) -> None:
    """Reply to EML, an outgoing mail written by the file transport ([smtp] transport =
    "file", e.g. var/outgoing/…-marie.lambert@rn.example.eml), as its recipient would: the
    reply (From the recipient, In-Reply-To the mail, "Re:" subject, the mail quoted below
    the text) is dropped into the Maildir mailbox's new/ folder, and the next `rnmail ingest
    once` or the daemon reads it like any mail. For trying the answer-by-mail workflow
    without a mail server."""
    from rnmail.ops.reply import reply_to_file

    reply = reply_to_file(app.config, eml, list(lines), mailbox)
    click.echo(f"reply from {reply.sender} to {reply.to} ({reply.subject}) dropped into "
               f"{reply.path}; `rnmail ingest once` reads it")
