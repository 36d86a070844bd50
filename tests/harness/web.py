"""The web servers under test: ``rnmail web``'s application on a loop thread, ``rnmail web``
and ``rnmail run`` as subprocesses, plain HTTP requests, a page's CSP reports."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rnmail.config import Config
from rnmail.web import server
from tests.harness.browser import Browser

ROOT = Path(__file__).resolve().parent.parent.parent
RUN = "from cli.main import main; main()"


class Server:
    """``rnmail.web.server.start`` on its own event loop thread, as ``rnmail web`` runs it."""

    def __init__(self, config: Config, bind: str | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        started = asyncio.run_coroutine_threadsafe(server.start(config, bind), self.loop)
        self.listening: server.Listening = started.result(10)
        self.url = self.listening.url
        self.port = int(self.url.rstrip("/").rpartition(":")[2])

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.listening.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""


def request(port: int, path: str, method: str = "GET", **headers: str) -> Reply:
    """One request, the path sent as written (no normalisation by the client)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers={k.replace("_", "-"): v
                                                  for k, v in headers.items()})
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def start_cli(config: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """``rnmail web`` as a subprocess; returns it once it printed its URL."""
    proc = subprocess.Popen([sys.executable, "-c", RUN, "--config", str(config), "web", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    ready, _, _ = select.select([proc.stderr], [], [], 30)
    line = proc.stderr.readline().decode() if ready else ""
    if "serving" not in line:
        proc.kill()
        raise AssertionError(f"rnmail web did not start: {line!r}")
    return proc, line


@contextlib.contextmanager
def running_daemon(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``rnmail -v run`` logging to ``log``, stopped at the end (``stopped_at_the_end``)."""
    with log.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", RUN, "--config", str(config), "-v",
                                 "run"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    with stopped_at_the_end(proc):
        yield proc


@contextlib.contextmanager
def stopped_at_the_end(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, stopped by SIGTERM at the end, which it must obey with exit
    status 0 (killed if the test failed first)."""
    try:
        yield proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def csp_messages(browser: Browser) -> list[str]:
    """What the console says about the policy (Log.enable replays the page's entries)."""
    browser.call("Log.enable")
    browser.evaluate("1")  # let the replayed entries arrive
    browser.call("Log.disable")
    entries = [e["params"]["entry"] for e in browser._events
               if e.get("method") == "Log.entryAdded"]
    browser._events.clear()
    return [e["text"] for e in entries if "Content Security Policy" in e.get("text", "")]
