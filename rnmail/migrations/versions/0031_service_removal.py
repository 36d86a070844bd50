"""a second-line service can be removed: ``service.active``

``rnmail service remove`` takes a service that no longer exists off every choice (the desk's
delegation, the call form, ``#delegate``) without deleting it: the tickets delegated to it
keep their history. Every existing service stays active.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 18:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_column('active')
