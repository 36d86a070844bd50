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

The two processes share each batch without either waiting for the other: the child takes
its mails one by one from the front, and the parent, once it has stored the batch before,
takes what is left from the back (``ParseAhead.results``), until they meet. Two numbers in
shared memory say how far each has got, each written by one side only (no lock a killed child
could leave taken); in the instant both reach for the same mail, both parse it and the
parent's copy is kept. A fixed share, moved after each batch by half of what one side had
waited for the other, left the parent waiting 0-90 ms a batch, a seventh of the pass.

The child touches neither IMAP nor the database. If it fails or dies, the parent parses the
batch itself, as it always does the first batch of a pass and the careful one-by-one retry;
mail leaves the folder only once its batch is committed, as before.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

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
    """What the child made of the front of a batch, and what it logged meanwhile."""

    parsed: list[Parsed]
    records: list[LogRecord]


_LO, _HI = 0, 1  # the next mail the child takes; the end of what is left for it
_BOUNDS: list[Any] = []  # in the child: the shared pair, given at its start


def _start_child(parent: int, bounds: Any) -> None:
    die_with(parent)
    _BOUNDS.append(bounds)


def parse_batch(raws: list[bytes], limits: Limits, max_bytes: float, blob_root: Path
                ) -> ChildBatch:
    """In the child: parse the mails of ``raws`` from the front until the parent's end is
    reached, with the cached properties the stages read computed here and the mails' files
    staged in the blob store."""
    bounds = _BOUNDS[0]
    blobs = _child_blobs(blob_root)
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    root.setLevel(logging.INFO)
    parsed: list[Parsed] = []
    try:
        while (index := bounds[_LO]) < min(bounds[_HI], len(raws)):
            bounds[_LO] = index + 1
            raw = raws[index]
            mail = parse_one(raw, limits, max_bytes)
            if isinstance(mail, ParsedMail):
                _stage_files(blobs, mail, raw)
                mail.raw = b""
            parsed.append(mail)
    finally:
        root.removeHandler(collect)
    return ChildBatch(parsed, collect.records)


def parse_one(raw: bytes, limits: Limits, max_bytes: float) -> Parsed:
    """One mail parsed, with the cached properties the stages read; the reason to
    quarantine it, or None: parsed by the ``parse`` stage (too big, or an unexpected error,
    which that stage meets again and decides on)."""
    if len(raw) > max_bytes:
        return None
    try:
        mail = parse_message(raw, limits)
        _ = mail.dedupe_key, mail.display_text, mail.decoded_headers  # cached on the instance
        _ = mail.sender_addresses, mail.first_headers, mail.language
        _ = mail.delivery_report, mail.phone_numbers
    except Quarantine as exc:
        return exc.reason
    except Exception:
        return None
    return mail


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
        self._bounds: Any = None  # _LO written by the child, _HI by this process
        self._failed = False  # the child failed once: the parent parses the rest itself

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, raws: list[bytes]) -> Future[ChildBatch] | None:
        """Start parsing ``raws`` in the child, from the front; None if it cannot be asked."""
        if self._failed:
            return None
        try:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._bounds = context.RawArray("i", 2)
                # The child ends with this process: killed -9 mid-pass, this one would
                # leave it (and multiprocessing's resource tracker) waiting forever.
                self._pool = ProcessPoolExecutor(
                    1, mp_context=context, initializer=_start_child,
                    initargs=(os.getpid(), self._bounds))
            self._bounds[_LO], self._bounds[_HI] = 0, len(raws)
            return self._pool.submit(parse_batch, raws, self.limits, self.max_bytes,
                                     self.blob_root)
        except (RuntimeError, OSError):  # a broken pool, or no process to be had
            log.warning("parse-ahead process unavailable; parsing here", exc_info=True)
            self._failed = True
            return None

    def results(self, future: Future[ChildBatch] | None, raws: list[bytes]) -> list[Parsed]:
        """``raws`` parsed: what the child has not reached parsed here from the back, then
        the child's front. One entry per message, None where the ``parse`` stage is to parse
        it (all of the child's if it failed)."""
        if future is None:
            return [None] * len(raws)
        here = self._parse_the_rest(raws)
        try:
            batch = future.result()
        except Exception:  # a dead or failing child: the parent parses instead
            log.warning("parse-ahead process failed; parsing here from now on", exc_info=True)
            self._failed = True
            return [here.get(index) for index in range(len(raws))]
        for name, level, message in batch.records:
            logging.getLogger(name).log(level, "%s", message)
        front = batch.parsed
        discard_staged([front[index] for index in here if index < len(front)])  # parsed twice
        for mail, raw in zip(front, raws, strict=False):
            if isinstance(mail, ParsedMail):
                mail.raw = raw
        return [here[index] if index in here else front[index] if index < len(front) else None
                for index in range(len(raws))]

    def _parse_the_rest(self, raws: list[bytes]) -> dict[int, Parsed]:
        """Parse from the back what the child has not taken yet, until the two meet."""
        bounds = self._bounds
        here: dict[int, Parsed] = {}
        while (index := bounds[_HI] - 1) >= bounds[_LO]:
            bounds[_HI] = index
            if bounds[_LO] > index:  # the child took it in the same instant
                break
            here[index] = parse_one(raws[index], self.limits, self.max_bytes)
        return here
