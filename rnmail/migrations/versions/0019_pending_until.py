"""a pending ticket may wait until a day: ``ticket.pending_until``

``ticket pending ID --until DAY``, ``#pending DAY`` and the desk's pending form set it; the
daemon's scheduler (``rnmail.tickets.reminders``) brings the ticket back to the queue that day.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_until', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('pending_until')
