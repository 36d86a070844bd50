"""The retention purge (``rnmail.privacy.retention.purge``) over six years of tickets, on
SQLite and on PostgreSQL, against a raw baseline measured in the same run.

The daemon runs it once a day; the first run after an upgrade (or after shortening a
period) has years of tickets to anonymise at once, and must finish without holding the
database for long: it works in batches of 200 tickets, each its own transaction.

1. **Corpus** -- ``bench/search.py``'s (reused): N tickets (default 50,000) with 1-3
   messages each, created from 2019 over six years, 90 % closed; every ticket's first
   message gets a raw mail in the blob store (a few hundred bytes, unique per ticket).
2. **Baseline** -- the floor of the work, raw: in one transaction rolled back afterwards,
   plain ``UPDATE`` statements blanking the same columns of the tickets and messages the
   purge will anonymise (the tickets closed before the cut-off), selected by the same
   condition. No files are deleted.
3. **Purge** -- ``purge()`` with ``[privacy]`` defaults (anonymise after 24 months, raw
   mails after 6, attachments after 12, outbox after 3): tickets anonymised per second,
   files deleted, the ratio to the baseline; then a second run (nothing left: its time).

Run (from the repo root; PostgreSQL on 127.0.0.1:5432, trust auth, database ``test``)::

    .venv/bin/python bench/retention.py                  # both databases, 50,000 tickets
    .venv/bin/python bench/retention.py --db sqlite --tickets 10000

Target: at least 200 tickets anonymised per second (a year of the help desk's ~25,000
contacts in two minutes) and a second run under 2 s; exit status 1 when missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.append(str(extra))

from desk import follow_ids  # noqa: E402  (bench/desk.py: PostgreSQL's sequences)
from ingest import log  # noqa: E402  (bench/ingest.py)
from search import fill, fresh_database  # noqa: E402  (bench/search.py: the same corpus)
from ticket_queue import (  # noqa: E402  (bench/ticket_queue.py)
    bench_config,
    common_arguments,
    each_database,
)


def raw_mails(db: Any, store: Any) -> int:
    """A raw mail per ticket, for its first message; returns how many."""
    from sqlalchemy import bindparam, func, select, update

    from rnmail.models import Message

    with db.engine.begin() as conn:
        firsts = conn.execute(select(func.min(Message.id)).group_by(Message.ticket_id)
                              ).scalars().all()
        rows = []
        for mid in firsts:
            raw = f"From: p{mid}@example.org\r\nSubject: {mid}\r\n\r\n{'x' * 300}{mid}\r\n"
            rows.append({"mid": mid, "sha": store.put(raw.encode()), "size": len(raw)})
        conn.execute(update(Message).where(Message.id == bindparam("mid"))
                     .values(raw_sha256=bindparam("sha"), raw_size=bindparam("size")), rows)
    store.sync()
    old = time.time() - 300 * 86400  # stored long ago: a purge spares the files stored today
    for path in store.root.rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))
    return len(rows)


def baseline(db: Any, cutoff: Any) -> tuple[float, int]:
    """The raw UPDATEs of what the purge changes, rolled back; (seconds, tickets)."""
    from sqlalchemy import select, update

    from rnmail.models import Message, Ticket

    old = (Ticket.status == "closed") & (Ticket.closed_at < cutoff)
    with db.engine.connect() as conn:
        t0 = time.perf_counter()
        with conn.begin() as transaction:
            ids = select(Ticket.id).where(old).scalar_subquery()
            conn.execute(update(Message).where(Message.ticket_id.in_(ids)).values(
                from_addr="", from_name=None, subject="", text="", display_text="",
                html=None, message_id=None, references=None, raw_sha256=None,
                search_numbers=None))
            done = conn.execute(update(Ticket).where(old).values(
                subject="", requester="", requester_name=None)).rowcount
            transaction.rollback()
        return time.perf_counter() - t0, int(done or 0)


def one_database(args: argparse.Namespace, kind: str, work: Path) -> dict[str, Any]:
    from rnmail.config import load_config
    from rnmail.db import Database
    from rnmail.models import utcnow
    from rnmail.privacy.retention import months_before, purge
    from rnmail.util.blobs import BlobStore

    with fresh_database(kind, work, False) as url:
        config = load_config(bench_config(work, kind, url))  # files: work/var/attachments
        db = Database(url)
        try:
            db.upgrade()
            filled = fill(db, args.tickets, args.seed, kind)
            files = raw_mails(db, BlobStore(config.helpdesk.attachments_dir))
            if kind == "postgresql":
                follow_ids(db)
            now = utcnow()
            cutoff = months_before(now, config.privacy.anonymise_months)
            raw_s, raw_tickets = baseline(db, cutoff)
            log(f"[{kind}] {filled['tickets']:,} tickets, {files:,} raw mails; baseline: "
                f"{raw_tickets:,} tickets blanked raw in {raw_s:.1f}s "
                f"({raw_tickets / raw_s:,.0f}/s)")
            t0 = time.perf_counter()
            report = purge(db, config, now=now, actor="bench")
            purge_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = purge(db, config, now=now, actor="bench")
            again_s = time.perf_counter() - t0
            assert again.nothing, again.as_json()
        finally:
            db.dispose()
    rate = report.tickets_anonymised / purge_s
    result = {"db": kind, "tickets": filled["tickets"], "baseline_s": raw_s,
              "baseline_tickets": raw_tickets, "purge_s": purge_s, "second_run_s": again_s,
              "tickets_per_s": rate, "ratio": (raw_tickets / raw_s and rate / (
                  raw_tickets / raw_s)), **report.as_json(), "load1": os.getloadavg()[0]}
    log(f"[{kind}] purge: {report.tickets_anonymised:,} tickets anonymised, "
        f"{report.files:,} files ({report.bytes:,} bytes) deleted in {purge_s:.1f}s = "
        f"{rate:,.0f} tickets/s ({result['ratio']:.2f}x the raw UPDATEs); second run "
        f"{again_s:.2f}s; load {result['load1']:.1f}")
    return result


def main() -> None:
    args = common_arguments(__doc__, 50_000).parse_args()
    stamp, runs = each_database(args, "retention", one_database)
    missed = [r["db"] for r in runs if r["tickets_per_s"] < 200 or r["second_run_s"] >= 2]
    log(f"\ntarget (>= 200 tickets/s, second run < 2 s): "
        f"{'met' if not missed else 'MISSED on ' + ', '.join(missed)}")
    if args.json:
        args.json.write_text(json.dumps({"code": stamp, "runs": runs}, indent=2, default=str))
    if missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
