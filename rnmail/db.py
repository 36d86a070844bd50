"""Engine and sessions: the one place that owns commit and rollback.

Callers get a session from ``Database.transaction()``; it commits when the block ends and
rolls back on any exception. Nothing else in rnmail calls ``commit()``. A page that only
reads takes ``Database.reading()`` instead: on SQLite it does not queue behind the write
lock (see there).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import JSON, Table, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from rnmail.errors import ConfigError, ServerUnavailable
from rnmail.tickets.history import check_recorded
from rnmail.util.folding import fold
from rnmail.util.publicfiles import create_private, private_folder

if TYPE_CHECKING:
    from rnmail.config import Config
    from rnmail.tickets.due import DueRules

MIGRATIONS = Path(__file__).parent / "migrations"


T = TypeVar("T", str, int)
IN_LIST_SIZE = 500  # values per IN (...) of a lookup by batch
R = TypeVar("R")  # what a kept connection's work returns

READING = "rnmail_reading"  # in ``Session.info`` of a ``Database.reading`` session
DUE_TIMES = "rnmail_due"  # in ``Session.info``: the ``DueTimesHook`` of a ``Database``


class DueTimesHook:
    """The ``before_flush`` hook that keeps the due times (``rnmail.tickets.due``), loading
    their rules at the first flush: a read-only command never flushes, so it does not import
    the business calendar (docs/performance.md, "CLI start")."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.rules: DueRules | None = None

    def __call__(self, session: Session, flush_context: Any, instances: object) -> None:
        self.loaded().before_flush(session, flush_context, instances)

    def loaded(self) -> DueRules:
        """The rules, loaded now if they were not yet."""
        if self.rules is None:
            from rnmail.tickets.due import DueRules

            self.rules = DueRules(self.config)
        return self.rules


def due_rules(session: Session) -> DueRules | None:
    """The due-time rules ``session`` keeps (None: a ``Database`` without them), for rows
    written without the ORM, which its ``before_flush`` hook does not see."""
    hook = session.info.get(DUE_TIMES)
    return hook.loaded() if isinstance(hook, DueTimesHook) else None


class Database:
    def __init__(self, url: str, due: DueTimesHook | None = None) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
        except (ArgumentError, ImportError) as exc:  # not a URL; a dialect not installed
            raise ConfigError(f"[database] url cannot be used: {exc}") from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False,
                                      info={DUE_TIMES: due})
        # No ticket field changes without its history event (rnmail.tickets.history).
        event.listen(self._sessions, "before_flush", check_recorded)
        if due is not None:  # the due times follow every change (rnmail.tickets.due)
            event.listen(self._sessions, "before_flush", due)
        self._readers = sessionmaker(self.engine.execution_options(rnmail_reading=True),
                                     expire_on_commit=False, info={READING: True})
        event.listen(self._readers, "before_flush", _read_only)

    @classmethod
    def of(cls, config: Config) -> Database:
        """The installation's database, keeping the due times of ``config.due``."""
        return cls(config.database.url, DueTimesHook(config))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed at the end, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def kept_connection(self, autocommit: bool = False) -> KeptConnection:
        """One connection for a run of many short Core transactions: see ``KeptConnection``."""
        return KeptConnection(self.engine, autocommit)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads (the web pages): one transaction, ended at the block's
        end; a change flushed in it raises.

        On SQLite it begins with a plain (deferred) BEGIN, not ``transaction``'s BEGIN
        IMMEDIATE: in WAL mode it reads a snapshot and neither waits for a writer nor holds
        one up. With BEGIN IMMEDIATE every page took the file's one write lock, so the
        desk's pages queued behind each other and behind each ingest batch (p99 over a
        second under load: docs/performance.md, *The desk*)."""
        with self._readers() as session, session.begin():
            yield session

    def sqlite_upkeep(self) -> bool:
        """Refresh the query planner's statistics and fold the WAL back into the database
        file (SQLite only). False when readers kept the WAL from being truncated."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            # ANALYZE reads, then writes its statistics: in a write transaction from the
            # start, else a commit by another connection in between is "database is locked"
            # at once, whatever the busy timeout.
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("PRAGMA optimize")
            cursor.execute("COMMIT")
            # Outside any transaction: a checkpoint cannot run in one.
            busy, _pages, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            cursor.close()
        finally:
            raw.close()
        return not busy

    def upgrade(self, target: str = "head") -> str:
        """Create or upgrade the schema to the newest Alembic revision (or ``target``);
        returns the revision reached."""
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, target)
        except DBAPIError as exc:  # gone, or not a database at all
            raise ServerUnavailable(f"database {self.safe_url}: {exc.orig}") from None
        return self.revision() or "none"

    def revision(self) -> str | None:
        """The schema revision in the database, None when never initialised."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def check_schema(self) -> None:
        """Fail with a clear line unless the database is at this rnmail's newest schema
        revision: ``rnmail init`` never run, or run by an older or a newer rnmail.

        Every command pays it: one look at Alembic's version table in a reading transaction
        (no write lock), compared with the revision files' names, without importing
        Alembic (docs/performance.md, *CLI start*)."""
        try:
            with self.reading() as session:
                connection = session.connection()
                current = (connection.scalar(text("SELECT version_num FROM alembic_version"))
                           if inspect(connection).has_table("alembic_version") else None)
        except SQLAlchemyError as exc:  # the driver's own words, without SQLAlchemy's link
            said = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise ServerUnavailable(f"database {self.safe_url}: {said}") from None
        revisions = migration_revisions()
        if current is None:
            raise ServerUnavailable(
                f"database {self.safe_url} has no rnmail schema: run `rnmail init` first"
            )
        if current in revisions[:-1]:
            raise ServerUnavailable(
                f"database {self.safe_url} is at schema {current}, this rnmail needs "
                f"{revisions[-1]}: run `rnmail init` (or `rnmail db upgrade`)"
            )
        if current != revisions[-1]:
            raise ServerUnavailable(
                f"database {self.safe_url} is at schema {current}, unknown to this rnmail "
                f"(its newest is {revisions[-1]}): it was migrated by a newer version"
            )

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()


@cache
def migration_revisions() -> tuple[str, ...]:
    """The schema revisions, oldest first, read from the names of the revision files
    (``0026_sender_verdict_spam.py`` is revision ``0026``; tests/test_migrations.py holds
    them to it): the head without importing Alembic."""
    return tuple(sorted(path.name.partition("_")[0]
                        for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py")))


def chunks(values: Iterable[T], size: int = IN_LIST_SIZE) -> Iterator[list[T]]:
    """``values`` sorted and cut into lists of at most ``size``: the values of one
    ``IN (...)``, so that a batch's lookup stays within SQLite's limit of bound variables."""
    ordered = sorted(values)
    for start in range(0, len(ordered), size):
        yield ordered[start:start + size]


class KeptConnection:
    """A connection kept open for many short transactions of Core statements (the sender's
    group commits, hundreds a second): no pool checkout, PostgreSQL pre-ping or Session
    bookkeeping per transaction. A failed transaction drops the connection; the next one
    connects again. Use it from one thread at a time.

    ``autocommit``: each statement commits by itself (no BEGIN nor COMMIT sent): for work
    that is one statement, a single round trip to PostgreSQL."""

    def __init__(self, engine: Engine, autocommit: bool = False) -> None:
        self.engine = engine
        self.autocommit = autocommit
        self.connection: Connection | None = None

    def run(self, work: Callable[[Connection], R]) -> R:
        """``work(connection)`` in one transaction: committed at the end, rolled back on
        error. A kept connection found dead (the database restarted since the last
        transaction) is replaced and ``work`` run once more, as the pool's pre-ping spares
        a session: ``work`` must be safe to repeat."""
        try:
            return self._once(work)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        return self._once(work)

    def _once(self, work: Callable[[Connection], R]) -> R:
        if self.connection is None:
            self.connection = self.engine.connect()
            if self.autocommit:
                self.connection.execution_options(isolation_level="AUTOCOMMIT")
        try:
            with self.connection.begin():
                return work(self.connection)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]],
                indexed: bool = False) -> None:
    """Insert ``rows`` (dicts with the same keys, every value given: column defaults are
    not applied) into ``table`` in the session's transaction.

    Each value goes first through its column type's bind processor, as an INSERT would,
    then straight to the driver: on PostgreSQL through ``COPY`` (10,000 outbox rows took
    ~1 s through psycopg's ``executemany``), on SQLite in one ``executemany`` of the
    driver (a Core executemany spent as long again on its own per-row work).

    ``indexed``: the table's inserts feed SQLite's full-text index by a trigger (``message``,
    migration 0003). FTS5 writes out the terms it holds at the end of every statement,
    one segment per row in an executemany, which it then merges; the rows go in
    multi-row INSERTs there instead, as many rows each as SQLite's limit of bound
    variables allows (a hundred mails: half the index's time)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    names = list(rows[0])
    processors = [(i, _remembering(process)) for i, name in enumerate(names)
                  if (process := _bind_processor(table.c[name].type, dialect)) is not None]

    def converted(row: dict[str, Any]) -> list[Any]:
        values = [row[name] for name in names]
        for i, process in processors:
            values[i] = process(values[i])
        return values

    values = (converted(row) for row in rows)
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    if dialect.name == "sqlite":
        statement = f"INSERT INTO {quote(table.name)} ({columns}) VALUES "
        one = f"({', '.join('?' * len(names))})"
        if not indexed:
            connection.exec_driver_sql(statement + one, [tuple(row) for row in values])
            return
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        per = max(1, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(names))
        listed = list(values)
        for start in range(0, len(listed), per):
            part = listed[start:start + per]
            connection.exec_driver_sql(statement + ", ".join([one] * len(part)),
                                       tuple(value for row in part for value in row))
        return
    psycopg = connection.connection.driver_connection
    assert psycopg is not None
    statement = f"COPY {quote(table.name)} ({columns}) FROM STDIN"
    try:
        with psycopg.cursor() as cursor, cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    except dialect.loaded_dbapi.Error as exc:  # as an INSERT raises it: IntegrityError, ...
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc


def _bind_processor(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """The column type's bind processor; for JSON on PostgreSQL the driver's (psycopg's
    ``Json``, which ``COPY`` writes as JSON text: the generic one left a list to be
    written as an array)."""
    if isinstance(type_, JSON) and dialect.name != "sqlite":
        type_ = type_.dialect_impl(dialect)
    processor: Callable[[Any], Any] | None = type_.bind_processor(dialect)
    return processor


def _remembering(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` (a bind processor: the same value gives the same result) that reuses its
    last result for the very same value: a batch's rows share most of theirs (a mailing's
    10,000 rows one time of queueing, written out 20,000 times before)."""
    last: list[Any] = [_NOTHING, None]

    def remembered(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return remembered


_NOTHING = object()


def insert_with_ids(session: Session, table: Table, rows: list[dict[str, Any]],
                    indexed: bool = False) -> list[int]:
    """Insert ``rows`` (dicts with the same keys, every value given, no ``id``) into
    ``table``; returns the ids they got, in order. ``indexed``: as for ``insert_rows``.

    SQLite cannot say which id each row of a batched INSERT ... RETURNING got: the ids are
    given up front there, as ``assign_ids`` does (a concurrent writer taking one fails the
    batch with an IntegrityError). PostgreSQL gives them up front from the table's
    sequence (one query), and the rows go by ``COPY``: an INSERT ... RETURNING of the
    batch's rows took three to four times as long. Either way they go as ``insert_rows``
    sends them."""
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        start = connection.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0
        ids = list(range(start + 1, start + 1 + len(rows)))
    else:
        ids = sorted(connection.scalars(
            select(func.nextval(func.pg_get_serial_sequence(table.name, "id")))
            .select_from(func.generate_series(1, len(rows)))))
    insert_rows(session, table, [{"id": id_, **row}
                                 for row, id_ in zip(rows, ids, strict=True)], indexed)
    return ids


def assign_ids(session: Session) -> None:
    """Give the session's new rows their integer ids before the flush (SQLite only).

    SQLite cannot say which id each row of a batched INSERT ... RETURNING got, so the ORM
    inserts one row per statement there; with the ids known up front, each table's rows go
    in one executemany. A concurrent writer taking the same id makes the flush fail with an
    IntegrityError, which callers already handle by retrying the careful way.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    pending: dict[type, list[Any]] = {}
    for obj in session.new:
        if getattr(obj, "id", 0) is None:
            pending.setdefault(type(obj), []).append(obj)
    with session.no_autoflush:
        for cls, objects in pending.items():
            table = cls.__table__  # type: ignore[attr-defined]
            start = session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0
            for offset, obj in enumerate(objects, start=1):
                obj.id = start + offset


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:" and not path.startswith("file:"):
            # Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the
            # database file's mode, so all three are private whatever the umask.
            private_folder(Path(path).parent)
            create_private(Path(path))
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, a busy timeout instead of 'database is locked', real FKs.

    The driver's own transaction handling is switched off so that SQLAlchemy's BEGIN and
    SAVEPOINT work as documented (one savepoint per message in a batch). ``rn_fold`` is the
    accent folding the search triggers index with.
    """
    dbapi_connection.isolation_level = None
    dbapi_connection.create_function("rn_fold", 1, fold, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL, not WAL's usual NORMAL: a commit is on disk before it returns. With NORMAL a
    # power cut could take back the last commits, after the ingest had moved their mail out
    # of the folder or the sender had recorded it sent (docs/guarantees.md).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """BEGIN IMMEDIATE: take the write lock at the start, waiting (busy timeout) for it.

    With a plain BEGIN a transaction that read first and writes later fails at once with
    "database is locked" when another process committed in between (its WAL snapshot is
    stale, and SQLite cannot wait that out). Several rnmail processes write the same file
    (ingest, the sender, the scheduler, CLI commands): they take turns instead. A
    ``reading`` session never writes: a plain BEGIN, a snapshot of its own."""
    reading = connection.get_execution_options().get("rnmail_reading", False)
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def _read_only(session: Session, _context: Any, _instances: Any) -> None:
    raise RuntimeError("a Database.reading() session does not write: use transaction()")
