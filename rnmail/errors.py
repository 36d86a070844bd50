"""Outcomes as exceptions, caught in one place each (the ingest pipeline, the CLI).

A message that cannot be handled is never dropped: ``Quarantine`` sends it, raw, to the
quarantine table with its reason. Everything the user can fix (config, arguments, an
unreachable server) is an ``RnmailError`` whose text is the one line the CLI prints.

An error a web page shows (the admin's refused group, duration or sign-in) is made with
``translatable``: its msgid (English, marked with ``N_`` for the extractor) and the values
to put in it. ``str()`` is the English line, so the command line and the logs are
unchanged; ``translated(language)`` is the same line from the gettext catalogues (with
its ``Word`` values translated, and any value with a ``localized(language)``, such as
``rnmail.i18n.formats.Moment``, written the reader's way).
"""

from __future__ import annotations

from typing import Any, Self

from rnmail.i18n.catalogues import gettext


class Word(str):
    """A value of a translatable error that is itself a msgid (a position, say): put in
    the line translated."""

    __slots__ = ()

    def localized(self, language: str) -> str:
        return gettext(language, self)


class Words(tuple[str, ...]):
    """Several msgids in one value of a translatable error: each put in the line
    translated, joined by "; "."""

    __slots__ = ()

    def localized(self, language: str) -> str:
        return "; ".join(gettext(language, word) for word in self)

    def __str__(self) -> str:
        return "; ".join(self)


class RnmailError(Exception):
    """An error with a message fit for the user: the CLI prints it, without a traceback."""

    msgid: str | None = None
    params: dict[str, Any]

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.params = {}

    @classmethod
    def translatable(cls, msgid: str, **params: Any) -> Self:
        """The error whose line is ``msgid.format(**params)``, translatable by msgid."""
        error = cls(msgid.format(**params))
        error.msgid, error.params = msgid, params
        return error

    def translated(self, language: str) -> str:
        """The line in ``language`` (English when it has no msgid or no translation)."""
        if self.msgid is None:
            return str(self)
        params = {k: v.localized(language) if hasattr(v, "localized") else v
                  for k, v in self.params.items()}
        try:
            return gettext(language, self.msgid).format(**params)
        except (KeyError, IndexError, ValueError):  # a translation that lost a placeholder
            return str(self)


class ConfigError(RnmailError):
    """The config file is missing, unreadable or wrong."""


class ServerUnavailable(RnmailError):
    """An IMAP, SMTP or database server could not be reached or refused us."""


class NotFound(RnmailError):
    """A ticket, quarantine entry or other record asked for does not exist."""


class Quarantine(Exception):
    """This message cannot be processed; keep it raw with the reason, go on with the next."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
