"""messages record their author (the staff member who wrote an answer or a note), and search
finds phone and fax numbers in any notation

``message.author_id``: the staff member, where ``from_name`` only held a name (and the
help-desk address is the sender of every answer). ``message.search_numbers``: the numbers of
the message and of its ticket's requester as E.164 digits, written by the models on every
insert and update; the full-text index reads it with the text. The existing messages get
theirs here, before the index is rebuilt (SQLite: triggers; PostgreSQL: the stored vector).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 12:45:00
"""

import sqlalchemy as sa
from alembic import op

from rnmail.util.phone import numbers_in

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BATCH = 2000


def _triggers(numbers: bool) -> list[str]:
    body = ("rn_fold(new.display_text) || ' ' || coalesce(new.search_numbers, '')" if numbers
            else "rn_fold(new.display_text)")
    of = "subject, display_text, search_numbers" if numbers else "subject, display_text"
    return [
        f"""CREATE TRIGGER search_message_insert AFTER INSERT ON message BEGIN
            INSERT INTO search_index(rowid, ticket_id, subject, body)
            VALUES (new.id, new.ticket_id, rn_fold(new.subject), {body}); END""",
        f"""CREATE TRIGGER search_message_update AFTER UPDATE OF {of}
            ON message BEGIN
            UPDATE search_index SET subject = rn_fold(new.subject), body = {body}
            WHERE rowid = new.id; END""",
    ]


def _vector(numbers: bool) -> str:
    extra = " || ' ' || coalesce(search_numbers, '')" if numbers else ""
    return ("ALTER TABLE message ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
            "(to_tsvector('simple', rn_fold(coalesce(subject, '') || ' ' || "
            f"coalesce(display_text, ''){extra}))) STORED")


def _fill_numbers() -> None:
    """The numbers of the messages already stored (as ``rnmail.models._index_numbers``: not
    of our acknowledgements and notifications)."""
    bind = op.get_bind()
    message = sa.table("message", sa.column("id", sa.Integer), sa.column("ticket_id"),
                       sa.column("direction"), sa.column("kind"), sa.column("subject"),
                       sa.column("display_text"), sa.column("from_addr"),
                       sa.column("search_numbers"))
    ticket = sa.table("ticket", sa.column("id", sa.Integer), sa.column("requester"))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(message.c.id, message.c.subject, message.c.display_text,
                      message.c.from_addr, ticket.c.requester)
            .join(ticket, ticket.c.id == message.c.ticket_id)
            .where(message.c.id > last, sa.or_(message.c.direction == "in",
                                                message.c.kind == "correspondence"))
            .order_by(message.c.id).limit(BATCH)).all()
        if not rows:
            return
        last = rows[-1].id
        updates = [{"mid": row.id, "numbers": found} for row in rows
                   if (found := numbers_in(row.subject, row.display_text, row.from_addr,
                                           row.requester))]
        if updates:
            bind.execute(sa.update(message).where(message.c.id == sa.bindparam("mid"))
                         .values(search_numbers=sa.bindparam("numbers")), updates)


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('author_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('search_numbers', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_message_author_id_staff'), 'staff',
                                    ['author_id'], ['id'])
    if op.get_bind().dialect.name == "sqlite":
        # batch_alter_table may have rebuilt the table: the triggers are made anew either way
        for trigger in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS search_message_{trigger}")
        op.execute("DROP TRIGGER IF EXISTS search_message_delete")
        for statement in _triggers(numbers=True):
            op.execute(statement)
        op.execute("""CREATE TRIGGER search_message_delete AFTER DELETE ON message BEGIN
            DELETE FROM search_index WHERE rowid = old.id; END""")
        _fill_numbers()  # the update trigger indexes them
    else:
        _fill_numbers()
        op.execute("DROP INDEX ix_message_search")
        op.execute("ALTER TABLE message DROP COLUMN search_vector")
        op.execute(_vector(numbers=True))
        op.execute("CREATE INDEX ix_message_search ON message USING gin (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS search_message_{trigger}")
    else:
        op.execute("DROP INDEX ix_message_search")
        op.execute("ALTER TABLE message DROP COLUMN search_vector")
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_message_author_id_staff'), type_='foreignkey')
        batch_op.drop_column('search_numbers')
        batch_op.drop_column('author_id')
    if op.get_bind().dialect.name == "sqlite":
        for statement in _triggers(numbers=False):
            op.execute(statement)
        op.execute("""CREATE TRIGGER search_message_delete AFTER DELETE ON message BEGIN
            DELETE FROM search_index WHERE rowid = old.id; END""")
        op.execute("DELETE FROM search_index")
        op.execute("INSERT INTO search_index(rowid, ticket_id, subject, body) "
                   "SELECT id, ticket_id, rn_fold(subject), rn_fold(display_text) FROM message")
    else:
        op.execute("ALTER TABLE message ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
                   "(to_tsvector('simple', rn_fold(coalesce(subject, '') || ' ' || "
                   "coalesce(display_text, '')))) STORED")
        op.execute("CREATE INDEX ix_message_search ON message USING gin (search_vector)")
