"""The figures as people read them on a terminal (``rnmail stats`` without ``--format``):
one table in French, Dutch, German or English, with its heading, translated labels,
numbers as the language writes them, shares and totals, and the notes. CSV and JSON stay in
the figures' own keys (``Table.as_json``) for scripts."""

from __future__ import annotations

from typing import Any

from rnmail.config import StatsConfig
from rnmail.i18n.formats import capitalised, hours_text, number, share
from rnmail.stats.figures import Period, Table
from rnmail.stats.words import describe_period, labeller, words

TIME_MEASURES = {  # the measures of ``rnmail stats times``, as words() names them
    "answered": "answered", "first_response_median_h": "first_median",
    "first_response_p90_h": "first_p90", "closed": "closed",
    "resolution_median_h": "res_median", "resolution_p90_h": "res_p90",
}


def to_text(table: Table, language: str, stats: StatsConfig, shown: Period | None = None
            ) -> str:
    """Two dimensions and one measure: a cross-table with totals; otherwise one line per
    group, with each group's share when the measure is a count. ``shown``: the period as
    the heading names it (``figures.shown_period``), by default the table's."""
    text, label = words(language), labeller(language)
    heading = (", ".join(text.get(d, d) for d in table.dimensions) + " — "
               + describe_period(shown or table.period, language))
    if table.excluded:
        heading += ", " + text["without"].format(categories=", ".join(
            label("category", c) for c in table.excluded))
    lines = [capitalised(heading)]
    if len(table.dimensions) == 2 and table.measures == ["tickets"]:
        lines += _cross(table, language)
    else:
        lines += _list(table, language)
    lines += notes(table, language, stats)
    return "\n".join(lines)


def notes(table: Table, language: str, stats: StatsConfig) -> list[str]:
    text = words(language)
    hours = {"opens": f"{stats.opens:%H:%M}", "closes": f"{stats.closes:%H:%M}"}
    if table.measures and table.measures[0] == "response_due":
        return [text["due.note"]]
    if table.measures and table.measures[0] == "answered":
        return [text["business.note"].format(
            **hours, holidays=text["holidays"] if stats.holidays else "")]
    said = ([text["merged.note"].format(merged=number(table.merged, language))]
            if table.merged else [])
    if table.inside_hours is not None:
        return [text["inside.note"].format(inside=number(table.inside_hours, language),
                                           total=number(table.total(), language), **hours),
                *said]
    return said


def _head(table: Table, language: str) -> list[str]:
    text = words(language)
    measures = {"tickets": text["assigned"] if "answers" in table.measures
                else text["tickets"], "answers": text["answers"]}
    return [capitalised(text.get(d, d)) for d in table.dimensions] + [
        capitalised(measures.get(m) or text[TIME_MEASURES.get(m, m)]) for m in table.measures]


def _value(measure: str, value: Any, language: str) -> str:
    if measure.endswith("_h"):
        return hours_text(value, language)
    if measure.endswith("_pct"):
        return "–" if value is None else share(value, 100, language)
    return number(value or 0, language)


def _list(table: Table, language: str) -> list[str]:
    text, label = words(language), labeller(language)
    head = _head(table, language)
    cells = [[*(label(d, k) for d, k in zip(table.dimensions, keys, strict=True)),
              *(_value(m, v, language) for m, v in zip(table.measures, values, strict=True))]
             for keys, values in table.rows]
    if table.measures[0] == "tickets":
        total = table.total()
        head.append(text["share"])
        for row, (_keys, values) in zip(cells, table.rows, strict=True):
            row.append(share(values[0] or 0, total, language))
        cells.append([text["total"], *[""] * (len(table.dimensions) - 1),
                      *(number(table.total(m), language) for m in table.measures),
                      share(total, total, language)])
    elif table.measures[0] == "response_due":
        cells.append([text["total"], *[""] * (len(table.dimensions) - 1), *(
            _value(m, table.share_met(m.removesuffix("_met_pct")) if m.endswith("_pct")
                   else table.total(m), language) for m in table.measures)])
    return _aligned([head, *cells])


def _cross(table: Table, language: str) -> list[str]:
    text, label = words(language), labeller(language)
    rows: dict[str, dict[str, int]] = {}
    columns: list[str] = []
    first, second = table.dimensions
    for (row, column), (count,) in table.rows:
        rows.setdefault(row, {})[column] = count
        if column not in columns:
            columns.append(column)
    head = [capitalised(text.get(first, first)), *(label(second, c) for c in columns),
            text["total"]]
    cells = [[label(first, name), *(number(counts.get(c, 0), language) for c in columns),
              number(sum(counts.values()), language)] for name, counts in rows.items()]
    cells.append([text["total"],
                  *(number(sum(r.get(c, 0) for r in rows.values()), language) for c in columns),
                  number(table.total(), language)])
    return _aligned([head, *cells])


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]
