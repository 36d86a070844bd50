"""storage limitation: anonymised tickets and legal holds

``ticket.anonymised_at``: when ``rnmail.privacy.anonymise`` removed the ticket's personal
data (indexed: the retention run looks for the closed tickets not anonymised yet).
``ticket.hold_reason``/``hold_by``/``hold_at``: a legal hold (``rnmail ticket hold``), which
exempts the ticket from every purge while ``hold_at`` is set.

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-10 09:00:00
"""

import sqlalchemy as sa
from alembic import op

from rnmail.models import UTCDateTime

revision = '0024'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no batch copy of ``ticket``: other tables' rows refer to it).
    op.add_column('ticket', sa.Column('anonymised_at', UTCDateTime(), nullable=True))
    op.add_column('ticket', sa.Column('hold_reason', sa.Text(), nullable=True))
    op.add_column('ticket', sa.Column('hold_by', sa.String(length=200), nullable=True))
    op.add_column('ticket', sa.Column('hold_at', UTCDateTime(), nullable=True))
    op.create_index(op.f('ix_ticket_anonymised_at'), 'ticket', ['anonymised_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_ticket_anonymised_at'), table_name='ticket')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        for column in ('hold_at', 'hold_by', 'hold_reason', 'anonymised_at'):
            batch_op.drop_column(column)
