"""Content-addressed file store (sha256) for attachments and raw .eml messages.

The same file received twice is stored once. Files are written to a temporary name and
renamed, so a crash never leaves a half-written blob under its final name. Writes are made
durable together by ``sync()``, called once per batch just before the database commit that
refers to them (one flush instead of one fsync per file).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._unsynced = False
        self._dirs: set[Path] = set()

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data``; return its sha256. Durable once ``sync()`` has returned."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        if target.parent not in self._dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
            self._unsynced = True
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def sync(self) -> None:
        """Flush every blob written since the last call to stable storage."""
        if self._unsynced:
            os.sync()
            self._unsynced = False

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()
