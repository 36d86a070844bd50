"""File modes: started with the usual umask 022, the rnmail command still writes its
database (and -wal/-shm), raw mails and attachments, outgoing .eml files, archives and
exports 0600 in 0700 folders, and the public status page 0644 in 0755 folders — each
command a real subprocess, as an administrator runs it."""

from __future__ import annotations

import stat
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.harness.factories import write_config

ROOT = Path(__file__).resolve().parent.parent
RUN = "import os, sys; os.umask(int(sys.argv.pop(1), 8)); from cli.main import main; main()"


def run(config: Path, umask: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", RUN, umask, "--config", str(config), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def request() -> bytes:
    mail = EmailMessage()
    mail["From"] = "Jeanne <jeanne@example.org>"
    mail["To"] = "info@rn.example"
    mail["Subject"] = "Clé d'accès"
    mail["Message-ID"] = "<1@mua.example>"
    mail["Date"] = "Mon, 02 Mar 2026 10:00:00 +0100"
    mail.set_content("Ma clé est bloquée.")
    mail.add_attachment(b"%PDF-1.4 scan", maintype="application", subtype="pdf",
                        filename="scan.pdf")
    return mail.as_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("umask", ["022", "002"])
def test_private_files_whatever_the_umask(tmp_path: Path, umask: str) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/var/rnmail.db", extra="""
[status]
public_dir = "public/status"
""")
    run(config, umask, "init")
    new = tmp_path / "maildir" / "new"
    new.mkdir(parents=True)
    (new / "1.eml").write_bytes(request())
    run(config, umask, "ingest", "once")
    run(config, umask, "outbox", "send")
    run(config, umask, "status", "publish")
    run(config, umask, "directory", "export", "--out", str(tmp_path / "directory.csv"))
    run(config, umask, "archive", "export", "--before", "2099-01-01", "--out",
        str(tmp_path / "archive"))

    database = [tmp_path / "var" / name for name in ("rnmail.db", "rnmail.db-wal",
                                                     "rnmail.db-shm")]
    blobs = [p for p in (tmp_path / "attachments").rglob("*") if p.is_file()]
    outgoing = list((tmp_path / "outgoing").glob("*.eml"))
    archive = [p for p in (tmp_path / "archive").rglob("*") if p.is_file()]
    assert blobs and outgoing and archive
    private = [p for p in database if p.exists()] + blobs + outgoing + archive + [
        tmp_path / "directory.csv"]
    assert {str(p): oct(mode(p)) for p in private if mode(p) != 0o600} == {}
    folders = [tmp_path / "var", tmp_path / "outgoing", tmp_path / "archive",
               *(p for p in (tmp_path / "attachments").rglob("*") if p.is_dir())]
    assert {str(p): oct(mode(p)) for p in folders if mode(p) & 0o077} == {}

    # The public page stays readable by the web server.
    public = tmp_path / "public" / "status"
    assert mode(public) == 0o755 and mode(public.parent) == 0o755
    for name in ("index.html", "status.json", "feed.atom"):
        assert mode(public / name) == 0o644, name


def test_opening_the_database_again_keeps_the_locks_this_process_holds(tmp_path: Path) -> None:
    """Making the file private must not open an existing database: closing any descriptor
    of it would drop the SQLite locks this process holds, and another process could then
    write beside a transaction under way (``database disk image is malformed``)."""
    import sqlite3

    from rnmail.db import make_engine

    path = tmp_path / "rnmail.db"
    make_engine(f"sqlite:///{path}").dispose()  # creates it 0600
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    make_engine(f"sqlite:///{path}").dispose()  # a second Database in this process
    other = subprocess.run(
        [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], "
         "timeout=0, isolation_level=None); c.execute('BEGIN IMMEDIATE'); print('got it')",
         str(path)], capture_output=True, text=True, timeout=60)
    holder.execute("ROLLBACK")
    holder.close()
    assert "database is locked" in other.stderr and "got it" not in other.stdout
