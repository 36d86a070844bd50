"""operators' TOTP secrets are stored encrypted: room for the Fernet token; admin
sessions found by operator (all of an operator's sessions end on a credential change)

The secrets an earlier version stored in clear stay readable and are encrypted by the
running code (the key is derived from ``[helpdesk].secret``, which a migration does not
know): at the operator's next sign-in and whenever the web admin starts.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('operator', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64),
                              type_=sa.String(length=255), existing_nullable=True)
    with op.batch_alter_table('admin_session', schema=None) as batch_op:
        batch_op.create_index('ix_admin_session_operator', ['operator'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('admin_session', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_session_operator')
    # An encrypted secret does not fit the old column: the operators set theirs up again.
    op.execute(sa.text("UPDATE operator SET totp_secret = NULL, totp_last_step = NULL "
                       "WHERE length(totp_secret) > 64"))
    with op.batch_alter_table('operator', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=255),
                              type_=sa.String(length=64), existing_nullable=True)
