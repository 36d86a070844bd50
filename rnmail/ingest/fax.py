"""Fax gateway mail: find the sender's fax number and page count.

The gateway sends one mail per fax; the number is in a header or the subject (sometimes the
body), in any Belgian or international notation. Rules are the configurable regexes of
``[fax]``; the number is stored in E.164 so the same sender always matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from rnmail.config import FaxConfig
from rnmail.ingest.parse import ParsedMail
from rnmail.util.phone import normalise_number


@dataclass(frozen=True)
class FaxInfo:
    number: str | None  # E.164
    pages: int | None


def extract_fax(mail: ParsedMail, rules: FaxConfig) -> FaxInfo:
    number = None
    for header in rules.number_headers:
        value = mail.header(header)
        if value:
            number = normalise_number(value, rules.region)
            if number:
                break
    texts = (mail.subject, mail.text[:2000])
    if number is None:
        number = _search(rules.number_patterns, texts, "number", rules.region)
    pages = None
    for header in rules.pages_headers:
        value = mail.header(header).strip()
        if value.isdigit():
            pages = int(value)
            break
    if pages is None:
        found = _search(rules.pages_patterns, texts, "pages", rules.region)
        pages = int(found) if found else None
    return FaxInfo(number=number, pages=pages)


def _search(
    patterns: tuple[str, ...], texts: tuple[str, ...], group: str, region: str
) -> str | None:
    for text in texts:
        for pattern in patterns:
            for match in re.finditer(pattern, text):
                value = match.group(group)
                if group == "pages":
                    return value
                number = normalise_number(value, region)
                if number:
                    return number
    return None


def fax_reply_address(number: str, pattern: str, region: str = "BE") -> str:
    """The mail address that reaches a fax number through the gateway.

    ``{number}`` is the E.164 form (``+3222101031``), ``{digits}`` the same without ``+``,
    ``{national}`` the national digits (``022101031``).
    """
    parsed = phonenumbers.parse(number, region)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return pattern.format(
        number=number, digits=number.lstrip("+"), national=re.sub(r"\D", "", national)
    )
