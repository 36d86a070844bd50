"""Phone and fax numbers, national formats included (``02/518.21.31``), stored as E.164.

``numbers_in`` finds the numbers in a text for the search index, and ``number_tokens`` turns
them into the one word search matches on (the E.164 digits), so that ``+3287591111``,
``087/59.11.11``, ``087 59 11 11`` and ``0032 87 59 11 11`` are the same word at index and at
query time (``rnmail.tickets.search``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A run of digits and the separators people write numbers with, starting as a number does
# (``+``, ``00`` or the trunk ``0``) with at least eight digits: only these are handed to
# libphonenumber (most mail has none, so indexing stays fast).
_CANDIDATE = re.compile(r"(?<![\w+])(?:\+|0)(?:[\s./()\-]{0,3}\d){7,}")


def normalise_number(text: str, region: str = "BE") -> str | None:
    """E.164 form (``+3225182131``) of a phone or fax number, or None if it is not one."""
    import phonenumbers  # libphonenumber's metadata: 20 ms, only when there is a number

    cleaned = text.strip().replace("/", " ").replace(".", " ")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def number_spans(text: str, region: str = "BE") -> list[tuple[int, int, str]]:
    """(start, end, E.164) of each phone or fax number written in ``text``, in any notation."""
    found = []
    for candidate in _CANDIDATE.finditer(text):
        start = candidate.start()
        chunk = candidate.group().rstrip(" ./-(")
        number = normalise_number(chunk, region)
        if number is not None:
            found.append((start, start + len(chunk), number))
            continue
        if sum(ch.isdigit() for ch in chunk) < 16:
            continue
        # Several numbers in one run (``0470 12 34 56 087 59 11 11``): libphonenumber's matcher.
        import phonenumbers

        for match in phonenumbers.PhoneNumberMatcher(chunk, region):
            if phonenumbers.is_valid_number(match.number):
                found.append((start + match.start, start + match.end, phonenumbers.format_number(
                    match.number, phonenumbers.PhoneNumberFormat.E164)))
    return found


def number_tokens(numbers: Iterable[str]) -> str:
    """The search words of E.164 numbers: their digits, once each, space-separated."""
    return " ".join(dict.fromkeys(n.lstrip("+") for n in numbers if n))


def phone_numbers(*texts: str | None, region: str = "BE") -> list[str]:
    """Every number in ``texts`` as E.164, in order (E.164 values count as such)."""
    numbers = []
    for text in texts:
        if not text:
            continue
        if text.startswith("+") and text[1:].isdigit():
            numbers.append(text)
        else:
            numbers.extend(number for _start, _end, number in number_spans(text, region))
    return numbers


def numbers_in(*texts: str | None, region: str = "BE") -> str | None:
    """The search words of every number in ``texts`` (E.164 values count as such), or None."""
    return number_tokens(phone_numbers(*texts, region=region)) or None
