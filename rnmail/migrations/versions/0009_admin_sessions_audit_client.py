"""web admin: server-side sessions; the client address of each audited act

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 18:45:00
"""

import sqlalchemy as sa
from alembic import op

import rnmail.models

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admin_session',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.Column('created_at', rnmail.models.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', rnmail.models.UTCDateTime(), nullable=False),
    sa.Column('expires_at', rnmail.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_admin_session'))
    )
    with op.batch_alter_table('admin_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_session_expires_at'), ['expires_at'],
                              unique=False)
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_event_client'), ['client'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_client'))
        batch_op.drop_column('client')
    with op.batch_alter_table('admin_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_session_expires_at'))
    op.drop_table('admin_session')
