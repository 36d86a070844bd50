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

Replaying that script costs PostgreSQL ~0.5 s of CPU per test, and dropping the schema
~0.1 s more, for 600-odd tests. So a schema it made is recycled at the test's end
(``recycle``, from ``fresh_postgres_schema``) when no statement of the test changed its
definition: its filled tables emptied (TRUNCATE), every sequence set back to its start,
it waits under another name and the next empty schema brought to head is swapped for it
(renamed): the same tables, empty, as a replay gives. A schema whose catalog rows
changed (any DDL: a new, changed or dropped column, index, constraint, trigger,
function, sequence option...) or whose alembic_version row changed is dropped as before.
"""

from __future__ import annotations

import os
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
# Schemas brought to head here and still in use (name -> their catalog's stamp when
# handed out; None: replayed, to be compared in full), and those waiting to be reused.
_issued: dict[str, tuple[Any, ...] | None] = {}
_spare: list[tuple[str, tuple[Any, ...]]] = []
_template: dict[str, Any] = {}  # the full definition of a replayed schema, its version


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
        [(schema,)] = driver.execute("SELECT current_schema()").fetchall()
        if _spare:
            name, stamp = _spare.pop()
            driver.execute(f'DROP SCHEMA "{schema}"')  # empty: checked by the caller
            driver.execute(f'ALTER SCHEMA "{name}" RENAME TO "{schema}"')
            _issued[schema] = stamp
            return
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
        if "definition" not in _template:  # what a schema must be to be reused
            _template["definition"] = _definition(driver, schema)
            _template["version"] = _version(driver, schema)
            # rows a revision inserted would be lost to the TRUNCATE of a reuse
            _template["reusable"] = not _filled(driver, schema)
        _issued[schema] = None


# Every catalog row that defines something in the schema, by its count and the newest
# transaction that wrote one: DDL adds, rewrites or removes such rows; data does not.
# Found through indexes (pg_depend on the schema, then by relation): a scan of pg_class,
# bloated by the schemas of every test, takes a tenth of a second.
_STAMP = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = %s),
objects AS (SELECT d.classid, d.objid, d.xmin FROM pg_depend d
            WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = (SELECT oid FROM ns)),
tables AS (SELECT objid AS oid FROM objects WHERE classid = 'pg_class'::regclass),
relations AS (SELECT oid FROM tables UNION ALL SELECT i.indexrelid FROM pg_index i
              WHERE i.indrelid IN (SELECT oid FROM tables))
SELECT count(*), max(x::text::bigint) FROM (
  SELECT xmin AS x FROM objects
  UNION ALL SELECT c.xmin FROM pg_class c WHERE c.oid IN (SELECT oid FROM relations)
  UNION ALL SELECT a.xmin FROM pg_attribute a WHERE a.attrelid IN (SELECT oid FROM relations)
  UNION ALL SELECT d.xmin FROM pg_attrdef d WHERE d.adrelid IN (SELECT oid FROM tables)
  UNION ALL SELECT i.xmin FROM pg_index i WHERE i.indrelid IN (SELECT oid FROM tables)
  UNION ALL SELECT k.xmin FROM pg_constraint k WHERE k.conrelid IN (SELECT oid FROM tables)
  UNION ALL SELECT t.xmin FROM pg_trigger t WHERE t.tgrelid IN (SELECT oid FROM tables)
  UNION ALL SELECT r.xmin FROM pg_rewrite r WHERE r.ev_class IN (SELECT oid FROM tables)
  UNION ALL SELECT q.xmin FROM pg_sequence q WHERE q.seqrelid IN (SELECT oid FROM tables)
  UNION ALL SELECT p.xmin FROM pg_proc p WHERE p.oid IN (
    SELECT objid FROM objects WHERE classid = 'pg_proc'::regclass)
) AS rows"""

# The tables and sequences of the schema (by pg_depend: see _STAMP).
_RELATIONS = """
SELECT c.oid, c.relname, c.relkind::text FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
WHERE d.refclassid = 'pg_namespace'::regclass AND d.classid = 'pg_class'::regclass
  AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = %s)"""

# The definition itself, compared once for a replayed schema (a third of a second).
_DEFINITION = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = %s)
SELECT string_agg(x, E'\\n' ORDER BY x) FROM (
  SELECT c.relname || ' ' || c.relkind::text || ' ' || coalesce(a.attname, '') || ' '
         || coalesce(format_type(a.atttypid, a.atttypmod), '') || ' '
         || coalesce(a.attnotnull::text, '') || ' '
         || coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS x
    FROM pg_class c LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
      AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE c.relnamespace = (SELECT oid FROM ns)
  UNION ALL SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
    JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = (SELECT oid FROM ns)
  UNION ALL SELECT k.conname || ' ' || pg_get_constraintdef(k.oid) FROM pg_constraint k
    WHERE k.connamespace = (SELECT oid FROM ns)
  UNION ALL SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = (SELECT oid FROM ns)
    AND NOT t.tgisinternal
  UNION ALL SELECT pg_get_functiondef(p.oid) FROM pg_proc p
    WHERE p.pronamespace = (SELECT oid FROM ns)
  UNION ALL SELECT s.seqrelid::regclass::text || ' ' || s.seqstart || ' ' || s.seqincrement
    FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
    WHERE c.relnamespace = (SELECT oid FROM ns)
) AS rows"""


def recycle(connection: Any, schema: str) -> bool:
    """Keep ``schema`` (its connections ended) for the next test if this module brought
    it to head and its definition is unchanged: emptied, renamed, True; else False (the
    caller drops it). ``connection``: psycopg, autocommit."""
    if schema not in _issued or not _template["reusable"]:
        _issued.pop(schema, None)
        return False
    if "swept" not in _template:
        _template["swept"] = _sweep(connection)
    stamp = _issued.pop(schema)
    with connection.transaction():
        if stamp is None:
            unchanged = _definition(connection, schema) == _template["definition"]
        else:
            unchanged = tuple(connection.execute(_STAMP, [schema]).fetchone()) == stamp
        if not unchanged or _version(connection, schema) != _template["version"]:
            return False
        relations = connection.execute(_RELATIONS, [schema]).fetchall()
        filled = _filled(connection, schema)
        if filled and _superuser(connection):
            # DELETE: the tables hold a few rows, and TRUNCATE gave each table and index of
            # the cascade new files (0.05-0.2 s a test); no foreign key checked (replica),
            # as every table with rows is emptied.
            connection.execute("SET LOCAL session_replication_role = replica")
            connection.execute("; ".join(f'DELETE FROM "{schema}"."{t}"' for t in filled))
        elif filled:  # CASCADE: and the (empty) tables whose foreign keys point at them
            connection.execute("TRUNCATE " + ", ".join(f'"{schema}"."{t}"' for t in filled)
                               + " CASCADE")
        # every sequence as new (a row added and deleted again moved it on too)
        connection.execute("SELECT setval(q.seqrelid::regclass, q.seqstart, false)"
                           " FROM pg_sequence q WHERE q.seqrelid = ANY(%s)",
                           [[oid for oid, _name, kind in relations if kind == "S"]])
        spare = f"spare_{os.getpid()}_{schema}"
        connection.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{spare}"')
        _spare.append((spare, tuple(connection.execute(_STAMP, [spare]).fetchone())))
    return True


def _superuser(connection: Any) -> bool:
    """Whether the tests' PostgreSQL role may set ``session_replication_role``."""
    if "superuser" not in _template:
        _template["superuser"] = connection.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    return bool(_template["superuser"])


def _filled(connection: Any, schema: str) -> list[str]:
    """The tables of ``schema`` that hold rows, alembic_version left out."""
    tables = [name for _oid, name, kind in connection.execute(_RELATIONS, [schema])
              if kind == "r" and name != "alembic_version"]
    return [row[0] for row in connection.execute(" UNION ALL ".join(
        f"SELECT '{t}' WHERE EXISTS (SELECT FROM \"{schema}\".\"{t}\")" for t in tables))]


def _definition(connection: Any, schema: str) -> str:
    [(found,)] = connection.execute(_DEFINITION, [schema]).fetchall()
    unqualified = str(found).replace(f'"{schema}".', "").replace(f"{schema}.", "")
    return "\n".join(sorted(unqualified.splitlines()))  # as ordered without the names


def _version(connection: Any, schema: str) -> Any:
    return connection.execute(f'SELECT array_agg(version_num ORDER BY version_num)'
                              f' FROM "{schema}".alembic_version').fetchone()


def _sweep(connection: Any) -> int:
    """Drop the spare schemas of test processes that ended without dropping theirs
    (killed); the number dropped."""
    stale = [name for (name,) in connection.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'spare\\_%'")
        if not os.path.exists(f"/proc/{name.split('_')[1]}")]
    for name in stale:
        connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    return len(stale)


def has_spares() -> bool:
    return bool(_spare)


def drop_spares(connection: Any) -> None:
    """Drop the schemas still waiting (at the end of the test process)."""
    while _spare:
        name, _stamp = _spare.pop()
        connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
