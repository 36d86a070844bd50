"""who really sent it: the gateway's verdict, the spam state and the blocklist

``message.sender_verdict`` (pass | fail | none; null without a trusted gateway) and
``ticket.sender_unverified``: mail the trusted gateway found unverified
(``rnmail.ingest.authres``). ``spam_message``: mail held as spam, raw, until released or
deleted. ``blocked_sender``: addresses and domains whose mail goes straight to spam.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-09 09:00:00
"""

import sqlalchemy as sa
from alembic import op

from rnmail.models import UTCDateTime

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('message', sa.Column('sender_verdict', sa.String(length=8), nullable=True))
    op.add_column('ticket', sa.Column('sender_unverified', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table('spam_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox', sa.String(length=100), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=True),
    sa.Column('uid', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw_sha256', sa.String(length=64), nullable=False),
    sa.Column('raw_size', sa.BigInteger(), nullable=False),
    sa.Column('subject', sa.String(length=998), nullable=True),
    sa.Column('from_addr', sa.String(length=998), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('released_at', UTCDateTime(), nullable=True),
    sa.Column('released_by', sa.String(length=64), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spam_message'))
    )
    op.create_index(op.f('ix_spam_message_state'), 'spam_message', ['state'])
    op.create_table('blocked_sender',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pattern', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_blocked_sender')),
    sa.UniqueConstraint('pattern', name=op.f('uq_blocked_sender_pattern'))
    )


def downgrade() -> None:
    op.drop_table('blocked_sender')
    op.drop_index(op.f('ix_spam_message_state'), table_name='spam_message')
    op.drop_table('spam_message')
    op.drop_column('ticket', 'sender_unverified')
    op.drop_column('message', 'sender_verdict')
