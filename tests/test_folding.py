"""Accent folding (rnmail.util.folding): the fast paths give what the definition gives."""

from __future__ import annotations

import sys
import unicodedata

from rnmail.util.folding import fold

SPECIAL = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ß": "ss",
                         "æ": "ae", "œ": "oe"})


def by_definition(value: str) -> str:
    """Lowercase, the special letters replaced, NFKD, every combining mark dropped."""
    decomposed = unicodedata.normalize("NFKD", value.lower().translate(SPECIAL))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def test_examples() -> None:
    assert fold("DÉBLOQUER") == fold("Débloquer") == "debloquer"
    assert fold("Łódź Øresund Straße Œuvre") == "lodz oresund strasse oeuvre"
    assert fold("KELVIN \u212a") == "kelvin k"  # lower-cases to ASCII
    assert fold("a\u034fb") == "a\u034fb"  # the grapheme joiner is no accent
    assert fold("Éש\u05b0") == "eש"  # a mark outside the Latin block
    assert fold(None) == fold("") == ""


def test_every_character_and_mixtures_as_defined() -> None:
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000]
    assert [c for c in chars if fold(c) != by_definition(c)] == []
    marks = [c for c in chars if unicodedata.combining(c)]
    for i, mark in enumerate(marks):
        text = f"Été{mark}x{chars[i * 997 % len(chars)]}é"
        assert fold(text) == by_definition(text), ascii(text)
