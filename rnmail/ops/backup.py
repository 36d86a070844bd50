"""Database backups that can be taken while rnmail runs.

SQLite: the online backup API copies a consistent snapshot page by page while other
processes go on writing (WAL), into a temporary file renamed into place once checked with
``PRAGMA integrity_check``. PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot
too), restorable with ``pg_restore``. Attachments and raw mails live as files under
``[helpdesk].attachments_dir`` (content-addressed, never rewritten): copy that directory
after the database, so that every file the backup names is in the copy.

Retention: a backup is a copy of that day, personal data included, that no ``[privacy]``
period reaches; rnmail neither rotates nor deletes backups. Whoever keeps them keeps them
no longer than the periods allow, and runs ``rnmail privacy purge`` after a restore
(docs/privacy.md, *Backups*).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rnmail.db import Database
from rnmail.errors import RnmailError


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    revision: str | None
    kind: str  # sqlite | pg_dump


def backup_database(db: Database, out: Path) -> BackupResult:
    out = out.resolve()
    if out.exists() and out.is_dir():
        raise RnmailError(f"{out} is a directory: give the backup file's name")
    name = db.engine.url.database if db.is_sqlite else None
    if name and name != ":memory:":  # the backup would replace what it copies
        live = Path(name).resolve()
        if out in {live, *(live.with_name(live.name + end) for end in ("-wal", "-shm",
                                                                        "-journal"))}:
            raise RnmailError(f"{out} is the database itself or its journal: give another "
                              "file")
    out.parent.mkdir(parents=True, exist_ok=True)
    revision = db.revision()
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if db.is_sqlite:
            _sqlite_backup(db, tmp)
            kind = "sqlite"
        else:
            _pg_dump(db, tmp)
            kind = "pg_dump"
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(out, out.stat().st_size, revision, kind)


def _sqlite_backup(db: Database, tmp: Path) -> None:
    source = db.engine.raw_connection()
    try:
        target = sqlite3.connect(tmp)
        try:
            source.driver_connection.backup(target, pages=1024)  # type: ignore[union-attr]
            (verdict,) = target.execute("PRAGMA integrity_check").fetchone()
        finally:
            target.close()
    finally:
        source.close()
    if verdict != "ok":
        raise RnmailError(f"the backup copy failed its integrity check: {verdict}")


def _pg_dump(db: Database, tmp: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise RnmailError("pg_dump not found: install PostgreSQL's client (Debian: "
                          "postgresql-client) to back up a PostgreSQL database")
    url = db.engine.url
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    command = [pg_dump, "--format=custom", f"--file={tmp}", "--no-password",
               f"--host={url.host or '127.0.0.1'}", f"--port={url.port or 5432}",
               f"--username={url.username or 'postgres'}", url.database or "postgres"]
    schema = _search_path(url.query.get("options"))
    if schema:
        command.insert(-1, f"--schema={schema}")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        raise RnmailError(f"pg_dump failed (exit {result.returncode}): {detail}")


def _search_path(options: str | tuple[str, ...] | None) -> str | None:
    """The schema of ``?options=-csearch_path=NAME`` (how tests and benchmarks isolate)."""
    if not options:
        return None
    text = options if isinstance(options, str) else " ".join(options)
    for part in text.split():
        key, _, value = part.removeprefix("-c").partition("=")
        if key == "search_path" and value:
            return value.split(",")[0]
    return None
