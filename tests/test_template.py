"""The schema copied from the migrated template (tests/harness/template.py, what every other
test's ``rnmail init`` gets) is the one the revisions build: the models' schema, at head."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from rnmail.db import Database
from rnmail.models import Base, Ticket, include_object
from tests.harness.servers import database


def test_the_copied_schema_matches_the_models(db_url: str) -> None:
    db = Database(db_url)
    assert db.revision() is None
    head = db.upgrade()
    assert db.upgrade() == head
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection,
                                             opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
        versions = connection.execute(text("SELECT count(*) FROM alembic_version")).scalar()
    db.dispose()
    assert diff == [] and versions == 1


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_each_copy_is_a_database_of_its_own(kind: str, tmp_path: Path) -> None:
    """What one copy is given is not in the next one, nor in the template."""
    for n in range(2):
        with database(kind, tmp_path / str(n)) as url:
            db = Database(url)
            db.upgrade()
            with db.engine.begin() as connection:
                assert "scratch" not in inspect(connection).get_table_names()
                assert connection.execute(select(func.count()).select_from(Ticket)).scalar() == 0
                connection.execute(text("CREATE TABLE scratch (x integer)"))
            db.dispose()
