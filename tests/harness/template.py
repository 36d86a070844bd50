"""A migrated schema copied instead of migrated again: ``rnmail init`` in a test takes
milliseconds, not the 1-2 s of running every Alembic revision.

Each test process migrates one template per engine with the real ``Database.upgrade``
(so the revisions still run, and tests/test_migrations.py, marked ``migrations``, runs
them on every database it gets). After that, ``upgrade()`` to head of an *empty*
database copies the template: on SQLite the template file's pages (SQLite's backup API,
through the engine's own connection, so open connections stay valid); on PostgreSQL the
SQL the template's migration sent, replayed in the test's schema as one script (the
statements name no schema: they land in the connection's search_path, as the migration's
did). An upgrade to
another revision, or of a database that has tables, runs the migrations as before.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect

from rnmail.db import Database

Upgrade = Callable[[Database, str], str]

# Per process: the SQLite template's path, the PostgreSQL statements.
_sqlite: dict[str, Path] = {}
_postgres: list[tuple[str, Any, str]] = []
_script: list[str] = []
_disabled = [False]


@contextmanager
def real_migrations() -> Iterator[None]:
    """Within the block every ``upgrade()`` runs the Alembic revisions."""
    _disabled[0] = True
    try:
        yield
    finally:
        _disabled[0] = False


def copying(original: Upgrade, workdir: Path, new_schema: Callable[[], Any]) -> Upgrade:
    """``Database.upgrade`` that copies the template into an empty database; ``original``
    builds the templates, in ``workdir`` (SQLite) and in ``new_schema()`` (PostgreSQL: a
    context manager yielding a URL whose schema is dropped at its end)."""

    def upgrade(self: Database, target: str = "head") -> str:
        if _disabled[0] or target != "head" or inspect(self.engine).get_table_names():
            return original(self, target)
        if self.is_sqlite:
            _copy_sqlite(self, original, workdir)
        elif self.engine.dialect.name == "postgresql":
            _replay_postgres(self, original, new_schema)
        else:
            return original(self, target)
        return self.revision() or "none"

    return upgrade


def _copy_sqlite(db: Database, original: Upgrade, workdir: Path) -> None:
    if "path" not in _sqlite:
        path = Path(tempfile.mkdtemp(prefix="template-", dir=workdir)) / "rnmail.db"
        template = Database(f"sqlite:///{path}")
        original(template, "head")
        template.dispose()
        _sqlite["path"] = path
    source = sqlite3.connect(_sqlite["path"])
    raw = db.engine.raw_connection()
    try:
        source.backup(raw.driver_connection)
    finally:
        raw.close()
        source.close()


def _replay_postgres(db: Database, original: Upgrade, new_schema: Callable[[], Any]) -> None:
    if not _postgres:
        with new_schema() as url:
            template = Database(url)

            def record(_conn: Any, _cursor: Any, statement: str, parameters: Any,
                       context: Any, executemany: bool) -> None:
                how = "many" if executemany else "none" if context.no_parameters else "one"
                _postgres.append((statement, parameters, how))

            event.listen(template.engine, "before_cursor_execute", record)
            try:
                original(template, "head")
            except BaseException:
                _postgres.clear()
                raise
            finally:
                template.dispose()
    with db.engine.begin() as connection:
        driver = connection.connection.driver_connection
        if not _script:  # one round trip, not one per statement: parameters made literals
            from psycopg import ClientCursor

            literal = ClientCursor(driver)
            parts = []
            for statement, parameters, how in _postgres:
                if how == "many":
                    parts += [literal.mogrify(statement, one) for one in parameters]
                elif how == "none":
                    parts.append(statement)
                else:
                    parts.append(literal.mogrify(statement, parameters))
            _script.append(";\n".join(parts))
        driver.execute(_script[0])
