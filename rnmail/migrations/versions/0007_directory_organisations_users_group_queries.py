"""directory of organisations and users, groups by query

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 16:26:03.930356
"""

import sqlalchemy as sa
from alembic import op

import rnmail.models


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('contact_emails', sa.JSON(), nullable=False),
    sa.Column('created_at', rnmail.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', rnmail.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation')),
    sa.UniqueConstraint('code', name=op.f('uq_organisation_code'))
    )
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_organisation_name'), ['name'], unique=False)

    op.create_table('directory_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=True),
    sa.Column('access_status', sa.String(length=16), nullable=False),
    sa.Column('status_since', rnmail.models.UTCDateTime(), nullable=False),
    sa.Column('key_sent_at', rnmail.models.UTCDateTime(), nullable=True),
    sa.Column('last_contact_at', rnmail.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', rnmail.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', rnmail.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_directory_user_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_user')),
    sa.UniqueConstraint('email', name=op.f('uq_directory_user_email'))
    )
    with op.batch_alter_table('directory_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_user_access_status'), ['access_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_directory_user_organisation_id'), ['organisation_id'], unique=False)

    with op.batch_alter_table('user_group', schema=None) as batch_op:
        batch_op.add_column(sa.Column('query', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('user_group', schema=None) as batch_op:
        batch_op.drop_column('query')

    with op.batch_alter_table('directory_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_user_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_directory_user_access_status'))

    op.drop_table('directory_user')
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_name'))
        batch_op.drop_index(batch_op.f('ix_organisation_kind'))

    op.drop_table('organisation')
