"""The scheduler's reminders (``rnmail.tickets.escalation.run_reminders``) over 200,000
tickets, on SQLite and on PostgreSQL, against a raw baseline measured in the same run.

The daemon runs the job every ``[daemon].reminder_seconds`` (5 minutes) in the same process
as the pollers and the desk: it must cost little when there is nothing to do, and do a
burst (a Monday morning after a holiday) quickly.

1. **Corpus** -- ``bench/ticket_queue.py``'s (reused): N tickets (default 200,000) over six
   years, staff, services, assignments, every 11th open ticket delegated. Here the
   delegated ones get a delegation moment spread over the last 20 business days, the open
   ones a next due time spread over the next 3 business hours, and every 7th not-closed
   ticket is pending since a moment in the last 10 days (autoclose on for every category
   after 5 business days).
2. **Burst** -- the first run: every reminder, overdue notice, warning and automatic close
   that is due, each in its transaction with its mail queued (one per staff member for a
   notice to the team). Timed: the run, and the steps per second.
3. **Idle** -- ``--repeat`` runs (default 20) right after: nothing left to do; p50 and max.
   **Baseline:** the job's candidate queries alone (the same SELECTs run raw, without the
   calendar, the step keys or the transactions), p50 of as many runs.

Run (from the repo root; PostgreSQL on 127.0.0.1:5432, trust auth, database ``test``)::

    .venv/bin/python bench/reminders.py                  # both databases, 200,000 tickets
    .venv/bin/python bench/reminders.py --db sqlite --tickets 20000

Target: an idle run under 200 ms (the job must not hold the daemon's scheduler thread) and
the burst done within a fifth of the job's interval (60 s of the 5 minutes); exit status 1
when missed. Steps and mails per second are printed too (a notice to the team is a mail per
staff member).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.append(str(extra))

from desk import follow_ids  # noqa: E402  (bench/desk.py: PostgreSQL's sequences)
from ingest import log  # noqa: E402  (bench/ingest.py)
from search import fill, fresh_database  # noqa: E402  (bench/search.py: the same corpus)
from ticket_queue import (  # noqa: E402  (bench/ticket_queue.py: staff, delegations)
    bench_config,
    common_arguments,
    each_database,
    shape,
)


def timings(db: Any, config: Any, now: Any) -> dict[str, Any]:
    """Delegation moments, due times and pending spells around ``now`` (see above)."""
    from sqlalchemy import bindparam, insert, select, update

    from rnmail.models import Ticket, TicketEvent
    from rnmail.tickets.escalation import business_calendar

    cal = business_calendar(config, now)
    base = cal.business(now)
    with db.engine.begin() as conn:
        delegated = conn.execute(select(Ticket.id).where(Ticket.status == "delegated")
                                 ).scalars().all()
        conn.execute(update(Ticket).where(Ticket.id == bindparam("tid"))
                     .values(delegated_at=bindparam("at")),
                     [{"tid": tid, "at": cal.moment(base - (tid % 20) * cal.length - 600)}
                      for tid in delegated])
        waiting = conn.execute(select(Ticket.id).where(Ticket.status == "open")
                               ).scalars().all()
        conn.execute(update(Ticket).where(Ticket.id == bindparam("tid"))
                     .values(due_at=bindparam("at")),
                     [{"tid": tid, "at": cal.moment(base + (tid % 180) * 60 + 30)}
                      for tid in waiting])
        pending = [tid for tid in waiting if tid % 7 == 0]
        conn.execute(update(Ticket).where(Ticket.id.in_(pending)).values(status="pending",
                                                                         due_at=None))
        conn.execute(insert(TicketEvent.__table__), [
            {"ticket_id": tid, "at": now - timedelta(days=tid % 10, hours=1),
             "what": "status", "old": "open", "new": "pending", "actor": "Agent 1",
             "actor_kind": "staff", "via": "cli"} for tid in pending])
    return {"delegated": len(delegated), "open": len(waiting) - len(pending),
            "pending": len(pending)}


def raw_candidates(db: Any) -> float:
    """The job's candidate SELECTs, raw: the baseline."""
    from sqlalchemy import select

    from rnmail.models import Ticket, TicketEvent

    t0 = time.perf_counter()
    with db.engine.connect() as conn:
        conn.execute(select(Ticket.id, Ticket.delegated_at, Ticket.service_id)
                     .where(Ticket.status == "delegated")).all()
        conn.execute(select(Ticket.id, Ticket.due_at).where(Ticket.due_at.is_not(None),
                                                            Ticket.status == "open")
                     .order_by(Ticket.due_at).limit(2000)).all()
        conn.execute(select(Ticket.id, TicketEvent.at).join(TicketEvent)
                     .where(Ticket.status == "pending", TicketEvent.new == "pending")).all()
    return (time.perf_counter() - t0) * 1000


def one_database(args: argparse.Namespace, kind: str, work: Path) -> dict[str, Any]:
    from sqlalchemy import func, select

    from rnmail.config import load_config
    from rnmail.db import Database
    from rnmail.models import OutboxMessage, ScheduledStep
    from rnmail.tickets import escalation

    with fresh_database(kind, work, False) as url:
        config = load_config(bench_config(work, kind, url, """[[reminders.autoclose]]
category = "*"
after = "5d"
"""))
        db = Database(url)
        try:
            db.upgrade()
            filled = fill(db, args.tickets, args.seed, kind)
            shape(db, kind)
            if kind == "postgresql":
                follow_ids(db)
            now = escalation.utcnow()
            corpus = timings(db, config, now)
            log(f"[{kind}] {filled['tickets']:,} tickets; {corpus['delegated']:,} delegated, "
                f"{corpus['open']:,} open with a due time, {corpus['pending']:,} pending")
            t0 = time.perf_counter()
            escalation.run_reminders(db, config)
            burst = time.perf_counter() - t0
            with db.transaction() as session:
                steps = session.scalar(select(func.count()).select_from(ScheduledStep)) or 0
                mails = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
            idle, raw = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                escalation.run_reminders(db, config)
                idle.append((time.perf_counter() - t0) * 1000)
                raw.append(raw_candidates(db))
            with db.transaction() as session:
                again = session.scalar(select(func.count()).select_from(ScheduledStep)) or 0
            assert again == steps, "an idle run did a step twice"
        finally:
            db.dispose()
    result = {"db": kind, "tickets": filled["tickets"], **corpus, "burst_s": burst,
              "steps": steps, "mails": mails, "steps_per_s": steps / burst,
              "idle_p50_ms": statistics.median(idle), "idle_max_ms": max(idle),
              "raw_p50_ms": statistics.median(raw), "load1": os.getloadavg()[0]}
    log(f"[{kind}] burst: {steps:,} steps ({mails:,} mails queued) in {burst:.1f}s = "
        f"{result['steps_per_s']:.0f} steps/s, {mails / burst:.0f} mails/s; idle run p50 "
        f"{result['idle_p50_ms']:.1f} ms, "
        f"max {result['idle_max_ms']:.1f} ms; raw candidate queries p50 "
        f"{result['raw_p50_ms']:.1f} ms (ratio raw/idle "
        f"{result['raw_p50_ms'] / result['idle_p50_ms']:.2f}); load {result['load1']:.1f}")
    return result


def main() -> None:
    ap = common_arguments(__doc__, 200_000)
    ap.add_argument("--repeat", type=int, default=20, help="idle runs timed")
    args = ap.parse_args()
    stamp, runs = each_database(args, "reminders", one_database)
    missed = [r["db"] for r in runs if r["idle_p50_ms"] >= 200 or r["burst_s"] >= 60]
    log(f"\ntarget (idle < 200 ms, burst < 60 s): "
        f"{'met' if not missed else 'MISSED on ' + ', '.join(missed)}")
    if args.json:
        args.json.write_text(json.dumps({"code": stamp, "runs": runs}, indent=2, default=str))
    if missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
