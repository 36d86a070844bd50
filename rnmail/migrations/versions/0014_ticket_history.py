"""ticket history: every change to a ticket, who made it and through what

One row per change (``rnmail.tickets.history``). Tickets stored before this revision have no
history of their earlier life: it starts with their next change.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 13:40:00
"""

import sqlalchemy as sa
from alembic import op

import rnmail.models

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ticket_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('at', rnmail.models.UTCDateTime(), nullable=False),
    sa.Column('what', sa.String(length=32), nullable=False),
    sa.Column('old', sa.String(length=400), nullable=True),
    sa.Column('new', sa.String(length=400), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('actor_email', sa.String(length=320), nullable=True),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'],
                            name=op.f('fk_ticket_event_staff_id_staff')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'],
                            name=op.f('fk_ticket_event_ticket_id_ticket'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_event'))
    )
    with op.batch_alter_table('ticket_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_event_ticket_id'), ['ticket_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ticket_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_event_ticket_id'))
    op.drop_table('ticket_event')
