"""The APScheduler glue: one job store in rnmail's own database, shared by every process.

Any process writes jobs (``job_store_scheduler``: ``maintenance schedule`` from the CLI or
the web admin); the scheduler of ``rnmail run`` or ``rnmail scheduler run`` runs them
(``start_scheduler``). A stored job names its function by reference, ``JOB_FUNCTION``, with
plain arguments; the function finds what this process loaded (database, config) in the
process's one ``_runner``, set by ``start_scheduler``: a job store cannot hold a database.
What the jobs do is ``rnmail.status.maintenance``'s business.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler

from rnmail.db import Database
from rnmail.models import utcnow

log = logging.getLogger(__name__)

# Stored in every job row: renaming it needs a migration (0010 rewrote the old
# ``rnmail.maintenance:run_scheduled_step``).
JOB_FUNCTION = "rnmail.daemon.scheduler:run_scheduled_step"
SYNC_SECONDS = 5

StepFunction = Callable[[int, str], None]  # (maintenance id, step)
SyncFunction = Callable[[BaseScheduler, Database], int]

class SharedJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """The job store every rnmail process shares: the schedulers and the CLI."""

    def remove_job(self, job_id: str) -> None:
        # A scheduler removes a date job once it has handed it to its executor; a second
        # scheduler may have taken (and removed) the same due job a moment earlier. APScheduler
        # would raise JobLookupError out of its main loop and stop that scheduler.
        with contextlib.suppress(JobLookupError):
            super().remove_job(job_id)


class StoreOnlyScheduler(BaseScheduler):  # type: ignore[misc]
    """A scheduler without a main loop: it writes jobs to the store and never runs one.

    A paused ``BackgroundScheduler`` is not that: on shutdown its thread runs one round of
    job processing, finds the jobs that are due (those the scheduler process is about to
    run), fails to submit them to the executor it has just shut down and dies with
    JobLookupError, printing a traceback into the CLI command's output.
    """

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def wakeup(self) -> None:
        pass


def make_scheduler(db: Database, scheduler: BaseScheduler | None = None) -> BaseScheduler:
    scheduler = scheduler or StoreOnlyScheduler()
    scheduler.configure(
        jobstores={"default": SharedJobStore(engine=db.engine)},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        timezone="UTC",
    )
    return scheduler


class job_store_scheduler:
    """A started scheduler that never runs jobs, to write jobs into the job store from any
    process."""

    def __init__(self, db: Database) -> None:
        self.scheduler = make_scheduler(db)

    def __enter__(self) -> BaseScheduler:
        self.scheduler.start(paused=True)
        return self.scheduler

    def __exit__(self, *exc: object) -> None:
        self.scheduler.shutdown(wait=False)


_runner: StepFunction | None = None


def run_scheduled_step(maintenance_id: int, step: str) -> None:
    """The job function APScheduler calls (by reference, from the job store)."""
    if _runner is None:
        raise RuntimeError("the maintenance scheduler is not set up in this process")
    try:
        _runner(maintenance_id, step)
    except Exception:  # logged; the next sync puts the step back, so it is retried
        log.exception("maintenance %d %s failed", maintenance_id, step)
        raise


def start_scheduler(db: Database, scheduler: BaseScheduler, run: StepFunction,
                    sync: SyncFunction) -> BaseScheduler:
    """Set up ``scheduler`` on the shared job store, running stored jobs with ``run``, and
    start it.

    Another process may add jobs to the store at any time; a short interval job wakes the
    scheduler so it finds them (and ``sync`` repairs missing ones) within ``SYNC_SECONDS``.
    """
    global _runner
    _runner = run
    make_scheduler(db, scheduler)
    scheduler.add_jobstore("memory", alias="local")
    scheduler.add_job(sync, "interval", seconds=SYNC_SECONDS, args=[scheduler, db],
                      jobstore="local", id="sync-maintenance-jobs", next_run_time=utcnow())
    scheduler.start()
    return scheduler
