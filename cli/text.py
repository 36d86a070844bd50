"""``rnmail text``: the text modules, reusable answer pieces per language
(``rnmail.tickets.texts``); inserted with ``ticket reply ID --text NAME`` or ``#text NAME``."""

from __future__ import annotations

from typing import Any, TextIO

import click

from cli.app import App, emit_json, handle_errors, login_name, pass_app
from rnmail.config import LANGUAGES

AUTHOR = click.option("--author", envvar="RNMAIL_STAFF",
                      help="Who changes it, for the audit (default: your login name).")


@click.group()
def text() -> None:
    """Text modules: answer pieces per language with placeholders."""


def _print(detail: dict[str, Any]) -> None:
    click.echo(f"{detail['name']}:")
    for language, entry in detail["texts"].items():
        click.echo(f"  [{language}] changed {entry['changed_at'][:16]} by {entry['changed_by']}")
        click.echo("\n".join(f"    {line}" for line in entry["text"].splitlines()))


@text.command("add")
@click.argument("name")
@click.option("--lang", "language", type=click.Choice(LANGUAGES), required=True)
@click.option("--file", "text_file", type=click.File("r", encoding="utf-8"), required=True,
              help="The text ('-' for standard input).")
@AUTHOR
@pass_app
@handle_errors
def text_add(app: App, name: str, language: str, text_file: TextIO, author: str | None) -> None:
    """Add a module, or a language of one (placeholders: {{ requester.name }},
    {{ ticket.id }}, {{ organisation.name }}, {{ agent.name }}, {{ today }})."""
    from rnmail.tickets.texts import add_text

    with app.ready_db().transaction() as session:
        add_text(session, name, language, text_file.read(), author or login_name())
    click.echo(f"text module {name} [{language}] added")


@text.command("edit")
@click.argument("name")
@click.option("--lang", "language", type=click.Choice(LANGUAGES), required=True)
@click.option("--file", "text_file", type=click.File("r", encoding="utf-8"), required=True,
              help="The new text ('-' for standard input).")
@AUTHOR
@pass_app
@handle_errors
def text_edit(app: App, name: str, language: str, text_file: TextIO,
              author: str | None) -> None:
    """Change a module's text in one language."""
    from rnmail.tickets.texts import edit_text

    with app.ready_db().transaction() as session:
        edit_text(session, name, language, text_file.read(), author or login_name())
    click.echo(f"text module {name} [{language}] changed")


@text.command("remove")
@click.argument("name")
@click.option("--lang", "language", type=click.Choice(LANGUAGES),
              help="Only this language's text.")
@AUTHOR
@pass_app
@handle_errors
def text_remove(app: App, name: str, language: str | None, author: str | None) -> None:
    """Remove a module (or one language of it)."""
    from rnmail.tickets.texts import remove_text

    with app.ready_db().transaction() as session:
        removed = remove_text(session, name, author or login_name(), language)
    click.echo(f"text module {name} removed [{', '.join(removed)}]")


@text.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def text_list(app: App, as_json: bool) -> None:
    """List the modules and their languages."""
    from rnmail.tickets.texts import list_texts

    with app.ready_db().transaction() as session:
        rows = list_texts(session)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no text module yet (`rnmail text add` or `text load-examples`)")
    for row in rows:
        click.echo(f"{row['name']}  [{', '.join(row['texts'])}]")


@text.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def text_show(app: App, name: str, as_json: bool) -> None:
    """Show a module's texts, each language's, and who changed them when."""
    from rnmail.tickets.texts import show_text

    with app.ready_db().transaction() as session:
        detail = show_text(session, name)
    if as_json:
        emit_json(detail)
    else:
        _print(detail)


@text.command("load-examples")
@AUTHOR
@pass_app
@handle_errors
def text_load_examples(app: App, author: str | None) -> None:
    """Add the shipped examples in French, Dutch and German (greeting, closing,
    key-unblocked, identity-card, population-service); never over an existing text."""
    from rnmail.tickets.texts import load_examples

    with app.ready_db().transaction() as session:
        added = load_examples(session, author or login_name())
    click.echo(f"{len(added)} example texts added"
               + (f": {', '.join(f'{n} [{lang}]' for n, lang in added)}" if added else ""))
