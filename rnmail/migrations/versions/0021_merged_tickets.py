"""merge: a ticket merged into another points to it

``ticket.merged_into_id`` (``rnmail.tickets.merge``): the ticket a merged one (closed with
the resolution ``merged``) went into; indexed, to refuse chains and to find what was merged
into a ticket.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ticket_merged_into_id_ticket'), 'ticket',
                                    ['merged_into_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_ticket_merged_into_id'), ['merged_into_id'])


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_merged_into_id'))
        batch_op.drop_constraint(batch_op.f('fk_ticket_merged_into_id_ticket'),
                                 type_='foreignkey')
        batch_op.drop_column('merged_into_id')
