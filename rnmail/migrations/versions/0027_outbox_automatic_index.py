"""an index for the daily limit of automatic mails

The ingest counts, for each batch, the automatic mails queued since midnight to its
requesters and to their domains (``rnmail.ingest.respond.within_daily_limit``). Without an
index on the day, SQLite read every row of the outbox (every mail ever queued, mailings
included) and, since ``created_at`` comes after ``raw``, the overflow pages of each mail's
bytes: a few milliseconds a batch on a new desk, growing with the outbox. The index covers
both counts (automatic, day, address): only the day's automatic mails are read.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 07:00:00
"""

from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_message_automatic_day", "outbox_message",
                    ["automatic", "created_at", "to_addr"])


def downgrade() -> None:
    op.drop_index("ix_outbox_message_automatic_day", table_name="outbox_message")
