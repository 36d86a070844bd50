"""The one CSV writer of rnmail, safe to open in a spreadsheet, and its reading side.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a
formula to Excel and LibreOffice (CSV injection): ``=cmd|'/C calc'!A0`` in a requester's
domain would run when the help desk opens the statistics. Following OWASP, such a cell is
written with a single quote in front (``'=cmd|...``), which spreadsheets show as text. A
cell that already starts with a quote followed by one of those characters gets a quote too,
so that ``unquote_cell`` gives back exactly what was written: export → import → export is
stable.

Numbers are not text: ``int`` and ``float`` values (a negative difference in the
statistics, ``-3``) are written as they are, so numeric columns stay numeric. Only ``str``
cells are neutralised, whatever they look like (a name ``-5`` imported as text comes back
as ``'-5``, and reads back as ``-5``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Quotes, then a formula character: written with one more quote, read with one less.
_GUARDED = re.compile(r"'*[=+\-@\t\r]")
_QUOTED = re.compile(r"'+[=+\-@\t\r]")


def neutralise_cell(value: Any) -> Any:
    """The cell as written: a text cell that a spreadsheet would take for a formula (or
    that starts with quotes before such a character) gets a leading ``'``; numbers,
    ``None`` and other text are left as they are."""
    if isinstance(value, str) and _GUARDED.match(value):
        return "'" + value
    return value


def unquote_cell(value: str) -> str:
    """The cell as it was before ``neutralise_cell``: the leading ``'`` in front of a
    formula character (or of more quotes and one) is dropped; anything else is kept."""
    if _QUOTED.match(value):
        return value[1:]
    return value


class Writer:
    """``csv.writer`` with every text cell neutralised; ``\\n`` line ends."""

    def __init__(self, out: io.TextIOBase | io.StringIO | Any) -> None:
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: Any) -> Writer:
    return Writer(out)


def to_csv(rows: Iterable[Iterable[Any]]) -> str:
    """Rows (the header first) as CSV text."""
    out = io.StringIO()
    Writer(out).writerows(rows)
    return out.getvalue()
