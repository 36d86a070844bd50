"""an announcement's queueing cursor

A mailing to user groups no longer writes all its outbox rows before the first mail leaves:
the announcement keeps where its queueing stands (``announcement.queue``: the groups, the
last address queued, the shared part of each language) and the senders queue the next
members as they claim (``rnmail.dispatch.expand``). NULL once every member is queued, and
for every announcement written before this revision.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("announcement") as batch_op:
        batch_op.add_column(sa.Column("queue", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("announcement") as batch_op:
        batch_op.drop_column("queue")
