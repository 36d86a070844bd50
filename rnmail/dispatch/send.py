"""Send: deliver leased outbox rows through a transport (``rnmail.dispatch.transport``) and
record each outcome.

``[outbox].connections`` connections work in parallel, each reused for
``messages_per_connection`` messages; replies map to 2xx sent, 4xx (421 and 454 included)
or a lost connection retried later, 5xx failed, and the reply is kept per recipient.
``[outbox].rate`` caps the whole installation's rate, shared through the database.

Each row leaves with its own signed envelope sender (``info+b.<outbox id>.<sig>@domain``,
``rnmail.util.tokens.make_bounce_address``): a delivery report comes back to it and names
that one row. The file transport writes it as the Return-Path.

Next stage: ``track`` (bounces arriving later are matched in ``ingest.bounce``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Table, case, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.db import Database
from rnmail.dispatch.outbox import (
    Leased,
    Outcome,
    claim,
    extend_leases,
    finish_many,
    load_bodies,
    record_sent,
    release,
)
from rnmail.dispatch.transport import Body, Transport, make_transport
from rnmail.errors import ServerUnavailable
from rnmail.models import SendThrottle
from rnmail.shapes import SendJson
from rnmail.util.tokens import make_bounce_address
from rnmail.vocab import OutboxState

log = logging.getLogger(__name__)
CLAIM_BATCH = 500
FIRST_CLAIM = 50  # the first mails leave sooner than after leasing 500 rows
# Deliveries a worker may have made without their record committed yet; it waits before
# going further. This bounds what a kill -9 can make us send twice.
RECORD_WINDOW = 2
# How long a group commit gathers replies, from the previous commit's start. With a window
# of two, a worker soon waits for its records: 5 ms left the connections idle (send ratio
# 0.61 on SQLite, 0.50 on PostgreSQL, docs/performance.md); 2 ms gives 0.75 and 0.55 and
# still a few dozen replies a commit. A slow disk's commit lasts longer than this anyway.
GROUP_COMMIT_SECONDS = 0.002
T = TypeVar("T")


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def as_json(self) -> SendJson:
        return {"sent": self.sent, "deferred": self.retried, "failed": self.failed}


# Called as each row reaches its new state, with the row's announcement (None: not a mailing)
Progress = Callable[[int | None, str], None]


async def send_queued(
    db: Database,
    config: Config,
    transport_factory: Callable[[], Transport] | None = None,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
) -> SendReport:
    """Deliver every due outbox row over ``[outbox].connections`` connections in parallel;
    returns how many were sent, retried and failed. Once ``stop`` is set no new delivery
    starts: those under way finish and are recorded, the rest are given back."""
    sender = Sender(db, config, transport_factory or (lambda: make_transport(config)), progress,
                    stop)
    return await sender.run()


class Sender:
    """One run of the outbox: a feeder leases rows, workers (one connection each) deliver,
    a committer records replies in group commits.

    The database work runs on a thread of its own, one transaction after the other (on
    PostgreSQL the feeder's claims on a second one), and the group commits over one
    connection kept for the run (``Database.kept_connection``: no pool checkout, pre-ping
    or Session per commit; a batch that was all delivered is one statement, ``record_sent``):
    the event loop goes on sending while SQLite writes or PostgreSQL flushes its WAL
    (measured on SQLite: 0.55-0.74 of raw aiosmtplib, against 0.36-0.50 with the commits on
    the loop). The committer gathers the replies of all connections for
    ``GROUP_COMMIT_SECONDS`` from the start of the previous commit (one commit per reply
    cost a third of the throughput), and a worker goes on sending meanwhile, but never with
    more than ``RECORD_WINDOW`` deliveries unrecorded: a kill loses the record of at most
    three messages per connection, sent again after their lease expires. Nothing is marked
    sent without the server's reply.
    """

    def __init__(self, db: Database, config: Config, transport_factory: Callable[[], Transport],
                 progress: Progress | None, stop: asyncio.Event | None = None) -> None:
        self.db = db
        self.config = config
        self.transport_factory = transport_factory
        self.progress = progress
        self.stop = stop or asyncio.Event()
        self.report = SendReport()
        self.error: ServerUnavailable | None = None
        self.unsent: list[int] = []  # leased but not attempted: released at the end
        self.pending: set[int] = set()  # leased and not recorded yet: their leases are renewed
        self.bodies: dict[int, Body] = {}
        self.throttle = Throttle(self, config.outbox.rate)
        self.recorded: list[tuple[Leased, Outcome, asyncio.Future[str]]] = []
        self.recording: asyncio.Task[None] | None = None
        # All of this run's database work, one transaction after the other (as on the loop
        # before: the sender never waits for its own write lock).
        self.db_thread = ThreadPoolExecutor(1, thread_name_prefix="rnmail-sender-db")
        # PostgreSQL: the feeder's claims on a thread (and connection) of their own, so
        # that the group commits do not wait behind them (500 rows: ~18 ms, 21 times in a
        # mailing to 10,000, with every connection's record window full meanwhile). On
        # SQLite both write, and one write lock would only make them take turns.
        self.feed_thread = (self.db_thread if db.is_sqlite else
                            ThreadPoolExecutor(1, thread_name_prefix="rnmail-sender-feed"))
        self.records = db.kept_connection()  # used on db_thread only
        # Batches that were all delivered: one statement, committed by itself on PostgreSQL
        self.sent_records = self.records if db.is_sqlite else db.kept_connection(True)

    async def on_db_thread(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.db_thread, func, *args)

    async def in_feed_db(self, func: Callable[..., T], *args: Any) -> T:
        """As ``in_db``, on the feeder's thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self.feed_thread, self._in_transaction, func, *args)

    async def in_db(self, func: Callable[..., T], *args: Any) -> T:
        """``func(session, *args)`` in a transaction of its own."""
        return await self.on_db_thread(self._in_transaction, func, *args)

    def _in_transaction(self, func: Callable[..., T], *args: Any) -> T:
        with self.db.transaction() as session:
            return func(session, *args)

    async def run(self) -> SendReport:
        workers = self.config.outbox.connections
        queue: asyncio.Queue[Leased | None] = asyncio.Queue(maxsize=CLAIM_BATCH)
        tasks = [asyncio.create_task(self.work(queue)) for _ in range(workers)]
        renewing = asyncio.create_task(self.renew_leases())
        try:
            try:
                await self.feed(queue, workers)
            finally:
                results = await asyncio.gather(*tasks, return_exceptions=True)
            while self.recording is not None:
                await self.recording
            if self.unsent:
                await self.in_db(release, self.unsent)
        finally:
            renewing.cancel()
            await self.on_db_thread(self.records.close)
            await self.on_db_thread(self.sent_records.close)
            self.db_thread.shutdown()
            self.feed_thread.shutdown()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        if self.error is not None:
            raise self.error
        return self.report

    async def feed(self, queue: asyncio.Queue[Leased | None], workers: int) -> None:
        lease = timedelta(seconds=self.config.outbox.lease_seconds)
        size = FIRST_CLAIM
        try:
            while self.error is None and not self.stop.is_set():
                leased = await self.in_feed_db(claim, size, lease)
                if not leased:
                    break
                size = CLAIM_BATCH
                missing = {r.body_id for r in leased if r.body_id} - self.bodies.keys()
                if missing:
                    loaded = await self.in_feed_db(load_bodies, missing)
                    self.bodies.update((i, Body.of(data)) for i, data in loaded.items())
                self.pending.update(item.id for item in leased)
                for item in leased:
                    await queue.put(item)
        finally:
            for _ in range(workers):
                await queue.put(None)

    async def renew_leases(self) -> None:
        """Renew the leases of the rows this run holds every third of a lease: a row waiting
        its turn here past its lease would be taken again, by this sender or another one,
        and sent twice. A killed sender's rows are free again one lease later."""
        seconds = self.config.outbox.lease_seconds
        while True:
            await asyncio.sleep(seconds / 3)
            if not self.pending:
                continue
            try:
                await self.in_db(extend_leases, list(self.pending), timedelta(seconds=seconds))
            except Exception as exc:  # the database is away: try again at the next turn
                log.warning("could not renew the leases of %d row(s): %s", len(self.pending), exc)

    async def work(self, queue: asyncio.Queue[Leased | None]) -> None:
        transport = self.transport_factory()
        unrecorded: deque[asyncio.Future[str]] = deque()
        try:
            while (item := await queue.get()) is not None:
                if self.error is not None or self.stop.is_set():
                    self.unsent.append(item.id)
                    continue
                await self.throttle.wait()
                body = self.bodies[item.body_id] if item.body_id else None
                try:
                    outcome = await transport.deliver(self.envelope_sender(item), item.to_addr,
                                                      item.raw, body)
                except ServerUnavailable as exc:
                    self.error = self.error or exc
                    self.unsent.append(item.id)
                    continue
                unrecorded.append(self.record(item, outcome))
                if len(unrecorded) > RECORD_WINDOW:
                    await unrecorded.popleft()
            for future in unrecorded:
                await future
        finally:
            await transport.close()

    def envelope_sender(self, item: Leased) -> str:
        """MAIL FROM: the row's signed VERP address, so its bounces name it."""
        return make_bounce_address(self.config.helpdesk.secret, item.mail_from, item.id)

    def record(self, item: Leased, outcome: Outcome) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.recorded.append((item, outcome, future))
        if self.recording is None:
            self.recording = asyncio.create_task(self._commit())
        return future

    def _finish(self, results: list[tuple[int, Outcome]]) -> dict[int, OutboxState]:
        # Safe to repeat (KeptConnection.run): a row already recorded is no longer
        # "sending", and finish_many and record_sent leave it alone.
        if all(outcome.ok for _, outcome in results):
            return self.sent_records.run(lambda connection: record_sent(connection, results))
        return self.records.run(lambda connection: finish_many(connection, results,
                                                               self.config.outbox))

    async def _commit(self) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            while self.recorded:
                # Let the other workers' replies in, counting from the previous commit's
                # start: a commit that waited for the disk took part of the window already.
                await asyncio.sleep(max(0.0, began + GROUP_COMMIT_SECONDS - loop.time()))
                began = loop.time()
                batch, self.recorded = self.recorded, []
                try:
                    states = await self.on_db_thread(
                        self._finish, [(item.id, outcome) for item, outcome, _ in batch])
                except Exception as exc:  # the database failed: every waiting worker stops
                    for _, _, future in batch:
                        future.set_exception(exc)
                    continue
                self.pending.difference_update(item.id for item, _, _ in batch)
                for item, outcome, future in batch:
                    state = states.get(item.id, "lost")
                    self._count(item, state, outcome)
                    future.set_result(state)
        finally:
            self.recording = None

    def _count(self, item: Leased, state: str, outcome: Outcome) -> None:
        if state == "sent":
            self.report.sent += 1
            log.debug("sent outbox=%d to=%s", item.id, item.to_addr)
        elif state == "failed":
            self.report.failed += 1
            log.warning("failed outbox=%d to=%s reply=%s", item.id, item.to_addr, outcome.reply)
        else:
            self.report.retried += 1
            log.info("deferred outbox=%d to=%s reply=%s", item.id, item.to_addr, outcome.reply)
        if self.progress is not None:
            self.progress(item.announcement_id, state)


class Throttle:
    """The installation-wide rate limit: slots are reserved in the database in small blocks
    (a quarter of a second's worth), so every process and worker shares one rate."""

    def __init__(self, sender: Sender, rate: float) -> None:
        self.sender = sender
        self.rate = rate
        self.block = max(1, int(rate / 4))
        self.slots: deque[float] = deque()
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if self.rate <= 0:
            return
        async with self.lock:
            if not self.slots:
                first = await self.sender.in_db(reserve_slots, self.block, self.rate)
                self.slots.extend(first + i / self.rate for i in range(self.block))
            slot = self.slots.popleft()
        delay = slot - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


def reserve_slots(session: Session, count: int, rate: float, name: str = "smtp") -> float:
    """Reserve ``count`` sending slots at ``rate`` per second; returns the first one's time.

    The UPDATE comes first so that SQLite takes its write lock at once and PostgreSQL locks
    the row: concurrent senders queue here instead of sharing a slot.
    """
    now = time.time()
    t = cast(Table, SendThrottle.__table__)
    span = count / rate
    end = session.scalar(
        update(t).where(t.c.name == name)
        .values(next_slot=case((t.c.next_slot > now, t.c.next_slot), else_=now) + span)
        .returning(t.c.next_slot))
    if end is None:
        try:
            with session.begin_nested():
                session.add(SendThrottle(name=name, next_slot=now + span))
        except IntegrityError:  # another sender created it meanwhile
            return reserve_slots(session, count, rate, name)
        end = now + span
    return float(end) - span


def send_outbox(db: Database, config: Config, progress: Progress | None = None) -> SendReport:
    """``send_queued`` until the outbox is empty. A Ctrl-C stops it as the daemon's stop
    does (no new delivery; those under way finish and are recorded, the rest are given
    back at once instead of after their lease), then raises KeyboardInterrupt: the command
    says "Aborted!", not a count of what it did not finish. A second Ctrl-C waits for
    nothing."""
    async def interruptible() -> SendReport:
        loop = asyncio.get_running_loop()
        stop, interrupted = asyncio.Event(), asyncio.Event()

        def on_ctrl_c() -> None:
            interrupted.set()
            stop.set()
            loop.remove_signal_handler(signal.SIGINT)  # the next one: KeyboardInterrupt

        watched = threading.current_thread() is threading.main_thread()
        if watched:  # signals reach the main thread only
            loop.add_signal_handler(signal.SIGINT, on_ctrl_c)
        try:
            report = await send_queued(db, config, progress=progress, stop=stop)
        except ServerUnavailable:  # the relay that made them press Ctrl-C, timing out
            if interrupted.is_set():
                raise KeyboardInterrupt from None
            raise
        finally:
            if watched:
                loop.remove_signal_handler(signal.SIGINT)
        if interrupted.is_set():
            raise KeyboardInterrupt
        return report

    return asyncio.run(interruptible())
