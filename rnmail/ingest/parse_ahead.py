"""Parse ahead: the next batch parsed in a second process while this one is stored.

The stdlib parser, with the quoted history and HTML conversions cached on ``ParsedMail``,
was the largest cost of the ``parse`` stage, all on the ingest's one thread; the machine has
two cores. A pass with more than one batch hands each next batch to one child process
(``spawn``: nothing of the parent's threads or connections is inherited): the raw bytes go
in, the parsed mails come back pickled (about a tenth of the parse to unpickle), without
the raw bytes, which the parent has.

The child touches neither IMAP nor the database. If it fails or dies, the parent parses the
batch itself, as it always does the first batch of a pass and the careful one-by-one retry;
mail leaves the folder only once its batch is committed, as before.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

from rnmail.errors import Quarantine
from rnmail.ingest.parse import Limits, ParsedMail, parse_message
from rnmail.util.processes import die_with

log = logging.getLogger(__name__)

# What the child says of one message: its parsed mail, the reason to quarantine it, or
# None: parse it in the parent (too big, or the child failed on it).
Parsed = ParsedMail | str | None
LogRecord = tuple[str, int, str]  # logger name, level, message: logged again by the parent


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def parse_batch(raws: list[bytes], limits: Limits, max_bytes: float
                ) -> tuple[list[Parsed], list[LogRecord]]:
    """In the child: parse ``raws``, with the cached properties the stages read computed
    here, and what the parser logged meanwhile."""
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    root.setLevel(logging.INFO)
    parsed: list[Parsed] = []
    try:
        for raw in raws:
            if len(raw) > max_bytes:
                parsed.append(None)  # quarantined by the parent's ``parse`` stage
                continue
            try:
                mail = parse_message(raw, limits)
                # cached on the instance
                _ = mail.dedupe_key, mail.display_text, mail.decoded_headers
                _ = mail.sender_addresses, mail.first_headers, mail.language
                _ = mail.delivery_report, mail.phone_numbers
            except Quarantine as exc:
                parsed.append(exc.reason)
                continue
            except Exception:  # the parent parses it again and decides
                parsed.append(None)
                continue
            mail.raw = b""
            parsed.append(mail)
    finally:
        root.removeHandler(collect)
    return parsed, collect.records


class ParseAhead:
    """One child process parsing the next batches, started at the first ``submit``."""

    def __init__(self, limits: Limits, max_bytes: float) -> None:
        self.limits = limits
        self.max_bytes = max_bytes
        self._pool: ProcessPoolExecutor | None = None
        self._failed = False  # the child failed once: the parent parses the rest itself

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, raws: list[bytes]) -> Future[tuple[list[Parsed], list[LogRecord]]] | None:
        """Start parsing ``raws`` in the child; None if it cannot be asked."""
        if self._failed:
            return None
        try:
            if self._pool is None:
                # The child ends with this process: killed -9 mid-pass, this one would
                # leave it (and multiprocessing's resource tracker) waiting forever.
                self._pool = ProcessPoolExecutor(
                    1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with,
                    initargs=(os.getpid(),))
            return self._pool.submit(parse_batch, raws, self.limits, self.max_bytes)
        except (RuntimeError, OSError):  # a broken pool, or no process to be had
            log.warning("parse-ahead process unavailable; parsing here", exc_info=True)
            self._failed = True
            return None

    def results(self, future: Future[tuple[list[Parsed], list[LogRecord]]] | None,
                raws: list[bytes]) -> list[Parsed]:
        """What the child made of ``raws``: one entry per message, None where the parent
        is to parse it (all of them if the child failed)."""
        if future is None:
            return [None] * len(raws)
        try:
            parsed, records = future.result()
        except Exception:  # a dead or failing child: the parent parses instead
            log.warning("parse-ahead process failed; parsing here from now on", exc_info=True)
            self._failed = True
            return [None] * len(raws)
        for name, level, message in records:
            logging.getLogger(name).log(level, "%s", message)
        for mail, raw in zip(parsed, raws, strict=True):
            if isinstance(mail, ParsedMail):
                mail.raw = raw
        return parsed
