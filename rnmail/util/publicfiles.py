"""File modes: the files the web server shows (status page, FAQ), replaced atomically,
left alone when equal, readable by all; and every other file rnmail writes, private.

Everything else rnmail creates holds personal data (the database and its -wal/-shm, raw
mails and attachments, ``.eml`` files of the file transport, archives, exports, reports):
files 0600 and folders 0700, whatever the umask it was started with. The CLI sets the
process umask to 077 once at start (``restrict_umask``), which covers every writer; the
stores that matter most (database, blobs, outgoing mail) also create their files with an
explicit mode (``private_folder``, ``create_private``), so they are private when called as
a library too. Public files and folders get their 0644/0755 explicitly.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

TMP_SUFFIX = ".tmp"
PRIVATE_UMASK = 0o077
PUBLIC_FILE = 0o644
PUBLIC_FOLDER = 0o755


def restrict_umask() -> int:
    """Make every file and folder this process creates private (0600/0700) unless it says
    otherwise; returns the umask it had."""
    return os.umask(PRIVATE_UMASK)


def private_folder(path: Path) -> Path:
    """Create ``path`` and its missing parents, each 0700; existing folders are left as
    they are."""
    _make_folders(path, 0o700)
    return path


def public_folder(path: Path) -> Path:
    """Create ``path`` and its missing parents 0755: the web server reads it (existing
    folders keep the mode the administrator gave them: see docs/installation.md)."""
    _make_folders(path, PUBLIC_FOLDER)
    return path


def _make_folders(path: Path, mode: int) -> None:
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(folder, mode)  # mkdir's mode goes through the umask


def create_private(path: Path, data: bytes | None = None) -> None:
    """Create ``path`` 0600 whatever the umask (an existing file is written over when
    ``data`` is given, else left alone: not even opened, since closing a descriptor drops
    this process's POSIX locks on the file, and SQLite's with them)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
    if data is None:
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, flags | os.O_EXCL, 0o600))
        return
    fd = os.open(path, flags, 0o600)
    try:
        os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


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
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PUBLIC_FILE)
        os.fchmod(fd, PUBLIC_FILE)  # the umask (077 in rnmail, see above) is not for these
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
