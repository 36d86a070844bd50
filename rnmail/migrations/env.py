"""Alembic environment: runs on the connection handed over by ``Database.upgrade``."""

from alembic import context

from rnmail.models import Base, include_object

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
