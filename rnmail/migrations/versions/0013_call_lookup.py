"""the caller lookup finds a directory user by phone number by index

``directory_user.phone`` (E.164) is what the call form's lookup and a phone ticket's
directory match (``directory_user_for``) search for, while the caller is on the line.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 14:00:00
"""

from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_directory_user_phone', 'directory_user', ['phone'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_directory_user_phone', table_name='directory_user')
