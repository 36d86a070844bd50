"""Statistics at scale: the figures on a million tickets, on SQLite and PostgreSQL.

Generates ``--tickets`` tickets over two years, inserted in time order as a help desk
creates them (office-hours heavy, every channel, requester type, category and resolution;
most answered and closed), then times, ``--runs`` times each:

- the raw baseline: ``SELECT channel, count(*) FROM ticket GROUP BY channel`` — the plainest
  aggregate over the same rows, no time zone nor join;
- ``rnmail stats --by month --by channel`` (``stats.contacts``), the table the team reports;
- ``rnmail stats --by requester-type``;
- ``rnmail stats times --by month`` (business-hour medians and p90 of two durations);
- ``rnmail report`` for the whole period (every section, charts included).

and prints the medians and each one's ratio to the raw baseline of the same run.

Run (from the repo root; PostgreSQL on 127.0.0.1:5432, database ``test``)::

    .venv/bin/python bench/stats.py                       # 1,000,000 tickets, both databases
    .venv/bin/python bench/stats.py --tickets 100000 --db sqlite

Target (issue 6): under 2 s for a table on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dispatch import fresh_database  # noqa: E402
from rnmail.config import load_config  # noqa: E402
from rnmail.db import Database  # noqa: E402
from rnmail.stats.figures import Period, Query, contacts, times  # noqa: E402

CHANNELS = ("mail", "mail", "mail", "phone", "phone", "fax", "letter")
TYPES = ("citizen", "municipality", "municipality", "police", "notary", "public-service",
         "company", "other")
CATEGORIES = ("access-key", "certificate", "address-change", "data-correction", "legal",
              "web-services", "other")
RESOLUTIONS = ("first-contact", "first-contact", "investigated", "second-line")
COLUMNS = ("subject", "status", "resolution", "channel", "requester", "requester_org",
           "requester_type", "category", "first_response_at", "closed_at", "language",
           "created_at", "updated_at")
START = datetime(2025, 1, 1, tzinfo=UTC)


def log(msg: str) -> None:
    print(msg, flush=True)


def tickets(n: int, seed: int = 1) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed)
    span = 2 * 365 * 86400
    instants = []
    for _ in range(n):
        created = START + timedelta(seconds=rng.randrange(span))
        if rng.random() < 0.8:  # office hours, Brussels (UTC+1/+2): 7-15 UTC
            created = created.replace(hour=rng.randrange(7, 15))
        instants.append(created)
    instants.sort()  # tickets are created in time order, as in a real help desk
    for i, created in enumerate(instants):
        answered = created + timedelta(minutes=rng.randrange(1, 6000)) \
            if rng.random() < 0.85 else None
        closed = created + timedelta(minutes=rng.randrange(0, 20000)) \
            if rng.random() < 0.75 else None
        kind = rng.choice(TYPES)
        yield (f"Question {i}", "closed" if closed else "open",
               rng.choice(RESOLUTIONS) if closed else None, rng.choice(CHANNELS),
               f"user{i % 50000}@org{i % 3000}.example", None if kind == "citizen"
               else f"Organisation {i % 3000}", kind, rng.choice(CATEGORIES),
               answered, closed, rng.choice(("fr", "nl", "de")), created, created)


def naive(value: object) -> object:
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


def load(db: Database, n: int) -> float:
    """Bulk-load the tickets (COPY on PostgreSQL, executemany on SQLite); returns seconds."""
    started = time.perf_counter()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.is_sqlite:
            cursor.execute("BEGIN")
            sql = (f"INSERT INTO ticket ({', '.join(COLUMNS)}) "
                   f"VALUES ({', '.join('?' * len(COLUMNS))})")
            rows = ((*(naive(v) for v in row),) for row in tickets(n))
            cursor.executemany(sql, ((*(str(v) if isinstance(v, datetime) else v
                                        for v in row),) for row in rows))
            cursor.execute("COMMIT")
        else:
            with cursor.copy(f"COPY ticket ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in tickets(n):
                    copy.write_row(tuple(naive(v) for v in row))
            raw.commit()
            cursor.execute("ANALYZE ticket")
            raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def timed(runs: int, job: Callable[[], object]) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        job()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bench(kind: str, n: int, runs: int, work: Path) -> None:
    url = fresh_database(kind, work, 1)
    config_path = work / f"rnmail-{kind}.toml"
    config_path.write_text(f'[database]\nurl = "{url}"\n[helpdesk]\naddress = '
                           f'"info@rn.example"\nsecret = "{secrets.token_urlsafe(32)}"\n',
                           encoding="utf-8")
    config = load_config(config_path)
    db = Database(config.database.url)
    db.upgrade()
    log(f"{kind}: loading {n:,} tickets ...")
    log(f"{kind}: loaded in {load(db, n):.1f} s")

    def raw() -> object:
        with db.engine.connect() as connection:
            return connection.execute(text(
                "SELECT channel, count(*) FROM ticket GROUP BY channel")).all()

    def table(by: tuple[str, ...], measure: Callable[..., object] = contacts) -> object:
        with db.transaction() as session:
            return measure(session, config, Query(by))

    def report() -> object:
        from rnmail.stats.report import build_report

        with db.transaction() as session:
            return build_report(session, config, Period(date(2025, 1, 1), date(2026, 12, 31)))

    raw()  # warm the page cache for every measure alike
    baseline = timed(runs, raw)
    log(f"{kind}: raw GROUP BY channel: {baseline * 1000:.0f} ms (baseline)")
    for label, job in (
        ("stats --by month --by channel", lambda: table(("month", "channel"))),
        ("stats --by requester-type", lambda: table(("requester-type",))),
        ("stats times --by month", lambda: table(("month",), times)),
        ("report (2 years, every section)", report),
    ):
        try:
            seconds = timed(runs, job)
        except ImportError as exc:
            log(f"{kind}: {label}: not available ({exc})")
            continue
        log(f"{kind}: {label}: {seconds * 1000:.0f} ms "
            f"({seconds / baseline:.1f}x the raw GROUP BY)")
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = ap.parse_args()
    log(f"bench/stats.py: {os.cpu_count()} CPUs, {args.tickets:,} tickets, median of "
        f"{args.runs} runs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    with tempfile.TemporaryDirectory(prefix="rnmail-stats-") as tmp:
        for kind in kinds:
            bench(kind, args.tickets, args.runs, Path(tmp))


if __name__ == "__main__":
    main()
