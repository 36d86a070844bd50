"""steps of scheduled jobs done once: reminders, warnings, automatic closes, fetch alerts

``scheduled_step``: one row per step, its ``key`` unique (``delegation-reminder:42:2``),
written in the same transaction as the step's mail and history entry, so that no restart
or second instance does a step twice.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 09:00:00
"""

import sqlalchemy as sa
from alembic import op

from rnmail.models import UTCDateTime

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scheduled_step',
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('done_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'],
                            name=op.f('fk_scheduled_step_ticket_id_ticket'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_scheduled_step'))
    )
    op.create_index(op.f('ix_scheduled_step_ticket_id'), 'scheduled_step', ['ticket_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_scheduled_step_ticket_id'), table_name='scheduled_step')
    op.drop_table('scheduled_step')
