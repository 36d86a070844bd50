"""The public site under load: requests per second and p99 latency, against bare aiohttp.

What it measures, all on loopback, with one bounded asyncio client (aiohttp, ``--connections``
keep-alive connections each sending its next request as soon as the last one is read, for
``--seconds``), ``GET /status.json`` and ``GET /`` (the status page, ~10 KB):

1. **Raw baseline** -- a bare aiohttp server (``web.static`` on the same folder, no caching
   headers, no policy, no negotiation) as a subprocess; ``/`` is ``/index.html`` there.
2. **rnmail web** -- ``rnmail web`` as a subprocess on the same files. ratio = rnmail / raw.
3. **During a mailing** (unless ``--no-mailing``) -- ``rnmail run`` with ``[web].in_daemon``
   sending a mailing of ``--recipients`` to Postfix's ``smtp-sink``: the same client
   against ``rnmail web`` (another process) and against the daemon's own site, while the
   daemon sends; the messages sent during each measurement are counted, and during as
   long a pause without requests first.

The site is published first from a SQLite database (a degraded component, an incident with
updates, a maintenance ahead, two FAQ entries). The client runs in this process: on a small
machine it competes with the server for the CPU, the same way for both servers.

Run (from the repo root)::

    .venv/bin/python bench/web.py                     # 10 s per measurement, 32 connections
    .venv/bin/python bench/web.py --seconds 5 --no-mailing

Targets (issue 8): >= 2,000 requests/s for the static files, p99 < 50 ms.
Only loopback addresses and reserved domains are used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dispatch import (  # noqa: E402
    BODY,
    free_port,
    log,
    start_sink,
    write_group,
)
from bench.dispatch import write_config as dispatch_config  # noqa: E402
from rnmail.config import load_config  # noqa: E402
from rnmail.db import Database  # noqa: E402
from rnmail.directory.groups import import_lists  # noqa: E402
from rnmail.dispatch.announce import mailing_notice, send_mailing  # noqa: E402
from rnmail.models import Maintenance, OutboxMessage  # noqa: E402
from rnmail.status.components import set_status  # noqa: E402
from rnmail.status.notices import publish  # noqa: E402
from rnmail.tickets import faq  # noqa: E402

RUN = "from cli.program import run; run()"  # as the console script, `rnmail`
RAW = """
import sys
from aiohttp import web
app = web.Application()
app.router.add_static("/", sys.argv[1])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=None, access_log=None)
"""


def write_config(work: Path, smtp_port: int, web_port: int) -> Path:
    return dispatch_config(work, f"sqlite:///{work}/bench.db", smtp_port, 4, extra=f"""[daemon]
send_seconds = 0.5
publish_seconds = 60
[web]
bind = "127.0.0.1:{web_port}"
in_daemon = true
""")


def publish_site(config_path: Path) -> Database:
    config = load_config(config_path)
    db = Database(config.database.url)
    db.upgrade()
    now = datetime.now(UTC)
    with db.transaction() as session:
        for i, state in enumerate(("down", "degraded", "degraded")):
            set_status(session, config.status, state, ["web-services"],
                       {"fr": f"Lenteurs, mise à jour {i}", "nl": f"Traag, update {i}"}, "bench")
        session.add(Maintenance(starts_at=now + timedelta(days=2),
                                ends_at=now + timedelta(days=2, hours=3),
                                components=["natural-persons"], created_by="bench",
                                comment={"fr": "Mise à jour", "nl": "Update",
                                         "de": "Aktualisierung"}))
        for question in ("Clé d'accès bloquée ?", "Changement d'adresse ?"):
            faq.add_entry(session, "fr", question, BODY[:400], publish=True)
    publish(db, config)
    with db.transaction() as session:
        faq.publish(session, config)
    return db


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server on port {port} exited with {proc.returncode}")
        try:
            asyncio.run(_get_once(f"http://127.0.0.1:{port}/status.json"))
            return
        except (OSError, aiohttp.ClientError):
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"nothing listens on port {port}")


async def _get_once(url: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        await response.read()


async def load(url: str, connections: int, seconds: float) -> dict[str, float]:
    """``connections`` workers, each one keep-alive connection, for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm-up: open the connections, fill the server's caches.
        await asyncio.gather(*(_read(session, url) for _ in range(connections)))
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                try:
                    await _read(session, url)
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "requests": len(latencies), "errors": errors,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000}


async def _read(session: aiohttp.ClientSession, url: str) -> None:
    async with session.get(url) as response:
        await response.read()
        if response.status != 200:
            raise aiohttp.ClientResponseError(response.request_info, (),
                                              status=response.status)


def measure(name: str, port: int, path: str, args: argparse.Namespace) -> dict[str, float]:
    result = asyncio.run(load(f"http://127.0.0.1:{port}{path}", args.connections,
                              args.seconds))
    log(f"  {name:<28} GET {path:<12} {result['rps']:8,.0f} req/s  p50 "
        f"{result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
        f"({result['requests']:,} requests, {result['errors']} errors)")
    return result


def start(args: list[str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("w") as stderr:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    wait_listening(port, proc)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sent_count(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.state == "sent")) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--recipients", type=int, default=40_000)
    parser.add_argument("--no-mailing", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rnmail-bench-web-") as tmp:
        work = Path(tmp)
        smtp_port, daemon_port, web_port, raw_port = (free_port() for _ in range(4))
        config_path = write_config(work, smtp_port, daemon_port)
        db = publish_site(config_path)
        status_dir = work / "status"
        size = (status_dir / "index.html").stat().st_size
        log(f"site: index.html {size / 1024:.1f} KB, status.json "
            f"{(status_dir / 'status.json').stat().st_size / 1024:.1f} KB; "
            f"{args.connections} connections, {args.seconds:.0f} s per measurement; "
            f"{os.cpu_count()} CPU(s)")

        results: dict[str, dict[str, float]] = {}
        raw = start([sys.executable, "-c", RAW, str(status_dir), str(raw_port)], raw_port,
                    work / "raw.log")
        site = start([sys.executable, "-c", RUN, "--config", str(config_path), "web",
                      "--bind", f"127.0.0.1:{web_port}"], web_port, work / "web.log")
        try:
            for path, raw_path in (("/status.json", "/status.json"), ("/", "/index.html")):
                raw_result = measure("raw aiohttp web.static", raw_port, raw_path, args)
                ours = measure("rnmail web", web_port, path, args)
                results[path] = ours
                log(f"  ratio rnmail/raw {ours['rps'] / raw_result['rps']:.2f}")
        finally:
            stop(raw)

        if not args.no_mailing:
            sink = start_sink(smtp_port)
            try:
                write_group(work, args.recipients)
                config = load_config(config_path)
                import_lists(db, [work / "lists" / "bench-group.csv"])
                t0 = time.perf_counter()
                notice = mailing_notice(config, "circular",
                                        {"subject": "Clés d'accès", "body": BODY}, [])
                send_mailing(db, config, notice, ["bench-group"], "bench")
                log(f"mailing: {args.recipients:,} recipients queued in "
                    f"{time.perf_counter() - t0:.1f} s; rnmail run starts sending")
                daemon = start([sys.executable, "-c", RUN, "--config", str(config_path),
                                "run"], daemon_port, work / "run.log")
                try:
                    before = sent_count(db)
                    t0 = time.perf_counter()
                    time.sleep(args.seconds)
                    rate = (sent_count(db) - before) / (time.perf_counter() - t0)
                    log(f"  the daemon alone (no request): {rate:,.0f} mails/s")
                    for name, port in (("rnmail web, daemon sending", web_port),
                                       ("daemon's own site, sending", daemon_port)):
                        for path in ("/status.json", "/"):
                            before = sent_count(db)
                            t0 = time.perf_counter()
                            measure(name, port, path, args)
                            rate = (sent_count(db) - before) / (time.perf_counter() - t0)
                            log(f"    meanwhile the daemon sent {rate:,.0f} mails/s")
                    left = args.recipients - sent_count(db)
                    log(f"mailing: {left:,} still to send at the end of the measurements"
                        + ("" if left else " (finished early: the last figures are idle)"))
                finally:
                    stop(daemon)
            finally:
                stop(sink)
        stop(site)
        db.dispose()
        worst = max(r["p99_ms"] for r in results.values())
        slowest = min(r["rps"] for r in results.values())
        log(f"target >= 2,000 req/s and p99 < 50 ms: {slowest:,.0f} req/s, p99 "
            f"{worst:.2f} ms: {'met' if slowest >= 2000 and worst < 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
