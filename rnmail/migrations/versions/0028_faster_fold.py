"""rn_fold (PostgreSQL) translates only the letters the text holds

The stored search vector of every message is ``to_tsvector('simple', rn_fold(...))``
(migration 0003), computed at each insert. ``translate`` compares each character of the
text with each of the 127 letters it folds: for a mail of 1.7 KB, about 0.7 ms of the
server's time, four times ``to_tsvector`` itself and most of the ingest's message insert.

Now a lower-cased text whose characters are all ASCII (as many octets as characters) is
returned as it is: it holds none of those letters, nor ß, æ or œ. Another is translated
with only the letters of the list that it holds (found among its non-ASCII characters,
each with its own base letter, both lists in the same order): about five times less work
on an accented mail. ``translate`` maps each character by itself, so the result is the
same for every text and the stored vectors stay valid (tests/test_migrations.py compares
the two). SQLite's ``rn_fold`` is ``rnmail.util.folding.fold``, which returns ASCII text
as it is already.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 09:40:00
"""

from importlib import import_module

from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

_0003 = import_module("rnmail.migrations.versions.0003_full_text_search")
FROM, TO = _0003.FOLD_FROM, _0003.FOLD_TO
_SPECIAL = "replace(replace(replace({}, 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe')"


def _function(body: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION rn_fold(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
        AS $$ {body} $$"""


# The letters of FROM that ``l`` holds, and their bases in TO, in the same order.
_HELD = f"""SELECT coalesce(string_agg(ch, '' ORDER BY ch), '') AS f,
               coalesce(string_agg(substr('{TO}', strpos('{FROM}', ch), 1), ''
                                   ORDER BY ch), '') AS t
        FROM (SELECT DISTINCT ch COLLATE "C" AS ch
              FROM regexp_split_to_table(regexp_replace(l, '[\\x01-\\x7f]+', '', 'g'), '')
                   AS ch
              WHERE strpos('{FROM}', ch) > 0) AS letters"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    assert len(FROM) == len(TO) == len(set(FROM))
    op.execute(_function(f"""
        SELECT CASE WHEN octet_length(l) = char_length(l) THEN l
               ELSE (SELECT {_SPECIAL.format("translate(l, f, t)")} FROM ({_HELD}) AS held)
               END
        FROM (SELECT lower(value) AS l) AS lowered"""))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    folded = _SPECIAL.format(f"translate(lower(value), '{FROM}', '{TO}')")
    op.execute(_function(f"SELECT {folded}"))
