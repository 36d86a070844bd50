"""privacy officers: staff who answer access and erasure requests on the desk

``staff.privacy_officer``: set by ``rnmail staff privacy EMAIL --grant`` (audited); only
they open ``/desk/privacy`` (``rnmail.web.desk.privacy``).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-10 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('staff', sa.Column('privacy_officer', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('privacy_officer')
