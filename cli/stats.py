"""The help desk's figures: `rnmail stats` and `rnmail stats times`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from cli.app import DAY, App, emit_json, handle_errors, pass_app
from rnmail.util import csvfile

FORMATS = ("table", "csv", "json")


def period_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--from/--to: local (Brussels) dates, both included."""
    func = click.option("--to", "end", type=DAY,
                        help="Last day (YYYY-MM-DD, Brussels), included.")(func)
    return click.option("--from", "start", type=DAY,
                        help="First day (YYYY-MM-DD, Brussels).")(func)


def query_options(func: Callable[..., Any]) -> Callable[..., Any]:
    from rnmail.stats.figures import DIMENSIONS
    from rnmail.stats.words import LANGUAGES

    func = click.option("--lang", "language", type=click.Choice(LANGUAGES),
                        help="Language of the table and the chart (default: [helpdesk] "
                             "default_language); CSV and JSON keep their keys.")(func)
    func = click.option("--chart", type=click.Path(dir_okay=False, path_type=Path),
                        help="Also draw the figures as a chart: a .png or .svg file.")(func)
    func = click.option("--json", "fmt", flag_value="json",
                        help="The same as --format json.")(func)
    func = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True)(func)
    func = click.option("--exclude-category", "excluded", multiple=True, metavar="CATEGORY",
                        help="Leave these tickets out (repeatable), e.g. access-key.")(func)
    func = click.option("--by", "by", multiple=True, type=click.Choice(DIMENSIONS),
                        help="Group by (repeatable: two cross-tabulate).")(func)
    return period_options(func)


@click.group(invoke_without_command=True)
@query_options
@pass_app
@click.pass_context
@handle_errors
def stats(ctx: click.Context, app: App, start: date | None, end: date | None,
          by: tuple[str, ...], excluded: tuple[str, ...], fmt: str, chart: Path | None,
          language: str | None) -> None:
    """Contacts (tickets) in a period, counted by month, channel, requester type...

    \b
    rnmail stats --from 2026-02-01 --to 2026-07-31 --by month --by channel
    rnmail stats --by requester-type --exclude-category access-key --format csv
    """
    if ctx.invoked_subcommand is not None:
        return
    _run(app, "contacts", start, end, by or ("month",), excluded, fmt, chart, language)


@stats.command("times")
@query_options
@pass_app
@handle_errors
def stats_times(app: App, start: date | None, end: date | None, by: tuple[str, ...],
                excluded: tuple[str, ...], fmt: str, chart: Path | None,
                language: str | None) -> None:
    """First response and resolution times in business hours (median, 90th percentile)."""
    _run(app, "times", start, end, by or ("month",), excluded, fmt, chart, language)


@stats.command("due")
@query_options
@pass_app
@handle_errors
def stats_due(app: App, start: date | None, end: date | None, by: tuple[str, ...],
              excluded: tuple[str, ...], fmt: str, chart: Path | None,
              language: str | None) -> None:
    """Due times met: the share of first responses and resolutions on time ([due]).

    \b
    rnmail stats due --from 2026-01-01 --to 2026-06-30
    rnmail stats due --by requester-type --format csv
    """
    _run(app, "due", start, end, by or ("month", "category"), excluded, fmt, chart, language)


def _run(app: App, kind: str, start: date | None, end: date | None, by: tuple[str, ...],
         excluded: tuple[str, ...], fmt: str, chart: Path | None, language: str | None) -> None:
    from rnmail.stats.due_met import due_met
    from rnmail.stats.figures import Period, Query, contacts, shown_period, times
    from rnmail.stats.text import to_text
    from rnmail.stats.words import default_language, words

    language = language or default_language(app.config)
    query = Query(by, Period(start, end), excluded)
    figures = {"contacts": contacts, "times": times, "due": due_met}[kind]
    with app.ready_db().transaction() as session:
        table = figures(session, app.config, query)
        shown = shown_period(session, query.period, app.config.helpdesk.zone)
    if chart is not None:
        from rnmail.stats.charts import write_chart
        from rnmail.stats.words import labeller

        write_chart(table, chart, (app.config.stats.opens, app.config.stats.closes),
                    label=labeller(language), language=language)
    if fmt == "json":
        emit_json(table.as_json())
    elif fmt == "csv":
        click.echo(to_csv(table), nl=False)
    else:
        click.echo(to_text(table, language, app.config.stats, shown))
    if chart is not None and fmt == "table":
        click.echo(words(language)["chart_written"].format(path=chart))


def to_csv(table: Any) -> str:
    """Dimension cells are text (neutralised against formulas, see ``rnmail.util.csvfile``);
    measures are numbers and stay numbers, a negative one included."""
    return csvfile.to_csv([[*table.dimensions, *table.measures],
                           *([*keys, *("" if v is None else v for v in values)]
                             for keys, values in table.rows)])
