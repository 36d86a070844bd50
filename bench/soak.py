"""Soak: ``rnmail run`` for a while under a steady stream of mail and one mass mailing.

What it measures, against a throw-away Dovecot (``tests.harness.servers.Dovecot``, production fsync)
and Postfix's ``smtp-sink`` on loopback:

- the daemon (``rnmail run``, a subprocess, IDLE on, SQLite or PostgreSQL) reads the
  ``info`` mailbox while this script APPENDs ``--rate`` requests per second for
  ``--minutes`` minutes, each with its own Message-ID and APPEND time;
- after one minute, one announcement to ``--recipients`` members is queued, which the same
  daemon sends while the requests keep coming;
- at the end: messages ingested per second, the delay from APPEND to the committed message
  row (``message.created_at`` of the ticket's first message) at p50/p99/max, every request
  acknowledged and every announcement row sent, and the daemon's RSS at start (after the
  first minute's warm-up) and at the end.

Run (from the repo root; needs Dovecot and smtp-sink, scripts/test installs both)::

    .venv/bin/python bench/soak.py                   # 10 minutes, SQLite
    .venv/bin/python bench/soak.py --minutes 2 --db postgresql

Targets (issue 5): p99 APPEND → ticket < 2 s with IDLE; RSS growth < 10 %.
Only loopback addresses and reserved domains are used.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dispatch import free_port, fresh_database, start_sink  # noqa: E402
from rnmail.config import load_config  # noqa: E402
from rnmail.db import Database  # noqa: E402
from rnmail.directory.groups import import_lists  # noqa: E402
from rnmail.dispatch.announce import mailing_notice, send_mailing  # noqa: E402
from rnmail.models import Message, OutboxMessage  # noqa: E402
from tests.harness import corpus  # noqa: E402
from tests.harness.servers import Dovecot  # noqa: E402


def log(msg: str) -> None:
    print(msg, flush=True)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_config(work: Path, db_url: str, imap: Dovecot, smtp_port: int) -> Path:
    path = work / "rnmail.toml"
    path.write_text(f"""
[database]
url = "{db_url}"
[helpdesk]
address = "info@rn.example"
secret = "{secrets.token_urlsafe(32)}"
attachments_dir = "{work}/attachments"
[[mailbox]]
name = "info"
host = "{imap.host}"
port = {imap.port}
user = "info"
password = "secret"
[smtp]
host = "127.0.0.1"
port = {smtp_port}
[ingest]
auto_reply_limit = 1000000
[outbox]
connections = 8
[status]
public_dir = "{work}/status"
[daemon]
poll_seconds = 30
send_seconds = 2
""", encoding="utf-8")
    return path


TRACE_BOOTSTRAP = """
import threading, time, tracemalloc
tracemalloc.start(15)
def _dump():
    n = 0
    while True:
        time.sleep(30)
        n += 1
        tracemalloc.take_snapshot().dump("{out}/snapshot-%03d" % n)
threading.Thread(target=_dump, daemon=True).start()
"""


def trace_diff(first: Path, last: Path, top: int = 25) -> None:
    """Print what grew most between two ``--trace-memory`` snapshots."""
    import tracemalloc

    old, new = (tracemalloc.Snapshot.load(str(p)) for p in (first, last))
    for stat in new.compare_to(old, "traceback")[:top]:
        print(f"{stat.size_diff / 1024:+.0f} KiB, {stat.count_diff:+d} blocks")
        for line in stat.traceback.format()[-8:]:
            print("   ", line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=5.0, help="requests APPENDed per second")
    ap.add_argument("--recipients", type=int, default=5000)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--trace-memory", metavar="DIR", type=Path,
                    help="run the daemon under tracemalloc and write a snapshot to DIR "
                         "every 30 s (to find what keeps growing: see trace_diff())")
    args = ap.parse_args()
    smtp_port = free_port()
    sink = start_sink(smtp_port)
    with tempfile.TemporaryDirectory(prefix="rnmail-soak-") as tmp, \
            Dovecot(fsync=True) as imap:
        work = Path(tmp)
        db_url = fresh_database(args.db, work, 1)
        config_path = write_config(work, db_url, imap, smtp_port)
        config = load_config(config_path)
        db = Database(config.database.url)
        db.upgrade()
        lists = work / "lists"
        lists.mkdir()
        with (lists / "soak.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["email", "name", "language"])
            writer.writerows((f"pop{i}@municipality{i % 500}.example", f"Service {i}",
                              ("nl", "fr", "de")[i % 3]) for i in range(args.recipients))
        import_lists(db, [lists / "soak.csv"])
        bootstrap = "from cli.program import run; run()"  # as the console script
        if args.trace_memory:
            args.trace_memory.mkdir(parents=True, exist_ok=True)
            bootstrap = TRACE_BOOTSTRAP.format(out=str(args.trace_memory.resolve())) + bootstrap
        daemon = subprocess.Popen(
            [sys.executable, "-c", bootstrap, "--config", str(config_path), "run"], cwd=ROOT,
            stderr=(work / "run.log").open("w"))
        log(f"bench/soak.py: {os.cpu_count()} CPUs, db={args.db}, {args.minutes} min, "
            f"{args.rate}/s requests, one mailing to {args.recipients}")
        appended: dict[str, float] = {}
        started = time.time()
        end = started + args.minutes * 60
        mailing_at = started + 60
        rss_start = None
        mailing = None
        samples: list[tuple[float, float]] = []  # (minutes since start, RSS MB)
        i = 0
        with imap.mailbox("info") as box:
            while time.time() < end:
                due = started + i / args.rate
                if due > time.time():
                    time.sleep(due - time.time())
                message_id = f"<soak-{i}@citizen.example>"
                raw = corpus.simple(f"Demande {i}", f"Question {i} sur ma clé d'accès.",
                                    from_addr=f"person{i}@citizen.example",
                                    message_id=message_id)
                appended[message_id] = time.time()
                box.append(raw, "INBOX")
                i += 1
                if i % int(args.rate * 30) == 0:
                    samples.append(((time.time() - started) / 60, rss_mb(daemon.pid)))
                if mailing is None and time.time() >= mailing_at:
                    rss_start = rss_mb(daemon.pid)
                    notice = mailing_notice(config, "circular",
                                            {"subject": "Soak", "body": "Soak test."}, [])
                    mailing = send_mailing(db, config, notice, ["soak"], "soak").id
        deadline = time.time() + 120
        while time.time() < deadline:
            with db.transaction() as session:
                done = session.scalar(select(func.count()).select_from(Message)
                                      .where(Message.direction == "in"))
                unsent = session.scalar(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.state != "sent"))
            if done == len(appended) and unsent == 0:
                break
            time.sleep(1)
        rss_end = rss_mb(daemon.pid)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        with db.transaction() as session:
            rows = session.execute(select(Message.message_id, Message.created_at)
                                   .where(Message.direction == "in")).all()
            sent = session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.state == "sent"))
        delays = sorted(created.timestamp() - appended[mid] for mid, created in rows
                        if mid in appended)
        sink.send_signal(signal.SIGTERM)
        sink.wait()
    n = len(delays)
    p99 = delays[max(0, int(n * 0.99) - 1)] if n else float("nan")
    log(f"requests: {len(appended)} appended, {n} ingested ({n / (args.minutes * 60):.1f}/s); "
        f"mail sent: {sent} (acknowledgements + {args.recipients} announcement rows)")
    log(f"APPEND -> ticket: p50 {statistics.median(delays) * 1000:.0f} ms, p99 "
        f"{p99 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms (target p99 < 2 s)")
    growth = (rss_end - rss_start) / rss_start * 100 if rss_start else float("nan")
    log(f"daemon RSS: {rss_start:.0f} MB after the first minute, {rss_end:.0f} MB at the end "
        f"({growth:+.1f} %, target < 10 %); mailing #{mailing}; "
        f"finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    log("RSS every 30 s (min: MB): " + ", ".join(f"{m:.1f}: {r:.0f}" for m, r in samples))
    after = [r for m, r in samples if m >= 3]  # the mailing is sent by minute 3
    if len(after) >= 2:
        log(f"after the mailing: {after[0]:.0f} MB at minute 3, {after[-1]:.0f} MB at the end "
            f"({(after[-1] - after[0]) / after[0] * 100:+.1f} %)")


if __name__ == "__main__":
    main()
