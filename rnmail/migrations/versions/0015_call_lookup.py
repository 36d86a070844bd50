"""the caller lookup: a directory user by phone number by index, names folded in plain SQL

The call form's lookup (``rnmail.directory.lookup``) runs while the caller is on the line.
``directory_user.phone`` (E.164) gets an index: the lookup and a phone ticket's directory
match search by it. ``directory_user.name_folded`` and ``ticket.requester_name_folded`` hold
the names folded (``rnmail.util.folding``; written by the models on every insert and update)
so that a name is matched without calling ``rn_fold`` on every row — on SQLite a Python
function, the cost of a name lookup in a large directory. The stored names get theirs here
(by ``rn_fold``: on PostgreSQL its SQL twin).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('directory_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_folded', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_directory_user_name_folded'), ['name_folded'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_directory_user_phone'), ['phone'], unique=False)
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requester_name_folded', sa.String(length=200),
                                      nullable=True))
    op.execute("UPDATE directory_user SET name_folded = substr(rn_fold(name), 1, 200)")
    op.execute("UPDATE ticket SET requester_name_folded = substr(rn_fold(requester_name), 1, "
               "200) WHERE requester_name IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('requester_name_folded')
    with op.batch_alter_table('directory_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_user_phone'))
        batch_op.drop_index(batch_op.f('ix_directory_user_name_folded'))
        batch_op.drop_column('name_folded')
