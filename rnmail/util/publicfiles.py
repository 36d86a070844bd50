"""Files the web server shows (status page, FAQ): replaced atomically, left alone when equal."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

TMP_SUFFIX = ".tmp"


def write_public_file(path: Path, text: str) -> bool:
    """Replace ``path`` with ``text`` atomically (see ``write_atomically``). Returns False
    (and writes nothing) when ``path`` already holds ``text``, so periodic publishing does
    not churn mtimes and caches."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    write_atomically(path, text.encode("utf-8"))
    return True


def write_atomically(path: Path, data: bytes, durable: bool = False) -> None:
    """Write a new file in the same folder and rename it over ``path``: readers see the
    old or the new one, never half. ``durable``: fsync before the rename.

    Not ``tempfile.mkstemp``: its 0600 mode would hide the page from the web server.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}{TMP_SUFFIX}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: Path, older_than: float = 3600.0) -> int:
    """Delete what a process killed between write and rename left behind in ``folder``."""
    if not folder.is_dir():
        return 0
    limit = time.time() - older_than
    removed = 0
    for path in folder.rglob(f".*{TMP_SUFFIX}"):
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # another process's cleanup was faster
    return removed
