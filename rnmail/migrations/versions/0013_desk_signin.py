"""staff members sign in to the desk: a password and a second factor per member, and
sessions that say whose they are (an operator's or a staff member's)

``staff``: ``password_hash`` (argon2id), ``password_changed_at``, ``totp_secret``
(encrypted like the operators') and ``totp_last_step``, all empty until ``rnmail staff
passwd`` / ``staff totp``. ``admin_session.kind``: "operator" (the existing sessions) or
"staff"; its ``operator`` column (the principal) takes a staff member's address.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 13:45:00
"""

import sqlalchemy as sa
from alembic import op

from rnmail.models import UTCDateTime

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_hash', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('password_changed_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('admin_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False,
                                      server_default='operator'))
        batch_op.alter_column('operator', existing_type=sa.String(length=64),
                              type_=sa.String(length=320), existing_nullable=False)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM admin_session WHERE kind <> 'operator'"))
    with op.batch_alter_table('admin_session', schema=None) as batch_op:
        batch_op.alter_column('operator', existing_type=sa.String(length=320),
                              type_=sa.String(length=64), existing_nullable=False)
        batch_op.drop_column('kind')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('password_hash')
