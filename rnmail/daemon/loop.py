"""The daemon: ``rnmail run``, everything the one-shot commands do, in one process.

One asyncio loop runs a poller per mailbox (``run_ingest`` on a worker thread, then IMAP
IDLE until the server reports new mail, or every ``[daemon].poll_seconds`` without IDLE),
the outbox sender (``send_queued``, woken as soon as a poll or a maintenance step queued
mail) and the scheduler: maintenance steps (``start_maintenance_jobs``), the status and FAQ
pages every ``publish_seconds`` and housekeeping every ``housekeeping_hours``
(``rnmail.daemon.housekeeping``), the pending tickets whose day came, the reminders to the
second line, the due-time warnings and the automatic closes every ``reminder_seconds``
(``rnmail.tickets.escalation``), the retention periods of ``[privacy]`` once a day
(``rnmail.privacy.retention``), all through the same core functions as the CLI.

- SIGTERM/SIGINT: no new work starts; the batch in hand is committed, SMTP transactions
  under way finish and are recorded; the process exits within ``stop_seconds``.
- SIGHUP: the config file is read again (mailboxes, lists and templates directories...);
  a config that does not load is logged and the old one kept.
- A mailbox, the SMTP server or the database that goes away is logged once when it goes
  and once when it is back; meanwhile the loop retries with backoff (up to 5 minutes).
  A mailbox that fails for ``[daemon].fetch_alert_minutes`` also mails the staff, once, and
  once more when it recovers (``rnmail.daemon.fetch_monitor``).
- Metrics in Prometheus text format on ``[daemon].metrics_address`` (loopback only).
- With ``[web].in_daemon``, the public site of ``rnmail web`` on ``[web].bind`` and the
  status administration and the desk on ``[web].admin_bind`` (waking this sender), in this
  loop (``rnmail.web.server``); the public site reads only the published files. SIGHUP does not
  move them.
- With ``[daemon].command_socket``, the command server (``rnmail serve-commands``, a process
  of its own) beside it, restarted if it stops or its code changes on disk; SIGHUP does not
  move it.
- One instance per SQLite database (a lock file beside it); on PostgreSQL several
  instances share the work: outbox rows are leased, maintenance steps are unique, and each
  mailbox is read by one instance at a time (a session advisory lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from rnmail.config import Config, MailboxConfig, load_config
from rnmail.daemon.fetch_monitor import fetch_failed, fetch_worked
from rnmail.daemon.housekeeping import housekeeping, publish_pages, release_free_memory
from rnmail.daemon.metrics import Metrics
from rnmail.db import Database
from rnmail.dispatch.send import send_queued
from rnmail.errors import RnmailError, ServerUnavailable
from rnmail.ingest.fetch import wait_for_mail
from rnmail.ingest.runner import run_ingest
from rnmail.models import utcnow
from rnmail.privacy.retention import apply_retention
from rnmail.status.maintenance import start_maintenance_jobs
from rnmail.tickets.escalation import run_reminders

if TYPE_CHECKING:
    from rnmail.web.server import Listening

log = logging.getLogger("rnmail.daemon")
MAX_BACKOFF = 300.0
MEMORY_SECONDS = 60.0  # how often freed heap pages are handed back (release_free_memory)
# The retention periods ([privacy]) are applied once a day, the first time a while after
# start: a daemon restarted in a loop does not rerun it, and it leaves the start to mail.
RETENTION_SECONDS = 86400.0
RETENTION_FIRST = timedelta(minutes=10)
# How often the daemon looks whether the command server another process kept is still there.
ELSEWHERE_SECONDS = 60.0


@dataclass
class Dependency:
    """A server rnmail needs, or a periodic job: one log line when it fails, one when it
    works again, nothing in between (but a debug line per failure)."""

    name: str
    down: str = "is unavailable"
    back: str = "is back"
    down_since: float | None = None
    failures: int = 0

    def failed(self, reason: str, base: float) -> float:
        """Record a failure; returns how long to wait before the next try."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.error("%s %s: %s (trying again later)", self.name, self.down, reason)
        self.failures += 1
        delay = float(min(MAX_BACKOFF, base * 2 ** min(self.failures - 1, 10)))
        log.debug("%s: failure %d, next try in %.1f s", self.name, self.failures, delay)
        return delay

    def ok(self) -> None:
        if self.down_since is not None:
            log.warning("%s %s after %.0f s", self.name, self.back,
                        time.monotonic() - self.down_since)
        self.down_since, self.failures = None, 0


@dataclass
class Run:
    """One generation of workers, for one version of the config (SIGHUP starts another)."""

    config: Config
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    idle_unsupported: set[str] = field(default_factory=set)


class Daemon:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self.config = load_config(config_path)
        self.db = Database.of(self.config)
        self.stopping = asyncio.Event()
        self.reloading = asyncio.Event()
        self.wake_sender = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.metrics = Metrics(self.db)
        self.pages = Dependency("status and FAQ publishing", "fails", "works again")
        self.upkeep = Dependency("housekeeping", "fails", "works again")
        self.calendar = Dependency("ticket reminders", "fail", "work again")
        self.privacy = Dependency("retention ([privacy])", "fails", "works again")

    def run(self) -> None:
        # The sync job runs every few seconds: APScheduler's INFO lines would drown ours.
        logging.getLogger("apscheduler").setLevel(
            max(logging.WARNING, logging.getLogger().getEffectiveLevel()))
        self.db.check_schema()
        with single_instance(self.db):
            asyncio.run(self.main())

    async def main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        self.loop.add_signal_handler(signal.SIGINT, self.stopping.set)
        self.loop.add_signal_handler(signal.SIGHUP, self.reloading.set)
        if self.config.daemon.metrics_address:
            self.metrics.serve(self.config.daemon.metrics_address)
        site: Listening | None = None
        if self.config.web.in_daemon:
            from rnmail.web import server  # aiohttp only when asked for

            try:
                site = await server.start(self.config, send=self.wake_sender_threadsafe)
            except RnmailError:
                self.metrics.close()
                raise
            log.info("rnmail run: public site on %s", site.url)
            if site.admin_url:
                log.info("rnmail run: status administration on %s", site.admin_url)
                log.info("rnmail run: the help desk's desk on %s", site.desk_url)
            if site.admin_note:
                log.log(logging.WARNING if site.admin_note.warning else logging.INFO,
                        "rnmail run: %s", site.admin_note.text)
        commands = (asyncio.create_task(self.serve_commands(self.config.daemon.command_socket))
                    if self.config.daemon.command_socket else None)
        scheduler = start_maintenance_jobs(self.db, self.config, BackgroundScheduler(),
                                           after_step=self.wake_sender_threadsafe)
        self.schedule_periodic_jobs(scheduler)
        log.info("rnmail run: %d mailbox(es), database %s", len(self.config.mailboxes),
                 self.db.safe_url)
        try:
            while not self.stopping.is_set():
                current = self.start(self.config)
                await wait_any(self.stopping, self.reloading)
                await self.finish(current)
                if self.reloading.is_set():
                    self.reloading.clear()
                    self.reload()
                    self.schedule_periodic_jobs(scheduler)
        finally:
            if commands is not None:
                self.stopping.set()
                await commands
            await asyncio.to_thread(scheduler.shutdown, True)
            if site is not None:
                await site.close()
            self.metrics.close()
            log.info("rnmail run: stopped")

    async def serve_commands(self, path: Path) -> None:
        """Keep ``rnmail serve-commands`` running on ``path`` until the daemon stops: started
        again at once when its code changed on disk, after a backoff when it failed."""
        from rnmail.commandserver.server import ALREADY_SERVED, STALE

        server = Dependency("command server", "stopped", "runs again")
        elsewhere = False
        args = [sys.executable, "-m", "cli", "--config", str(self.config.path),
                "serve-commands", "--socket", str(path)]
        while not self.stopping.is_set():
            process = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.DEVNULL)
            exited = asyncio.create_task(process.wait())
            stop = asyncio.create_task(self.stopping.wait())
            await asyncio.wait({exited, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not exited.done():
                await stop_child(process, exited, self.config.daemon.stop_seconds)
                return
            code = exited.result()
            if self.stopping.is_set():  # Ctrl-C reached the whole process group
                return
            if code == STALE:
                log.info("command server: restarting it on the new code")
                continue
            if code == ALREADY_SERVED:  # another one (its own unit): look again later
                if not elsewhere:
                    log.info("command server: another process serves %s", path)
                elsewhere = True
                await wait_for(self.stopping, ELSEWHERE_SECONDS)
                continue
            delay = server.failed(f"exit status {code}", self.config.daemon.poll_seconds)
            await wait_for(self.stopping, delay)

    def start(self, config: Config) -> Run:
        current = Run(config)
        current.tasks = [asyncio.create_task(self.poll(box, current))
                         for box in config.mailboxes]
        current.tasks.append(asyncio.create_task(self.send(current)))
        return current

    async def finish(self, current: Run) -> None:
        """Let the work in hand end (no new work starts), within ``stop_seconds``."""
        current.stop.set()
        self.wake_sender.set()
        done, pending = await asyncio.wait(current.tasks,
                                           timeout=current.config.daemon.stop_seconds)
        for task in pending:
            log.warning("stop: %s still busy after %.0f s, cancelled", task.get_name(),
                        current.config.daemon.stop_seconds)
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("worker failed: %r", task.exception())

    def schedule_periodic_jobs(self, scheduler: BaseScheduler) -> None:
        """Page publishing, housekeeping, reminders and memory release, first run now (again
        after a SIGHUP, with the intervals of the new config), and the retention run once a
        day. Per instance: all are idempotent."""
        daemon = self.config.daemon
        for job, interval in ((self.publish_pages, daemon.publish_seconds),
                              (self.housekeeping, daemon.housekeeping_hours * 3600),
                              (self.reminders, daemon.reminder_seconds),
                              (release_free_memory, MEMORY_SECONDS)):
            scheduler.add_job(job, "interval", seconds=interval, id=job.__name__,
                              jobstore="local", next_run_time=utcnow(), coalesce=True,
                              max_instances=1, replace_existing=True)
        scheduler.add_job(self.retention, "interval", seconds=RETENTION_SECONDS,
                          id="retention", jobstore="local",
                          next_run_time=utcnow() + RETENTION_FIRST, coalesce=True,
                          max_instances=1, replace_existing=True)

    def publish_pages(self) -> None:
        self.periodic(self.pages, publish_pages)

    def housekeeping(self) -> None:
        self.periodic(self.upkeep, housekeeping)

    def reminders(self) -> None:
        self.periodic(self.calendar, run_reminders)

    def retention(self) -> None:
        self.periodic(self.privacy, apply_retention)

    def periodic(self, dependency: Dependency, job: Callable[[Database, Config], object]) -> None:
        """Run a periodic job on the scheduler's thread: a failure is one log line (and one
        when it works again), never a traceback that stops the scheduler."""
        try:
            job(self.db, self.config)
        except OperationalError as exc:
            dependency.failed(f"database: {exc.orig}", 0)
        except (OSError, RnmailError) as exc:
            dependency.failed(str(exc), 0)
        except Exception as exc:  # a bug in a job is one line too, never a stopped daemon
            dependency.failed(f"{type(exc).__name__}: {exc}", 0)
        else:
            dependency.ok()

    def reload(self) -> None:
        try:
            self.config = load_config(self.config_path)
        except RnmailError as exc:
            log.error("SIGHUP: the config was not reloaded: %s (keeping the old one)", exc)
            return
        log.warning("SIGHUP: config reloaded: %d mailbox(es)", len(self.config.mailboxes))

    def wake_sender_threadsafe(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.wake_sender.set)

    async def poll(self, box: MailboxConfig, current: Run) -> None:
        """Read one mailbox every ``poll_seconds``, as long as this generation runs."""
        mailbox = Dependency(f"mailbox {box.name}")
        daemon = current.config.daemon
        recorded = True  # a failure may be on record (from before a restart): look once
        with mailbox_lock(self.db, box.name) as held:
            while not current.stop.is_set():
                if not held():
                    await wait_for(current.stop, daemon.poll_seconds)  # another instance
                    continue
                report = await asyncio.to_thread(run_ingest, self.db, current.config, box.name,
                                                 current.stop.is_set)
                self.metrics.polled(box.name, report)
                if report.errors:
                    delay = mailbox.failed(report.errors[0], daemon.poll_seconds)
                    await self.monitor(fetch_failed, current, box.name, report.errors[0])
                    recorded = True
                    await wait_for(current.stop, delay)
                    continue
                mailbox.ok()
                if recorded:
                    recorded = await self.monitor(fetch_worked, current, box.name) is None
                if report.total:
                    log.info("mailbox %s: %d message(s): %s", box.name, report.total,
                             ", ".join(f"{n} {k}" for k, n in sorted(report.outcomes.items())))
                    self.wake_sender.set()
                if (box.type == "imap" and daemon.idle and box.name not in current.idle_unsupported
                        and await self.idle(box, current)):
                    continue  # the server said something changed, or the IDLE period ended
                await wait_for(current.stop, daemon.poll_seconds)

    async def monitor(self, report: Callable[..., int], current: Run,
                      *args: str) -> int | None:
        """Tell the fetch monitor how a pass went (``rnmail.daemon.fetch_monitor``); None
        when it could not be told: the poller goes on regardless (a database that is down
        is logged by the mailbox's and the sender's own lines)."""
        try:
            queued = await asyncio.to_thread(report, self.db, current.config, *args)
        except OperationalError as exc:
            log.debug("fetch monitor: %s", exc.orig)
            return None
        except Exception:
            log.exception("fetch monitor failed")
            return None
        if queued:
            self.wake_sender.set()
        return queued

    async def idle(self, box: MailboxConfig, current: Run) -> bool:
        """IMAP IDLE until the folder changes; False when the server has no IDLE, or when
        it failed (then the next pass reports the failure)."""
        try:
            outcome = await asyncio.to_thread(wait_for_mail, box, current.config.daemon
                                              .idle_seconds, current.stop.is_set)
        except ServerUnavailable as exc:
            log.debug("mailbox %s: IDLE failed: %s", box.name, exc)
            return False
        if outcome == "unsupported":
            log.info("mailbox %s: the server has no IDLE: polling every %.0f s", box.name,
                     current.config.daemon.poll_seconds)
            current.idle_unsupported.add(box.name)
        return outcome != "unsupported"

    async def send(self, current: Run) -> None:
        """Drain the outbox whenever woken, and every ``send_seconds`` anyway."""
        server = Dependency("SMTP server")
        database = Dependency("database")
        daemon = current.config.daemon
        while not current.stop.is_set():
            self.wake_sender.clear()
            delay = daemon.send_seconds
            try:
                report = await send_queued(self.db, current.config, stop=current.stop)
                self.metrics.sent(report)
                server.ok()
                database.ok()
                if report.sent or report.failed or report.retried:
                    log.info("outbox: %d sent, %d deferred, %d failed", report.sent,
                             report.retried, report.failed)
            except ServerUnavailable as exc:
                delay = server.failed(str(exc), daemon.send_seconds)
            except OperationalError as exc:
                delay = database.failed(str(exc.orig), daemon.send_seconds)
            await wait_any(current.stop, self.wake_sender, timeout=delay)


async def wait_for(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)


async def wait_any(*events: asyncio.Event, timeout: float | None = None) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


@contextlib.contextmanager
def single_instance(db: Database) -> Iterator[None]:
    """On SQLite, refuse a second ``rnmail run`` on the same database file."""
    if not db.is_sqlite:
        yield
        return
    database = db.engine.url.database or ""
    lock_path = Path(f"{database}.run-lock")
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RnmailError(f"another `rnmail run` is using {database} (SQLite allows one; "
                              "several instances need PostgreSQL)") from None
        yield


@contextlib.contextmanager
def mailbox_lock(db: Database, mailbox: str) -> Iterator[Any]:
    """On PostgreSQL, a session advisory lock per mailbox so that one instance at a time
    reads it; yields a function telling whether this instance holds it, called before each
    pass: it tries to take the lock until it does, and once held checks that the session
    holding it is still alive (a lost connection releases the lock on the server, and
    another instance may take over). SQLite has a single instance anyway.

    Advisory locks are per database, so the key also names the schema: installations in
    different schemas of one database do not hold each other's mailboxes."""
    if db.is_sqlite:
        yield lambda: True
        return
    connection: Connection | None = None
    held = False
    key = 0

    def holds() -> bool:
        nonlocal connection, held, key
        try:
            if connection is None:
                connection = db.engine.connect()
                schema = connection.scalar(text("SELECT current_schema()"))
                key = int.from_bytes(hashlib.sha256(
                    f"rnmail mailbox {schema} {mailbox}".encode()).digest()[:8], "big",
                    signed=True)
            if held:
                connection.scalar(text("SELECT 1"))
            else:
                held = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:k)"),
                                              {"k": key}))
                if held:
                    log.info("mailbox %s: read by this instance (pid %d)", mailbox,
                             connection.scalar(text("SELECT pg_backend_pid()")))
            connection.commit()
        except OperationalError as exc:
            if held:
                log.warning("mailbox %s: the lock was lost with its database session (%s); "
                            "taking it again before the next pass", mailbox,
                            str(exc.orig).strip().splitlines()[0])
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.invalidate()  # never back to the pool
            connection, held = None, False
        return held

    try:
        yield holds
    finally:
        if connection is not None:
            with contextlib.suppress(OperationalError):
                if held:  # session locks outlive close(): the connection goes back to the pool
                    connection.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    connection.commit()
                connection.close()


async def stop_child(process: asyncio.subprocess.Process, exited: asyncio.Future[int],
                     seconds: float) -> None:
    """SIGTERM, then SIGKILL after ``seconds``. A child that has already gone (Ctrl-C
    reaches the whole process group, and the child may be reaped before ``exited`` is
    done) is no error: the daemon stopped with a traceback and status 1 on that race."""
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:  # shielded: a timeout must not cancel the wait for the exit awaited below
        await asyncio.wait_for(asyncio.shield(exited), seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await exited
