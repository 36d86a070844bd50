"""What a purge must leave unchanged and what it must remove: every figure of ``rnmail
stats`` (contacts, ``times``, ``due``, by each dimension) and of ``rnmail report``, and the
blob store's files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rnmail.stats.figures import DIMENSIONS
from tests.harness.install import Installation

# The report's one line that changes from one run to the next: when it was written.
_GENERATED = re.compile(r'<time datetime="[^"]*">[^<]*</time>')


def figures(site: Installation, out: Path, report: bool = False) -> dict[str, Any]:
    """Every statistic as JSON and, with ``report``, the report's HTML (its time of writing
    left out; its charts take seconds to draw: the year's purge compares it, the other
    tests the figures it is made of)."""
    shown: dict[str, Any] = {}
    for kind in ("", "times", "due"):
        command = ("stats", kind) if kind else ("stats",)
        shown[f"{kind or 'contacts'}"] = site.json(*command)
        for by in DIMENSIONS:
            if kind == "due" and by == "staff":
                continue
            shown[f"{kind or 'contacts'} by {by}"] = site.json(*command, "--by", by)
    shown["contacts by month and organisation"] = site.json(
        "stats", "--by", "month", "--by", "organisation")
    if report:
        written = out / "report.html"
        site.ok("report", "--out", str(written), "--staff", "--lang", "en")
        shown["report"] = _GENERATED.sub("", written.read_text(encoding="utf-8"))
    return shown


def blob_files(site: Installation) -> dict[str, int]:
    """The blob store's files and their sizes."""
    root = site.config.helpdesk.attachments_dir
    return {p.name: p.stat().st_size for p in root.rglob("*") if p.is_file()
            and not p.name.startswith(".")}
