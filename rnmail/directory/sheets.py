"""The one CSV sheet reader for the files people export from spreadsheets: user lists
(``lists import``) and the directory (``directory import``)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rnmail.errors import RnmailError
from rnmail.shapes import ListProblemJson
from rnmail.util.csvfile import unquote_cell

# What no cell may hold: C0 controls (tab and line breaks included), DEL, C1 controls and
# the Unicode line and paragraph separators. A name with a line break would end up in a
# mail header (``To: name <address>``), where it cannot go.
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` as one line of words: control characters (a BEL, a line break, a C1 code)
    and runs of spaces become one space, as a subject or a name is shown."""
    return " ".join(CONTROL_RE.sub(" ", text).split())


class ListProblems(RnmailError):
    """One or more list files are wrong; ``problems`` holds every one, ``file:line: what``."""

    def __init__(self, problems: Sequence[Problem], files: int) -> None:
        self.problems = list(problems)
        bad = len({p.path for p in self.problems})
        super().__init__(
            f"nothing imported: {len(self.problems)} problem(s) in {bad} of {files} file(s)"
        )


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"

    def as_json(self) -> ListProblemJson:
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass
class Sheet:
    """A checked CSV header: where each known column is, and the data rows to come."""

    index: dict[str, int]
    rows: Iterator[tuple[int, list[str]]]  # (line number, cells), blank lines skipped


def open_sheet(path: Path, required: Sequence[str], known: Sequence[str],
               problem: Callable[[int | None, str], None]) -> Sheet | None:
    """Open a CSV file as spreadsheets save it: UTF-8 (a BOM is tolerated), ``,`` or ``;``
    between fields (Excel in Belgium writes ``;``), header names in any case, unknown
    columns ignored, blank lines skipped; a cell ``'=...`` (a formula neutralised by
``rnmail.util.csvfile``) is read as ``=...``, and a line with a control character in any
cell is refused. What is wrong goes to ``problem`` (file-level
    problems return None; a malformed row ends the rows)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problem(None, f"cannot read: {exc.strerror or exc}")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem(data.count(b"\n", 0, exc.start) + 1,
                "not UTF-8 text (save the sheet as \"CSV UTF-8\")")
        return None
    if not text.strip():
        problem(None, f"empty file: a header line ({', '.join(required)}, ...) is needed")
        return None
    first = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header: list[str] = []
        for header in reader:
            if any(cell.strip() for cell in header):
                break
    except csv.Error as exc:
        problem(reader.line_num, f"malformed CSV: {exc}")
        return None
    columns = [cell.strip().lower() for cell in header]
    if CONTROL_RE.search("".join(columns)):
        problem(reader.line_num, "control character in the header line")
        return None
    doubled = sorted({c for c in columns if c and columns.count(c) > 1})
    if doubled:
        problem(reader.line_num, f"column(s) given twice: {', '.join(doubled)}")
    missing = [c for c in required if c not in columns]
    if missing:
        problem(reader.line_num, f"no {', '.join(repr(c) for c in missing)} column in the "
                f"header ({', '.join(columns)}); expected at least {', '.join(required)}")
    if doubled or missing:
        return None

    def rows() -> Iterator[tuple[int, list[str]]]:
        end = reader.line_num
        try:
            for cells in reader:
                start, end = end + 1, reader.line_num  # a quoted line break spans lines
                if not any(cell.strip() for cell in cells):
                    continue
                cells = [unquote_cell(cell) for cell in cells]
                if CONTROL_RE.search("".join(cells)):
                    for at, cell in enumerate(cells):
                        found = CONTROL_RE.search(cell)
                        if found:
                            name = columns[at] if at < len(columns) and columns[at] \
                                else f"column {at + 1}"
                            problem(start, f"{name}: control character "
                                    f"U+{ord(found.group()):04X} (line breaks, tabs and "
                                    "other control characters are refused)")
                    continue
                yield reader.line_num, cells
        except csv.Error as exc:
            problem(reader.line_num, f"malformed CSV: {exc}")

    return Sheet({c: columns.index(c) for c in known if c in columns}, rows())
