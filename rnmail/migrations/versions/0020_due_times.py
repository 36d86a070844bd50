"""due times: each ticket's first-response and resolution due times (rnmail.tickets.due)

``ticket.due_response_at``, ``due_resolution_at`` and ``due_at`` (the next one to meet while
the clock runs: the queue's sort by due time, indexed with the status). Existing tickets get
theirs from ``rnmail ticket due --recompute`` (the targets are in the config, which a
migration does not read).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from rnmail.models import UTCDateTime

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket') as batch:
        batch.add_column(sa.Column('due_response_at', UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('due_resolution_at', UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('due_at', UTCDateTime(), nullable=True))
    op.create_index('ix_ticket_queue_due', 'ticket', ['status', 'due_at'])


def downgrade() -> None:
    op.drop_index('ix_ticket_queue_due', table_name='ticket')
    with op.batch_alter_table('ticket') as batch:
        batch.drop_column('due_at')
        batch.drop_column('due_resolution_at')
        batch.drop_column('due_response_at')
