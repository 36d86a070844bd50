"""The command server: a warm rnmail that runs the CLI's commands as soon as they are typed.

Every ``rnmail`` command spends most of its half second importing SQLAlchemy, the models and
the config before it reads a row (docs/performance.md, *CLI start*). ``rnmail run`` can keep
one process with all of that imported on a Unix socket (``[daemon].command_socket``); the
``rnmail`` program then hands it the command line, the environment, the working folder and
its standard streams themselves (the file descriptors, as Mercurial's ``chg`` does), and the
server forks a copy that runs the command on them. The command does what it would have done
in a new process, only without the wait.

This module is what the two sides share; it imports only the standard library, because the
client is on the path of every command (``rnmail.commandserver.client``).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys

TYPE_CHECKING = False  # the client is on every command's path: no pathlib, no typing
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path
    from typing import Any

# The command groups the server runs (``rnmail <group> …``): short commands that agents and
# operators type all day. The daemon, the web server, the scheduler, the ingest, the database's
# upgrade and backup, the installation check and the demo always run in a process of their own.
SERVED = frozenset({
    "access", "announce", "archive", "audit", "block", "directory", "faq", "lists",
    "maintenance", "message", "outbox", "quarantine", "service", "spam", "staff", "stats",
    "status", "template", "text", "ticket",
})

# How long either side waits for the other's next line during the handshake, seconds.
HANDSHAKE_SECONDS = 5.0
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


class ProtocolError(Exception):
    """The other side closed the connection or sent what is not a message."""


def code_fingerprint(roots: Iterable[Path | str] | None = None) -> str:
    """What identifies the code on disk: the interpreter, and the name, size and time of every
    file of the ``rnmail`` and ``cli`` packages. A server whose code changed since it started
    is stale; a client of another installation is not served."""
    if roots is None:
        here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
        roots = (here, os.path.join(os.path.dirname(here), "cli"))
    parts = [sys.executable, sys.version]
    for root in roots:
        parts.extend(_file_stamps(str(root)))
    return hash_text("\0".join(parts))


def _file_stamps(root: str) -> list[str]:
    stamps = []
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name.startswith((".", "__pycache__")):
                continue
            if entry.is_dir(follow_symlinks=False):
                stamps.extend(_file_stamps(entry.path))
            elif entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                stamps.append(f"{entry.path}:{stat.st_size}:{stat.st_mtime_ns}")
    return sorted(stamps)


def mount_namespace() -> str:
    """Which view of the file system this process has: a daemon sandboxed by systemd
    (``PrivateTmp``, ``ProtectHome``) sees other files at the same paths than its callers."""
    try:
        return os.readlink("/proc/self/ns/mnt")
    except OSError:
        return ""


def file_identity(path: str) -> list[int] | None:
    """(device, inode) of the file at ``path`` as this process sees it, or None."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_dev, stat.st_ino]


def hash_text(text: str) -> str:
    import hashlib

    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def peer_uid(sock: socket.socket) -> int:
    """The user id of the process at the other end of a Unix socket (SO_PEERCRED); an
    OSError where the system cannot tell (not Linux): then nothing is served."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        raise OSError("the peer's credentials cannot be read on this system")
    creds = sock.getsockopt(socket.SOL_SOCKET, option, _CREDENTIALS.size)
    return int(_CREDENTIALS.unpack(creds)[1])


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogateescape") + b"\n"


class Lines:
    """Messages of one connection: one JSON object per line."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def read(self, limit: int = 1 << 20) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            if len(self.buffer) > limit:
                raise ProtocolError("message too long")
            data = self.sock.recv(65536)
            if not data:
                raise ProtocolError("connection closed")
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            message = json.loads(line.decode("utf-8", "surrogateescape"))
        except ValueError:
            raise ProtocolError("not a message") from None
        if not isinstance(message, dict):
            raise ProtocolError("not a message")
        return message
