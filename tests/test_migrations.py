"""The Alembic revisions build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from rnmail.db import Database
from rnmail.models import Base, include_object


def test_upgrade_head_matches_the_models(db_url: str) -> None:
    db = Database(db_url)
    assert db.revision() is None
    head = db.upgrade()
    assert db.upgrade() == head  # idempotent: init twice is fine
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection,
                                             opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    db.dispose()
    assert diff == []
