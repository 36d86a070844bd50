"""The management report: `rnmail report`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from cli.app import DAY, App, handle_errors, pass_app
from rnmail.stats.words import LANGUAGES


@click.command()
@click.option("--from", "start", type=DAY,
              help="First day (YYYY-MM-DD, Brussels); default: the first ticket's.")
@click.option("--to", "end", type=DAY,
              help="Last day (YYYY-MM-DD, Brussels), included; default: the last ticket's.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The HTML file to write, e.g. report.html.")
@click.option("--lang", "language", type=click.Choice(LANGUAGES),
              help="Language of the report (default: [helpdesk] default_language).")
@click.option("--staff", is_flag=True,
              help="Add the figures per staff member (tickets assigned, answers written).")
@click.option("--pdf", is_flag=True,
              help="Also print it to PDF next to --out (needs chromium).")
@pass_app
@handle_errors
def report(app: App, start: date | None, end: date | None, out: Path, language: str | None,
           staff: bool, pdf: bool) -> None:
    """Write the activity report for management: one self-contained HTML file. Without
    --from/--to it covers every ticket, as `rnmail stats` does.

    \b
    rnmail report --from 2026-01-01 --to 2026-06-30 --out report-2026-h1.html --lang nl
    """
    from rnmail.stats.figures import Period
    from rnmail.stats.report import write_report
    from rnmail.stats.words import default_language

    period = Period(start, end)
    with app.ready_db().transaction() as session:
        written = write_report(session, app.config, period, out,
                               language or default_language(app.config), staff, pdf)
    for path in written:
        click.echo(f"report written to {path}")
