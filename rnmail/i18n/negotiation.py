"""``Accept-Language``: which of the languages a page exists in suits the reader best."""

from __future__ import annotations

import re

from babel.core import negotiate_locale

_LANG_RANGE = re.compile(r"\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*"
                         r"([01](?:\.\d{0,3})?))?\s*")


def negotiate(header: str, available: list[str], default: str) -> str | None:
    """The best of ``available`` for an ``Accept-Language`` header: the highest quality,
    then the earliest in the header. Each range is matched by Babel's ``negotiate_locale``
    (``fr-BE`` counts for ``fr``, case aside); ``*`` counts for any language not named, the
    default first. Nothing acceptable: ``default`` if available, else the first available,
    else None."""
    codes = {code.lower(): code for code in available}
    ranges: list[tuple[str, float]] = []
    for item in header.split(","):
        match = _LANG_RANGE.fullmatch(item)
        if match:
            tag = match.group(1).lower()
            found = "*" if tag == "*" else negotiate_locale([tag], list(codes), sep="-",
                                                            aliases={})
            if found is not None:
                ranges.append((codes.get(found.lower(), "*"), float(match.group(2) or 1)))
    star = max((q for tag, q in ranges if tag == "*"), default=None)
    scored: list[tuple[float, int, int, str]] = []
    for order, language in enumerate(available):
        named = [(q, i) for i, (tag, q) in enumerate(ranges) if tag == language]
        if named:
            quality = max(q for q, _ in named)
            position = min(i for q, i in named if q == quality)
        elif star is not None:
            quality, position = star, len(ranges) + (language != default)
        else:
            continue
        if quality > 0:
            scored.append((-quality, position, order, language))
    if scored:
        return min(scored)[3]
    return default if default in available else next(iter(available), None)
