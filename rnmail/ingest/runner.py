"""The ingest pass: each mailbox's batches fetched, put through the pipeline in one
transaction each, and moved out of the folder only once committed.

    fetch → pipeline (one transaction per batch) → commit → move to ``done_folder``

While a batch goes through the pipeline, the next one is parsed in a second process
(``rnmail.ingest.parse_ahead``), and the one before it is moved by a thread (``MoveBehind``).
A mailbox that cannot be read is reported and the others are still processed; a database
failure aborts the batch, which stays in the folder for the next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from rnmail.config import Config, MailboxConfig
from rnmail.db import Database
from rnmail.errors import RnmailError
from rnmail.ingest.fetch import Fetched, MailboxSource, open_source
from rnmail.ingest.parse_ahead import ParseAhead, Parsed, discard_staged
from rnmail.ingest.pipeline import Delivery, IngestContext, process_batch, process_one_by_one
from rnmail.shapes import IngestJson
from rnmail.util.gcpause import gc_paused
from rnmail.vocab import IngestOutcome

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one pass did, per outcome, and which mailboxes could not be read."""

    outcomes: dict[IngestOutcome, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, outcomes: list[IngestOutcome]) -> None:
        for outcome in outcomes:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    def as_json(self) -> IngestJson:
        return {"total": self.total,
                "outcomes": {str(k): n for k, n in sorted(self.outcomes.items())},
                "errors": list(self.errors)}


class MoveBehind:
    """Moves each committed batch out of the folder in a thread, while the main thread goes
    on with the next batch: the ingest waited for each IMAP MOVE (the server's work, 5-7 %
    of the pass). One move at a time, in commit order; the next waits for the one
    before, and so does the end of the pass, which also raises what a move raised (a move
    that failed leaves committed mail in the folder: the next pass only moves it)."""

    def __init__(self, source: MailboxSource) -> None:
        self.source = source
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ingest-move")
        self._moving: Future[None] | None = None

    def __enter__(self) -> MoveBehind:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if exc_type is None:
                self.wait()
        finally:
            self._thread.shutdown(wait=True)

    def move(self, uids: list[str]) -> None:
        self.wait()
        self._moving = self._thread.submit(self.source.done, uids)

    def wait(self) -> None:
        """Until the move under way is done; raises what it raised."""
        moving, self._moving = self._moving, None
        if moving is not None:
            moving.result()


def ingest_batch(db: Database, ctx: IngestContext, source: MailboxSource, box: MailboxConfig,
                 fetched: list[Fetched], report: IngestReport, mover: MoveBehind,
                 parsed: list[Parsed] | None = None) -> None:
    """Process one batch in one transaction, then have ``mover`` move it out of the folder.
    ``parsed``: what the parse-ahead process made of it, if it had it.

    The cyclic garbage collector is paused meanwhile: a batch allocates hundreds of
    thousands of objects (parsed mail, ORM rows), and the collections they triggered walked
    them again and again, about a tenth of the ingest's time. The cycles a batch makes (the
    ORM's back-references) are collected once, after it."""
    parsed = parsed or [None] * len(fetched)
    deliveries = [Delivery(raw=f.raw, mailbox=box, uidvalidity=source.uidvalidity, uid=f.uid,
                           ahead=ahead)
                  for f, ahead in zip(fetched, parsed, strict=True)]
    try:
        with gc_paused(), db.transaction() as session:
            try:
                with session.begin_nested():
                    outcomes = process_batch(session, ctx, deliveries)
            except OperationalError:
                raise
            except Exception:
                log.warning("batch of %d failed mailbox=%s; retrying message by message",
                            len(deliveries), box.name, exc_info=True)
                outcomes = process_one_by_one(session, ctx, deliveries)
            ctx.blobs.sync()
    finally:
        discard_staged(parsed)  # the files of mails not stored, or of a batch given up
    report.add(outcomes)
    mover.move([f.uid for f in fetched])


def ingest_mailbox(db: Database, ctx: IngestContext, box: MailboxConfig,
                   report: IngestReport, should_stop: Callable[[], bool] | None = None) -> None:
    """The mailbox's batches, each parsed in the parse-ahead process while the one before
    it is stored; the first is parsed here (a pass of one batch starts no process)."""
    ing = ctx.config.ingest
    max_bytes = ing.max_message_mb * 2**20
    with open_source(box) as source, \
            ParseAhead(ctx.limits, max_bytes, ctx.blobs.root) as ahead, MoveBehind(source) as mover:
        held: tuple[list[Fetched], list[Parsed]] | None = None  # the batch in hand
        for fetched in source.batches(ing.batch_size, int(ing.batch_mb * 2**20)):
            if held is None:
                held = fetched, [None] * len(fetched)
                continue
            raws = [f.raw for f in fetched]
            future = ahead.submit(raws)
            ingest_batch(db, ctx, source, box, held[0], report, mover, held[1])
            held = fetched, ahead.results(future, raws)
            if should_stop is not None and should_stop():
                discard_staged(held[1])
                held = None
                break  # between batches: what was committed is moved, the rest stays
        if held is not None:
            ingest_batch(db, ctx, source, box, held[0], report, mover, held[1])


def run_ingest(db: Database, config: Config, mailbox: str | None = None,
               should_stop: Callable[[], bool] | None = None) -> IngestReport:
    """One pass over the configured mailboxes (or one of them). A mailbox that cannot be
    read is reported in ``errors`` and the others are still processed. ``should_stop`` is
    asked between batches (the daemon's graceful stop)."""
    boxes = [config.mailbox(mailbox)] if mailbox else list(config.mailboxes)
    ctx = IngestContext.from_config(config)
    ctx.blobs.sweep_staging()  # what a killed pass staged
    report = IngestReport()
    for box in boxes:
        try:
            ingest_mailbox(db, ctx, box, report, should_stop)
        except RnmailError as exc:
            log.error("%s", exc)
            report.errors.append(str(exc))
        except OperationalError as exc:
            message = f"database error during mailbox {box.name}: {exc.orig}"
            log.error("%s", message)
            report.errors.append(message)
    return report
