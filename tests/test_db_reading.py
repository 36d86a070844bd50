"""``Database.reading()``, the web pages' transaction: on SQLite it neither waits for the
write lock nor takes it (a page is not queued behind an ingest batch), it sees what was
committed, and a change made in it is refused on both databases."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from rnmail.db import Database
from rnmail.models import Staff
from rnmail.tickets.team import add_staff


def staff_count(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Staff)) or 0)


def test_a_reader_does_not_wait_for_a_writer(db: Database) -> None:
    with db.transaction() as session:
        add_staff(session, "marie.lambert@rn.example", "Marie Lambert", "fr")
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:  # holds the write lock (BEGIN IMMEDIATE on SQLite) a while
        with db.transaction() as session:
            add_staff(session, "paul.peeters@rn.example", "Paul Peeters", "nl")
            session.flush()
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        assert staff_count(db) == 1  # the committed state, at once
        assert time.monotonic() - started < 2  # not the 30 s busy timeout
    finally:
        release.set()
        thread.join(10)
    assert staff_count(db) == 2


def test_a_change_in_a_reading_session_is_refused(db: Database) -> None:
    with pytest.raises(RuntimeError, match="does not write"), db.reading() as session:
        session.add(Staff(email="x@rn.example", name="X", language="fr"))
        session.flush()
    assert staff_count(db) == 0
