"""The preview and confirmation before a mass mail (``status set --notify``,
``maintenance schedule`` and ``cancel``, ``announce``).

The command shows what will happen (the change, each group with its recipients per
language, the subject in each language, the languages that get a text written in another
one) and asks, when its standard input is a terminal. ``--yes`` goes ahead without asking
(scripts), ``--dry-run`` only shows. Without a terminal and without either, the command is
refused: a mail to 589 municipalities is never sent by a command nobody confirmed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # `rnmail status show` imports this module: no templates for it
    from rnmail.dispatch.preview import Preview

YES = click.option("--yes", is_flag=True,
                   help="Go ahead without the preview and the question (for scripts).")
DRY_RUN = click.option("--dry-run", is_flag=True,
                       help="Only show what would be done and mailed; change nothing.")


def interactive() -> bool:
    """Whether someone can answer the question: standard input is a terminal."""
    return sys.stdin.isatty()


def preview_lines(preview: Preview) -> list[str]:
    """The groups and their recipients per language, the subjects, the fallbacks."""
    if not preview.members:
        return ["mail: nobody"]
    groups = ", ".join(preview.groups) or "test"
    lines = [f"mail: {preview.total} recipient(s) in {groups} ({_counts(preview.languages)})"]
    if preview.suppressed:
        lines.append(f"  left out: {preview.suppressed} suppressed address(es)")
    if len(preview.groups) > 1:
        lines += [f"  {name}: {_counts(counts)}" for name, counts in preview.groups.items()]
    lines.append("subjects:")
    lines += [f"  {lang}: {subject}" for lang, subject in preview.subjects.items()]
    from rnmail.i18n.formats import language_name  # Babel's locale data: not for `status show`

    for lang, texts in preview.fallbacks.items():
        written = ", ".join(f"{what} in {language_name(other, 'en')}"
                            for what, other in texts.items())
        lines.append(f"falls back: {lang} ({preview.languages.get(lang, 0)}): {written}")
    return lines


def comment_lines(texts: dict[str, str]) -> list[str]:
    """The comment of a status change or maintenance, per language."""
    return [f"comment ({lang}): {text}" for lang, text in texts.items()]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{lang} {n}" for lang, n in counts.items()) or "nobody"


def go_ahead(change: list[str], preview: Preview, *, yes: bool, dry_run: bool,
             as_json: bool = False, ask: Callable[[], bool] = interactive,
             must_ask: bool = False, also: int = 0) -> bool:
    """Show ``change`` and the preview and ask; False with ``--dry-run`` (only shown).
    Refused without a terminal unless ``yes``; a "no" ends the command, nothing done.
    A change that mails nobody goes ahead unasked, unless ``must_ask`` (a maintenance
    longer than usual). ``also``: recipients the change mails besides the preview's
    (the requesters ``status set --notify-linked`` tells), counted and asked for alike."""
    total = preview.total + also
    if (yes or not (preview.members or must_ask or also)) and not dry_run:
        return True
    if not dry_run and not ask():
        raise click.ClickException(
            f"this mails {total} recipient(s) and there is no terminal to confirm "
            "it: give --yes to go ahead, or --dry-run to see what it would do")
    if not (dry_run and as_json):
        out = sys.stderr if as_json else sys.stdout
        for line in [*change, *preview_lines(preview)]:
            click.echo(line, file=out)
    if dry_run:
        return False
    if not click.confirm(f"Queue it for {total} recipient(s)?", default=False,
                         err=as_json):
        raise click.ClickException("not confirmed: nothing changed, nothing queued")
    return True
