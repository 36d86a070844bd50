"""The FAQ: entries per language, built from tickets, published as static pages."""

from __future__ import annotations

import click

from cli.app import ROW_ID, TICKET, App, emit_json, handle_errors, pass_app
from rnmail.config import LANGUAGES


@click.group()
def faq() -> None:
    """Frequently asked questions, per language."""


def _print(detail: dict[str, object], as_json: bool) -> None:
    if as_json:
        emit_json(detail)
        return
    texts = detail["texts"]
    assert isinstance(texts, dict)
    state = "published" if detail["published"] else "draft"
    click.echo(f"FAQ #{detail['id']} ({state}, {detail['category'] or 'no category'}): "
               + ", ".join(f"[{lang}] {t['question'][:60]}" for lang, t in texts.items()))


@faq.command("add")
@click.option("--lang", "language", type=click.Choice(LANGUAGES), required=True)
@click.option("--question", required=True)
@click.option("--answer", required=True)
@click.option("--category")
@click.option("--publish", is_flag=True, help="Publish it at once.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def faq_add(app: App, language: str, question: str, answer: str, category: str | None,
            publish: bool, as_json: bool) -> None:
    """Add an entry (other languages with `faq edit ID --lang ...`)."""
    from rnmail.tickets.faq import add_entry, entry_detail

    with app.ready_db().transaction() as session:
        detail = entry_detail(add_entry(session, language, question, answer, category, publish))
    _print(detail, as_json)


@faq.command("edit")
@click.argument("entry_id", type=ROW_ID)
@click.option("--lang", "language", type=click.Choice(LANGUAGES),
              help="The language of --question/--answer (added if new).")
@click.option("--question")
@click.option("--answer")
@click.option("--category")
@click.option("--publish/--unpublish", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def faq_edit(app: App, entry_id: int, language: str | None, question: str | None,
             answer: str | None, category: str | None, publish: bool | None,
             as_json: bool) -> None:
    """Change an entry, add a language, publish or withdraw it."""
    from rnmail.tickets.faq import edit_entry, entry_detail

    with app.ready_db().transaction() as session:
        detail = entry_detail(edit_entry(session, entry_id, language, question, answer,
                                         category, publish))
    _print(detail, as_json)


@faq.command("from-ticket")
@click.argument("ticket_id", type=TICKET)
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def faq_from_ticket(app: App, ticket_id: int, as_json: bool) -> None:
    """Start a draft entry from a ticket's question and answer."""
    from rnmail.tickets.faq import entry_detail, from_ticket

    with app.ready_db().transaction() as session:
        detail = entry_detail(from_ticket(session, ticket_id))
    _print(detail, as_json)


@faq.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def faq_list(app: App, as_json: bool) -> None:
    """List the entries."""
    from rnmail.tickets.faq import list_entries

    with app.ready_db().transaction() as session:
        rows = list_entries(session)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no FAQ entry yet (`rnmail faq add` or `faq from-ticket` makes one)")
    for row in rows:
        _print(row, False)


@faq.command("search")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def faq_search(app: App, query: str, as_json: bool) -> None:
    """Find the entries that best match some words."""
    from rnmail.tickets.faq import search_entries

    with app.ready_db().transaction() as session:
        rows = search_entries(session, query)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo(f"no FAQ entry matches {query!r}")
    for row in rows:
        _print(row, False)


@faq.command("publish")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: each page's language and path.")
@pass_app
@handle_errors
def faq_publish(app: App, as_json: bool) -> None:
    """Write the published entries as HTML pages, one per language."""
    from rnmail.shapes import FaqPageJson
    from rnmail.tickets.faq import publish

    with app.ready_db().transaction() as session:
        paths = publish(session, app.config)
    if as_json:
        pages: list[FaqPageJson] = [{"language": p.stem, "path": str(p)} for p in paths]
        emit_json(pages)
        return
    for path in paths:
        click.echo(str(path))
