"""The call form's caller lookup at scale: 200,000 tickets and 50,000 directory users.

Fills a fresh database (bulk inserts: 2,000 organisations, ``--users`` directory users,
``--tickets`` tickets, a third each from a phone number, a citizen's address and a directory
user's address, one in ten open), then times ``rnmail.directory.lookup.lookup_caller`` on a
fixed set of queries — numbers in several notations, addresses whole and in part, names with
and without accents, an organisation, a query that matches nothing — ``--runs`` times each,
and prints the median and the worst per query.

Run (from the repo root; PostgreSQL on 127.0.0.1:5432, database ``test``)::

    .venv/bin/python bench/lookup.py                      # both databases
    .venv/bin/python bench/lookup.py --db sqlite --tickets 50000

Results: docs/performance.md, "Caller lookup".
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from rnmail.db import Database
from rnmail.directory.lookup import lookup_caller
from rnmail.models import DirectoryUser, Organisation, Ticket, utcnow

FIRST = ["Séverine", "Jérôme", "Koen", "An", "Luc", "Marie", "Jan", "Els", "Pierre", "Anne"]
LAST = ["Lefèvre", "Dubois", "Maes", "Peeters", "Martin", "Janssens", "Wouters", "Lambert",
        "Dupont", "Claes"] + [f"Nom{i}" for i in range(2000)]
QUERIES = ["+32475000300", "0475/00.03.00", "0470 00 12 34", "citizen12346@mail.example",
           "citizen1234", "lefevre", "jérôme dubois", "Nom1999", "Lieu-1234", "nobody here",
           "user4242@lieu"]


@contextlib.contextmanager
def fresh_database(kind: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work / 'lookup.db'}"
        return
    from tests.harness.servers import fresh_postgres_schema, postgres_problem

    problem = postgres_problem()
    if problem:
        raise SystemExit(problem)
    with fresh_postgres_schema() as url:
        yield url


def fill(db: Database, users: int, tickets: int) -> None:
    rng = random.Random(7)
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(insert(Organisation), [
            {"id": i, "name": f"Commune de Lieu-{i}", "kind": "municipality", "code": f"C{i}",
             "language": "fr", "contact_emails": [], "created_at": now, "updated_at": now}
            for i in range(1, 2001)])
        conn.execute(insert(DirectoryUser), [
            {"organisation_id": 1 + i % 2000, "email": f"user{i}@lieu-{i % 2000}.example",
             "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "phone": f"+32470{i:06d}",
             "language": "fr", "access_status": "active", "status_since": now,
             "created_at": now, "updated_at": now} for i in range(users)])
        for start in range(0, tickets, 20_000):
            rows = []
            for n in range(start, min(tickets, start + 20_000)):
                requester = (f"+32475{n:06d}", f"citizen{n}@mail.example",
                             f"user{n % users}@lieu-{n % users % 2000}.example")[n % 3]
                rows.append({
                    "subject": "Question", "status": "open" if n % 10 == 0 else "closed",
                    "channel": "phone" if n % 3 == 0 else "mail", "requester": requester,
                    "requester_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    "requester_type": "citizen", "language": "fr",
                    "created_at": now - timedelta(minutes=tickets - n), "updated_at": now})
            conn.execute(insert(Ticket), rows)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def one_database(kind: str, args: argparse.Namespace, work: Path) -> None:
    with fresh_database(kind, work) as url:
        db = Database(url)
        db.upgrade()
        t0 = time.perf_counter()
        fill(db, args.users, args.tickets)
        print(f"[{kind}] {args.tickets:,} tickets, {args.users:,} users filled in "
              f"{time.perf_counter() - t0:.0f} s")
        for query in QUERIES:
            times, found = [], []
            for _ in range(args.runs):
                with db.transaction() as session:
                    t1 = time.perf_counter()
                    found = lookup_caller(session, query, 10)
                    times.append(time.perf_counter() - t1)
            print(f"[{kind}] {query!r:30} {len(found):3} found  median "
                  f"{statistics.median(times) * 1000:6.1f} ms  worst {max(times) * 1000:6.1f} ms")
        db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--tickets", type=int, default=200_000)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for kind in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
            one_database(kind, args, Path(work))


if __name__ == "__main__":
    main()
