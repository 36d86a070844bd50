"""mailboxes that cannot be fetched, since when: the fetch monitor's memory

``fetch_failure``: one row per mailbox whose fetching fails, with the time of the first
failure and the last error; deleted when fetching works again. The alert and the recovery
mails are steps of ``scheduled_step`` keyed on the mailbox and that time.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 19:00:00
"""

import sqlalchemy as sa
from alembic import op

from rnmail.models import UTCDateTime

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fetch_failure',
    sa.Column('mailbox', sa.String(length=100), nullable=False),
    sa.Column('since', UTCDateTime(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('mailbox', name=op.f('pk_fetch_failure'))
    )


def downgrade() -> None:
    op.drop_table('fetch_failure')
