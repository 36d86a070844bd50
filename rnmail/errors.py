"""Outcomes as exceptions, caught in one place each (the ingest pipeline, the CLI).

A message that cannot be handled is never dropped: ``Quarantine`` sends it, raw, to the
quarantine table with its reason. Everything the user can fix (config, arguments, an
unreachable server) is an ``RnmailError`` whose text is the one line the CLI prints.
"""


class RnmailError(Exception):
    """An error with a message fit for the user: the CLI prints it, without a traceback."""


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
