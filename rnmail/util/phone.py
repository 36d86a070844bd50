"""Phone and fax numbers, national formats included (``02/518.21.31``), stored as E.164."""

from __future__ import annotations

import phonenumbers


def normalise_number(text: str, region: str = "BE") -> str | None:
    """E.164 form (``+3225182131``) of a phone or fax number, or None if it is not one."""
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
