"""The agents' desk under load: the queue page, a ticket page and (when it is served) the
call form's POST, with 200,000 tickets, while the daemon ingests; against a bare aiohttp
handler rendering the same queue template with the same rows.

What it measures, in one run per database (``--db``), all on loopback:

1. **Data** -- ``bench/ticket_queue.py``'s fill and desk shape (reused: ``bench/search.py``'s
   generator, 7 staff, 3 services, a directory, assignments, answers), then one ticket of
   20 messages (requests and answers, through ``open_by_hand``), and agent 1's desk
   password and second factor (``rnmail staff passwd`` / ``staff totp``'s core functions).
2. **Raw baseline** -- a bare aiohttp server (this script re-run with ``--_baseline``, a
   subprocess): at start it reads the queue page once, as the desk does for agent 1 (tab
   *new*, 25 rows); each ``GET /`` then renders ``queue.html.j2`` with those rows -- no
   session, no database, no policy headers.
3. **The desk** -- ``rnmail run`` (a subprocess) with ``[web].in_daemon`` and an
   ``admin_bind``, reading a Maildir every second and writing its mails as files. The
   benchmark signs agent 1 in over HTTP (e-mail, password, TOTP code) and loads, with that
   session, ``GET /desk/`` (the queue, tab *new*), ``GET /desk/tickets/{id}`` (the
   20-message ticket) and ``POST /desk/calls/new`` (a call answered at once, CSRF token and
   all: a new ticket each). First with an idle daemon, then while a feeder
   drops ``--feed`` mails a second (``tests.harness.corpus.mixed_batch``) into the Maildir
   -- the mails ingested meanwhile are counted.

Two loads, one asyncio client in this process:

- **human pace** (``--paced`` seconds, while the daemon ingests; the target is judged on
  it): the seven agents at work, ``--agents`` clients on their own keep-alive connection,
  each waiting a think time after every answer (exponential, mean ``--think`` s) and then
  asking the queue, the ticket or a call (``MIX``); p50/p99 per page;
- **back to back** (saturation), as ``bench/web.py``: ``--connections`` keep-alive
  connections, each sending its next request as soon as the last answer is read, for
  ``--seconds`` per page after a warm-up; p50, p99, requests/s, and the ratio to the
  baseline measured in the same run. Three levels by default: 1 connection (a page's own
  latency), 4 and 8 (more than the seven agents clicking at the same instant without
  pause: the server saturated, so its p99 is mostly queueing).

The client shares the two cores with the servers.

Run (from the repo root; PostgreSQL on 127.0.0.1:5432, trust auth, database ``test``)::

    .venv/bin/python bench/desk.py                          # both databases, 200,000 tickets
    .venv/bin/python bench/desk.py --db sqlite --tickets 20000 --seconds 5   # a quick check

A measurement is one function (``@measured``): the call form's POST is ``post_call``.
Target (issue 17): p99 < 100 ms for each page at human pace while the daemon ingests (at 1
connection when ``--paced 0``); exit status 1 when missed. Results also as JSON with
``--json FILE``. Only loopback addresses and reserved domains are used.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.append(str(extra))

from configs import write_bench_config  # noqa: E402  (bench/configs.py)
from ingest import code_stamp, log  # noqa: E402  (bench/ingest.py)
from search import fill, fresh_database  # noqa: E402  (bench/search.py)
from ticket_queue import shape  # noqa: E402  (bench/ticket_queue.py: the desk's shape)

RUN = "from cli.main import main; main()"
AGENT = "agent1@rn.example"  # staff id 1 of ticket_queue.shape, with tickets of its own
PASSWORD = "correct horse battery staple"
MESSAGES = 20
TARGET_MS = 100.0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------- the data

def long_ticket(db: Any, config: Any) -> int:
    """A ticket of ``MESSAGES`` messages: a call, then the requester's mails and the
    help desk's answers in turn (through the core, as a ticket page reads them)."""
    from rnmail.models import Message, utcnow
    from rnmail.tickets.history import Actor
    from rnmail.tickets.lifecycle import open_by_hand

    paragraph = ("Bonjour, notre clé d'accès au Registre national ne fonctionne plus depuis "
                 "la mise à jour de ce matin. Pourriez-vous nous aider ? ") * 6
    with db.transaction() as session:
        ticket = open_by_hand(session, config.workflow, "fr", actor=Actor.system("bench"),
                              channel="phone", requester="service.population@sombreffe.example",
                              requester_name="Claire Dubois", subject="Clé d'accès bloquée",
                              note=paragraph, category="access-key")
        for i in range(1, MESSAGES):
            incoming = i % 2 == 0
            session.add(Message(
                ticket=ticket, direction="in" if incoming else "out",
                kind="correspondence",
                from_addr=ticket.requester if incoming else "info@rn.example",
                from_name="Claire Dubois" if incoming else "Agent 1",
                to_addrs=[] if incoming else [ticket.requester], cc_addrs=[],
                subject=f"Re: [RN #{ticket.id}] Clé d'accès bloquée", date=utcnow(),
                text=f"{i}. {paragraph}", display_text=f"{i}. {paragraph}", mailbox=None))
        session.flush()
        return int(ticket.id)


def follow_ids(db: Any) -> None:
    """PostgreSQL: the fill inserted its rows with their ids; the sequences go on from the
    largest (else the next ticket the daemon or the core makes takes id 1 again)."""
    from sqlalchemy import text

    from rnmail.models import Base

    with db.engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if "id" in table.c and table.c.id.autoincrement in (True, "auto"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                                  f"'id'), COALESCE((SELECT max(id) FROM {table.name}), 0) "
                                  "+ 1, false)"))


def agent_key(db: Any, config: Any) -> str:
    """Agent 1's desk password and second factor; returns the TOTP secret."""
    from rnmail.auth import staff
    from rnmail.auth.signin import TotpCipher

    with db.transaction() as session:
        staff.set_password(session, AGENT, PASSWORD)
        uri = staff.enable_totp(session, AGENT, cipher=TotpCipher(config.helpdesk.secret))
    found = re.search(r"secret=([A-Z2-7]+)", uri)
    assert found, uri
    return found.group(1)


def write_config(work: Path, kind: str, url: str, web_port: int, desk_port: int) -> Path:
    return write_bench_config(
        work / f"{kind}.toml", url, work, status=f"status-{kind}",
        smtp=f'transport = "file"\ndirectory = "{work}/outgoing-{kind}"', extra=f"""[daemon]
poll_seconds = 1
send_seconds = 1
[web]
bind = "127.0.0.1:{web_port}"
admin_bind = "127.0.0.1:{desk_port}"
in_daemon = true
secure_cookies = false
[[mailbox]]
name = "info"
kind = "info"
type = "maildir"
path = "{work}/maildir-{kind}"
""")


# ---------------------------------------------------------------------------- the baseline

def serve_baseline(config_path: Path, port: int) -> None:
    """The bare handler (``--_baseline``): the queue page read once, rendered per request."""
    from aiohttp import web

    from rnmail.auth.sessions import SignedIn
    from rnmail.config import load_config
    from rnmail.db import Database
    from rnmail.web.desk.base import DESK_LANGUAGES, environment, member_name
    from rnmail.web.desk.queue import Asked, page_context, queue_page

    config = load_config(config_path)
    db = Database(config.database.url)
    wanted = Asked()
    with db.transaction() as session:
        found, offered = queue_page(session, config, wanted, AGENT)
        context = {**page_context(found, wanted, offered, config, "fr"),
                   "me": member_name(session, AGENT), "notice": None,
                   "signed": SignedIn(AGENT, secrets.token_urlsafe(32), "staff"),
                   "lang": "fr", "here": "/desk/", "languages_ui": DESK_LANGUAGES,
                   "switch": "lang"}
    db.dispose()

    async def handler(_request: web.Request) -> web.Response:
        html = environment("fr", config.helpdesk.timezone).get_template(
            "queue.html.j2").render(context)
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ---------------------------------------------------------------------------- the load

@dataclass
class Desk:
    """The signed-in desk the measurements talk to."""

    base: str  # http://127.0.0.1:PORT
    cookie: str  # the session's Cookie header
    csrf: str
    ticket_id: int
    services: list[str]
    serial: itertools.count[int] = field(default_factory=itertools.count)


Measurement = Callable[[aiohttp.ClientSession, Desk], Awaitable[None]]


@dataclass(frozen=True)
class Measured:
    name: str
    run: Measurement
    needs: str | None  # a path that must answer 200 first (a page being built elsewhere)


MEASUREMENTS: list[Measured] = []


def measured(name: str, needs: str | None = None) -> Callable[[Measurement], Measurement]:
    """Register a measurement: one request, checked, against the signed-in desk."""
    def register(run: Measurement) -> Measurement:
        MEASUREMENTS.append(Measured(name, run, needs))
        return run
    return register


async def expect(response: aiohttp.ClientResponse, status: int) -> None:
    body = await response.read()
    if response.status != status:
        said = re.search(rb'class="(?:field-)?error"[^>]*>([^<]+)', body)
        raise aiohttp.ClientResponseError(
            response.request_info, (), status=response.status,
            message=f"expected {status}"
            + (f": {said.group(1).decode(errors='replace')}" if said else ""))


@measured("GET /desk/ (queue)")
async def get_queue(client: aiohttp.ClientSession, desk: Desk) -> None:
    async with client.get(f"{desk.base}/desk/", headers={"Cookie": desk.cookie}) as r:
        await expect(r, 200)


@measured("GET /desk/tickets/{id} (20 messages)")
async def get_ticket(client: aiohttp.ClientSession, desk: Desk) -> None:
    async with client.get(f"{desk.base}/desk/tickets/{desk.ticket_id}",
                          headers={"Cookie": desk.cookie}) as r:
        await expect(r, 200)


@measured("POST /desk/calls/new (call answered)", needs="/desk/calls/new")
async def post_call(client: aiohttp.ClientSession, desk: Desk) -> None:
    n = next(desk.serial)
    form = {"csrf": desk.csrf, "phone": f"+3250{n % 1_000_000:06d}", "caller": f"Appelant {n}",
            "email": "", "language": "fr", "subject": "Question sur un certificat",
            "text": "Réponse donnée au téléphone.", "category": "certificate",
            "requester_type": "citizen", "outcome": "close", "service": ""}
    async with client.post(f"{desk.base}/desk/calls/new", data=form, allow_redirects=False,
                           headers={"Cookie": desk.cookie,
                                    "Origin": desk.base}) as r:
        await expect(r, 303)


# How often each page is asked at human pace: an agent reads a ticket after nearly every
# look at the queue, and logs a call now and then (the others' weight is 1).
MIX = {"GET /desk/ (queue)": 4.0, "GET /desk/tickets/{id} (20 messages)": 4.0,
       "POST /desk/calls/new (call answered)": 2.0}


async def load(desk: Desk, run: Measurement, connections: int, seconds: float
               ) -> dict[str, float]:
    """``connections`` workers, each one keep-alive connection, for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as client:
        await asyncio.gather(*(run(client, desk) for _ in range(connections)))  # warm-up
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                try:
                    await run(client, desk)
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    if not latencies:
        raise SystemExit("no request succeeded")
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "requests": len(latencies), "errors": errors,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
            "load1": os.getloadavg()[0]}


async def paced(desk: Desk, todo: list[Measured], agents: int, think: float, seconds: float,
                seed: int) -> dict[str, dict[str, float]]:
    """The seven agents at human pace: ``agents`` clients, each with its own keep-alive
    connection, each waiting a think time (exponential, mean ``think`` s) after an answer
    before its next request, the request drawn from ``MIX`` among ``todo``; for ``seconds``.
    Latencies per page (the think time not counted)."""
    import random

    rng = random.Random(seed)
    weights = [MIX.get(m.name, 1.0) for m in todo]
    latencies: dict[str, list[float]] = {m.name: [] for m in todo}
    errors = dict.fromkeys(latencies, 0)
    stop_at = time.perf_counter() + seconds

    async def agent() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as client:
            await todo[0].run(client, desk)  # its connection opened
            await asyncio.sleep(rng.expovariate(1 / think))
            while time.perf_counter() < stop_at:
                m = rng.choices(todo, weights)[0]
                t0 = time.perf_counter()
                try:
                    await m.run(client, desk)
                    latencies[m.name].append(time.perf_counter() - t0)
                except aiohttp.ClientError:
                    errors[m.name] += 1
                await asyncio.sleep(rng.expovariate(1 / think))

    started = time.perf_counter()
    await asyncio.gather(*(agent() for _ in range(agents)))
    elapsed = time.perf_counter() - started
    results = {}
    for name, found in latencies.items():
        if not found:
            continue
        found.sort()
        results[name] = {
            "rps": len(found) / elapsed, "requests": len(found), "errors": errors[name],
            "p50_ms": statistics.median(found) * 1000,
            "p99_ms": found[max(0, int(len(found) * 0.99) - 1)] * 1000,
            "max_ms": found[-1] * 1000, "load1": os.getloadavg()[0]}
    return results


def show(label: str, result: dict[str, Any]) -> None:
    log(f"  {label:<52} {result['rps']:7,.0f} req/s  p50 {result['p50_ms']:6.1f} ms  "
        f"p99 {result['p99_ms']:6.1f} ms  ({result['requests']:,} requests, "
        f"{result['errors']} errors, load {result['load1']:.1f})")


async def sign_in(base: str, secret: str) -> tuple[str, str]:
    """Agent 1 signs in as a browser does; returns (Cookie header, CSRF token)."""
    import pyotp

    async with aiohttp.ClientSession() as client:
        async with client.get(f"{base}/desk/login") as r:
            page = await r.text()
            login = r.cookies["rnmail_desk_login"].value
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token, page
        fields = {"csrf": token.group(1), "email": AGENT, "password": PASSWORD,
                  "code": pyotp.TOTP(secret).now()}
        async with client.post(f"{base}/desk/login", data=fields, allow_redirects=False,
                               headers={"Cookie": f"rnmail_desk_login={login}"}) as r:
            await r.read()
            if r.status != 303:
                raise SystemExit(f"sign-in refused: {r.status}")
            cookie = f"rnmail_desk={r.cookies['rnmail_desk'].value}"
        async with client.get(f"{base}/desk/", headers={"Cookie": cookie}) as r:
            page = await r.text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf, page[:500]
        return cookie, csrf.group(1)


async def answers(url: str, cookie: str = "") -> int:
    async with aiohttp.ClientSession() as client, client.get(
            url, headers={"Cookie": cookie} if cookie else {}, allow_redirects=False) as r:
        await r.read()
        return r.status


# ---------------------------------------------------------------------------- processes

def start(args: list[str], port: int, log_path: Path, path: str = "/") -> subprocess.Popen[bytes]:
    with log_path.open("w") as stderr:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{args[-1]} exited with {proc.returncode}: "
                     f"{log_path.read_text()[-2000:]}")
        try:
            asyncio.run(answers(f"http://127.0.0.1:{port}{path}"))
            return proc
        except (OSError, aiohttp.ClientError):
            time.sleep(0.2)
    proc.kill()
    sys.exit(f"nothing listens on port {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Feeder:
    """Drops ``rate`` mails a second into the Maildir's ``new/`` while it runs; counts what
    the daemon moved to ``.Processed/cur``."""

    def __init__(self, maildir: Path, rate: float) -> None:
        from tests.harness.corpus import mixed_batch

        self.new, self.done = maildir / "new", maildir / ".Processed" / "cur"
        self.new.mkdir(parents=True, exist_ok=True)
        self.rate = rate
        self.corpus = mixed_batch(500, seed=17)
        self.dropped = 0
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def processed(self) -> int:
        return sum(1 for _ in self.done.iterdir()) if self.done.is_dir() else 0

    def __enter__(self) -> Feeder:
        def run() -> None:
            started = time.monotonic()
            while not self.stopping.wait(0.05):
                due = int((time.monotonic() - started) * self.rate)
                while self.dropped < due:
                    raw = self.corpus[self.dropped % len(self.corpus)]
                    # a new Message-ID each time: not a duplicate of the earlier round
                    raw = raw.replace(b"Message-ID: <", f"Message-ID: <f{self.dropped}.".encode(),
                                      1)
                    tmp = self.new.parent / "tmp" / f"{self.dropped}.eml"
                    tmp.parent.mkdir(exist_ok=True)
                    tmp.write_bytes(raw)
                    tmp.rename(self.new / f"{self.dropped}.eml")
                    self.dropped += 1

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        if self.thread:
            self.thread.join()


# ---------------------------------------------------------------------------- one database

def one_database(args: argparse.Namespace, kind: str, work: Path) -> dict[str, Any]:
    from rnmail.config import load_config
    from rnmail.db import Database

    results: dict[str, Any] = {"db": kind}
    with fresh_database(kind, work, False) as url:
        web_port, desk_port, raw_port = free_port(), free_port(), free_port()
        config_path = write_config(work, kind, url, web_port, desk_port)
        config = load_config(config_path)
        db = Database(url)
        try:
            db.upgrade()
            filled = fill(db, args.tickets, args.seed, kind)
            log(f"[{kind}] fill: {filled['tickets']:,} tickets, {filled['messages']:,} "
                f"messages in {filled['fill_s']:.0f}s")
            log(f"[{kind}] staff, directory, assignments, answers in {shape(db, kind):.1f}s")
            if kind == "postgresql":
                follow_ids(db)
            ticket_id = long_ticket(db, config)
            secret = agent_key(db, config)
            from rnmail.tickets.team import list_services
            with db.transaction() as session:
                services = [s["name"] for s in list_services(session)]
        finally:
            db.dispose()
        results["fill"] = filled

        raw = start([sys.executable, str(Path(__file__)), "--_baseline", str(config_path),
                     str(raw_port)], raw_port, work / f"baseline-{kind}.log")
        daemon = start([sys.executable, "-c", RUN, "--config", str(config_path), "run"],
                       desk_port, work / f"run-{kind}.log", "/desk/login")
        try:
            base = f"http://127.0.0.1:{desk_port}"
            cookie, csrf = asyncio.run(sign_in(base, secret))
            time.sleep(args.settle)  # the daemon's start-up jobs (publish, first poll)
            desk = Desk(base, cookie, csrf, ticket_id, services)
            todo = []
            for m in MEASUREMENTS:
                if m.needs and asyncio.run(answers(base + m.needs, cookie)) != 200:
                    log(f"[{kind}] {m.name}: not measured, {m.needs} is not served yet")
                    continue
                todo.append(m)

            async def bare(_client: aiohttp.ClientSession, _desk: Desk) -> None:
                async with _client.get(f"http://127.0.0.1:{raw_port}/") as r:
                    await expect(r, 200)

            log(f"[{kind}] {args.seconds:.0f} s per measurement; connections "
                f"{', '.join(map(str, args.connections))}")
            baseline = {}
            for n in args.connections:
                baseline[n] = asyncio.run(load(desk, bare, n, args.seconds))
                show(f"bare aiohttp handler, queue template, {n} conn.", baseline[n])
            results["baseline"] = baseline
            stop(raw)
            for phase, rate in (("idle daemon", 0.0), ("daemon ingesting", args.feed)):
                log(f"[{kind}] the desk in rnmail run, {phase}"
                    + (f" ({rate:g} mails/s dropped into its Maildir)" if rate else ""))
                feeder = Feeder(work / f"maildir-{kind}", rate)
                with feeder:
                    for m, n in itertools.product(todo, args.connections):
                        before, t0 = feeder.processed(), time.perf_counter()
                        result = asyncio.run(load(desk, m.run, n, args.seconds))
                        result["ingested_per_s"] = (feeder.processed() - before) / (
                            time.perf_counter() - t0)
                        show(f"{m.name}, {n} conn.", result)
                        if m.run is get_queue:
                            log(f"    ratio to the bare handler: req/s "
                                f"{result['rps'] / baseline[n]['rps']:.2f}, p50 "
                                f"{result['p50_ms'] / baseline[n]['p50_ms']:.1f}x, p99 "
                                f"{result['p99_ms'] / baseline[n]['p99_ms']:.1f}x")
                        if rate:
                            log(f"    meanwhile the daemon ingested "
                                f"{result['ingested_per_s']:.1f} mails/s")
                        results.setdefault(phase, {})[f"{m.name}, {n} conn."] = result
                    if rate and args.paced:
                        before, t0 = feeder.processed(), time.perf_counter()
                        log(f"  -- at human pace: {args.agents} agents, each waiting "
                            f"{args.think:g} s on average (exponential) between requests, "
                            f"for {args.paced:.0f} s --")
                        found = asyncio.run(paced(desk, todo, args.agents, args.think,
                                                  args.paced, args.seed))
                        ingested = (feeder.processed() - before) / (time.perf_counter() - t0)
                        for name, result in found.items():
                            result["ingested_per_s"] = ingested
                            show(f"{name}, {args.agents} agents paced", result)
                            results.setdefault("paced", {})[
                                f"{name}, {args.agents} agents paced"] = result
                        log(f"    meanwhile the daemon ingested {ingested:.1f} mails/s")
                if rate:
                    log(f"[{kind}] fed {feeder.dropped} mails, {feeder.processed()} ingested "
                        "by the end")
        finally:
            if raw.poll() is None:
                stop(raw)
            stop(daemon)
    return results


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--_baseline":
        serve_baseline(Path(sys.argv[2]), int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--tickets", type=int, default=200_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=lambda v: [int(n) for n in v.split(",")],
                    default=[1, 4, 8], help="concurrent clients, each level measured: one "
                    "agent at a time, a busy moment, more than the seven agents at once (1,4,8)")
    ap.add_argument("--feed", type=float, default=5.0,
                    help="mails a second dropped into the Maildir while the daemon ingests")
    ap.add_argument("--settle", type=float, default=5.0,
                    help="seconds left to the daemon's start-up jobs before measuring")
    ap.add_argument("--paced", type=float, default=60.0,
                    help="seconds of the human-pace load while the daemon ingests (0: none)")
    ap.add_argument("--agents", type=int, default=7, help="clients of the human-pace load")
    ap.add_argument("--think", type=float, default=1.0,
                    help="mean think time of an agent between two requests, seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = ap.parse_args()
    stamp = code_stamp()
    import sqlite3

    import sqlalchemy
    log(f"rnmail under test: {stamp['rnmail_dir']} (git {stamp['git_head']}); Python "
        f"{sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, SQLAlchemy "
        f"{sqlalchemy.__version__}, aiohttp {aiohttp.__version__}; {os.cpu_count()} CPUs; "
        f"load {os.getloadavg()[0]:.1f}")
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    work = Path(tempfile.mkdtemp(prefix="rnmail-bench-desk-"))
    runs = []
    try:
        for kind in kinds:
            runs.append(one_database(args, kind, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # The target is judged on what agents do: the human-pace load (and one connection, a
    # page's own latency, when it was not run); the back-to-back rows at more connections
    # saturate the server on purpose (the headroom), and are listed apart.
    judged: list[tuple[str, str, float]] = []
    for run in runs:
        rows = run.get("paced") or {k: v for k, v in run["daemon ingesting"].items()
                                    if k.endswith(", 1 conn.")}
        for name, r in rows.items():
            judged.append((run["db"], name, r["p99_ms"]))
            log(f"[{run['db']}] {name}: p99 {r['p99_ms']:.1f} ms while ingesting -> "
                f"{'met' if r['p99_ms'] < TARGET_MS else 'MISSED'}")
        for name, r in run["daemon ingesting"].items():
            if not name.endswith(", 1 conn."):
                log(f"[{run['db']}] saturation (back to back, not the target): {name}: p99 "
                    f"{r['p99_ms']:.1f} ms, {r['rps']:.0f} req/s")
    worst = max(p99 for _db, _name, p99 in judged)
    log(f"\nslowest p99 while the daemon ingests, "
        f"{'agents at human pace' if any('paced' in n for _d, n, _p in judged) else '1 conn.'}"
        f": {worst:.1f} ms -> target p99 < {TARGET_MS:.0f} ms "
        f"{'met' if worst < TARGET_MS else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps({"code": stamp, "args": vars(args), "runs": runs},
                                        indent=2, default=str))
    if worst >= TARGET_MS:
        sys.exit(1)


if __name__ == "__main__":
    main()
