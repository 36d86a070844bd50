"""Mailings to user groups, set up through the library: members, groups, a queued circular."""

from __future__ import annotations

import csv
from pathlib import Path

from rnmail.directory.groups import import_lists
from rnmail.dispatch.announce import mailing_notice, send_mailing
from tests.harness.factories import Desk

LANGS = ("fr", "nl", "de", "en")
OPERATOR = "alice"
SUBJECT, BODY = "Circulaire 2026/7", "Chères collègues,\n\nLa nouvelle procédure s'applique."


def people(n: int, domain: str = "commune.example") -> list[tuple[str, str, str]]:
    """(email, name, language) of ``n`` members, the four languages in turn."""
    return [(f"pop{i:04d}@{domain}", f"Service population {i} Liège", LANGS[i % 4])
            for i in range(n)]


def import_group(desk: Desk, tmp_path: Path, group: str,
                 members: list[tuple[str, str, str]]) -> None:
    """``group`` with exactly ``members``, imported from a CSV file in tmp_path/lists."""
    directory = tmp_path / "lists"
    directory.mkdir(exist_ok=True)
    path = directory / f"{group}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "name", "language"])
        writer.writerows(members)
    [result] = import_lists(desk.db, [path])
    assert result.total == len(members)


def queue_mailing(desk: Desk, groups: list[str]) -> int:
    """The built-in circular (SUBJECT, BODY) queued for ``groups``; its announcement id."""
    notice = mailing_notice(desk.config, "circular", {"subject": SUBJECT, "body": BODY}, [])
    return send_mailing(desk.db, desk.config, notice, groups, OPERATOR).id
