"""Charts of the figures: one ``rnmail.stats.figures`` table as a PNG or SVG chart (bars,
stacked bars, a weekday × hour heatmap against the opening hours, or grouped bars of response
times).

matplotlib is imported only when a chart is drawn (importing this module stays cheap), and
only through its object API with the Agg and SVG canvases: no pyplot, so no global figure
registry that a long-running daemon could fill, no display needed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnmail.config import StatsConfig
from rnmail.errors import RnmailError
from rnmail.i18n.formats import capitalised
from rnmail.util.publicfiles import write_atomically

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from rnmail.stats.figures import Table
from rnmail.stats.words import WEEKDAYS, Label, raw, words

TOP = 20  # organisations (and other long lists) beyond this are summed as "other"
MAX_SERIES = 10  # stacked bars: series beyond this are summed as "other"
TIMED = ("month", "week", "day", "weekday", "hour")  # never cut, never sorted by size
CHART_SUFFIXES = {".png": "png", ".svg": "svg"}
RC: dict[Any, Any] = {  # matplotlib settings for every chart
    "svg.fonttype": "none",  # text stays text: smaller, searchable, read by screen readers
    "svg.hashsalt": "rnmail",  # the same figures give the same file
    "text.parse_math": False,  # an organisation named "$x$" is not TeX
    "font.family": ["DejaVu Sans", "Liberation Sans", "sans-serif"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    # The title on top of the axes, where it always lands (no chart has ticks above):
    # left to None, matplotlib measures every tick label at each draw to find that out,
    # a sixth of a chart's drawing time, for the same file byte for byte.
    "axes.titley": 1.0,
    "legend.frameon": False,
}
TIME_COLOURS = ("#1f5fa8", "#9cc3e6", "#c4580e", "#f6b47b")  # first response, resolution


# --- charts -----------------------------------------------------------------------------

def write_chart(table: Table, path: Path, opening: tuple[time, time] | None = None, *,
                label: Label = raw, language: str = "en") -> None:
    """Draw ``table`` into ``path`` (.png or .svg), atomically: the file is complete or
    absent. ``opening``: the opening hours marked on a weekday-hour heatmap (default: those
    of ``StatsConfig``); ``label`` and ``language``: the words of the chart."""
    fmt = CHART_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise RnmailError("--chart: use a .png or .svg file name")
    check_folder(path, "--chart")
    data = render(table, fmt, opening=opening, label=label, language=language)
    write_file(path, data)


def render(table: Table, fmt: str, *, opening: tuple[time, time] | None = None,
           label: Label = raw, language: str = "en", title: str | None = None) -> bytes:
    """The chart of ``table`` as PNG or SVG bytes."""
    import matplotlib
    from matplotlib.figure import Figure

    if opening is None:
        defaults = StatsConfig()
        opening = (defaults.opens, defaults.closes)
    text = words(language)
    if title is None:
        measure = {"tickets": text["tickets"], "response_due": text["response_met_pct"]
                   }.get(table.measures[0], text["hours"])
        title = text["by"].format(measure=capitalised(measure), dimensions=", ".join(
            text.get(d, d) for d in table.dimensions))
    with matplotlib.rc_context(RC):
        fig = Figure(layout="constrained")
        try:
            _draw(fig, table, label, text, title, opening)
            buffer = io.BytesIO()
            metadata: dict[str, Any] = ({"Date": None, "Title": title} if fmt == "svg"
                                        else {"Title": title})
            fig.savefig(buffer, format=fmt, dpi=110, metadata=metadata)
        finally:
            fig.clear()  # break the figure's reference cycles at once
    return buffer.getvalue()


def _draw(fig: Figure, table: Table, label: Label, words: dict[str, str], title: str,
          opening: tuple[time, time]) -> None:
    if table.measures and table.measures[0] == "answered":
        _times_chart(fig, table, label, words, title)
    elif table.measures and table.measures[0] == "response_due":
        _due_chart(fig, table, label, words, title)
    elif table.dimensions == ["weekday-hour"]:
        _heatmap(fig, table, label, words, title, opening)
    elif len(table.dimensions) >= 2:
        _stacked(fig, table, label, words, title)
    else:
        _bars(fig, table, label, words, title)


def _bars(fig: Figure, table: Table, label: Label, words: dict[str, str], title: str) -> None:
    """One dimension: bars (grouped when there are several measures, e.g. tickets and
    replies); horizontal for many or long labels, the largest at the top."""
    dimension = table.dimensions[0]
    names = [keys[0] for keys, _values in table.rows]
    series = [[float(values[i] or 0) for _keys, values in table.rows]
              for i in range(len(table.measures))]
    timed = dimension in TIMED
    if not timed and len(names) > TOP:
        names = [*names[:TOP], ""]
        series = [[*values[:TOP], sum(values[TOP:])] for values in series]
    labels = [label(dimension, n) if n else words["other"] for n in names]
    horizontal = not timed and (len(labels) > 8 or max(map(len, labels), default=0) > 12)
    count = len(labels)
    if horizontal:
        fig.set_size_inches(8, 1.2 + 0.3 * count * max(1, len(series) * 0.7))
    else:
        fig.set_size_inches(min(14.0, max(4.5, 0.5 * count * len(series) + 2)), 4)
    ax = fig.add_subplot()
    ax.set_title(title)
    width = 0.8 / len(series)
    positions = list(range(count))
    for index, (measure, values) in enumerate(zip(table.measures, series, strict=True)):
        offset = [p - 0.4 + width * (index + 0.5) for p in positions]
        name = (words["assigned"] if measure == "tickets" and "answers" in table.measures
                else words.get(measure, measure))
        bars = (ax.barh(offset, values, height=width, label=name) if horizontal
                else ax.bar(offset, values, width=width, label=name))
        if count * len(series) <= 40:
            ax.bar_label(bars, labels=[_short(v) for v in values], padding=2, fontsize=8)
    top = max((max(values, default=0) for values in series), default=0)
    if horizontal:
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
        ax.set_xlabel(words["tickets"])
        _counts_axis(ax.xaxis, top, ax.set_xlim)
    else:
        _x_labels(ax, labels)
        ax.set_ylabel(words["tickets"])
        _counts_axis(ax.yaxis, top, ax.set_ylim)
    if len(series) > 1:
        ax.legend(loc="lower right" if horizontal else "upper right")


def _stacked(fig: Figure, table: Table, label: Label, words: dict[str, str],
             title: str) -> None:
    """Two (or more) dimensions: the first on the x axis, the last as stacked series."""
    dims = table.dimensions
    first_dims, last = dims[:-1], dims[-1]
    firsts: list[tuple[str, ...]] = []
    counts: dict[tuple[tuple[str, ...], str], float] = {}
    totals: dict[str, float] = {}
    for keys, values in table.rows:
        head, tail = tuple(keys[:-1]), keys[-1]
        if head not in firsts:
            firsts.append(head)
        value = float(values[0] or 0)
        counts[head, tail] = counts.get((head, tail), 0) + value
        totals[tail] = totals.get(tail, 0) + value
    seconds = sorted(totals, key=lambda s: (-totals[s], s)) if last not in TIMED else list(
        dict.fromkeys(k[-1] for k, _v in table.rows))
    if len(seconds) > MAX_SERIES:
        kept = set(seconds[:MAX_SERIES - 1])
        merged: dict[tuple[tuple[str, ...], str], float] = {}
        for (head, tail), value in counts.items():
            key = (head, tail if tail in kept else "")
            merged[key] = merged.get(key, 0) + value
        counts, seconds = merged, [*seconds[:MAX_SERIES - 1], ""]
    if len(first_dims) == 1 and first_dims[0] not in TIMED and len(firsts) > TOP:
        firsts = firsts[:TOP]  # the largest groups (rnmail.stats.figures sorts them by total)
    labels = [" / ".join(label(d, k) for d, k in zip(first_dims, head, strict=True))
              for head in firsts]
    fig.set_size_inches(min(14.0, max(6.4, 0.5 * len(firsts) + 3)), 4.2)
    ax = fig.add_subplot()
    ax.set_title(title)
    bottom = [0.0] * len(firsts)
    colours = _colours(len(seconds))
    for colour, second in zip(colours, seconds, strict=True):
        heights = [counts.get((head, second), 0.0) for head in firsts]
        ax.bar(range(len(firsts)), heights, bottom=bottom, width=0.7, color=colour,
               label=label(last, second) if second else words["other"])
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    if len(firsts) <= 24:
        for x, total in enumerate(bottom):
            ax.annotate(_short(total), (x, total), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8)
    _x_labels(ax, labels)
    ax.set_ylabel(words["tickets"])
    _counts_axis(ax.yaxis, max(bottom, default=0), ax.set_ylim)
    if seconds:  # an empty period has no series
        ax.legend(title=words.get(last, last), loc="upper left", bbox_to_anchor=(1.01, 1))


def _heatmap(fig: Figure, table: Table, label: Label, words: dict[str, str], title: str,
             opening: tuple[time, time]) -> None:
    """Weekday × hour, 7 × 24 cells, with the opening hours (Monday–Friday) outlined."""
    from matplotlib.patches import Rectangle

    grid = [[0.0] * 24 for _ in WEEKDAYS]
    for (key, *_rest), values in table.rows:
        day, hour = key.split(" ")
        grid[WEEKDAYS.index(day)][int(hour)] += float(values[0] or 0)
    fig.set_size_inches(10, 3.8)
    ax = fig.add_subplot()
    ax.set_title(title)
    image = ax.imshow(grid, cmap="Blues", aspect="auto", vmin=0)
    top = max(max(row) for row in grid) or 1
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            if value:
                ax.text(x, y, _short(value), ha="center", va="center", fontsize=7,
                        color="white" if value > top * 0.55 else "#1a1a1a")
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
    ax.set_yticks(range(7), [label("weekday", d) for d in WEEKDAYS])
    ax.set_xlabel(words["hour"])
    ax.spines[:].set_visible(False)
    opens, closes = (t.hour + t.minute / 60 for t in opening)
    ax.add_patch(Rectangle((opens - 0.5, -0.5), closes - opens, 5, fill=False,
                           edgecolor="#c4180e", linewidth=2,
                           label=f"{words['opening']} {opening[0]:%H:%M}–{opening[1]:%H:%M}"))
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.18), ncols=1)
    bar = fig.colorbar(image, ax=ax, label=words["tickets"], shrink=0.9)
    _counts_axis(bar.ax.yaxis, None, None)


def _times_chart(fig: Figure, table: Table, label: Label, words: dict[str, str],
                 title: str) -> None:
    """Grouped bars: first response and resolution, median and 90th percentile."""
    labels = [" / ".join(label(d, k) for d, k in zip(table.dimensions, keys, strict=True))
              for keys, _values in table.rows]
    measures = [("first_response_median_h", "first_median"),
                ("first_response_p90_h", "first_p90"),
                ("resolution_median_h", "res_median"), ("resolution_p90_h", "res_p90")]
    fig.set_size_inches(min(14.0, max(6.4, 1.4 * len(labels) + 3)), 4.2)
    ax = fig.add_subplot()
    ax.set_title(title)
    width = 0.2
    heights_all: list[float] = []
    for index, ((measure, word), colour) in enumerate(zip(measures, TIME_COLOURS,
                                                          strict=True)):
        column = table.measures.index(measure)
        raw = [values[column] for _keys, values in table.rows]
        heights = [math.nan if v is None else float(v) for v in raw]
        heights_all += heights
        bars = ax.bar([x - 0.3 + width * index for x in range(len(labels))],
                      [0.0 if math.isnan(h) else h for h in heights], width=width,
                      color=colour, label=words[word])
        if len(labels) <= 12:
            ax.bar_label(bars, labels=["–" if v is None else _short(float(v)) for v in raw],
                         padding=2, fontsize=7)
    _x_labels(ax, labels)
    ax.set_ylabel(words["hours"])
    ax.set_ylim(0, max((v for v in heights_all if not math.isnan(v)), default=0) * 1.12 or 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))


def _due_chart(fig: Figure, table: Table, label: Label, words: dict[str, str],
               title: str) -> None:
    """Grouped bars: the share of first responses and of resolutions on time, 0–100 %."""
    labels = [" / ".join(label(d, k) for d, k in zip(table.dimensions, keys, strict=True))
              for keys, _values in table.rows]
    fig.set_size_inches(min(14.0, max(6.4, 0.9 * len(labels) + 3)), 4.2)
    ax = fig.add_subplot()
    ax.set_title(title)
    width = 0.35
    for index, (measure, colour) in enumerate(zip(
            ("response_met_pct", "resolution_met_pct"), TIME_COLOURS[::2], strict=True)):
        column = table.measures.index(measure)
        raw = [values[column] for _keys, values in table.rows]
        bars = ax.bar([x - width / 2 + width * index for x in range(len(labels))],
                      [0.0 if v is None else float(v) for v in raw], width=width,
                      color=colour, label=words[measure])
        if len(labels) <= 12:
            ax.bar_label(bars, labels=["–" if v is None else f"{v:g}" for v in raw],
                         padding=2, fontsize=7)
    _x_labels(ax, labels)
    ax.set_ylabel("%")
    ax.set_ylim(0, 110)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))


def _x_labels(ax: Axes, labels: Sequence[str]) -> None:
    """Category labels on the x axis: thinned when there are many, slanted when long."""
    step = max(1, math.ceil(len(labels) / 24))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks, [labels[i] for i in ticks])
    longest = max(map(len, labels), default=0)
    if (len(ticks) > 6 and longest > 4) or longest > 14:
        for text in ax.get_xticklabels():
            text.set_rotation(35)
            text.set_horizontalalignment("right")
            text.set_rotation_mode("anchor")


def _counts_axis(axis: Any, top: float | None, set_limits: Callable[..., Any] | None) -> None:
    """Whole numbers on a count axis, with room above the largest bar for its label."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))
    if top is not None and set_limits is not None:
        set_limits(0, top * 1.12 if top else 1)


def _colours(count: int) -> list[Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors  # type: ignore[attr-defined]
    return [palette[i % len(palette)] for i in range(count)]


def _short(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:.3g}"


# --- files ------------------------------------------------------------------------------

def check_folder(path: Path, option: str) -> None:
    if not path.parent.is_dir():
        raise RnmailError(f"{option}: the folder {path.parent} does not exist")


def write_file(path: Path, data: bytes) -> None:
    try:
        write_atomically(path, data, durable=True)
    except OSError as exc:
        raise RnmailError(f"cannot write {path}: {exc.strerror or exc}") from exc
