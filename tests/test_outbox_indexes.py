"""The outbox's partial indexes (migration 0029) still serve the queries they are for.

A mailing's rows (no ticket, not automatic) stay out of ``ix_outbox_message_ticket_id`` and
``ix_outbox_message_automatic_day``. A partial index is only used when the database can
prove from the query that its condition holds: SQLite matches the terms literally, so the
daily limit must write ``automatic = 1`` as the index does; an equality or an ``IN`` on
``ticket_id`` implies it is not null on both databases. The plans are read with EXPLAIN
(PostgreSQL told not to scan the table, which on these few rows would be cheaper)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text, update
from sqlalchemy.engine import Connection

from rnmail.db import Database
from rnmail.dispatch.hold import _latest_answer
from rnmail.dispatch.outbox import Outcome, extend_leases, record_sent, release
from rnmail.ingest.respond import within_daily_limit
from rnmail.models import OutboxMessage, utcnow
from rnmail.privacy.anonymise import _rows
from tests.harness.factories import make_config

TICKET = "ix_outbox_message_ticket_id"
AUTOMATIC_DAY = "ix_outbox_message_automatic_day"


def plans(db: Database, run: Any) -> list[str]:
    """The plan of each statement on the outbox that ``run(session)`` executes."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Connection, cursor: Any, statement: str, parameters: Any,
               context: Any, executemany: bool) -> None:
        if "outbox_message" in statement and not statement.startswith("EXPLAIN"):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.transaction() as session:
            run(session)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert seen
    found = []
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if not sqlite:
            connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in seen:
            if isinstance(parameters, list):  # an executemany: the plan of one row's
                parameters = parameters[0]
            rows = connection.exec_driver_sql(
                ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters)
            found.append("\n".join(str(row[-1]) for row in rows))
        connection.rollback()
    return found


def test_both_indexes_are_partial(db: Database) -> None:
    with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            query = "SELECT name, sql FROM sqlite_master WHERE name IN (:a, :b)"
        else:
            query = ("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
                     "current_schema() AND indexname IN (:a, :b)")
        rows = connection.execute(text(query), {"a": TICKET, "b": AUTOMATIC_DAY}).all()
    found: dict[str, str] = {name: sql for name, sql in rows}
    assert "WHERE" in found[TICKET] and "NOT NULL" in found[TICKET]
    assert "WHERE" in found[AUTOMATIC_DAY] and "automatic" in found[AUTOMATIC_DAY]


def test_the_daily_limit_counts_from_its_index(tmp_path: Path, db_url: str,
                                              db: Database) -> None:
    config = make_config(tmp_path, db_url)
    [plan] = plans(db, lambda session: within_daily_limit(
        session, config, ["someone@citizen.example"]))
    assert AUTOMATIC_DAY in plan, plan
    if db.engine.dialect.name == "sqlite":  # from the index alone, not the rows
        assert f"COVERING INDEX {AUTOMATIC_DAY}" in plan, plan


def test_a_tickets_mails_are_found_by_its_index(db: Database) -> None:
    def run(session: Any) -> None:
        session.scalars(select(OutboxMessage.id).where(OutboxMessage.ticket_id == 7)).all()
        _rows(session, OutboxMessage.ticket_id, [3, 5, 7])  # privacy: anonymise
        _latest_answer(session, 7)  # the held answer's check

    for plan in plans(db, run):
        assert TICKET in plan, plan


def test_a_delivery_record_finds_its_rows_by_id_whatever_the_statistics_say(
        db: Database) -> None:
    """The group commit of a mailing: the statistics, taken before it, say few rows are
    ``sending``; thousands are. Through the state index, each record read all of them (~1 ms
    of PostgreSQL's CPU a commit, the mailing's largest cost there); it must go by id."""
    now = utcnow()
    with db.transaction() as session:
        session.add_all(OutboxMessage(
            purpose="mailing", automatic=False, message_id=f"<m{i}@rn.example>",
            mail_from="info@rn.example", to_addr=f"pop{i}@commune.example", subject="s",
            raw=b"To: x\r\n", state="queued", attempts=0, next_attempt_at=now,
            created_at=now) for i in range(2000))
    with db.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE outbox_message")
        connection.execute(update(OutboxMessage).values(state="sending"))
    with db.transaction() as session:
        ids = list(session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)
                                   .limit(16)))
    ok = Outcome(ok=True, permanent=False, reply="250 2.0.0 Ok")

    def run(session: Any) -> None:
        record_sent(session.connection(), [(i, ok) for i in ids])
        extend_leases(session, ids, timedelta(minutes=5))  # the leases renewed
        release(session, ids)  # given back unsent

    found = plans(db, run)
    assert len(found) == 3
    for plan in found:
        assert "ix_outbox_message_state_next" not in plan, plan
        assert ("pk_outbox_message" if db.engine.dialect.name != "sqlite"
                else "INTEGER PRIMARY KEY") in plan, plan
