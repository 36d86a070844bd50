"""The command server's side: a process that has imported everything, on a Unix socket.

For each connection it checks who is asking (the same user only), reads the command, and
forks a copy. The copy takes the client's standard streams, working folder, environment and
umask, leaves the server's session (so a password prompt reads the client's terminal, not
the daemon's), says it is ready, waits for ``go`` and runs the command. The server reports a
copy killed by a signal, and hangs up a copy whose client went away (SIGHUP, as a closed
terminal would). SIGTERM or SIGINT: no new command; the ones running finish.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from rnmail.errors import RnmailError
from rnmail.util.publicfiles import private_folder

log = logging.getLogger("rnmail.commandserver")

# Exit status of a server that found its code changed on disk: its supervisor starts a new one.
STALE = 75
# Exit status of a server that found another one on its socket (e.g. rnmail-commands.service).
ALREADY_SERVED = 76
# How long the running commands may take to finish once the server is told to stop, seconds.
STOP_SECONDS = 30.0
# The longest path a Unix socket can have on Linux (sun_path, with its final NUL).
MAX_PATH = 107


class AlreadyServed(RnmailError):
    """Another command server answers on the socket."""


@dataclass
class Running:
    pid: int
    conn: socket.socket


class CommandServer:
    """Serve ``run_command(argv) -> exit status`` on the socket at ``path``."""

    def __init__(self, path: Path, run_command: Callable[[list[str]], int],
                 roots: list[Path] | None = None) -> None:
        if len(os.fsencode(path)) > MAX_PATH:
            raise RnmailError(f"command socket {path}: a Unix socket path has at most "
                              f"{MAX_PATH} bytes")
        self.path = path
        self.run_command = run_command
        self.roots = roots  # the code it runs (default: the rnmail and cli packages)
        self.fingerprint = code_fingerprint(roots)
        self.poll = select.epoll()
        self.watched: dict[int, str] = {}  # fd → what it is: accept, signal, exit, gone
        self.running: dict[int, Running] = {}  # by pidfd
        self.client_of: dict[int, int] = {}  # client connection's fd → its copy's pidfd
        self.listener: socket.socket | None = None
        self.stopping = False
        self.stale = False

    def serve(self) -> int:
        """Until SIGTERM/SIGINT (0), or until the code on disk changes (``STALE``)."""
        wakeup_read, wakeup_write = socket.socketpair()
        self.wakeup = (wakeup_read, wakeup_write)
        wakeup_write.setblocking(False)
        signal.set_wakeup_fd(wakeup_write.fileno())
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        try:
            self.bind()
            assert self.listener is not None
            self._watch(self.listener.fileno(), select.EPOLLIN, "accept")
            self._watch(wakeup_read.fileno(), select.EPOLLIN, "signal")
            log.info("command server on %s", self.path)
            deadline = None
            while not (self.stopping or self.stale) or self.running:
                if (self.stopping or self.stale) and self.listener is not None:
                    self._close_listener()
                    deadline = time.monotonic() + STOP_SECONDS
                if deadline is not None and time.monotonic() > deadline:
                    log.warning("command server: %d command(s) still running, left to finish",
                                len(self.running))
                    break
                for fd, _ in self.poll.poll(timeout=1.0):
                    kind = self.watched.get(fd)
                    if kind == "accept":
                        self._accept()
                    elif kind == "signal":
                        wakeup_read.recv(512)
                    elif kind == "exit":
                        self._reap(fd)
                    elif kind == "gone":
                        self._hang_up(fd)
        finally:
            signal.set_wakeup_fd(-1)
            self._close_listener()
            wakeup_read.close()
            wakeup_write.close()
            self.poll.close()
        return STALE if self.stale and not self.stopping else 0

    def _watch(self, fd: int, events: int, kind: str) -> None:
        self.poll.register(fd, events)
        self.watched[fd] = kind

    def _unwatch(self, fd: int) -> None:
        if self.watched.pop(fd, None) is not None:
            self.poll.unregister(fd)

    def _stop(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def bind(self) -> None:
        """Take the socket (before the warm-up: a second server learns at once that it is
        not needed, ``AlreadyServed``)."""
        if self.listener is None:
            self.listener = self._bind()

    def _bind(self) -> socket.socket:
        try:
            private_folder(self.path.parent)
        except OSError as exc:
            raise RnmailError(f"command socket {self.path}: cannot make its folder: "
                              f"{exc.strerror or exc}") from None
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with probe:
            try:
                probe.connect(os.fspath(self.path))
            except FileNotFoundError:
                pass
            except ConnectionRefusedError:
                self.path.unlink()  # left by a server that was killed
            except OSError as exc:
                raise RnmailError(f"command socket {self.path}: {exc.strerror}") from None
            else:
                raise AlreadyServed(f"command socket {self.path}: another command server "
                                    "answers there")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # 0600: only this user may connect (and is checked again)
        try:
            listener.bind(os.fspath(self.path))
        except OSError as exc:
            listener.close()
            raise RnmailError(f"command socket {self.path}: {exc.strerror}") from None
        finally:
            os.umask(old)
        listener.listen(64)
        self.inode = self.path.stat().st_ino
        return listener

    def _close_listener(self) -> None:
        if self.listener is None:
            return
        self._unwatch(self.listener.fileno())
        self.listener.close()
        self.listener = None
        with contextlib.suppress(OSError):
            if self.path.stat().st_ino == self.inode:  # not a newer server's socket
                self.path.unlink()

    def _accept(self) -> None:
        assert self.listener is not None
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        try:
            self._take(conn)
        except (OSError, ProtocolError) as exc:
            log.warning("command server: a request failed: %s", exc)
            conn.close()

    def _take(self, conn: socket.socket) -> None:
        """Check and read one request; fork the copy that runs it."""
        uid = peer_uid(conn)
        if uid != os.geteuid():
            log.warning("command server: refused a connection from uid %d", uid)
            conn.close()
            return
        conn.settimeout(HANDSHAKE_SECONDS)
        data, fds, _, _ = socket.recv_fds(conn, 65536, 3)
        lines = Lines(conn)
        lines.feed(data)
        try:
            request = lines.read()
            refusal = self._refusal(request, fds)
            if refusal is not None:
                conn.sendall(encode({"refused": refusal}))
                conn.close()
                return
            pid = os.fork()
            if pid == 0:
                self._child(conn, lines, request, fds)  # never returns
        finally:
            for fd in fds:
                os.close(fd)
        log.debug("command server: %s in pid %d", command_name(request["argv"]), pid)
        pidfd = os.pidfd_open(pid)
        self.running[pidfd] = Running(pid, conn)
        self._watch(pidfd, select.EPOLLIN, "exit")
        # The copy reads this connection: here only its end is watched, never a byte read.
        self.client_of[conn.fileno()] = pidfd
        self._watch(conn.fileno(), select.EPOLLRDHUP, "gone")

    def _refusal(self, request: dict[str, Any], fds: list[int]) -> str | None:
        if len(fds) != 3:
            return "three standard streams expected"
        argv = request.get("argv")
        if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
            return "no command line"
        if not SERVED.intersection(argv):
            return "not a served command"
        if request.get("fingerprint") != self.fingerprint:
            if code_fingerprint(self.roots) != self.fingerprint:
                log.info("command server: the code changed on disk; stopping to be restarted")
                self.stale = True
                return "stale"
            return "another installation"
        if self.stopping or self.stale:
            return "stopping"
        return self._unseen_files(request)

    def _unseen_files(self, request: dict[str, Any]) -> str | None:
        """Why the caller's files may not be this server's, or None. In the same mount
        namespace they are. In another (a daemon sandboxed by systemd: its own /tmp, no
        /home, a read-only system) a command runs here only from the very same working
        folder, on the very same config file, naming no path with a ``/``: every file it
        names is then one the caller sees too."""
        view = request.get("view")
        if not isinstance(view, dict):
            return "no view of the files"
        if view.get("mnt") == mount_namespace():
            return None
        config = view.get("config")
        if (view.get("names_files") or view.get("cwd") is None
                or file_identity(str(request.get("cwd"))) != view.get("cwd")
                or not isinstance(config, list) or len(config) != 2 or config[1] is None
                or file_identity(str(config[0])) != config[1]):
            return "the caller's files are not the server's"
        return None

    def _hang_up(self, conn_fd: int) -> None:
        """The client went away while its command runs: as a closed terminal, SIGHUP."""
        self._unwatch(conn_fd)
        running = self.running.get(self.client_of.pop(conn_fd, -1))
        if running is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(running.pid, signal.SIGHUP)

    def _reap(self, pidfd: int) -> None:
        running = self.running.pop(pidfd)
        self._unwatch(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(running.pid, 0)
        log.debug("command server: pid %d ended, %s", running.pid,
                  f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
                  if os.WIFSIGNALED(status) else f"exit status {os.WEXITSTATUS(status)}")
        conn_fd = running.conn.fileno()
        self._unwatch(conn_fd)
        self.client_of.pop(conn_fd, None)
        if os.WIFSIGNALED(status):  # a copy that ended normally sent its own status
            with contextlib.suppress(OSError):
                running.conn.sendall(encode({"exit": -os.WTERMSIG(status)}))
        running.conn.close()

    def _child(self, conn: socket.socket, lines: Lines, request: dict[str, Any],
               fds: list[int]) -> None:
        """In the forked copy: become the client's process, wait for ``go``, run. Whatever
        happens, the copy ends here (``os._exit``): it never returns into the server's loop."""
        interrupted: list[int] = []  # a Ctrl-C passed on before the command began
        signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
        try:
            self._forget_server(conn)
            os.setsid()  # no controlling terminal: a prompt uses the client's stdin
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                os.close(fd)
            take_streams()
            os.chdir(request.get("cwd") or "/")
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in dict(request.get("env", {})).items()})
            time.tzset()
            os.umask(int(request.get("umask", 0o077)))
            sys.argv = ["rnmail", *request["argv"]]
            conn.sendall(encode({"pid": os.getpid()}))
            go = lines.read().get("go")
        except BaseException:  # before ``go`` nothing ran: it runs there
            os._exit(0)
        if not go:
            os._exit(0)
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C: as at home
            if interrupted:
                print("Aborted!", file=sys.stderr)  # what click says to a Ctrl-C
            else:
                code = self.run_command(list(request["argv"]))
        except BaseException:  # as Python reports an uncaught exception
            traceback.print_exc()
        finally:
            with contextlib.suppress(BaseException):
                sys.stdout.flush()
                sys.stderr.flush()
            with contextlib.suppress(BaseException):
                conn.settimeout(HANDSHAKE_SECONDS)
                conn.sendall(encode({"exit": code}))
            os._exit(code)

    def _forget_server(self, conn: socket.socket) -> None:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_DFL)
        self.poll.close()
        others: list[socket.socket] = [*self.wakeup,
                                       *(running.conn for running in self.running.values())]
        if self.listener is not None:
            others.append(self.listener)
        for other in others:
            other.close()
        for pidfd in self.running:
            os.close(pidfd)
        conn.settimeout(HANDSHAKE_SECONDS)


def command_name(argv: list[str]) -> str:
    """``ticket show`` of a command line: its words, never its arguments (which may name a
    person)."""
    words = [arg for arg in argv
             if not arg.startswith("-") and arg.replace("-", "_").isidentifier()]
    served = next((i for i, word in enumerate(words) if word in SERVED), 0)
    return " ".join(words[served:served + 2])


def take_streams() -> None:
    """New ``sys.stdin/stdout/stderr`` on descriptors 0-2 (now the client's), buffered as
    Python buffers them for a new process (by line on a terminal)."""
    encoding = sys.stdout.encoding if sys.stdout is not None else "utf-8"
    streams = []
    for fd, mode, errors in ((0, "r", "strict"), (1, "w", "strict"),
                             (2, "w", "backslashreplace")):
        line_buffered = mode == "w" and os.isatty(fd)
        streams.append(open(fd, mode, buffering=1 if line_buffered else -1,  # noqa: SIM115
                            encoding=encoding, errors=errors, closefd=False))
    sys.stdin, sys.stdout, sys.stderr = streams
