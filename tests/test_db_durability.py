"""A commit is on disk when it returns (docs/guarantees.md, *Committed means on disk*): the
ingest moves mail out of its folder, and the sender records mail sent, right after a commit,
so a commit that a power cut could take back would lose the one or send the other twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from rnmail.db import Database

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def test_every_sqlite_connection_syncs_its_commits(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/rnmail.db")
    try:
        db.upgrade()
        with db.transaction() as session:  # the ORM's writing transaction
            assert session.scalar(text("PRAGMA synchronous")) == FULL
            assert session.scalar(text("PRAGMA journal_mode")) == "wal"
        with db.reading() as session:  # the pages' reading transaction
            assert session.scalar(text("PRAGMA synchronous")) == FULL
        kept = db.kept_connection()  # the sender's group commits
        try:
            assert kept.run(lambda c: c.scalar(text("PRAGMA synchronous"))) == FULL
        finally:
            kept.close()
    finally:
        db.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: above
def test_postgresql_commits_wait_for_the_log(db_url: str) -> None:
    """rnmail leaves PostgreSQL's ``synchronous_commit`` alone in production: on. (The test
    schemas alone run with it off, in their URL: tests/harness/servers.py.)"""
    db = Database(db_url.split("?", 1)[0])
    try:
        with db.transaction() as session:
            assert session.scalar(text("SHOW synchronous_commit")) == "on"
    finally:
        db.dispose()
