"""text modules: reusable answer pieces per language with placeholders

``text_module``: one row per (name, language), its text (Jinja2 placeholders, rendered in a
sandbox by ``rnmail.tickets.texts``) and who changed it last, when. The shipped examples
are loaded by ``rnmail text load-examples``, not here: they are the help desk's to edit.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from rnmail.models import UTCDateTime

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('text_module',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('changed_by', sa.String(length=320), nullable=False),
    sa.Column('changed_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_text_module')),
    sa.UniqueConstraint('name', 'language', name=op.f('uq_text_module_name'))
    )


def downgrade() -> None:
    op.drop_table('text_module')
