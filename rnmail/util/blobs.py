"""Content-addressed file store (sha256) for attachments and raw .eml messages.

The same file received twice is stored once. Files are written to a temporary name and
renamed, so a crash never leaves a half-written blob under its final name. Writes happen in
a background thread (file system calls release the GIL, so they overlap the parsing of the
next message) and are made durable together by ``sync()``, which the ingest calls once per
batch just before the database commit that refers to them. The ingest starts that flush
earlier, in the same thread (``start_sync``), once the batch has stored its last file, so
that the disk's work overlaps the batch's inserts and ``sync()`` only waits for its end.

The ingest's parse-ahead process writes the files of the mails it parses itself, on the
other core (``stage``): under a temporary name in ``.incoming``, put under their own name
(``put(data, staged)``, one rename) only by the process that stores the rows referring to
them. A file staged for a mail that is not stored (a duplicate, a bounce's attachments) is
deleted (``discard``) and never appears in the store, so nothing outlives its mail's
retention; what a killed ingest left in ``.incoming`` is deleted by the next pass
(``sweep_staging``).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rnmail.util.publicfiles import create_private, private_folder

STAGING = ".incoming"
# A staged file older than this is what a killed ingest left: the next pass deletes it. A
# staged file deleted while still wanted is no loss: ``put`` then writes the data itself.
STAGING_MAX_AGE = 3600.0


@dataclass
class StagedBlob:
    """A file written ahead by another process (``BlobStore.stage``): its sha256, and the
    temporary file holding it, None once put in place or discarded (or when the store
    already had the file)."""

    sha256: str
    tmp: str | None


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._dirs: set[Path] = set()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-writer")
        self._pending: list[Future[None]] = []
        self._renamed = False  # staged files put in place since the last flush started
        self._flushing: list[Future[None]] = []  # flushes started by ``start_sync``

    def path(self, sha256: str) -> Path:
        return Path(self._name(sha256))

    def _name(self, sha256: str) -> str:
        """``path`` as a string: pathlib's joins cost more than the rename they name."""
        return f"{self.root}/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def put(self, data: bytes, staged: StagedBlob | None = None) -> str:
        """Store ``data``; return its sha256. On disk and durable once ``sync()`` returned.
        ``staged``: the same data written ahead by ``stage``, then only renamed into place."""
        if staged is not None and staged.tmp is not None:
            tmp, staged.tmp = staged.tmp, None
            try:
                os.replace(tmp, self._name(staged.sha256))
                self._renamed = True
                return staged.sha256
            except FileNotFoundError:  # swept meanwhile: written again below
                pass
        digest = staged.sha256 if staged is not None else sha256_hex(data)
        self._pending.append(self._writer.submit(self._write, digest, data))
        return digest

    def stage(self, data: bytes) -> StagedBlob:
        """Write ``data`` under a temporary name, for another process to ``put`` in place
        or ``discard``; nothing is written when the store has the file already."""
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.exists():
            return StagedBlob(digest, None)
        self._folder(target.parent)
        staging = self.root / STAGING
        self._folder(staging)
        tmp = staging / f"{digest}.{os.getpid()}.{threading.get_ident()}.tmp"
        create_private(tmp, data)
        return StagedBlob(digest, str(tmp))

    @staticmethod
    def discard(staged: StagedBlob) -> None:
        """Delete ``staged``'s temporary file if it was not put in place."""
        tmp, staged.tmp = staged.tmp, None
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def sweep_staging(self, max_age: float = STAGING_MAX_AGE) -> int:
        """Delete the staged files older than ``max_age`` seconds (a killed ingest's);
        returns how many."""
        swept = 0
        oldest = time.time() - max_age
        try:
            entries = list(os.scandir(self.root / STAGING))
        except FileNotFoundError:
            return 0
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                if entry.stat(follow_symlinks=False).st_mtime < oldest:
                    os.unlink(entry.path)
                    swept += 1
        return swept

    def _folder(self, folder: Path) -> None:
        if folder not in self._dirs:
            private_folder(folder)
            if len(self._dirs) > 4096:  # a cache of mkdir calls, not a list of every folder
                self._dirs.clear()
            self._dirs.add(folder)

    def _write(self, digest: str, data: bytes) -> None:
        target = self.path(digest)
        try:  # stored already: its time says it is in use again (``remove`` spares it)
            os.utime(target)
            return
        except FileNotFoundError:  # new, or just removed by a purge: written (again)
            pass
        self._folder(target.parent)
        tmp = target.with_name(f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            create_private(tmp, data)  # 0600: raw mail and attachments are personal data
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def start_sync(self) -> None:
        """Start flushing every write so far to stable storage, in the writer thread (after
        those writes: one thread, in order), while the caller goes on; ``sync()`` waits for
        it, and flushes whatever was written after."""
        if self._pending or self._renamed:
            pending, self._pending, self._renamed = self._pending, [], False
            self._flushing.append(self._writer.submit(self._flush, pending))

    def sync(self) -> None:
        """Wait for every write since the last call and flush them to stable storage.
        Raises the first write error (e.g. a full disk), so the commit does not happen."""
        self.start_sync()
        flushing, self._flushing = self._flushing, []
        for future in flushing:
            future.result()

    def _flush(self, pending: list[Future[None]]) -> None:
        for future in pending:
            future.result()  # done: this thread ran them; raises what a write raised
        _sync_filesystem(self.root)

    def get(self, sha256: str) -> bytes:
        self.sync()
        return self.path(sha256).read_bytes()

    def remove(self, sha256: str, spare_after: float) -> int | None:
        """Delete the file of ``sha256`` (a purge found no row that refers to it) unless it
        was stored or stored again (``put``) after ``spare_after`` (Unix time): a mail
        being stored, whose commit the purge could not see yet. Returns the bytes freed, None
        when nothing was deleted (no such file, or spared).

        The file is first renamed aside, so a ``put`` of the same content either touched it
        before (its time then spares it: it is renamed back) or finds it gone and writes it
        anew: the content a committed row refers to is never lost."""
        target = self.path(sha256)
        aside = target.with_name(f".{sha256}.{os.getpid()}.{threading.get_ident()}.del")
        try:
            os.rename(target, aside)
        except FileNotFoundError:
            return None
        status = aside.stat()
        if status.st_mtime > spare_after:
            os.replace(aside, target)
            return None
        aside.unlink()
        return status.st_size


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data``, hashed while holding the GIL when it is mail-sized.

    hashlib lets the GIL go for every piece of 2 KiB or more; with the writer thread busy,
    taking it back cost the ingest's main thread about 1 ms per mail, fifty times the
    hashing itself. Pieces below that size keep it; a large attachment is still hashed
    in one call, where letting other threads run is worth it."""
    if len(data) >= _HASH_IN_PIECES_BELOW:
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    view = memoryview(data)
    for start in range(0, len(data), _GIL_KEEPING_PIECE):
        digest.update(view[start:start + _GIL_KEEPING_PIECE])
    return digest.hexdigest()


_GIL_KEEPING_PIECE = 2047  # hashlib's HASHLIB_GIL_MINSIZE is 2048
_HASH_IN_PIECES_BELOW = 256 * 1024


def _sync_filesystem(path: Path) -> None:
    """Flush the file system holding ``path`` (Linux ``syncfs``), not the whole machine's
    pending writes as ``os.sync()`` would; ``os.sync()`` where syncfs is unavailable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _LIBC is None or _LIBC.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syncfs.argtypes = [ctypes.c_int]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()
