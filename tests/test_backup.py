"""``rnmail db backup``: a consistent copy taken while rnmail writes, on both databases."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from rnmail.config import load_config
from rnmail.db import MIGRATIONS, Database
from rnmail.errors import RnmailError
from rnmail.models import Ticket, utcnow
from rnmail.ops.backup import backup_database
from tests.harness.factories import write_config
from tests.harness.install import rnmail

HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()  # the newest schema


def add_tickets(db: Database, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with db.transaction() as session:
            session.add(Ticket(subject=f"Question {i}", channel="phone", language="fr",
                               requester=f"caller{i}@citizen.example", created_at=utcnow()))


def test_backup_while_another_connection_writes(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url)
    assert rnmail(config, "db", "upgrade")[0] == 0
    db = Database(load_config(config).database.url)
    add_tickets(db, 50)
    writer = threading.Thread(target=add_tickets, args=(db, 200, 50))
    writer.start()
    code, out, err = rnmail(config, "db", "backup", "--out", str(tmp_path / "b" / "rn.backup"))
    writer.join()
    assert code == 0, err
    assert f"at schema revision {HEAD}" in out and "copy" in out
    backup = tmp_path / "b" / "rn.backup"
    assert backup.stat().st_size > 0
    assert [p.name for p in backup.parent.iterdir()] == ["rn.backup"]  # no temporary left
    if db.is_sqlite:
        copy = sqlite3.connect(backup)
        (count,) = copy.execute("SELECT count(*) FROM ticket").fetchone()
        (check,) = copy.execute("PRAGMA integrity_check").fetchone()
        (revision,) = copy.execute("SELECT version_num FROM alembic_version").fetchone()
        copy.close()
        assert check == "ok" and revision == HEAD
    else:
        listing = subprocess.run(["pg_restore", "--list", str(backup)], capture_output=True,
                                 text=True, check=True).stdout
        assert "TABLE DATA" in listing and " ticket " in listing
        restore = subprocess.run(["pg_restore", "--data-only", "--table=ticket", "--file=-",
                                  str(backup)], capture_output=True, text=True, check=True)
        count = restore.stdout.count("caller")
    with db.transaction() as session:
        total = session.scalar(select(func.count()).select_from(Ticket))
    assert 50 <= count <= total == 250  # a snapshot: every committed ticket up to some point
    db.dispose()


def test_backup_errors_are_one_line(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url)
    code, _, err = rnmail(config, "db", "backup", "--out", str(tmp_path / "x"))
    assert code == 1 and "run `rnmail init` first" in err and "Traceback" not in err
    assert rnmail(config, "init")[0] == 0
    code, _, err = rnmail(config, "db", "backup", "--out", str(tmp_path))
    assert code == 1 and "is a directory" in err


def test_pg_dump_missing_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    config = write_config(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RnmailError, match="pg_dump not found"):
        backup_database(Database(load_config(config).database.url), tmp_path / "x")
