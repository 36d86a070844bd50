"""Accent folding: the one definition of "the same word" for search and FAQ matching.

``Débloquer``, ``debloquer`` and ``DÉBLOQUER`` fold to ``debloquer``; letters that are not
an accented form in Unicode but are typed without one (``ł``, ``ø``, ``ß``, ``œ``) fold too.
SQLite gets this very function (registered on each connection, used by the search
triggers); PostgreSQL has its SQL twin ``rn_fold`` (migration 0003).
"""

from __future__ import annotations

import unicodedata

_SPECIAL = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ß": "ss",
                          "æ": "ae", "œ": "oe"})


def fold(value: str | None) -> str:
    """Lowercase without accents."""
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", value.lower().translate(_SPECIAL))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
