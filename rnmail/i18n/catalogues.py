"""The catalogues: ``<lang>/LC_MESSAGES/rnmail.po``, the file translators edit, and beside it
``rnmail.mo``, the same compiled (``pybabel compile``), read once per process and language.

Reading the ``.mo`` takes ~2 ms; reading and compiling the ``.po`` with Babel took 60-200 ms
per language at every start of a command that speaks to people (``status set --notify``
renders three). ``tests/test_i18n.py`` fails while a ``.mo`` is not the compiled ``.po``.
Without a ``.mo`` (a checkout where someone deleted it) the ``.po`` is compiled in memory.
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


def mo_path(language: str) -> Path:
    return po_path(language).with_suffix(".mo")


def compile_po(language: str) -> bytes:
    """The ``.mo`` bytes of ``language``'s ``.po``, as ``pybabel compile`` writes them.

    Babel is imported here, not with this module: ``rnmail.errors`` imports this module, so
    every command would pay for Babel's import (~20 ms) before doing anything."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    return compiled.getvalue()


@cache
def translations(language: str) -> Translations:
    """The catalogue of ``language``; an unknown language gets the msgids (English)."""
    if language not in LANGUAGES:
        return Translations()
    try:
        with mo_path(language).open("rb") as handle:
            return Translations(handle)
    except FileNotFoundError:
        pass
    if not po_path(language).is_file():
        return Translations()
    return Translations(io.BytesIO(compile_po(language)))


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    return translations(language).ngettext(singular, plural, n)


def pgettext(language: str, context: str, message: str) -> str:
    return translations(language).pgettext(context, message)


def N_(message: str) -> str:
    """Marks a text for the extractor where it is translated later (from data)."""
    return message
