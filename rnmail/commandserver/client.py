"""The ``rnmail`` program's side of the command server: hand the command to it if it is there.

Nothing here may cost time when there is no server: only the standard library, the config
file read as TOML for one key, and a connection attempt. Until the server's copy has said
it is ready and this side has answered ``go``, nothing has run and the command can still
run here; after ``go``, it runs there only (never twice).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import tomllib
from types import FrameType

from rnmail.commandserver import (
    HANDSHAKE_SECONDS,
    SERVED,
    Lines,
    ProtocolError,
    code_fingerprint,
    encode,
    file_identity,
    mount_namespace,
    peer_uid,
)

TYPE_CHECKING = False  # typing itself is not imported: the client is on every command's path
if TYPE_CHECKING:
    from typing import Any

# Signals the terminal or a supervisor sends to ``rnmail``, passed on to the command's process.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def served_command(argv: list[str]) -> tuple[str | None, str] | None:
    """``(--config value, group)`` when ``argv`` names a served group after the root options
    (``--config``, ``-v``, ``--log-format``); None for anything else."""
    config = None
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            config = next(args, None)
        elif arg.startswith("--config="):
            config = arg.partition("=")[2]
        elif arg == "--log-format":
            next(args, None)
        elif arg.startswith("--log-format=") or arg == "--verbose" or (
                arg.startswith("-v") and set(arg[1:]) == {"v"}):
            continue
        elif arg in SERVED:
            return config, arg
        else:
            return None  # --help, another command, an unknown option: click answers
    return None


def socket_path(config: str | None) -> str | None:
    """``[daemon].command_socket`` of the config the command will read (relative to the
    config file, like every path of it), or None."""
    cfg = config_file(config)
    try:
        with open(cfg, "rb") as file:
            raw = tomllib.load(file)
        value = raw.get("daemon", {}).get("command_socket")
    except (OSError, ValueError, AttributeError):
        return None  # the command itself will say what is wrong with the file
    if not isinstance(value, str) or not value:
        return None
    return os.path.join(os.path.dirname(os.path.realpath(cfg)), os.path.expanduser(value))


def config_file(config: str | None) -> str:
    """The config file the command will read, as ``rnmail.config`` finds it."""
    return config or os.environ.get("RNMAIL_CONFIG") or "rnmail.toml"


def request_for(argv: list[str], config: str | None) -> dict[str, Any]:
    """What the server needs to run ``argv`` as this process would. The config is named by
    its absolute path (the command may run in another folder, see ``view``)."""
    env = dict(os.environ)
    path = os.path.abspath(config_file(config))
    sent = list(argv)
    if config is None:
        env["RNMAIL_CONFIG"] = path
    else:
        for index, arg in enumerate(sent):
            if arg == "--config":
                sent[index + 1] = path
                break
            if arg.startswith("--config="):
                sent[index] = f"--config={path}"
                break
    return {"argv": sent, "cwd": os.getcwd(), "env": env, "umask": current_umask(),
            "fingerprint": code_fingerprint(), "view": view(argv, config, path)}


def view(argv: list[str], config: str | None, config_path: str) -> dict[str, Any]:
    """How to tell whether the server sees this process's files: the mount namespace, the
    working folder's and the config's identity, and whether the command names a path (a
    word with a ``/``) that only the working folder would not resolve."""
    words = [word for word in argv if not word.startswith("--config=")]
    if config is not None and config in words:
        words.remove(config)
    names_files = any(os.sep in word for word in words)
    return {"mnt": mount_namespace(), "cwd": file_identity("."), "names_files": names_files,
            "config": [config_path, file_identity(config_path)]}


def run_in_server(argv: list[str]) -> int | None:
    """The command's exit status if the command server ran it; None: run it here."""
    command = served_command(argv)
    if command is None:
        return None
    path = socket_path(command[0])
    if path is None:
        return None
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)  # a closed standard stream cannot be handed over
    except OSError:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(HANDSHAKE_SECONDS)
        try:
            sock.connect(os.fspath(path))
        except OSError:
            return None  # no server (the daemon is not running): run here
        try:
            owner = peer_uid(sock)
            if owner != os.geteuid():
                # Someone else's socket: it gets neither the environment nor the terminal.
                print(f"rnmail: {path} is not this user's command server (uid {owner}); "
                      "running the command here", file=sys.stderr)
                return None
            pid = start(sock, request_for(argv, command[0]))
        except (OSError, ProtocolError):
            return None
        if pid is None:
            return None
        return wait(sock, pid)


def start(sock: socket.socket, message: dict[str, Any]) -> int | None:
    """Send the command and the streams; the pid of the process that will run it once it is
    ready and told to go, or None if the server declines (stale code, another installation,
    files it does not see)."""
    request = encode(message)
    sent = socket.send_fds(sock, [request], [0, 1, 2])
    sock.sendall(request[sent:])
    lines = Lines(sock)
    answer = lines.read()
    if "pid" not in answer:
        return None
    sock.sendall(encode({"go": True}))
    return int(answer["pid"])


def wait(sock: socket.socket, pid: int) -> int:
    """Pass signals on to the command's process until it ends; its exit status."""

    def forward(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    sock.settimeout(None)
    try:
        answer = Lines(sock).read()
    except (OSError, ProtocolError):
        print("rnmail: the command server's process ended without an exit status",
              file=sys.stderr)
        return 1
    code = int(answer.get("exit", 1))
    return 128 - code if code < 0 else code  # killed by a signal: as a shell reports it


def current_umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask
