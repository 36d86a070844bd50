"""Accent folding: the one definition of "the same word" for search and FAQ matching.

``Débloquer``, ``debloquer`` and ``DÉBLOQUER`` fold to ``debloquer``; letters that are not
an accented form in Unicode but are typed without one (``ł``, ``ø``, ``ß``, ``œ``) fold too.
SQLite gets this very function (registered on each connection, used by the search
triggers, so it runs on the subject and text of every stored message); PostgreSQL has its
SQL twin ``rn_fold`` (migration 0003).
"""

from __future__ import annotations

import re
import unicodedata

_SPECIAL = (("ł", "l"), ("ø", "o"), ("đ", "d"), ("ħ", "h"), ("ı", "i"), ("ß", "ss"),
            ("æ", "ae"), ("œ", "oe"))
# The combining marks of Latin script (every one of U+0300-U+036F but the grapheme joiner
# U+034F); no character below U+0300 is a combining mark.
_LATIN_MARKS = re.compile("[\u0300-\u034e\u0350-\u036f]+")


def fold(value: str | None) -> str:
    """Lowercase without accents."""
    if not value:
        return ""
    lowered = value.lower()
    if lowered.isascii():  # nothing to decompose or translate
        return lowered
    for letter, plain in _SPECIAL:  # str.replace runs in C; a translate table would not
        lowered = lowered.replace(letter, plain)
    stripped = _LATIN_MARKS.sub("", unicodedata.normalize("NFKD", lowered))
    if stripped.isascii() or max(stripped) < "\u0300":  # no other mark can be left
        return stripped
    return "".join(ch for ch in stripped if not unicodedata.combining(ch))
