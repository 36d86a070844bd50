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
    if op.get_bind().dialect.name == 'sqlite':
        # The column with its named REFERENCES clause in one ALTER TABLE … ADD COLUMN: a
        # separate constraint would make the batch mode copy the table, and dropping the
        # old ``ticket`` fails while other tables' rows refer to it (foreign keys are on).
        op.execute('ALTER TABLE ticket ADD COLUMN merged_into_id INTEGER CONSTRAINT '
                   'fk_ticket_merged_into_id_ticket REFERENCES ticket (id)')
    else:
        op.add_column('ticket', sa.Column('merged_into_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_ticket_merged_into_id_ticket'), 'ticket', 'ticket',
                              ['merged_into_id'], ['id'])
    op.create_index(op.f('ix_ticket_merged_into_id'), 'ticket', ['merged_into_id'])


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_merged_into_id'))
        batch_op.drop_constraint(batch_op.f('fk_ticket_merged_into_id_ticket'),
                                 type_='foreignkey')
        batch_op.drop_column('merged_into_id')
