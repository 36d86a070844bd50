"""Fetch: mailbox sources hand out raw messages and move them away only after the commit.

The folder is the to-do list: every message in it is processed whatever its \\Seen flag,
and it leaves the folder (to ``done_folder``) only once what it produced is committed.
Batches are bounded by count and by bytes, so memory stays flat whatever the mailbox size.

Next stage: ``parse`` (via ``pipeline``).
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import logging
import os
import queue
import re
import shlex
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage
from imap_tools.errors import MailboxLoginError, UnexpectedCommandStatusError

from rnmail.config import MailboxConfig
from rnmail.errors import ServerUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
_SIZE_RE = re.compile(rb"UID (\d+).*?RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+).*?UID (\d+)")


@dataclass(frozen=True)
class Fetched:
    uid: str
    raw: bytes


class MailboxSource(Protocol):
    """Where messages come from: an IMAP folder or a local Maildir."""

    name: str
    uidvalidity: int

    def __enter__(self) -> MailboxSource: ...
    def __exit__(self, *exc: object) -> None: ...
    def batches(self, count: int, max_bytes: int) -> Iterator[list[Fetched]]: ...
    def done(self, uids: list[str]) -> None: ...


class _RawMessage(MailMessage):
    """imap-tools message that keeps the raw bytes and skips imap-tools' own parsing."""

    raw: bytes

    def __init__(self, fetch_data: list[object]) -> None:
        raw, uid_data, flag_data = self._get_message_data_parts(fetch_data)
        self._raw_uid_data = uid_data
        self._raw_flag_data = flag_data
        self.raw = raw


def _read_ahead(produce: Callable[[], Generator[T, None, None]]) -> Iterator[T]:
    """Iterate ``produce()`` in a thread, one item ahead of the consumer, never more: the
    next batch is fetched while this one is processed; the thread holds one item at most
    besides those the consumer took. Errors in the thread are raised in the consumer."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    may_produce = threading.Semaphore(2)  # the item in hand and the one after it
    stop = threading.Event()

    def run() -> None:
        source = produce()
        try:
            while True:
                may_produce.acquire()
                if stop.is_set():
                    return
                try:
                    item = next(source)
                except StopIteration:
                    items.put(("end", None))
                    return
                items.put(("item", item))
        except BaseException as exc:  # handed over to the consumer, which re-raises it
            items.put(("error", exc))
        finally:
            source.close()

    thread = threading.Thread(target=run, name="imap-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = items.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
            may_produce.release()
    finally:
        stop.set()
        may_produce.release()
        thread.join(timeout=60)


def _plan(sizes: list[tuple[str, int]], count: int, max_bytes: int) -> Iterator[list[str]]:
    """Group UIDs into batches of at most ``count`` messages and ``max_bytes`` bytes."""
    batch: list[str] = []
    total = 0
    for uid, size in sizes:
        if batch and (len(batch) >= count or total + size > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


class ImapSource:
    def __init__(self, cfg: MailboxConfig) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.uidvalidity = 0
        self.box: BaseMailBox | None = None

    def __enter__(self) -> ImapSource:
        self.box, self.uidvalidity = self._open()
        return self

    def _open(self) -> tuple[BaseMailBox, int]:
        """A logged-in connection with the folder selected, and the folder's UIDVALIDITY."""
        cfg = self.cfg
        where = f"IMAP {cfg.name} ({cfg.host}:{cfg.port})"
        # The token first: a slow token helper must not keep an idle connection waiting.
        token = oauth_token(cfg) if cfg.auth == "xoauth2" else ""
        box: BaseMailBox | None = None
        try:
            box = self._connect()
            if cfg.auth == "xoauth2":
                box.xoauth2(cfg.user, token, initial_folder=None)
            else:
                box.login(cfg.user, cfg.password, initial_folder=None)
            if not box.folder.exists(cfg.done_folder):
                box.folder.create(cfg.done_folder)
            if not box.folder.exists(cfg.folder):
                raise ServerUnavailable(f"{where}: folder {cfg.folder!r} does not exist")
            box.folder.set(cfg.folder)
            status = box.folder.status(cfg.folder, ["UIDVALIDITY"])
        except BaseException as exc:
            if box is not None:
                close_quietly(box)
            if isinstance(exc, ServerUnavailable):
                raise
            if isinstance(exc, MailboxLoginError) or (
                isinstance(exc, imaplib.IMAP4.error) and not isinstance(exc, imaplib.IMAP4.abort)
                and "AUTHENTICATIONFAILED" in str(exc)
            ):
                raise ServerUnavailable(f"{where}: login refused for user {cfg.user!r}") from None
            if isinstance(exc, TimeoutError | OSError | ssl.SSLError | imaplib.IMAP4.error
                          | UnexpectedCommandStatusError):
                raise ServerUnavailable(f"{where}: {exc}") from None
            raise
        box.email_message_class = _RawMessage
        return box, int(status["UIDVALIDITY"])

    def _connect(self) -> BaseMailBox:
        """Connect; TLS certificates and host names are verified."""
        cfg = self.cfg
        if cfg.security == "ssl":
            return MailBox(cfg.host, cfg.port, timeout=cfg.timeout,
                           ssl_context=ssl.create_default_context())
        if cfg.security == "starttls":
            return MailBoxStartTls(cfg.host, cfg.port, timeout=cfg.timeout,
                                   ssl_context=ssl.create_default_context())
        return MailBoxUnencrypted(cfg.host, cfg.port, timeout=cfg.timeout)

    def __exit__(self, *exc: object) -> None:
        if self.box is not None:
            close_quietly(self.box)
            self.box = None

    def _sizes(self) -> list[tuple[str, int]]:
        assert self.box is not None
        status, data = self.box.client.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
        if status != "OK":
            raise ServerUnavailable(f"IMAP {self.name}: FETCH sizes failed: {data!r}")
        sizes = []
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            match = _SIZE_RE.search(line)
            if match:
                uid, size = (match.group(1), match.group(2)) if match.group(1) else (
                    match.group(4), match.group(3))
                sizes.append((uid.decode(), int(size)))
        return sorted(sizes, key=lambda pair: int(pair[0]))

    def batches(self, count: int, max_bytes: int) -> Iterator[list[Fetched]]:
        """The folder's messages in batches. With more than one batch, a second connection
        fetches the next batch while the current one is processed (the IMAP server works
        while we parse and commit); moves stay on the main connection."""
        assert self.box is not None
        plan = list(_plan(self._sizes(), count, max_bytes))
        if len(plan) <= 1:
            yield from self._fetch(self.box, plan)
        else:
            yield from _read_ahead(lambda: self._fetch_on_own_connection(plan))

    def _fetch_on_own_connection(
        self, plan: list[list[str]]
    ) -> Generator[list[Fetched], None, None]:
        box, uidvalidity = self._open()
        try:
            if uidvalidity != self.uidvalidity:
                raise ServerUnavailable(f"IMAP {self.name}: UIDVALIDITY changed during the pass")
            yield from self._fetch(box, plan)
        finally:
            close_quietly(box)

    def _fetch(self, box: BaseMailBox, plan: list[list[str]]) -> Iterator[list[Fetched]]:
        try:
            for uids in plan:
                fetched = box.fetch(uid_list=uids, mark_seen=False, bulk=True)
                yield [Fetched(uid=m.uid, raw=m.raw) for m in fetched
                       if isinstance(m, _RawMessage) and m.uid]
        except (TimeoutError, OSError, ssl.SSLError, UnexpectedCommandStatusError,
                imaplib.IMAP4.error) as exc:
            raise ServerUnavailable(f"IMAP {self.name}: {exc}") from None

    def done(self, uids: list[str]) -> None:
        if not uids:
            return
        assert self.box is not None
        try:
            self.box.move(uids, self.cfg.done_folder)
        except (TimeoutError, OSError, ssl.SSLError, UnexpectedCommandStatusError) as exc:
            # Committed already: the next pass recognises these UIDs and only moves them.
            raise ServerUnavailable(f"IMAP {self.name}: move failed: {exc}") from None


def wait_for_mail(cfg: MailboxConfig, timeout: float, should_stop: Callable[[], bool]
                  ) -> str:
    """IMAP IDLE on the mailbox's folder until the server reports a change or ends the
    connection ("changed": look again), ``timeout`` passes or ``should_stop()``
    ("timeout"); "unsupported" at once when the server has no IDLE (the caller polls).

    Raises ``ServerUnavailable`` when the server cannot be reached.
    """
    source = ImapSource(cfg)
    box, _ = source._open()
    try:
        if "IDLE" not in box.client.capabilities:
            return "unsupported"
        deadline = time.monotonic() + min(timeout, 25 * 60)  # RFC 2177: renew before 29 min
        with box.idle as idle:
            while not should_stop():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                wait = min(left, IDLE_SLICE)
                started = time.monotonic()
                if idle.poll(timeout=wait):
                    return "changed"
                if time.monotonic() - started < wait / 2:
                    # imap-tools' poll swallows the end of the connection and returns nothing
                    # at once: a server killed without its BYE would keep this loop spinning
                    # until the deadline. The caller's next pass finds out what happened.
                    return "changed"
        return "timeout"
    except (TimeoutError, OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
        raise ServerUnavailable(f"IMAP {cfg.name}: IDLE: {exc}") from None
    finally:
        close_quietly(box)


IDLE_SLICE = 2.0  # seconds between checks of should_stop while idling


class MaildirSource:
    """A local Maildir drop folder: new/ and cur/ are the to-do list, done_folder a subfolder.

    A message's key is its path relative to the Maildir plus a hash of its content
    (``new/NAME#1a2b…``), so a different file dropped later under a reused name is a new
    message; dropping an .eml file into ``new/`` is enough for it to be picked up.
    """

    uidvalidity = 0

    def __init__(self, cfg: MailboxConfig) -> None:
        assert cfg.path is not None
        self.cfg = cfg
        self.name = cfg.name
        self.path: Path = cfg.path
        self.done_dir = self.path / f".{cfg.done_folder}" / "cur"

    def __enter__(self) -> MaildirSource:
        try:
            for folder in (self.path, self.done_dir.parent):
                for sub in ("new", "cur", "tmp"):
                    (folder / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ServerUnavailable(f"Maildir {self.name} ({self.path}): {exc}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def batches(self, count: int, max_bytes: int) -> Iterator[list[Fetched]]:
        sizes = []
        for sub in ("new", "cur"):
            for entry in sorted(os.scandir(self.path / sub), key=lambda e: e.name):
                if entry.is_file() and not entry.name.startswith("."):
                    sizes.append((f"{sub}/{entry.name}", entry.stat().st_size))
        for keys in _plan(sizes, count, max_bytes):
            batch = []
            for key in keys:
                try:
                    raw = (self.path / key).read_bytes()
                except OSError:
                    continue  # taken away meanwhile; nothing was processed
                digest = hashlib.sha256(raw).hexdigest()[:16]
                batch.append(Fetched(uid=f"{key}#{digest}", raw=raw))
            yield batch

    def done(self, uids: list[str]) -> None:
        for uid in uids:
            source = self.path / uid.rpartition("#")[0]
            target = self.done_dir / source.name
            if target.exists():  # never overwrite an earlier message of the same name
                target = self.done_dir / f"{source.name}.{uid.rpartition('#')[2]}"
            with contextlib.suppress(FileNotFoundError):
                source.replace(target)


def close_quietly(box: BaseMailBox) -> None:
    """Log out, or at least close the socket: the connection may already be gone."""
    try:
        box.logout()
    except Exception:
        with contextlib.suppress(Exception):
            box.client.shutdown()


def open_source(cfg: MailboxConfig) -> MailboxSource:
    if cfg.type == "maildir":
        return MaildirSource(cfg)
    return ImapSource(cfg)


def oauth_token(cfg: MailboxConfig) -> str:
    """Run the configured command (e.g. an MSAL helper) and read the access token it prints."""
    try:
        result = subprocess.run(
            shlex.split(cfg.token_command), capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        raise ServerUnavailable(f"IMAP {cfg.name}: token_command timed out after 60 s") from None
    except (OSError, ValueError) as exc:
        raise ServerUnavailable(f"IMAP {cfg.name}: token_command cannot run: {exc}") from None
    if result.returncode != 0:
        # Not the command line (it may hold a secret); the helper's own last word instead.
        said = (result.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise ServerUnavailable(
            f"IMAP {cfg.name}: token_command exited with status {result.returncode}: {said}"
        )
    token = result.stdout.strip()
    if not token:
        raise ServerUnavailable(f"IMAP {cfg.name}: token_command printed no token")
    return token

