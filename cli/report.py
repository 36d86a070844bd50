"""The management report: `rnmail report`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from cli.app import App, handle_errors, pass_app


@click.command()
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="First day (YYYY-MM-DD, Brussels).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="Last day (YYYY-MM-DD, Brussels), included.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The HTML file to write, e.g. report.html.")
@click.option("--lang", "language", type=click.Choice(["fr", "nl", "en"]),
              help="Language of the report (default: [helpdesk] default_language if fr, nl "
                   "or en, else fr).")
@click.option("--staff", is_flag=True, help="Add the figures per staff member.")
@click.option("--pdf", is_flag=True,
              help="Also print it to PDF next to --out (needs chromium).")
@pass_app
@handle_errors
def report(app: App, start: datetime, end: datetime, out: Path, language: str | None,
           staff: bool, pdf: bool) -> None:
    """Write the activity report for management: one self-contained HTML file.

    \b
    rnmail report --from 2026-01-01 --to 2026-06-30 --out report-2026-h1.html --lang nl
    """
    from rnmail.stats.figures import Period
    from rnmail.stats.report import write_report
    from rnmail.stats.words import LANGUAGES

    period = Period(start.date(), end.date())
    if language is None:
        default = app.config.helpdesk.default_language
        language = default if default in LANGUAGES else "fr"
    with app.ready_db().transaction() as session:
        written = write_report(session, app.config, period, out, language, staff, pdf)
    for path in written:
        click.echo(f"report written to {path}")
