"""``rnmail template``: the templates of mailings and notices, listed and previewed."""

from __future__ import annotations

import click

from cli.app import (
    App,
    emit_json,
    handle_errors,
    parse_vars,
    pass_app,
)


@click.group()
def template() -> None:
    """The mail templates: mailings and status/maintenance notices."""


@template.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def template_list(app: App, as_json: bool) -> None:
    """Every template with its languages."""
    from rnmail.dispatch.announce import list_templates

    rows = list_templates(app.config)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']:<20} {row['kind']:<8} {','.join(row['languages'])}  "
                   f"{row['directory']}")


@template.command("preview")
@click.argument("name")
@click.option("--lang", "language", type=click.Choice(["nl", "fr", "de", "en"]), default="fr",
              show_default=True)
@click.option("--var", "variables", multiple=True, help="Template variable NAME=VALUE.")
@click.option("--html", is_flag=True, help="Print the HTML part instead of the text.")
@pass_app
@handle_errors
def template_preview(app: App, name: str, language: str, variables: tuple[str, ...],
                     html: bool) -> None:
    """Render a template in one language (notices with sample values)."""
    from rnmail.dispatch.announce import preview_template

    rendered = preview_template(app.config, name, language, parse_vars(variables))
    click.echo(f"Subject: {rendered.subject}\nContent-Language: {rendered.language}\n")
    click.echo(rendered.html if html and rendered.html else rendered.text)
