"""The catalogues: ``<lang>/LC_MESSAGES/rnmail.po`` read with Babel's ``read_po`` once per
process and language, compiled in memory (no ``.mo`` file) into ``Translations``.

Babel is imported when a catalogue is first read, not with this module: ``rnmail.errors``
imports it, so every command would pay for Babel's import (~20 ms) before doing anything.
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
DOMAIN = "rnmail"
LANGUAGES = ("fr", "nl", "de", "en")


class Translations(_gettext.GNUTranslations):
    """A compiled catalogue (the standard library's, with ``pgettext``), except that the
    empty text stays empty (gettext would answer the catalogue's header); without a
    catalogue, the msgids themselves."""

    def __init__(self, fp: IO[bytes] | None = None) -> None:
        self._catalog: dict[object, str] = {}
        self.plural: Callable[[int], int] = lambda n: int(n != 1)
        super().__init__(fp)

    def gettext(self, message: str) -> str:
        return super().gettext(message) if message else message


def po_path(language: str) -> Path:
    return HERE / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The catalogue of ``language``; an unknown language gets the msgids (English)."""
    path = po_path(language)
    if language not in LANGUAGES or not path.is_file():
        return Translations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled)


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    return translations(language).ngettext(singular, plural, n)


def pgettext(language: str, context: str, message: str) -> str:
    return translations(language).pgettext(context, message)


def N_(message: str) -> str:
    """Marks a text for the extractor where it is translated later (from data)."""
    return message
