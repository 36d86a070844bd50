"""Log set-up: one line per event, as text for people or JSON for log shippers.

rnmail's log messages name their facts as ``key=value`` (``ticket created ticket=12
channel=mail``); the JSON format lifts those pairs into fields of their own, so a log
shipper can index tickets, mailboxes and outbox ids without parsing text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

_PAIR = re.compile(r"(?<![\w=])([a-z_]+)=(\S+)")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        for key, value in _PAIR.findall(message):
            entry.setdefault(key, int(value) if value.isdigit() else value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


_installed: list[logging.Handler] = []


def configure_logging(verbosity: int, log_format: str) -> None:
    """WARNING by default, INFO with -v, DEBUG with -vv; on stderr. Like
    ``logging.basicConfig``, it leaves alone a logging set up by someone else (a test
    harness, an embedding program)."""
    root = logging.getLogger()
    if _installed:
        root.removeHandler(_installed.pop())
    elif root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    _installed.append(handler)
    root.setLevel(logging.WARNING - 10 * min(verbosity, 2))
