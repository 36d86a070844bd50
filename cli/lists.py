"""User groups: the address lists announcements go to (``lists/*.csv``), and bounced
addresses."""

from __future__ import annotations

from pathlib import Path

import click

from cli.app import App, emit_json, emit_text, handle_errors, pass_app
from rnmail.config import LANGUAGES

_FILES = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def lists() -> None:
    """User groups (address lists): import, check, show and edit them; bounced addresses."""


def _files(app: App, files: tuple[Path, ...]) -> list[Path]:
    from rnmail.directory.groups import list_files

    return list(files) if files else list_files(app.config.dispatch.lists_dir)


@lists.command("import")
@click.argument("files", nargs=-1, type=_FILES)
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: the groups imported, or every problem.")
@pass_app
@handle_errors
def lists_import(app: App, files: tuple[Path, ...], as_json: bool) -> None:
    """Replace each group's members with its CSV file (default: every *.csv of
    [dispatch].lists_dir). Nothing is imported unless every file is correct."""
    from rnmail.directory.groups import import_lists
    from rnmail.directory.sheets import ListProblems

    paths = _files(app, files)
    try:
        results = import_lists(app.ready_db(), paths)
    except ListProblems as exc:
        if as_json:
            emit_json({"groups": [], "problems": [p.as_json() for p in exc.problems]})
        else:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
        raise
    if as_json:
        emit_json({"groups": [r.as_json() for r in results], "problems": []})
        return
    for r in results:
        click.echo(f"{r.group}: {r.total} member(s) ({r.added} added, {r.updated} updated, "
                   f"{r.removed} removed){' — new group' if r.created else ''}")


@lists.command("validate")
@click.argument("files", nargs=-1, type=_FILES)
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: the files and every problem.")
@pass_app
@handle_errors
def lists_validate(app: App, files: tuple[Path, ...], as_json: bool) -> None:
    """Check CSV files (default: every *.csv of [dispatch].lists_dir) without importing:
    addresses, duplicates, languages, columns. Exit status 1 if anything is wrong."""
    from rnmail.directory.groups import validate_lists
    from rnmail.errors import RnmailError

    paths = _files(app, files)
    listed, problems = validate_lists(paths)
    if as_json:
        emit_json({"files": [f.as_json() for f in listed],
                   "problems": [p.as_json() for p in problems]})
    else:
        for problem in problems:
            click.echo(str(problem))
    if problems:
        bad = len({p.path for p in problems})
        raise RnmailError(f"{len(problems)} problem(s) in {bad} of {len(paths)} file(s)")
    if as_json:
        return
    for f in listed:
        click.echo(f"{f.path}: {f.group}, {len(f.entries)} address(es), ok")


@lists.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def lists_list(app: App, as_json: bool) -> None:
    """The groups with their member counts; a group defined by a directory query says so."""
    from rnmail.directory.groups import list_groups
    from rnmail.directory.query_groups import describe_query, query_groups

    with app.ready_db().transaction() as session:
        rows = list_groups(session)
        queries = query_groups(session)
    for row in rows:
        row["query"] = queries.get(row["name"])
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        languages = ", ".join(f"{lang} {n}" for lang, n in row["languages"].items())
        query = f"  [query: {describe_query(row['query'])}]" if row["query"] else ""
        click.echo(f"{row['name']:<24} {row['members']:>6}  {languages}{query}")


@lists.command("define")
@click.argument("name")
@click.option("--type", "kinds", multiple=True, required=True,
              help="Organisation type: municipality, police, notary, public-service, company, "
                   "other (repeatable).")
@click.option("--language", "languages", type=click.Choice(LANGUAGES), multiple=True,
              required=True, help="The user's language (repeatable).")
@click.option("--status", "states", multiple=True, default=("active",), show_default=True,
              help="Access state: active or blocked (repeatable).")
@click.option("--role", "roles", multiple=True, help="Only users with this role (repeatable).")
@pass_app
@handle_errors
def lists_define(app: App, name: str, kinds: tuple[str, ...], languages: tuple[str, ...],
                 states: tuple[str, ...], roles: tuple[str, ...]) -> None:
    """Create or redefine a group from a directory query and fill it, e.g. every active
    user of a municipality writing in Dutch; `lists sync` refreshes it."""
    from rnmail.directory.query_groups import define_group, describe_query, query_groups

    with app.ready_db().transaction() as session:
        r = define_group(session, name, kinds, languages, states, roles)
        query = query_groups(session)[name]
    click.echo(f"{r.group}: {'new ' if r.created else ''}query group ({describe_query(query)}), "
               f"{r.total} member(s) ({r.added} added, {r.updated} updated, "
               f"{r.removed} removed)")


@lists.command("sync")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def lists_sync(app: App, as_json: bool) -> None:
    """Refresh every query group from the directory, and take users whose access is revoked
    out of every group (CSV lists included)."""
    from rnmail.directory.query_groups import sync_groups

    with app.ready_db().transaction() as session:
        results = sync_groups(session)
    if as_json:
        emit_json([r.as_dict() for r in results])
        return
    for r in results:
        kind = "query" if r.query else "list"
        skipped = f", {r.skipped} without a usable address" if r.skipped else ""
        click.echo(f"{r.group} ({kind}): {r.total} member(s) ({r.added} added, "
                   f"{r.updated} updated, {r.removed} removed, of which "
                   f"{r.revoked_removed} revoked{skipped})")


@lists.command("show")
@click.argument("group")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def lists_show(app: App, group: str, as_json: bool) -> None:
    """The members of a group."""
    from rnmail.directory.groups import list_members

    with app.ready_db().transaction() as session:
        rows = list_members(session, group)
    if as_json:
        emit_json(rows)
        return
    width = max([len(r["email"]) for r in rows] + [5])
    click.echo(f"{'email':<{width}}  lang  {'code':<6} name / organisation")
    for r in rows:
        who = " / ".join(x for x in (r["name"], r["organisation"]) if x)
        click.echo(f"{r['email']:<{width}}  {r['language']:<4}  {r['code'] or '':<6} {who}")
    click.echo(f"{len(rows)} member(s)")


@lists.command("add")
@click.argument("group")
@click.argument("email")
@click.option("--name", required=True, help="Name of the person or office.")
@click.option("--language", type=click.Choice(LANGUAGES), required=True,
              help="The language it is written to.")
@click.option("--organisation", help="E.g. \"Commune de Namur\".")
@click.option("--code", help="E.g. the NIS code of a municipality.")
@click.option("--create", is_flag=True, help="Create the group if it does not exist.")
@pass_app
@handle_errors
def lists_add(app: App, group: str, email: str, name: str, language: str,
              organisation: str | None, code: str | None, create: bool) -> None:
    """Add an address to a group."""
    from rnmail.directory.groups import add_member

    with app.ready_db().transaction() as session:
        member = add_member(session, group, email, name, language, organisation, code, create)
        click.echo(f"{member.email} ({member.language}) added to {group}")


@lists.command("remove")
@click.argument("group")
@click.argument("email")
@pass_app
@handle_errors
def lists_remove(app: App, group: str, email: str) -> None:
    """Take an address out of a group."""
    from rnmail.directory.groups import remove_member

    with app.ready_db().transaction() as session:
        address = remove_member(session, group, email)
    click.echo(f"{address} removed from {group}")


@lists.command("export")
@click.argument("group")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_app
@handle_errors
def lists_export(app: App, group: str, out: Path | None) -> None:
    """A group as CSV (email,name,language,organisation,code), ready to import again."""
    from rnmail.directory.groups import export_group

    with app.ready_db().transaction() as session:
        text = export_group(session, group)
    emit_text(text, out, group)


@lists.command("bounced")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def lists_bounced(app: App, as_json: bool) -> None:
    """Suppressed addresses: too many hard bounces, no more announcements."""
    from rnmail.dispatch.suppression import bounced
    from rnmail.i18n.formats import text_time

    with app.ready_db().transaction() as session:
        rows = bounced(session)
    if as_json:
        emit_json(rows)
        return
    zone = app.config.helpdesk.zone
    for r in rows:
        groups = ", ".join(r["groups"]) or "no group"
        click.echo(f"{r['email']}  {r['hard_bounces']} hard bounce(s)  since "
                   f"{text_time(r['suppressed_at'], zone)}  [{groups}]  {r['reason']}")
    click.echo(f"{len(rows)} suppressed address(es)")


@lists.command("unsuppress")
@click.argument("email")
@pass_app
@handle_errors
def lists_unsuppress(app: App, email: str) -> None:
    """Let announcements reach a suppressed address again (its next hard bounce suppresses
    it anew)."""
    from rnmail.dispatch.suppression import unsuppress

    with app.ready_db().transaction() as session:
        address = unsuppress(session, email)
    click.echo(f"{address} is no longer suppressed")
