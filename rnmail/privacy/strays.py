"""Stray files: files of the blob store that no row refers to, deleted by the retention run.

A file reaches the store just before the commit of the row that names it (the ingest's
batch, a quarantined or held mail). A crash or a failed commit between the two, and that
mail gone from the folder before a later pass stores it again, leaves a file that no row
names: no retention period would ever reach it, and it may hold an identity card. A write
or a deletion cut short leaves its temporary file (``.<sha256>.<pid>.<thread>.tmp`` or
``.del``, see ``rnmail.util.blobs``) beside the store's own.

``sweep_strays`` walks the store in digest order (its folders are the digest's first
characters) beside the digests the database refers to, read in the same order in one
query, like a merge join: memory stays flat however large the store, and only the files
found unnamed are looked up again one by one before they go. A file stored (again)
within ``spare_seconds`` is left alone, as ``delete_blobs`` does: a mail being stored may
refer to it. A ``.del`` file of a digest still referred to is a deletion that was cut short
before it put the file back: it is put back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from rnmail.db import IN_LIST_SIZE
from rnmail.privacy.anonymise import FILE_COLUMNS, SPARE_SECONDS, referenced
from rnmail.util.blobs import BlobStore

log = logging.getLogger("rnmail.privacy")

_DIGEST = re.compile(r"[0-9a-f]{64}")
_LEFTOVER = re.compile(r"\.([0-9a-f]{64})\.\d+\.\d+\.(tmp|del)")
_PREFIX = re.compile(r"[0-9a-f]{2}")


@dataclass
class Strays:
    """What a sweep deleted (a dry run: would delete), and the files it put back."""

    files: int = 0
    bytes: int = 0
    restored: int = 0


def sweep_strays(session: Session, blobs: BlobStore, *, dry_run: bool = False,
                 spare_seconds: float = SPARE_SECONDS) -> Strays:
    """Delete the store's files that no row of ``session``'s snapshot refers to and that
    were not stored in the last ``spare_seconds``, and the leftovers of cut writes.
    ``session`` only reads (``Database.reading``): a walk of a large store takes seconds,
    and on SQLite a writing transaction would hold the ingest up all that time."""
    sweep = _Sweep(session, blobs, dry_run, time.time() - spare_seconds)
    named = _InOrder(session.scalars(_referenced_in_order(session),
                                     execution_options={"yield_per": 5000}))
    for folder in _folders(blobs.root):
        files: dict[str, os.DirEntry[str]] = {}
        leftovers: list[tuple[str, os.DirEntry[str]]] = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.is_file(follow_symlinks=False):
                    continue  # not the store's: the store writes only files
                if _DIGEST.fullmatch(entry.name):
                    files[entry.name] = entry
                elif match := _LEFTOVER.fullmatch(entry.name):
                    leftovers.append((match[1], entry))
        named_here = named.among(sorted(files.keys() | {digest for digest, _ in leftovers}))
        for digest, entry in sorted(files.items()):
            if digest not in named_here and _older(entry, sweep.spare_after):
                sweep.consider(digest, entry)
        for digest, entry in leftovers:
            if entry.name.endswith(".del") and digest not in files:
                sweep.consider(digest, entry)  # put back if still named: see ``_Sweep``
            elif _older(entry, sweep.spare_after):
                _unlink(entry, dry_run, sweep.found)
    sweep.settle()
    return sweep.found


class _Sweep:
    """The files the walk found unnamed, each checked again by a look-up of its digest in
    every table (``referenced``) before anything is deleted, a few hundred at a time: the
    walk's order is the database's, and a collation that did not sort hex digits bytewise
    would otherwise make it take a named file for a stray."""

    def __init__(self, session: Session, blobs: BlobStore, dry_run: bool, spare_after: float
                 ) -> None:
        self.session, self.blobs, self.dry_run = session, blobs, dry_run
        self.spare_after = spare_after
        self.found = Strays()
        self.pending: list[tuple[str, os.DirEntry[str]]] = []

    def consider(self, digest: str, entry: os.DirEntry[str]) -> None:
        self.pending.append((digest, entry))
        if len(self.pending) >= IN_LIST_SIZE:
            self.settle()

    def settle(self) -> None:
        pending, self.pending = self.pending, []
        named = referenced(self.session, (digest for digest, _ in pending))
        for digest, entry in pending:
            cut_deletion = entry.name.endswith(".del")
            if cut_deletion and digest in named:
                self.found.restored += 1
                log.warning("blob store: %s was being deleted while a row still refers to it:"
                            " put back", digest)
                if not self.dry_run:
                    os.replace(entry.path, self.blobs.path(digest))
            elif cut_deletion:
                if _older(entry, self.spare_after):
                    _unlink(entry, self.dry_run, self.found)
            elif digest not in named:
                self._delete(digest, entry)

    def _delete(self, digest: str, entry: os.DirEntry[str]) -> None:
        if self.dry_run:
            with contextlib.suppress(FileNotFoundError):
                self.found.files += 1
                self.found.bytes += entry.stat(follow_symlinks=False).st_size
            return
        freed = self.blobs.remove(digest, self.spare_after)  # spares one stored again now
        if freed is not None:
            self.found.files, self.found.bytes = self.found.files + 1, self.found.bytes + freed


def _referenced_in_order(session: Session) -> Any:
    """Every digest a row refers to, once each, in byte order ("C" collation on
    PostgreSQL; SQLite compares bytes)."""
    named = union(*(select(column.label("sha256")).where(column.is_not(None))
                    for column in FILE_COLUMNS)).subquery()
    digest: Any = named.c.sha256
    if session.get_bind().dialect.name == "postgresql":
        digest = digest.collate("C")
    return select(named.c.sha256).order_by(digest)


class _InOrder:
    """The digests the rows refer to, read once in order; ``among`` says which of a sorted
    list of digests are among them."""

    def __init__(self, digests: Iterator[str]) -> None:
        self._digests = iter(digests)
        self._next = next(self._digests, None)

    def among(self, sorted_digests: list[str]) -> set[str]:
        present = set()
        for digest in sorted_digests:
            while self._next is not None and self._next < digest:
                self._next = next(self._digests, None)
            if self._next == digest:
                present.add(digest)
        return present


def _folders(root: Path) -> Iterator[str]:
    """The store's folders of files (``ab/cd``), in order."""
    for top in _subfolders(str(root)):
        yield from _subfolders(top)


def _subfolders(path: str) -> list[str]:
    try:
        with os.scandir(path) as entries:
            return sorted(entry.path for entry in entries
                          if _PREFIX.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False))
    except FileNotFoundError:  # nothing stored yet
        return []


def _older(entry: os.DirEntry[str], spare_after: float) -> bool:
    try:
        return entry.stat(follow_symlinks=False).st_mtime <= spare_after
    except FileNotFoundError:  # deleted meanwhile
        return False


def _unlink(entry: os.DirEntry[str], dry_run: bool, found: Strays) -> None:
    try:
        size = entry.stat(follow_symlinks=False).st_size
        if not dry_run:
            os.unlink(entry.path)
    except FileNotFoundError:
        return
    found.files, found.bytes = found.files + 1, found.bytes + size
