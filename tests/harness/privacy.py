"""What a purge must leave unchanged and what it must remove: every figure of ``rnmail
stats`` (contacts, ``times``, ``due``, by each dimension) and of ``rnmail report``, the
blob store's files, and every row (a run that must change nothing)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from rnmail.models import Base
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


def database_state(site: Installation, leaving_out: tuple[str, ...] = ()) -> str:
    """A digest of every row of every table but ``leaving_out``: a dry run, or a second run
    that finds nothing to do, must leave it as it was."""
    digest = hashlib.sha256()
    with site.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in leaving_out:
                continue
            digest.update(table.name.encode())
            for row in session.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()
