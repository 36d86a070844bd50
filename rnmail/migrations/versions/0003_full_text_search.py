"""full-text search over tickets and messages, accents folded

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

SQLite: an FTS5 table of folded text (``rn_fold``, rnmail.util.folding registered on each
connection) kept up to date by triggers, so every way a message or ticket is written is
indexed. PostgreSQL: GIN
indexes over stored ``to_tsvector('simple', rn_fold(...))`` columns, where ``rn_fold`` lowercases
and strips accents in plain SQL (no extension to install).
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Every lowercase Latin letter with a diacritic (Latin-1 and Extended-A/B) and its base.
FOLD_FROM = "àáâãäåçèéêëìíîïñòóôõöùúûüýÿāăąćĉċčďēĕėęěĝğġģĥĩīĭįĵķĺļľńņňōŏőŕŗřśŝşšţťũūŭůűųŵŷźżžơưǎǐǒǔǖǘǚǜǟǡǧǩǫǭǰǵǹǻȁȃȅȇȉȋȍȏȑȓȕȗșțȟȧȩȫȭȯȱȳøłđħı"
FOLD_TO = "aaaaaaceeeeiiiinooooouuuuyyaaaccccdeeeeegggghiiiijklllnnnooorrrssssttuuuuuuwyzzzouaiouuuuuaagkoojgnaaaeeiioorruusthaeooooyoldhi"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE search_index USING fts5("
            "ticket_id UNINDEXED, subject, body, prefix = '2 3', "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
        # rowid = message id: newest first is rowid order (every ticket has a message)
        op.execute("""CREATE TRIGGER search_message_insert AFTER INSERT ON message BEGIN
            INSERT INTO search_index(rowid, ticket_id, subject, body)
            VALUES (new.id, new.ticket_id, rn_fold(new.subject), rn_fold(new.display_text)); END""")
        op.execute("""CREATE TRIGGER search_message_update AFTER UPDATE OF subject, display_text
            ON message BEGIN
            UPDATE search_index SET subject = rn_fold(new.subject), body = rn_fold(new.display_text)
            WHERE rowid = new.id; END""")
        op.execute("""CREATE TRIGGER search_message_delete AFTER DELETE ON message BEGIN
            DELETE FROM search_index WHERE rowid = old.id; END""")
        op.execute("INSERT INTO search_index(rowid, ticket_id, subject, body) "
                   "SELECT id, ticket_id, rn_fold(subject), rn_fold(display_text) FROM message")
    else:
        op.execute(f"""CREATE FUNCTION rn_fold(value text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
            AS $$ SELECT replace(replace(replace(translate(lower(value),
                '{FOLD_FROM}', '{FOLD_TO}'), 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe') $$""")
        # Stored vectors: matching uses the GIN index, and nothing is re-parsed per row.
        op.execute("ALTER TABLE message ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
                   "(to_tsvector('simple', rn_fold(coalesce(subject, '') || ' ' || "
                   "coalesce(display_text, '')))) STORED")
        op.execute("CREATE INDEX ix_message_search ON message USING gin (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("message_insert", "message_update", "message_delete"):
            op.execute(f"DROP TRIGGER search_{trigger}")
        op.execute("DROP TABLE search_index")
    else:
        op.execute("DROP INDEX ix_message_search")
        op.execute("ALTER TABLE message DROP COLUMN search_vector")
        op.execute("DROP FUNCTION rn_fold(text)")
