"""The daemon's periodic jobs: page publishing and housekeeping, on both databases."""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from rnmail.config import load_config
from rnmail.daemon.housekeeping import housekeeping, publish_pages
from rnmail.models import OutboxMessage, utcnow
from rnmail.tickets.faq import add_entry
from rnmail.util.publicfiles import remove_stale_temporaries, write_public_file
from tests.harness.factories import Desk, write_config


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Desk:
    config = load_config(write_config(
        tmp_path, db_url, extra=f'[status]\npublic_dir = "{tmp_path}/status"\n'))
    return Desk(config)


def test_an_equal_file_is_not_rewritten_a_different_one_is(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    assert write_public_file(page, "<p>é</p>")
    inode = page.stat().st_ino
    assert not write_public_file(page, "<p>é</p>")
    assert page.stat().st_ino == inode  # untouched
    assert write_public_file(page, "<p>è</p>")
    assert page.read_text(encoding="utf-8") == "<p>è</p>" and page.stat().st_ino != inode
    assert oct(page.stat().st_mode & 0o777) == "0o644"  # readable by the web server
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]


def test_only_old_temporaries_are_removed(tmp_path: Path) -> None:
    (tmp_path / "ab").mkdir()
    old = tmp_path / "ab" / ".0123.77.88.tmp"  # a blob write cut by kill -9
    fresh = tmp_path / ".index.html.99.1.tmp"  # a write under way in another process
    page = tmp_path / "index.html"
    for path in (old, fresh, page):
        path.write_text("x")
    past = time.time() - 7200
    os.utime(old, (past, past))
    os.utime(page, (past, past))
    assert remove_stale_temporaries(tmp_path) == 1
    assert not old.exists() and fresh.exists() and page.exists()
    assert remove_stale_temporaries(tmp_path / "missing") == 0


def test_publish_pages_writes_the_status_page_and_the_faq(desk: Desk, tmp_path: Path) -> None:
    with desk.db.transaction() as session:
        add_entry(session, "nl", "Sleutel geblokkeerd?", "Bel de helpdesk.", publish=True)
    publish_pages(desk.db, desk.config)
    assert "Sleutel geblokkeerd?" in (desk.config.helpdesk.public_dir / "faq/nl.html").read_text()
    assert (tmp_path / "status/index.html").exists()
    faq_page = desk.config.helpdesk.public_dir / "faq/nl.html"
    inode = faq_page.stat().st_ino
    publish_pages(desk.db, desk.config)  # nothing changed: the FAQ page stays as it was
    assert faq_page.stat().st_ino == inode
    with desk.db.transaction() as session:
        add_entry(session, "nl", "Nieuw paswoord?", "Via de beheerder.", publish=True)
    publish_pages(desk.db, desk.config)
    assert "Nieuw paswoord?" in faq_page.read_text()


def test_housekeeping_reports_what_waits_for_a_person(
        desk: Desk, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    maildir = tmp_path / "maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (maildir / "new/junk.eml").write_bytes(b"\x00\x01 not a mail at all \xff" * 20)
    assert desk.ingest().outcomes == {"quarantined": 1}
    with desk.db.transaction() as session:
        for age in (timedelta(hours=2), timedelta(days=3)):
            session.add(OutboxMessage(
                purpose="reply", message_id=f"<f{age.days}@rn.example>",
                mail_from="info@rn.example", to_addr="gone@municipality.example",
                subject="x", raw=b"x", state="failed", created_at=utcnow() - age))
    stale = desk.config.helpdesk.attachments_dir / ".dead.1.2.tmp"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half a blob")
    os.utime(stale, (time.time() - 7200,) * 2)
    with caplog.at_level(logging.INFO, logger="rnmail.housekeeping"):
        report = housekeeping(desk.db, desk.config)
    assert report.quarantine_held == 1 and report.quarantine_oldest is not None
    assert report.failed_last_day == 1  # the 3-day-old failure was reported before
    assert report.temporaries_removed == 1 and not stale.exists()
    assert "1 message(s) held in quarantine" in caplog.text
    assert report.quarantine_deleted_after is not None  # [privacy].quarantine_months = 6
    assert f", deleted after {report.quarantine_deleted_after:%Y-%m-%d %H:%M} UTC unless " \
        "retried" in (
        caplog.text)
    assert "1 outgoing mail(s) failed in the last 24 h" in caplog.text
    if desk.db.is_sqlite:
        wal = Path(f"{desk.config.database.url.removeprefix('sqlite:///')}-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
