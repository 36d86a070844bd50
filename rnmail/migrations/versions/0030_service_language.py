"""a second-line service is written to in its contact's language: ``service.language``

The delegation and the reminders to a service were always in the help desk's default
language, a Dutch-speaking service's contact getting French mail. NULL keeps that default
(``rnmail service add/edit --language``).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 17:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_column('language')
