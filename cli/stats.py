"""The help desk's figures: `rnmail stats` and `rnmail stats times`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from cli.app import App, emit_json, handle_errors, pass_app
from rnmail.util import csvfile

FORMATS = ("table", "csv", "json")


def period_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--from/--to: local (Brussels) dates, both included."""
    func = click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]),
                        help="Last day (YYYY-MM-DD, Brussels), included.")(func)
    return click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]),
                        help="First day (YYYY-MM-DD, Brussels).")(func)


def query_options(func: Callable[..., Any]) -> Callable[..., Any]:
    from rnmail.stats.figures import DIMENSIONS

    func = click.option("--chart", type=click.Path(dir_okay=False, path_type=Path),
                        help="Also draw the figures as a chart: a .png or .svg file.")(func)
    func = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True)(func)
    func = click.option("--exclude-category", "excluded", multiple=True, metavar="CATEGORY",
                        help="Leave these tickets out (repeatable), e.g. access-key.")(func)
    func = click.option("--by", "by", multiple=True, type=click.Choice(DIMENSIONS),
                        help="Group by (repeatable: two cross-tabulate).")(func)
    return period_options(func)


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


@click.group(invoke_without_command=True)
@query_options
@pass_app
@click.pass_context
@handle_errors
def stats(ctx: click.Context, app: App, start: datetime | None, end: datetime | None,
          by: tuple[str, ...], excluded: tuple[str, ...], fmt: str, chart: Path | None) -> None:
    """Contacts (tickets) in a period, counted by month, channel, requester type...

    \b
    rnmail stats --from 2026-02-01 --to 2026-07-31 --by month --by channel
    rnmail stats --by requester-type --exclude-category access-key --format csv
    """
    if ctx.invoked_subcommand is not None:
        return
    _run(app, "contacts", start, end, by or ("month",), excluded, fmt, chart)


@stats.command("times")
@query_options
@pass_app
@handle_errors
def stats_times(app: App, start: datetime | None, end: datetime | None, by: tuple[str, ...],
                excluded: tuple[str, ...], fmt: str, chart: Path | None) -> None:
    """First response and resolution times in business hours (median, 90th percentile)."""
    _run(app, "times", start, end, by or ("month",), excluded, fmt, chart)


def _run(app: App, kind: str, start: datetime | None, end: datetime | None,
         by: tuple[str, ...], excluded: tuple[str, ...], fmt: str, chart: Path | None) -> None:
    from rnmail.stats.figures import Period, Query, contacts, times

    query = Query(by, Period(_day(start), _day(end)), excluded)
    with app.ready_db().transaction() as session:
        table = (contacts if kind == "contacts" else times)(session, app.config, query)
    if chart is not None:
        from rnmail.stats.charts import write_chart

        write_chart(table, chart)
    if fmt == "json":
        emit_json(table.as_json())
    elif fmt == "csv":
        click.echo(to_csv(table), nl=False)
    else:
        click.echo(to_text(table))
    if chart is not None and fmt == "table":
        click.echo(f"chart written to {chart}")


def to_csv(table: Any) -> str:
    """Dimension cells are text (neutralised against formulas, see ``rnmail.util.csvfile``);
    measures are numbers and stay numbers, a negative one included."""
    return csvfile.to_csv([[*table.dimensions, *table.measures],
                           *([*keys, *("" if v is None else v for v in values)]
                             for keys, values in table.rows)])


def to_text(table: Any) -> str:
    """Two dimensions and one measure: a cross-table with totals; otherwise one line per
    group, with each group's share when the measure is a count."""
    lines = [f"{', '.join(table.dimensions)} — {table.period.describe()}"
             + (f", without {', '.join(table.excluded)}" if table.excluded else "")]
    if len(table.dimensions) == 2 and table.measures == ["tickets"]:
        lines += _cross(table)
    else:
        head = [*table.dimensions, *table.measures]
        cells = [[*keys, *("-" if v is None else str(v) for v in values)]
                 for keys, values in table.rows]
        if table.measures[0] == "tickets":
            total = table.total() or 1
            head.append("share")
            for row, (_keys, values) in zip(cells, table.rows, strict=True):
                row.append(f"{100 * (values[0] or 0) / total:.1f} %")
            cells.append(["total", *[""] * (len(table.dimensions) - 1), str(table.total()),
                          *[""] * (len(head) - len(table.dimensions) - 1)])
        lines += _aligned([head, *cells])
    lines += table.notes
    return "\n".join(lines)


def _cross(table: Any) -> list[str]:
    rows: dict[str, dict[str, int]] = {}
    columns: list[str] = []
    for (first, second), (count,) in table.rows:
        rows.setdefault(first, {})[second] = count
        if second not in columns:
            columns.append(second)
    head = [table.dimensions[0], *columns, "total"]
    cells = [[name, *(str(counts.get(c, 0)) for c in columns), str(sum(counts.values()))]
             for name, counts in rows.items()]
    cells.append(["total", *(str(sum(r.get(c, 0) for r in rows.values())) for c in columns),
                  str(table.total())])
    return _aligned([head, *cells])


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]
