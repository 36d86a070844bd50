"""Parse ahead: the next batch parsed in a second process while this one is stored.

The stdlib parser, with the quoted history and HTML conversions cached on ``ParsedMail``,
was the largest cost of the ``parse`` stage, all on the ingest's one thread; the machine has
two cores. A pass with more than one batch hands each next batch to one child process
(``spawn``: nothing of the parent's threads or connections is inherited): the raw bytes go
in, the parsed mails come back pickled (about a tenth of the parse to unpickle), without
the raw bytes, which the parent has.

The child also writes each mail's files (the raw mail, its attachments) into the blob
store's staging folder (``BlobStore.stage``): file creation on ext4 cost the parent's
writer thread about 0.2 ms a file and, through the GIL, a quarter of the parent's
throughput. The parent puts them in place (a rename) as it stores the mail, and deletes
those of mails it does not store (``discard_staged``).

The two processes share each batch (``ParseAhead.share``): the child parses the first mails,
the parent the rest as it stores the batch, so that neither waits for the other. Which of the
two is slower depends on the mail and on what else the machine runs (the parent waited for
the child a quarter of the pass on a loaded machine); after each batch, the share moves by
half of the time one of them waited for the other.

The child touches neither IMAP nor the database. If it fails or dies, the parent parses the
batch itself, as it always does the first batch of a pass and the careful one-by-one retry;
mail leaves the folder only once its batch is committed, as before.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

from rnmail.errors import Quarantine
from rnmail.ingest.parse import Limits, ParsedMail, parse_message
from rnmail.util.blobs import BlobStore
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


class ChildBatch(NamedTuple):
    """What the child made of a batch, what it logged meanwhile, and when it started and
    ended (``time.monotonic``: one clock for both processes on Linux)."""

    parsed: list[Parsed]
    records: list[LogRecord]
    started: float
    ended: float


def parse_batch(raws: list[bytes], limits: Limits, max_bytes: float, blob_root: Path
                ) -> ChildBatch:
    """In the child: parse ``raws``, with the cached properties the stages read computed
    here and the mails' files staged in the blob store."""
    started = time.monotonic()
    blobs = _child_blobs(blob_root)
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
            _stage_files(blobs, mail, raw)
            mail.raw = b""
            parsed.append(mail)
    finally:
        root.removeHandler(collect)
    return ChildBatch(parsed, collect.records, started, time.monotonic())


def next_share(batch: ChildBatch, size: int, asked: float) -> int:
    """How many mails of the next batch of ``size`` the child is to parse, from how long
    the parent waited for ``batch`` after asking for it at ``asked`` (or the child for the
    next, when it was done before): each mail moved takes the child's time a mail from one
    side and gives it to the other, so moving half the wait's worth evens them."""
    share = len(batch.parsed)
    if share == 0:
        return size
    per_mail = max(batch.ended - batch.started, 1e-6) / share
    waited = batch.ended - asked  # < 0: the child was done that long before
    return max(1, min(size, round(share - waited / (2 * per_mail))))


def _stage_files(blobs: BlobStore, mail: ParsedMail, raw: bytes) -> None:
    """Write ``mail``'s files ahead; if the disk refuses, the parent writes them (and meets
    the same error, which fails the batch before its commit)."""
    try:
        mail.staged_raw = blobs.stage(raw)
        for part in mail.attachments:
            if part.data is not None:
                part.staged = blobs.stage(part.data)
    except OSError:
        discard_staged([mail])


_BLOBS: dict[Path, BlobStore] = {}


def _child_blobs(root: Path) -> BlobStore:
    """The child's blob store, kept between batches (its cache of folders made)."""
    if root not in _BLOBS:
        _BLOBS[root] = BlobStore(root)
    return _BLOBS[root]


def discard_staged(parsed: list[Parsed]) -> None:
    """Delete the staged files of ``parsed`` that were not put in place (mails not
    stored, or a batch given up)."""
    for mail in parsed:
        if isinstance(mail, ParsedMail):
            for staged in (mail.staged_raw, *(part.staged for part in mail.attachments)):
                if staged is not None:
                    BlobStore.discard(staged)


class ParseAhead:
    """One child process parsing the next batches, started at the first ``submit``."""

    def __init__(self, limits: Limits, max_bytes: float, blob_root: Path) -> None:
        self.limits = limits
        self.max_bytes = max_bytes
        self.blob_root = blob_root
        self._pool: ProcessPoolExecutor | None = None
        self._failed = False  # the child failed once: the parent parses the rest itself
        self.share: int | None = None  # mails of a batch the child parses; None: all

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, raws: list[bytes]) -> Future[ChildBatch] | None:
        """Start parsing the child's share of ``raws``; None if it cannot be asked."""
        if self._failed:
            return None
        try:
            if self._pool is None:
                # The child ends with this process: killed -9 mid-pass, this one would
                # leave it (and multiprocessing's resource tracker) waiting forever.
                self._pool = ProcessPoolExecutor(
                    1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with,
                    initargs=(os.getpid(),))
            share = len(raws) if self.share is None else self.share
            return self._pool.submit(parse_batch, raws[:share], self.limits, self.max_bytes,
                                     self.blob_root)
        except (RuntimeError, OSError):  # a broken pool, or no process to be had
            log.warning("parse-ahead process unavailable; parsing here", exc_info=True)
            self._failed = True
            return None

    def results(self, future: Future[ChildBatch] | None, raws: list[bytes]) -> list[Parsed]:
        """What the child made of ``raws``: one entry per message, None where the parent
        is to parse it (its share, or all of them if the child failed)."""
        if future is None:
            return [None] * len(raws)
        asked = time.monotonic()
        try:
            batch = future.result()
        except Exception:  # a dead or failing child: the parent parses instead
            log.warning("parse-ahead process failed; parsing here from now on", exc_info=True)
            self._failed = True
            return [None] * len(raws)
        for name, level, message in batch.records:
            logging.getLogger(name).log(level, "%s", message)
        for mail, raw in zip(batch.parsed, raws, strict=False):
            if isinstance(mail, ParsedMail):
                mail.raw = raw
        self.share = next_share(batch, len(raws), asked)
        return batch.parsed + [None] * (len(raws) - len(batch.parsed))
