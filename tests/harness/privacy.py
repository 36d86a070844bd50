"""What a purge must leave unchanged and what it must remove: every figure of ``rnmail
stats`` (contacts, ``times``, ``due``, by each dimension) and of ``rnmail report``, the
blob store's files, and every row (a run that must change nothing)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select

from rnmail.models import Base
from rnmail.stats.due_met import due_met
from rnmail.stats.figures import DIMENSIONS, Period, Query, contacts, shown_period, times
from rnmail.stats.report import SECTIONS, report_sections
from rnmail.stats.words import describe_period
from tests.harness.install import Installation


def figures(site: Installation, report: bool = False) -> dict[str, Any]:
    """Every statistic of ``rnmail stats`` (contacts, ``times``, ``due``, by each dimension)
    as its JSON and, with ``report``, what ``rnmail report --staff --lang en`` is made of:
    its period and its sections, tables and charts' tables. Computed in-process, in one
    transaction, by the functions the commands call (84 commands took 10 s); the charts are
    not drawn (1 s each): a chart is drawn from its table and title alone, so the same
    tables give the same report."""
    shown: dict[str, Any] = {}
    config = site.config
    with site.db.transaction() as session:
        for kind, compute in (("contacts", contacts), ("times", times), ("due", due_met)):
            default = ("month", "category") if kind == "due" else ("month",)
            shown[kind] = compute(session, config, Query(default, Period())).as_json()
            for by in DIMENSIONS:
                if kind == "due" and by == "staff":
                    continue
                shown[f"{kind} by {by}"] = compute(session, config,
                                                   Query((by,), Period())).as_json()
        shown["contacts by month and organisation"] = contacts(
            session, config, Query(("month", "organisation"), Period())).as_json()
        if report:
            period = shown_period(session, Period(), config.helpdesk.zone)
            shown["report"] = (describe_period(period, "en"),
                               report_sections(session, config, Period(), "en", SECTIONS))
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
