"""The catalogues: ``<lang>/LC_MESSAGES/rnmail.po`` read with Babel's ``read_po`` once per
process and language, compiled in memory (no ``.mo`` file) into ``Translations``."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations as _BabelTranslations

HERE = Path(__file__).resolve().parent
DOMAIN = "rnmail"
LANGUAGES = ("fr", "nl", "de", "en")


class Translations(_BabelTranslations):
    """Babel's translations, except that the empty text stays empty (gettext would answer
    the catalogue's header), and typed as the texts they are."""

    def gettext(self, message: str) -> str:
        return super().gettext(message) if message else message

    def pgettext(self, context: str, message: str) -> str:
        return str(super().pgettext(context, message))


def po_path(language: str) -> Path:
    return HERE / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The catalogue of ``language``; an unknown language gets the msgids (English)."""
    path = po_path(language)
    if language not in LANGUAGES or not path.is_file():
        return Translations(domain=DOMAIN)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    return translations(language).ngettext(singular, plural, n)


def pgettext(language: str, context: str, message: str) -> str:
    return translations(language).pgettext(context, message)


def N_(message: str) -> str:
    """Marks a text for the extractor where it is translated later (from data)."""
    return message
