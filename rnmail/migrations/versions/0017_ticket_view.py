"""who has a ticket open: the desk records each staff member's view of a ticket

``ticket_view``: one row per (staff member, ticket), its ``seen_at`` moved on at every view
(``rnmail.tickets.presence``); the ticket page names the colleagues seen within
``[workflow].presence_minutes``. ``ticket.requester_org`` gets an index: the requester card
lists the organisation's other tickets.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from rnmail.models import UTCDateTime

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ticket_view',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('seen_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'],
                            name=op.f('fk_ticket_view_staff_id_staff'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'],
                            name=op.f('fk_ticket_view_ticket_id_ticket'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'ticket_id', name=op.f('pk_ticket_view'))
    )
    op.create_index('ix_ticket_view_ticket_seen', 'ticket_view', ['ticket_id', 'seen_at'])
    op.create_index(op.f('ix_ticket_requester_org'), 'ticket', ['requester_org'])


def downgrade() -> None:
    op.drop_index(op.f('ix_ticket_requester_org'), table_name='ticket')
    op.drop_index('ix_ticket_view_ticket_seen', table_name='ticket_view')
    op.drop_table('ticket_view')
