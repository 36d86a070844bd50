"""Mailing throughput and status-page latency, against raw aiosmtplib in the same run.

What it measures, with Postfix's ``smtp-sink`` on a free loopback port as the receiver
(aiosmtpd saturates a core near 1,750 messages/s and would hide the sender's speed):

1. **Raw baseline** -- plain aiosmtplib: ``--connections`` connections opened once, each
   sending its share of N pre-serialized messages (the very bytes rnmail queued, read back
   from its outbox) with ``sendmail()`` one after the other. Nothing else. It runs before
   and after rnmail's send; the baseline is the mean of the two.
2. **rnmail** -- one announcement (template ``circular``, ~3.6 KB per mail) to a user group
   of N members in nl/fr/de: ``announce()`` (render once per language, N outbox rows) is
   timed apart as *queue*; then ``send_queued()`` (exactly what ``rnmail outbox send`` and
   the foreground ``announce`` run) drains the outbox over the same number of
   connections, recording every reply in the database: timed as *send*. Checked after:
   every row sent, smtp-sink's count matches.
3. **End to end** -- what an operator waits for: ``rnmail status set down --notify
   bench-group --yes`` as a new process (start-up, argon2 check, status change, 10,000 rows
   queued, page published, then the foreground send over the same connections), timed
   from the process start to the ``sent_at`` of the 9,750th row (the time to deliver all
   but the last 250: the tail is the last connections emptying). The raw baseline is the
   same: the time until its 9,750th reply, on the bytes the command queued, run twice after
   it (mean). The command sends a mailing this large with two processes (``send_in_two``,
   half the connections each), so a second baseline runs raw aiosmtplib the same way: two
   forked processes, half the connections each (mean of two), and the ratio to it is
   printed too. Then the same again with the command server running (``rnmail
   serve-commands``, what ``rnmail run`` keeps with ``[daemon].command_socket``): the
   console script hands it the command, which starts with everything imported.
4. **Status page** -- ``change_status()`` (what ``rnmail status set`` runs after the
   operator's password: set, audit, publish index.html + status.json + feed.atom) repeated
   ``--status-runs`` times, alternating degraded and operational, timed from the call to
   the files being in place; and the same through the CLI (a new process each time,
   Python start-up and the argon2 password check included) for a few runs.

Run (from the repo root; needs Postfix's smtp-sink, and PostgreSQL on 127.0.0.1:5432 for
``--db postgresql``)::

    .venv/bin/python bench/dispatch.py                      # 10,000 recipients, SQLite
    .venv/bin/python bench/dispatch.py --runs 3             # three runs and their median
    .venv/bin/python bench/dispatch.py --db postgresql

Targets: send/raw ratio >= 0.70; end-to-end/raw >= 0.70 (issue 20); median ``status set``
→ published page < 200 ms.
Only loopback addresses and reserved domains are used.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import csv
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.configs import compile_as_installed, write_bench_config  # noqa: E402
from rnmail.auth.operators import add_operator  # noqa: E402
from rnmail.config import load_config  # noqa: E402
from rnmail.db import Database  # noqa: E402
from rnmail.directory.groups import import_lists  # noqa: E402
from rnmail.dispatch.announce import mailing_notice, send_mailing  # noqa: E402
from rnmail.dispatch.send import send_queued  # noqa: E402
from rnmail.models import Announcement, OutboxBody, OutboxMessage  # noqa: E402
from rnmail.status.notices import change_status  # noqa: E402

RNMAIL = [sys.executable, "-c", "from cli.main import main; main()"]  # in a new process
PROGRAM = [sys.executable, "-c", "from cli.program import run; run()"]  # the console script
TAIL = 250  # the end-to-end clock stops when this many messages are left to deliver
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BODY = ("Madame, Monsieur,\n\nVeuillez trouver ci-dessous les nouvelles modalités de "
        "demande des clés d'accès au Registre national pour les services population. "
        * 6 + "\n\nCordialement,\nLe help desk")


def log(msg: str) -> None:
    print(msg, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not os.path.exists(sink):
        sys.exit("smtp-sink not found: install Debian's postfix (scripts/test does)")
    user = ["-u", "postfix"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([sink, *user, f"127.0.0.1:{port}", "1024"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    sys.exit("smtp-sink did not start")


def write_config(work: Path, db_url: str, port: int, connections: int,
                 extra: str = "") -> Path:
    return write_bench_config(work / "rnmail.toml", db_url, work,
                              smtp=f'host = "127.0.0.1"\nport = {port}', extra=f"""[outbox]
connections = {connections}
messages_per_connection = 1000000
{extra}""")


def write_group(work: Path, n: int) -> Path:
    lists = work / "lists"
    lists.mkdir(exist_ok=True)
    path = lists / "bench-group.csv"
    languages = ("nl", "fr", "de")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "language"])
        for i in range(n):
            writer.writerow([f"population{i}@municipality{i % 600}.example",
                             f"Service population {i}", languages[i % 3 if i % 20 else 2]])
    return path


def fresh_database(kind: str, work: Path, run: int) -> str:
    """A new SQLite file in ``work``, or a new PostgreSQL schema, dropped when the benchmark
    ends (``drop_schemas``)."""
    if kind == "sqlite":
        return f"sqlite:///{work}/bench-{run}.db"
    schema = f"bench_dispatch_{os.getpid()}_{run}"
    engine = Database(PG_URL).engine
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    if not SCHEMAS:
        atexit.register(drop_schemas)
    SCHEMAS.append(schema)
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


SCHEMAS: list[str] = []


def drop_schemas() -> None:
    engine = Database(PG_URL).engine
    with engine.begin() as conn:
        for schema in SCHEMAS:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


async def raw_replies(port: int, messages: list[tuple[str, bytes]], connections: int,
                      start: float) -> list[float]:
    """Plain aiosmtplib from ``start`` (a ``perf_counter`` time: the same clock in every
    process): the time of each reply."""
    shares = [messages[i::connections] for i in range(connections)]
    replies: list[float] = []

    async def one(share: list[tuple[str, bytes]]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60)
        await client.connect()
        for to, raw in share:
            await client.sendmail("info@rn.example", [to], raw)
            replies.append(time.perf_counter())
        await client.quit()

    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    await asyncio.gather(*(one(s) for s in shares))
    return replies


def raw_send(port: int, messages: list[tuple[str, bytes]], connections: int,
             tail: int = 0, processes: int = 1) -> float:
    """Messages per second of plain aiosmtplib; with ``tail``, counted up to the reply that
    leaves ``tail`` messages to go (the end-to-end measure's clock). With ``processes=2``,
    two forked processes with half the connections each (what ``send_in_two`` is compared
    with), started at the same moment."""
    if processes == 1:
        start = time.perf_counter()
        replies = asyncio.run(raw_replies(port, messages, connections, start))
    else:
        start = time.perf_counter() + 0.3  # both forked by then
        children = []
        for i in range(processes):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                times = asyncio.run(raw_replies(port, messages[i::processes],
                                                connections // processes, start))
                with os.fdopen(write_end, "w") as out:
                    json.dump(times, out)
                os._exit(0)
            os.close(write_end)
            children.append((pid, read_end))
        replies = []
        for pid, read_end in children:
            with os.fdopen(read_end) as answers:
                replies += json.load(answers)
            os.waitpid(pid, 0)
    counted = len(messages) - tail
    return counted / (sorted(replies)[counted - 1] - start)


def queued_messages(db: Database) -> list[tuple[str, bytes]]:
    with db.transaction() as session:
        bodies = {i: d for i, d in session.execute(select(OutboxBody.id, OutboxBody.data))}
        rows = session.execute(select(OutboxMessage.to_addr, OutboxMessage.raw,
                                      OutboxMessage.body_id)).all()
    return [(to, raw + bodies[body_id] if body_id else raw) for to, raw, body_id in rows]


def one_run(args: argparse.Namespace, port: int, work: Path, run: int) -> dict[str, float]:
    db_url = fresh_database(args.db, work, run)
    config_path = write_config(work, db_url, port, args.connections)
    write_group(work, args.recipients)
    config = load_config(config_path)
    db = Database(config.database.url)
    db.upgrade()
    import_lists(db, [work / "lists" / "bench-group.csv"])

    started = time.perf_counter()
    notice = mailing_notice(config, "circular", {"subject": "Clés d'accès", "body": BODY}, [])
    record = send_mailing(db, config, notice, ["bench-group"], "bench")
    queue_s = time.perf_counter() - started
    messages = queued_messages(db)
    size = statistics.mean(len(raw) for _, raw in messages)

    cpu = time.process_time()
    raw_before = raw_send(port, messages, args.connections)
    raw_cpu = time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    report = asyncio.run(send_queued(db, config))
    send_s, send_cpu = time.perf_counter() - started, time.process_time() - cpu
    # The raw baseline runs before and after rnmail and counts as their mean, so that a
    # change of the machine's load during the run weighs on both sides alike.
    raw_rate = (raw_before + raw_send(port, messages, args.connections)) / 2
    with db.transaction() as session:
        sent = session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.announcement_id == record.id,
                                     OutboxMessage.state == "sent"))
    if report.sent != args.recipients or sent != args.recipients:
        sys.exit(f"run {run}: {report.sent} reported, {sent} recorded sent, "
                 f"{args.recipients} expected")
    rate = args.recipients / send_s
    log(f"run {run}: {args.recipients} recipients, {size / 1024:.1f} KB/mail; queue "
        f"{queue_s:.2f} s ({args.recipients / queue_s:,.0f}/s); raw aiosmtplib "
        f"{raw_rate:,.0f} msg/s; rnmail send {rate:,.0f} msg/s; ratio {rate / raw_rate:.2f}; CPU "
        f"per mail: raw {raw_cpu / len(messages) * 1e6:.0f} µs, rnmail "
        f"{send_cpu / args.recipients * 1e6:.0f} µs")

    latencies = []
    for i in range(args.status_runs):
        state = "degraded" if i % 2 == 0 else "operational"
        t0 = time.perf_counter()
        change_status(db, config, "bench", state, ["web-services"],
                      {"fr": f"essai {i}", "nl": f"test {i}", "de": f"Test {i}"}, [], False)
        latencies.append((time.perf_counter() - t0) * 1000)
    page = config.status.public_dir / "status.json"
    assert page.exists()
    cli = cli_latency(config_path, work, args.cli_runs) if run == 1 else []
    db.dispose()
    e2e = ({**end_to_end(args, port, work, run), **end_to_end(args, port, work, run, True)}
           if args.end_to_end else {})
    return {**e2e, "raw": raw_rate, "rnmail": rate, "ratio": rate / raw_rate, "queue_s": queue_s,
            "raw_cpu_us": raw_cpu / len(messages) * 1e6,
            "send_cpu_us": send_cpu / args.recipients * 1e6,
            "status_median_ms": statistics.median(latencies),
            "status_p95_ms": sorted(latencies)[int(len(latencies) * 0.95) - 1],
            "cli_median_ms": statistics.median(cli) if cli else float("nan")}


def end_to_end(args: argparse.Namespace, port: int, work: Path, run: int,
               served: bool = False) -> dict[str, float]:
    """``rnmail status set down --notify`` to N members as a new process, until all but the
    last ``TAIL`` are delivered, against raw aiosmtplib on the same bytes; ``served``: with
    the command server running (what ``rnmail run`` keeps with ``[daemon].command_socket``),
    the console script handing it the command."""
    db_url = fresh_database(args.db, work, (200 if served else 100) + run)
    socket_path = Path(tempfile.mkdtemp(prefix="rnbench-", dir="/tmp")) / "commands.sock"
    config_path = write_config(work, db_url, port, args.connections,
                               f'[daemon]\ncommand_socket = "{socket_path}"' if served else "")
    write_group(work, args.recipients)
    db = Database(load_config(config_path).database.url)
    db.upgrade()
    import_lists(db, [work / "lists" / "bench-group.csv"])
    with db.transaction() as session:
        add_operator(session, "bench-op", "bench password 1")
    env = {**os.environ, "RNMAIL_CONFIG": str(config_path)}
    server = serve_commands(socket_path, env) if served else None
    started, children = datetime.now(UTC), resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_before, postgres_before = machine_busy(), cpu_of("postgres")
    subprocess.run([*PROGRAM, "status", "set", "down", "--comment",
                    "panne", "--notify", "bench-group", "--yes", "--operator", "bench-op",
                    "--password-stdin"],
                   input=b"bench password 1\n", env=env, cwd=ROOT, check=True,
                   capture_output=True)
    ended, after = datetime.now(UTC), resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = [b - a for a, b in zip(busy_before, machine_busy(), strict=True)]
    postgres = cpu_of("postgres") - postgres_before
    if server is not None:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(socket_path.parent, ignore_errors=True)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    with db.transaction() as session:
        queued_at = session.scalar(select(Announcement.created_at))
        sent = list(session.scalars(select(OutboxMessage.sent_at)
                                    .where(OutboxMessage.state == "sent")
                                    .order_by(OutboxMessage.sent_at)))
    if len(sent) != args.recipients:
        sys.exit(f"end to end, run {run}: {len(sent)} sent, {args.recipients} expected")
    counted = args.recipients - TAIL
    e2e_s = (sent[counted - 1] - started).total_seconds()
    messages = queued_messages(db)
    raw_rate = statistics.mean(raw_send(port, messages, args.connections, TAIL)
                               for _ in range(2))
    # The foreground send of a large mailing uses two processes (send_in_two): the same
    # connections, two cores.
    raw_two = statistics.mean(raw_send(port, messages, args.connections, TAIL, processes=2)
                              for _ in range(2))
    db.dispose()
    rate = counted / e2e_s
    assert queued_at is not None
    log(f"run {run}, end to end{' (command server)' if served else ''}: status set --notify "
        f"{args.recipients} members, "
        f"{statistics.mean(len(r) for _, r in messages) / 1024:.1f} KB/mail; announcement "
        f"row at {(queued_at - started).total_seconds():.2f} s, first sent at "
        f"{(sent[0] - started).total_seconds():.2f} s, {counted} sent at {e2e_s:.2f} s, "
        f"command done at {(ended - started).total_seconds():.2f} s; {rate:,.0f} msg/s; raw "
        f"aiosmtplib {raw_rate:,.0f} msg/s; ratio {rate / raw_rate:.2f}; raw aiosmtplib in two "
        f"processes {raw_two:,.0f} msg/s, ratio to it {rate / raw_two:.2f}; CPU of the command "
        f"{cpu:.2f} s, of PostgreSQL {postgres:.2f} s, of smtp-sink and the rest "
        f"{busy[0] / TICKS - cpu - postgres:.2f} s; the machine's cores "
        f"{busy[0] / busy[1]:.0%} busy")
    figures = {"e2e_raw": raw_rate, "e2e": rate, "e2e_ratio": rate / raw_rate,
               "e2e_raw_two": raw_two, "e2e_ratio_two": rate / raw_two, "e2e_cpu_s": cpu,
               "e2e_first_s": (sent[0] - started).total_seconds()}
    return {f"served_{key}" if served else key: value for key, value in figures.items()}


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores so far, from /proc/stat: how much of the machine
    a run used, whatever process did the work (PostgreSQL, smtp-sink, rnmail)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(name: str) -> float:
    """CPU seconds used so far by the running processes called ``name`` (their children
    that ended included, as the kernel counts them in cutime/cstime)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        if text[text.index("(") + 1:text.rindex(")")] == name:
            fields = text[text.rindex(")") + 2:].split()
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / TICKS


def serve_commands(socket_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``rnmail serve-commands`` for the config of ``env``, once its socket is there."""
    server = subprocess.Popen([*RNMAIL, "serve-commands"], env=env, cwd=ROOT,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not socket_path.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            sys.exit("rnmail serve-commands did not start")
        time.sleep(0.05)
    # The socket is taken before the imports: one command waits until the server is ready.
    subprocess.run([*PROGRAM, "status", "show", "--json"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    return server


def median_of(results: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in results if r[key] == r[key]]  # nan: not measured in that run
    return statistics.median(values) if values else float("nan")


def cli_latency(config_path: Path, work: Path, runs: int) -> list[float]:
    """`rnmail status set` as a user runs it: new process, password check, publish."""
    env = {**os.environ, "RNMAIL_CONFIG": str(config_path)}
    subprocess.run([*RNMAIL, "operator", "add", "bench-op", "--password-stdin"],
                   input=b"bench password 1\n", env=env, cwd=ROOT, check=True,
                   capture_output=True)
    times = []
    for i in range(runs):
        state = "down" if i % 2 == 0 else "operational"
        t0 = time.perf_counter()
        subprocess.run([*RNMAIL, "status", "set", state, "--comment", f"cli {i}",
                        "--operator", "bench-op", "--password-stdin"],
                       input=b"bench password 1\n", env=env, cwd=ROOT, check=True,
                       capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipients", type=int, default=10_000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--status-runs", type=int, default=40)
    ap.add_argument("--cli-runs", type=int, default=5)
    ap.add_argument("--no-end-to-end", dest="end_to_end", action="store_false",
                    help="skip the end-to-end `status set --notify` measure")
    args = ap.parse_args()
    compile_as_installed()
    port = free_port()
    sink = start_sink(port)
    log(f"bench/dispatch.py: {os.cpu_count()} CPUs, db={args.db}, smtp-sink on 127.0.0.1:"
        f"{port}, {args.connections} connections, {args.recipients} recipients")
    try:
        with tempfile.TemporaryDirectory(prefix="rnmail-bench-") as tmp:
            results = [one_run(args, port, Path(tmp), run) for run in range(1, args.runs + 1)]
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait()
    med = {key: median_of(results, key) for key in results[0]}
    log(f"median of {len(results)} run(s): raw {med['raw']:,.0f} msg/s, rnmail "
        f"{med['rnmail']:,.0f} msg/s, ratio {med['ratio']:.2f} (target >= 0.70); queueing "
        f"{med['queue_s']:.2f} s; CPU per mail: raw {med['raw_cpu_us']:.0f} µs, rnmail "
        f"{med['send_cpu_us']:.0f} µs")
    if args.end_to_end:
        log(f"end to end (status set --notify -> {args.recipients - TAIL} delivered): raw "
            f"{med['e2e_raw']:,.0f} msg/s, rnmail {med['e2e']:,.0f} msg/s, ratio "
            f"{med['e2e_ratio']:.2f} (target >= 0.70); first mail sent after "
            f"{med['e2e_first_s']:.2f} s; raw in two processes {med['e2e_raw_two']:,.0f} "
            f"msg/s, ratio to it {med['e2e_ratio_two']:.2f}")
        log(f"end to end with the command server: raw {med['served_e2e_raw']:,.0f} msg/s, "
            f"rnmail {med['served_e2e']:,.0f} msg/s, ratio {med['served_e2e_ratio']:.2f}; "
            f"first mail sent after {med['served_e2e_first_s']:.2f} s; ratio to raw in two "
            f"processes {med['served_e2e_ratio_two']:.2f}")
    log(f"status set -> published page: median {med['status_median_ms']:.1f} ms, p95 "
        f"{med['status_p95_ms']:.1f} ms in-process (target < 200 ms); through the CLI "
        f"(new process, argon2 check): median {med['cli_median_ms']:.0f} ms")


if __name__ == "__main__":
    main()
