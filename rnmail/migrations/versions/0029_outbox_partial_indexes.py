"""the outbox's ticket and daily-limit indexes hold only the rows they are read for

A mailing queues thousands of outbox rows that have no ticket and are not automatic, and
on PostgreSQL each of them is written three times (queued, claimed, sent: ``state`` is
indexed, so no UPDATE is HOT), each version going into every index of the table.
``ix_outbox_message_ticket_id`` and ``ix_outbox_message_automatic_day`` (migration 0027)
took an entry for each, which no query ever reads: the ticket's mails are looked up by an
equality or an ``IN`` on ``ticket_id`` (which implies it is not null), the daily limit
counts only automatic mails (``rnmail.ingest.respond._mails_today``). Both become partial
indexes on the same columns, so a mailing's rows no longer enter them.

The daily-limit index keeps ``automatic`` as its first column, constant as it now is:
SQLite (3.40) answers the count from the index alone only when every column the query
names is in it. Its condition is written as the query is (``automatic = 1`` on SQLite,
which matches a partial index's terms literally; PostgreSQL reads ``automatic = true`` as
``automatic``). tests/test_outbox_indexes.py checks both plans on both databases.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

TICKET = "ix_outbox_message_ticket_id"
AUTOMATIC_DAY = "ix_outbox_message_automatic_day"
AUTOMATIC_DAY_COLUMNS = ["automatic", "created_at", "to_addr"]


def upgrade() -> None:
    op.drop_index(TICKET, table_name="outbox_message")
    op.create_index(TICKET, "outbox_message", ["ticket_id"],
                    postgresql_where=sa.text("ticket_id IS NOT NULL"),
                    sqlite_where=sa.text("ticket_id IS NOT NULL"))
    op.drop_index(AUTOMATIC_DAY, table_name="outbox_message")
    op.create_index(AUTOMATIC_DAY, "outbox_message", AUTOMATIC_DAY_COLUMNS,
                    postgresql_where=sa.text("automatic"),
                    sqlite_where=sa.text("automatic = 1"))


def downgrade() -> None:
    op.drop_index(AUTOMATIC_DAY, table_name="outbox_message")
    op.create_index(AUTOMATIC_DAY, "outbox_message", AUTOMATIC_DAY_COLUMNS)
    op.drop_index(TICKET, table_name="outbox_message")
    op.create_index(TICKET, "outbox_message", ["ticket_id"])
