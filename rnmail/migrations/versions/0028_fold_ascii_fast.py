"""rn_fold (PostgreSQL) returns a text that is ASCII once lower-cased without translating it

The stored search vector of every message is ``to_tsvector('simple', rn_fold(...))``
(migration 0003), computed at each insert. ``translate`` compares each character of the
text with each of the ~150 letters it folds: for a mail of 1.7 KB that was about 1 ms of
the server's time, four times ``to_tsvector`` itself and most of the ingest's message
insert. A lower-cased text whose characters are all ASCII (as many octets as characters)
holds none of those letters, nor ß, æ or œ: it is returned as it is. The result is the
same for every text, so the stored vectors stay valid. SQLite's ``rn_fold`` is
``rnmail.util.folding.fold``, which already does this.

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
_FOLDED = (f"replace(replace(replace(translate(lower(value), '{_0003.FOLD_FROM}', "
           f"'{_0003.FOLD_TO}'), 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe')")


def _fold(body: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION rn_fold(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
        AS $$ SELECT {body} $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(_fold("CASE WHEN octet_length(lower(value)) = char_length(lower(value)) "
                     f"THEN lower(value) ELSE {_FOLDED} END"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(_fold(_FOLDED))
