"""Ingest throughput and memory: ``rnmail ingest once`` against a raw imap-tools baseline.

What it measures, in one run against a throw-away Dovecot (``tests.harness.servers.Dovecot``,
user ``bench``) holding N mixed help-desk messages (``tests.harness.corpus.mixed_batch(N, seed=1)``,
~3.6 KB each, APPENDed over one connection, not timed):

1. **Raw baseline** -- plain imap-tools: log in, list the UIDs, fetch every message in
   batches of ``--batch`` (``fetch(uid_list=..., mark_seen=False, bulk=True)``, default
   ``MailMessage`` class, i.e. the stdlib parse imap-tools does itself) and MOVE each
   batch to a folder ``Raw``. Nothing else. A second, bytes-only variant (a MailMessage
   subclass that keeps the bytes and skips imap-tools' parse, like rnmail's own fetch)
   is reported alongside as the tighter bound.
2. **rnmail ingest** -- ``rnmail.ingest.runner.run_ingest(db, config)`` (exactly what
   ``rnmail ingest once`` runs) on the same N messages, with a fresh database (SQLite file
   in a temp dir, or a fresh PostgreSQL schema with ``--db postgresql``), file SMTP
   transport, blobs in a temp dir. It runs in a child process (this script re-executed
   with ``--_child``) so that its peak RSS is the ingest's alone: ``ru_maxrss`` of that
   child from ``os.wait4`` (the per-child form of ``getrusage(RUSAGE_CHILDREN)``),
   cross-checked with the child's own ``VmHWM``. The children are forked at start-up,
   before the corpus exists, because ``ru_maxrss`` also counts the image a child had
   before ``exec`` -- a copy of its parent (see ``spawn_child``). The schema is created
   by the parent beforehand (``Database.upgrade()``, not timed); the child's imports are
   not timed either. RSS is also sampled after every batch, to show it stays flat.
3. **rnmail CLI** (unless ``--no-cli``) -- in every run, the same messages moved back to
   INBOX, a fresh database, and ``rnmail --config FILE ingest once`` timed as a subprocess,
   start-up included; its ratio to that run's raw baseline is the figure the targets are
   about (the whole command).

After each ingest it checks that nothing was lost: every message got a processed_message
row, INBOX is empty, ``Processed`` holds N messages, and the ticket/message counts in the
database agree with the reported outcomes.

Run (from the repo root; needs Dovecot, and PostgreSQL on 127.0.0.1:5432 for ``--db
postgresql``)::

    .venv/bin/python bench/ingest.py                       # 5,000 messages, SQLite
    .venv/bin/python bench/ingest.py --runs 3              # three runs and their median
    .venv/bin/python bench/ingest.py --db postgresql
    .venv/bin/python bench/ingest.py --messages 20000 --no-cli
    .venv/bin/python bench/ingest.py --breakdown           # time per pipeline stage
    .venv/bin/python bench/ingest.py --profile             # cProfile, 1,000 messages

To benchmark another copy of the code (e.g. a commit: ``git archive HEAD rnmail cli |
tar -x -C /tmp/snap``), put it first on the path: ``PYTHONPATH=/tmp/snap .venv/bin/python
bench/ingest.py``; the first output line names the rnmail directory and a hash of its
source.

Targets: CLI (else ingest)/raw ratio >= 0.50 on SQLite, >= 0.35 on PostgreSQL; peak RSS
of the ingest < 200 MB.
Only loopback addresses are used. Results can also be written as JSON (``--json FILE``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Appended, not prepended: `tests` is found here, while a PYTHONPATH pointing at a copy
    # of rnmail/ and cli/ (to benchmark a snapshot) still wins over the editable install.
    sys.path.append(str(ROOT))

USER, PASSWORD = "bench", "secret"
HELPDESK = "info@rn.example"


# --------------------------------------------------------------------------- helpers

def log(msg: str) -> None:
    print(msg, flush=True)


def uid_set(uids: list[str]) -> str:
    """Compact IMAP sequence set (1:100,205) for a sorted list of numeric UIDs."""
    nums = sorted(int(u) for u in uids)
    out: list[str] = []
    start = prev = nums[0]
    for n in nums[1:]:
        if n == prev + 1:
            prev = n
            continue
        out.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = n
    out.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(out)


def move_all(dovecot: Any, src: str, dst: str) -> int:
    """Move every message of src to dst (not timed); returns how many."""
    with dovecot.mailbox(USER, folder=src) as mb:
        uids = mb.uids()
        if uids:
            typ, data = mb.client.uid("MOVE", uid_set(uids), dst)
            if typ != "OK":
                raise RuntimeError(f"MOVE {src} -> {dst} failed: {data!r}")
        return len(uids)


def count(dovecot: Any, folder: str) -> int:
    with dovecot.mailbox(USER) as mb:
        if not mb.folder.exists(folder):
            return 0
        return int(mb.folder.status(folder, ["MESSAGES"])["MESSAGES"])


def append_corpus(dovecot: Any, corpus: list[bytes]) -> float:
    """APPEND the corpus to INBOX over one connection (plain APPEND, no UID parsing)."""
    t0 = time.perf_counter()
    with dovecot.mailbox(USER) as mb:
        for raw in corpus:
            typ, data = mb.client.append("INBOX", None, None, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND failed: {data!r}")
    return time.perf_counter() - t0


def code_stamp() -> dict[str, str]:
    """Which rnmail is benchmarked: its directory, a hash of its source and the git HEAD."""
    import hashlib

    import cli
    import rnmail

    digest = hashlib.sha256()
    dirs = [Path(rnmail.__file__).parent, Path(cli.__file__).parent]
    for base in dirs:
        for path in sorted(p for p in base.rglob("*") if p.suffix in (".py", ".j2", ".mako")):
            digest.update(str(path.relative_to(base.parent)).encode() + b"\0" + path.read_bytes())
    head = "not this repo's working tree (PYTHONPATH copy)"
    if dirs[0] == ROOT / "rnmail":
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "rnmail", "cli"],
                                capture_output=True, text=True).stdout
        head += " + uncommitted changes" if status.strip() else ""
    return {"rnmail_dir": str(dirs[0]), "source_sha256": digest.hexdigest()[:12],
            "git_head": head}


# --------------------------------------------------------------------------- raw baseline

def raw_baseline(dovecot: Any, n: int, batch: int, bytes_only: bool) -> float:
    """Fetch all of INBOX in batches and move each batch to Raw; returns seconds."""
    from imap_tools import MailBoxUnencrypted, MailMessage

    class BytesMessage(MailMessage):
        def __init__(self, fetch_data: list) -> None:  # keep the bytes, skip the parse
            raw, self._raw_uid_data, self._raw_flag_data = self._get_message_data_parts(fetch_data)
            self.raw = raw

    with dovecot.mailbox(USER) as mb:
        if not mb.folder.exists("Raw"):
            mb.folder.create("Raw")
    seen = 0
    t0 = time.perf_counter()
    mb = MailBoxUnencrypted(dovecot.host, dovecot.port).login(USER, PASSWORD, "INBOX")
    if bytes_only:
        mb.email_message_class = BytesMessage
    uids = mb.uids()
    for i in range(0, len(uids), batch):
        batch_uids = uids[i:i + batch]
        msgs = list(mb.fetch(uid_list=batch_uids, mark_seen=False, bulk=True))
        seen += len(msgs)
        mb.move(batch_uids, "Raw")
    mb.logout()
    elapsed = time.perf_counter() - t0
    if seen != n:
        raise AssertionError(f"raw baseline fetched {seen} messages, expected {n}")
    return elapsed


# --------------------------------------------------------------------------- config, DB

def config_raw(dovecot: Any, db_url: str, work: Path, batch: int) -> dict[str, Any]:
    """Same shape as tests/harness/factories.py make_config, one mailbox `info` for user bench."""
    return {
        "database": {"url": db_url},
        "helpdesk": {
            "address": HELPDESK,
            "name": "Help Desk Registre national / Rijksregister",
            "tag": "RN",
            "secret": secrets.token_urlsafe(32),
            "default_language": "fr",
            "attachments_dir": str(work / "attachments"),
            "max_attachment_mb": 25,
        },
        "mailbox": [{
            "name": "info", "kind": "info", "host": dovecot.host, "port": dovecot.port,
            "security": "none", "user": USER, "password": PASSWORD,
            "folder": "INBOX", "done_folder": "Processed",
        }],
        "smtp": {"transport": "file", "directory": str(work / "outgoing")},
        "ingest": {"batch_size": batch},
        "fax": {"address_pattern": "{number}@fax.rn.example"},
    }


def to_toml(raw: dict[str, Any]) -> str:
    """Just enough TOML for config_raw(): tables of scalars and one array of tables."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        return json.dumps(str(v), ensure_ascii=False)

    lines: list[str] = []
    for section, body in raw.items():
        for table in body if isinstance(body, list) else [body]:
            lines.append(f"[[{section}]]" if isinstance(body, list) else f"[{section}]")
            lines += [f"{k} = {value(v)}" for k, v in table.items()]
            lines.append("")
    return "\n".join(lines)


@contextlib.contextmanager
def fresh_database(kind: str, work: Path, tag: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work / f'{tag}.db'}"
        return
    from tests.harness.servers import fresh_postgres_schema, postgres_problem

    problem = postgres_problem()
    if problem:
        raise SystemExit(problem)
    with fresh_postgres_schema() as url:
        yield url


def upgrade(url: str) -> None:
    from rnmail.db import Database

    db = Database(url)
    try:
        db.upgrade()
    finally:
        db.dispose()


def db_counts(url: str) -> dict[str, int]:
    from sqlalchemy import text

    from rnmail.db import Database

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            def one(sql: str) -> int:
                return int(conn.execute(text(sql)).scalar_one())
            return {
                "tickets": one("SELECT count(*) FROM ticket"),
                "linked_tickets": one(
                    "SELECT count(*) FROM ticket WHERE linked_ticket_id IS NOT NULL"),
                "messages_in": one("SELECT count(*) FROM message WHERE direction = 'in'"),
                "processed": one("SELECT count(*) FROM processed_message"),
                "quarantined": one("SELECT count(*) FROM quarantined_message"),
                "outbox": one("SELECT count(*) FROM outbox_message"),
                "attachments": one("SELECT count(*) FROM attachment"),
            }
    finally:
        db.dispose()


def verify(dovecot: Any, url: str, n: int, outcomes: dict[str, int]) -> dict[str, int]:
    """Nothing lost: processed == N, INBOX empty, Processed == N, DB agrees with outcomes."""
    counts = db_counts(url)
    counts["inbox_after"] = count(dovecot, "INBOX")
    counts["processed_folder"] = count(dovecot, "Processed")
    problems = []
    if sum(outcomes.values()) != n:
        problems.append(f"outcomes total {sum(outcomes.values())} != {n}")
    if counts["processed"] != n:
        problems.append(f"processed_message rows {counts['processed']} != {n}")
    if counts["inbox_after"] != 0:
        problems.append(f"{counts['inbox_after']} message(s) left in INBOX")
    if counts["processed_folder"] != n:
        problems.append(f"Processed folder holds {counts['processed_folder']} != {n}")
    if counts["tickets"] != outcomes.get("ticket", 0):
        problems.append(f"tickets {counts['tickets']} != ticket outcomes")
    if counts["messages_in"] != outcomes.get("ticket", 0) + outcomes.get("reply", 0):
        problems.append(f"incoming messages {counts['messages_in']} != ticket+reply outcomes")
    if counts["quarantined"] != outcomes.get("quarantined", 0):
        problems.append(f"quarantined rows {counts['quarantined']} != outcome quarantined")
    counts["problems"] = problems  # type: ignore[assignment]
    return counts


# --------------------------------------------------------------------------- child process

def install_breakdown() -> dict[str, list[float]]:
    """Wrap pipeline stages and the main helpers with wall-clock timers, by replacing module
    globals only (rnmail's code is untouched; names missing from this rnmail version are
    skipped). Returns {name: [inclusive s, exclusive s, calls]}; exclusive time excludes
    the time spent in other wrapped functions, so exclusive times add up to the total."""
    import threading
    from time import perf_counter

    from rnmail.ingest import fetch, parse, pipeline, respond, runner
    from rnmail.util.blobs import BlobStore

    acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    local = threading.local()  # per thread: stack of [time spent in wrapped children]
    main_thread = threading.main_thread()

    def timed(name: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            stack = local.__dict__.setdefault("stack", [])
            label = name if threading.current_thread() is main_thread else f"[thread] {name}"
            frame = [0.0]
            stack.append(frame)
            t0 = perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = perf_counter() - t0
                stack.pop()
                if stack:
                    stack[-1][0] += elapsed
                slot = acc[label]
                slot[0] += elapsed
                slot[1] += elapsed - frame[0]
                slot[2] += 1
        return wrapper

    def patch(owner: Any, attr: str, name: str) -> None:
        if hasattr(owner, attr):
            setattr(owner, attr, timed(name, getattr(owner, attr)))

    pipeline.STAGES = tuple(timed(f"stage {s.__name__}", s) for s in pipeline.STAGES)
    for attr in ("ingest_batch", "process_batch", "process_one_by_one"):
        patch(runner, attr, attr)  # the pass calls these by the names it imported
    for attr in ("process_batch", "process", "process_one_by_one", "_write", "look_up",
                 "parse_message", "classify_message", "thread_message", "detect_language",
                 "open_ticket", "store_message", "record_bounce", "acknowledge",
                 "may_auto_reply", "within_daily_limit", "assign_ids", "_already_processed",
                 "_quarantine", "parse", "write", "_link_directory", "current_status",
                 "link_tickets"):
        patch(pipeline, attr, attr)
    from rnmail.dispatch import outbox
    from rnmail.ingest import store
    patch(store, "load", "store.load (new tickets)")
    def by_table(attr: str, fn: Any) -> Any:  # a row per table
        def wrapper(session: Any, table: Any, rows: Any, **kwargs: Any) -> Any:
            return timed(f"{attr} {table.name}", fn)(session, table, rows, **kwargs)
        return wrapper

    for attr in ("insert_rows", "insert_with_ids"):
        if hasattr(store, attr):
            setattr(store, attr, by_table(attr, getattr(store, attr)))
    if hasattr(outbox, "Queue"):
        patch(outbox.Queue, "write", "Queue.write (outbox)")
    patch(parse, "strip_quoted", "strip_quoted (display_text)")
    patch(parse, "html_to_text", "html_to_text (inscriptis)")
    for attr in ("render", "compose", "enqueue", "take_auto_reply_slot"):
        patch(respond, attr, attr)
    patch(BlobStore, "put", "blobs.put")
    patch(BlobStore, "_write", "blobs._write (files)")
    patch(BlobStore, "sync", "blobs.sync (os.sync)")
    patch(fetch.ImapSource, "done", "imap MOVE (done)")
    patch(fetch.ImapSource, "_sizes", "imap FETCH sizes")
    patch(fetch.ImapSource, "__enter__", "imap connect+login")
    orig_batches = fetch.ImapSource.batches

    def batches(self: Any, *args: Any) -> Iterator[Any]:
        it = orig_batches(self, *args)
        while True:
            t0 = perf_counter()
            try:
                item = next(it)
            except StopIteration:
                return
            finally:
                slot = acc["imap FETCH batch"]
                slot[0] += perf_counter() - t0
                slot[1] += perf_counter() - t0
                slot[2] += 1
            yield item

    fetch.ImapSource.batches = batches
    return acc


def vm_kb(*fields: str) -> int:
    """Sum of /proc/self/status fields in KB: VmHWM (peak RSS so far), VmRSS, RssAnon..."""
    fields = fields or ("VmHWM",)
    total = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            name = line.split(":", 1)[0]
            if name in fields:
                total += int(line.split()[1])
    return total


def install_rss_sampler() -> list[tuple[int, int, int, int, int]]:
    """Record (messages so far, RSS, anonymous RSS, file+shmem RSS, peak), in KB, after every
    ingest batch: one wrapper call per batch, negligible. Shows whether memory stays flat
    as the mailbox grows, and whether growth is heap (anon) or mapped files (SQLite)."""
    from rnmail.ingest import runner

    samples: list[tuple[int, int, int, int, int]] = []
    inner = runner.ingest_batch
    done = [0]

    @functools.wraps(inner)
    def ingest_batch(*args: Any, **kwargs: Any) -> Any:
        try:
            return inner(*args, **kwargs)
        finally:
            batch = args[4] if len(args) > 4 else kwargs.get("fetched", kwargs.get("batch", []))
            done[0] += len(batch)
            samples.append((done[0], vm_kb("VmRSS"), vm_kb("RssAnon"),
                            vm_kb("RssFile", "RssShmem"), vm_kb("VmHWM")))

    runner.ingest_batch = ingest_batch
    return samples


def child_main(spec_path: str) -> None:
    """Runs in the child: build the config, time run_ingest, write results as JSON."""
    import logging
    import resource

    if spec_path == "-":
        spec_path = sys.stdin.readline().strip()
        if not spec_path:
            return  # the parent ended without needing this child
    spec = json.loads(Path(spec_path).read_text())
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    from rnmail.config import parse_config
    from rnmail.db import Database
    from rnmail.ingest.runner import run_ingest

    config = parse_config(spec["config"], Path(spec["config_path"]))
    acc = install_breakdown() if spec["breakdown"] else None
    rss_samples = install_rss_sampler()
    db = Database(config.database.url)
    hwm_before = vm_kb()
    profiler = None
    if spec["profile"]:
        import cProfile
        profiler = cProfile.Profile()
    t0, cpu0 = time.perf_counter(), time.process_time()
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if profiler:
        profiler.enable()
    report = run_ingest(db, config)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - t0
    main_cpu = time.process_time() - cpu0  # this process only: not the parse-ahead one
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the parse-ahead process, reaped
    ahead_cpu = (kids.ru_utime + kids.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    db.dispose()
    import rnmail

    result: dict[str, Any] = {
        "rnmail_dir": str(Path(rnmail.__file__).parent),
        "elapsed": elapsed,
        "outcomes": report.outcomes,
        "errors": report.errors,
        "hwm_before_kb": hwm_before,
        "hwm_end_kb": vm_kb(),
        "rss_samples": rss_samples,
        "maxrss_self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "main_cpu_s": main_cpu,
        "ahead_cpu_s": ahead_cpu,
    }
    if acc is not None:
        result["breakdown"] = {k: v for k, v in acc.items()}
    if profiler:
        import io
        import pstats
        if spec.get("profile_out"):
            profiler.dump_stats(spec["profile_out"])
        for key in ("cumulative", "tottime"):
            buf = io.StringIO()
            stats = pstats.Stats(profiler, stream=buf)
            stats.strip_dirs().sort_stats(key).print_stats(25)
            result[f"profile_{key}"] = buf.getvalue()
    Path(spec["out"]).write_text(json.dumps(result))


# Peak RSS and fork: a child's ru_maxrss (getrusage(RUSAGE_CHILDREN), wait4) is the maximum
# over every memory image the process had, and its first image, before exec, is the parent's
# (fork copies it, vfork borrows it). A child forked from this parent after the corpus is built
# would report at least the parent's RSS (~100 MB for 20,000 messages). So the measured
# processes are forked at start-up, while the parent is still small, and wait on stdin
# for the go.

def spawn_child() -> subprocess.Popen:
    """An ingest child, forked now, that waits for its spec path on stdin."""
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--_child", "-"],
                            cwd=ROOT, stdin=subprocess.PIPE)


def spawn_cli() -> subprocess.Popen:
    """`rnmail --config FILE ingest once`, forked now; FILE comes on stdin (start-up, i.e.
    the exec of Python and the imports, happens only then, so it is part of the timing)."""
    exe = Path(sys.executable).parent / "rnmail"
    return subprocess.Popen(["/bin/sh", "-c", 'read -r cfg && exec "$0" --config "$cfg" '
                             "ingest once", str(exe)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def go(proc: subprocess.Popen, line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line.encode() + b"\n")
    proc.stdin.close()


def run_child(proc: subprocess.Popen, spec: dict[str, Any],
              work: Path) -> tuple[dict[str, Any], Any]:
    """Let a pre-spawned child run the ingest; returns (its result, its rusage)."""
    spec_path = work / "child-spec.json"
    spec["out"] = str(work / "child-result.json")
    spec_path.write_text(json.dumps(spec))
    go(proc, str(spec_path))
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"ingest child failed with status {proc.returncode}")
    return json.loads(Path(spec["out"]).read_text()), usage


def run_cli(proc: subprocess.Popen, config_file: Path) -> tuple[float, int, str]:
    """Let the pre-spawned CLI run; (seconds incl. start-up, peak RSS KB, its stdout)."""
    t0 = time.perf_counter()
    go(proc, str(config_file))
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"rnmail ingest once failed with status {proc.returncode}: {out}")
    return elapsed, usage.ru_maxrss, out.strip()


def parse_cli_outcomes(line: str) -> dict[str, int]:
    return {k: int(n) for n, k in re.findall(r"(\d+) ([a-z_]+)", line.split(":", 1)[-1])}


# --------------------------------------------------------------------------- main

def one_run(args: argparse.Namespace, dovecot: Any, corpus: list[bytes], run: int,
            work: Path, proc: subprocess.Popen) -> dict[str, Any]:
    n = len(corpus)
    dovecot.clear(USER)
    append_s = append_corpus(dovecot, corpus)
    log(f"[run {run}] appended {n} messages in {append_s:.1f}s (not timed)")

    raw_s = raw_baseline(dovecot, n, args.batch, bytes_only=False)
    move_all(dovecot, "Raw", "INBOX")
    raw_bytes_s = raw_baseline(dovecot, n, args.batch, bytes_only=True)
    move_all(dovecot, "Raw", "INBOX")
    log(f"[run {run}] raw imap-tools fetch+move: {n / raw_s:,.0f} msg/s ({raw_s:.2f}s); "
        f"bytes-only: {n / raw_bytes_s:,.0f} msg/s ({raw_bytes_s:.2f}s)")

    res: dict[str, Any] = {"run": run, "messages": n, "raw_s": raw_s, "raw_bytes_s": raw_bytes_s}
    with fresh_database(args.db, work, f"ingest-{run}") as url:
        upgrade(url)
        raw_cfg = config_raw(dovecot, url, work / f"desk-{run}", args.batch)
        spec = {"config": raw_cfg, "config_path": str(work / "rnmail.toml"),
                "breakdown": args.breakdown, "profile": args.profile,
                "profile_out": str(args.profile_out.resolve()) if args.profile_out else None}
        load_before = os.getloadavg()[0]
        child, usage = run_child(proc, spec, work)
        load_after = os.getloadavg()[0]
        if child["rnmail_dir"] != args.stamp["rnmail_dir"]:
            raise SystemExit(f"child imported rnmail from {child['rnmail_dir']}")
        if child["errors"]:
            raise SystemExit(f"ingest reported errors: {child['errors']}")
        checks = verify(dovecot, url, n, child["outcomes"])
    res.update(ingest_s=child["elapsed"], outcomes=child["outcomes"], checks=checks,
               peak_rss_mb=usage.ru_maxrss / 1024, child_cpu_s=usage.ru_utime + usage.ru_stime,
               load1=(load_before, load_after), child_self_rss_mb=child["maxrss_self_kb"] / 1024,
               rss_before_ingest_mb=child["hwm_before_kb"] / 1024,
               peak_own_image_mb=child["hwm_end_kb"] / 1024)
    samples = child["rss_samples"]
    if samples:
        picks = sorted({tuple(samples[int(q * (len(samples) - 1))]) for q in (0, .25, .5, .75, 1)})
        res["rss_curve_mb"] = [(m, *(round(kb / 1024) for kb in kbs)) for m, *kbs in picks]
        log(f"[run {run}] RSS after N messages (total = anon + file/shm, peak so far): "
            + ", ".join(f"{m}: {t} = {a} + {f} MB ({p})"
                        for m, t, a, f, p in res["rss_curve_mb"]))
    for key in ("breakdown", "profile_cumulative", "profile_tottime"):
        if key in child:
            res[key] = child[key]
    log(f"[run {run}] rnmail ingest: {n / res['ingest_s']:,.0f} msg/s ({res['ingest_s']:.2f}s), "
        f"ratio {raw_s / res['ingest_s']:.2f}, peak RSS {res['peak_rss_mb']:.0f} MB "
        f"(VmHWM {res['peak_own_image_mb']:.0f} MB, after imports "
        f"{res['rss_before_ingest_mb']:.0f} MB); child CPU "
        f"{res['child_cpu_s']:.1f}s incl. start-up, main process during the ingest "
        f"{child['main_cpu_s']:.1f}s, parse-ahead process {child['ahead_cpu_s']:.1f}s; "
        f"load {load_before:.1f}->{load_after:.1f}; "
        f"outcomes {child['outcomes']}")
    if checks["problems"]:
        log(f"[run {run}] CHECK FAILED: {checks['problems']}")
    return res


def cli_run(args: argparse.Namespace, dovecot: Any, n: int, work: Path,
            proc: subprocess.Popen, run: int) -> dict[str, Any]:
    moved = move_all(dovecot, "Processed", "INBOX")
    if moved != n:
        raise SystemExit(f"expected {n} processed messages to re-ingest, found {moved}")
    with fresh_database(args.db, work, f"cli-{run}") as url:
        upgrade(url)
        raw_cfg = config_raw(dovecot, url, work / f"desk-cli-{run}", args.batch)
        cfg_file = work / f"rnmail-cli-{run}.toml"
        cfg_file.write_text(to_toml(raw_cfg))
        elapsed, maxrss_kb, out = run_cli(proc, cfg_file)
        outcomes = parse_cli_outcomes(out)
        checks = verify(dovecot, url, n, outcomes)
    log(f"[run {run}] CLI rnmail ingest once (incl. start-up): {n / elapsed:,.0f} msg/s "
        f"({elapsed:.2f}s), peak RSS {maxrss_kb / 1024:.0f} MB; {out!r}")
    if checks["problems"]:
        log(f"[run {run}] CLI CHECK FAILED: {checks['problems']}")
    return {"cli_s": elapsed, "peak_rss_mb": maxrss_kb / 1024, "outcomes": outcomes,
            "checks": checks, "output": out}


def print_breakdown(res: dict[str, Any]) -> None:
    acc = res["breakdown"]
    total = res["ingest_s"]
    log(f"\nTime breakdown, wall clock (run_ingest total {total:.2f}s). 'self' excludes time "
        "in the other\nrows, so the self column of the main-thread rows adds up to the total "
        "([thread] rows run\nconcurrently); for ingest_batch / process* / _write 'self' is "
        "the ORM flush, COMMIT,\nSAVEPOINTs and queries not inside a listed function; "
        "'imap FETCH batch' is the main\nthread waiting for the next batch.")
    log(f"  {'function':34s} {'incl s':>8} {'self s':>8} {'self %':>7} {'calls':>7}")
    rows = sorted(acc.items(), key=lambda kv: (kv[0].startswith("[thread]"), -kv[1][1]))
    for name, (incl, excl, calls) in rows:
        log(f"  {name:34s} {incl:8.2f} {excl:8.2f} {100 * excl / total:6.1f}% {int(calls):7d}")
    rest = total - sum(v[1] for k, v in acc.items() if not k.startswith("[thread]"))
    log(f"  {'(rest of run_ingest)':34s} {'':8s} {rest:8.2f} {100 * rest / total:6.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=None,
                    help="how many messages (default 5000; 1000 with --profile)")
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--batch", type=int, default=100,
                    help="baseline fetch batch and rnmail [ingest] batch_size (default 100)")
    ap.add_argument("--runs", type=int, default=1, help="repeat baseline+ingest (default 1)")
    ap.add_argument("--no-cli", action="store_true", help="skip the timed CLI subprocess run")
    ap.add_argument("--breakdown", action="store_true",
                    help="time each pipeline stage (cheap wrappers; figures stay comparable)")
    ap.add_argument("--profile", action="store_true",
                    help="run the ingest under cProfile (default 1000 messages; rates not "
                         "comparable) and print the top 25 entries")
    ap.add_argument("--profile-out", type=Path,
                    help="with --profile: also save the raw pstats data to this file")
    ap.add_argument("--json", type=Path, help="also write all results to this JSON file")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        child_main(args._child)
        return
    from bench.configs import compile_as_installed

    compile_as_installed()
    n = args.messages or (1000 if args.profile else 5000)
    if args.profile:
        args.no_cli, args.runs = True, 1
    # Fork the measured processes first, while this process is small (see spawn_child).
    children = [spawn_child() for _ in range(args.runs)]
    cli_procs = [] if args.no_cli else [spawn_cli() for _ in range(args.runs)]

    from tests.harness.corpus import mixed_batch
    from tests.harness.servers import Dovecot, dovecot_version

    args.stamp = code_stamp()
    log(f"rnmail under test: {args.stamp['rnmail_dir']} (source {args.stamp['source_sha256']}, "
        f"git {args.stamp['git_head']})")

    t0 = time.perf_counter()
    corpus = mixed_batch(n, seed=1)
    version = ".".join(map(str, dovecot_version()))
    log(f"corpus: {n} messages, {sum(map(len, corpus)) / n / 1024:.1f} KB average, "
        f"built in {time.perf_counter() - t0:.1f}s; Dovecot {version}, "
        f"db {args.db}, batch {args.batch}")

    work = Path(tempfile.mkdtemp(prefix="rnmail-bench-"))
    results: dict[str, Any] = {"messages": n, "db": args.db, "batch": args.batch,
                               "code": args.stamp, "runs": []}
    try:
        with Dovecot(users=[USER]) as dovecot:
            for run in range(1, args.runs + 1):
                res = one_run(args, dovecot, corpus, run, work, children[run - 1])
                if cli_procs:
                    res["cli"] = cli_run(args, dovecot, n, work, cli_procs[run - 1], run)
                    res["cli_s"] = res["cli"]["cli_s"]
                    log(f"[run {run}] CLI ratio {res['raw_s'] / res['cli_s']:.2f} "
                        f"(raw fetch+move of the same run)")
                results["runs"].append(res)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    runs = results["runs"]
    log(f"\n=== ingest benchmark: {n} messages, {args.db}, batch {args.batch} ===")
    cli = bool(cli_procs)
    log(f"{'run':>4} {'raw msg/s':>10} {'bytes msg/s':>12} {'ingest msg/s':>13} {'ratio':>6} "
        f"{'ratio/bytes':>12} {'peak RSS MB':>12} {'tickets':>8} {'replies':>8} {'lost':>5}"
        + (f" {'CLI msg/s':>10} {'CLI ratio':>10} {'CLI RSS MB':>11}" if cli else ""))
    for r in runs:
        c = r["checks"]
        lost = n - c["processed"] + c["inbox_after"]
        log(f"{r['run']:>4} {n / r['raw_s']:>10,.0f} {n / r['raw_bytes_s']:>12,.0f} "
            f"{n / r['ingest_s']:>13,.0f} {r['raw_s'] / r['ingest_s']:>6.2f} "
            f"{r['raw_bytes_s'] / r['ingest_s']:>12.2f} {r['peak_rss_mb']:>12.0f} "
            f"{c['tickets']:>8} {r['outcomes'].get('reply', 0):>8} {lost:>5}"
            + (f" {n / r['cli_s']:>10,.0f} {r['raw_s'] / r['cli_s']:>10.2f} "
               f"{r['cli']['peak_rss_mb']:>11.0f}" if cli else ""))
    if len(runs) > 1:
        med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
        ratio = statistics.median(r["raw_s"] / r["ingest_s"] for r in runs)
        log(f"{'med':>4} {n / med('raw_s'):>10,.0f} {n / med('raw_bytes_s'):>12,.0f} "
            f"{n / med('ingest_s'):>13,.0f} {ratio:>6.2f} "
            f"{statistics.median(r['raw_bytes_s'] / r['ingest_s'] for r in runs):>12.2f} "
            f"{med('peak_rss_mb'):>12.0f}"
            + (f" {'':>8} {'':>8} {'':>5} {n / med('cli_s'):>10,.0f} "
               f"{statistics.median(r['raw_s'] / r['cli_s'] for r in runs):>10.2f}"
               if cli else ""))
    last = runs[-1]
    log(f"outcomes: {last['outcomes']}; database: "
        + ", ".join(f"{k} {v}" for k, v in last["checks"].items() if k != "problems"))
    target = 0.50 if args.db == "sqlite" else 0.35
    ok_ratio = all(r["raw_s"] / r.get("cli_s", r["ingest_s"]) >= target for r in runs)
    ok_rss = all(r["peak_rss_mb"] < 200 for r in runs)
    problems = [p for r in runs for p in r["checks"]["problems"]]
    problems += [p for r in runs if "cli" in r for p in r["cli"]["checks"]["problems"]]
    log(f"targets: {'CLI' if cli else 'ingest'} ratio >= {target:.2f} "
        f"{'met' if ok_ratio else 'MISSED'}"
        f"{' (profiled run: not meaningful)' if args.profile else ''}; "
        f"peak RSS < 200 MB {'met' if ok_rss else 'MISSED'}; "
        f"no message lost: {'yes' if not problems else 'NO: ' + '; '.join(problems)}")
    if "breakdown" in last:
        print_breakdown(last)
    if "profile_cumulative" in last:
        log("\ncProfile, top 25 by cumulative time:\n" + last["profile_cumulative"])
        log("cProfile, top 25 by own time:\n" + last["profile_tottime"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
