"""A real headless Chromium, driven through the DevTools protocol, for what a person sees.
Each test process starts one and gives every page a browser context of its own.

The protocol runs over ``--remote-debugging-pipe`` (the transport Puppeteer and Playwright
use): Chromium reads commands from its fd 3 and writes replies and events to its fd 4, each
message one JSON text ended by a NUL byte. No port to find, no websocket client to install.

    with Browser() as browser:
        browser.navigate(path.as_uri())
        text = browser.evaluate("document.querySelector('#fr').innerText")
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
    "--window-size=1024,768", "--remote-debugging-pipe",
)
INSTALL_HINT = "apt-get install -y chromium fonts-liberation (scripts/test installs it)"


class BrowserError(RuntimeError):
    pass


def chromium_path() -> str:
    """The Chromium to use: $CHROMIUM, else chromium on the PATH; a clear error if none."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if not found:
        raise BrowserError(f"Chromium not found: {INSTALL_HINT}")
    return found


class Chromium:
    """One Chromium process and its DevTools pipe; the pages of several ``Browser``s may
    share it (each in its own browser context). Events are queued for the page (session)
    they are about, others for whoever is reading."""

    def __init__(self, executable: str, flags: tuple[str, ...]) -> None:
        self.profile = tempfile.TemporaryDirectory(prefix="rnmail-chromium-")
        self.stderr: Any = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as Chromium
        self.buffer = b""
        self.next_id = 0
        self.queues: dict[str, list[dict[str, Any]]] = {}  # session id -> its events
        self.to_browser = self.from_browser = -1
        self.process: subprocess.Popen[bytes] | None = None
        commands_r, commands_w = os.pipe()
        replies_r, replies_w = os.pipe()
        # Lift the child's ends above 9 so that "3<&N 4>&M" cannot clobber them (bash: dash
        # takes no fd above 9).
        child_r = fcntl.fcntl(commands_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(replies_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(commands_r)
        os.close(replies_w)
        try:
            self.process = subprocess.Popen(
                ["bash", "-c", f'exec "$@" 3<&{child_r} 4>&{child_w} {child_r}<&- {child_w}>&-',
                 "bash", executable, *FLAGS, *flags, f"--user-data-dir={self.profile.name}",
                 "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
                pass_fds=(child_r, child_w),
            )
        except OSError as exc:
            os.close(commands_w)
            os.close(replies_r)
            self.close()
            raise BrowserError(f"cannot start {executable}: {exc}; {INSTALL_HINT}") from exc
        finally:
            os.close(child_r)
            os.close(child_w)
        self.to_browser, self.from_browser = commands_w, replies_r

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def call(self, method: str, params: dict[str, Any], session_id: str, timeout: float,
             events: list[dict[str, Any]]) -> dict[str, Any]:
        """Send one command (to the page ``session_id``, or to the browser if empty) and
        return its result; events met meanwhile go to their page's queue, else ``events``."""
        self.next_id += 1
        sent = self.next_id
        message: dict[str, Any] = {"id": sent, "method": method, "params": params}
        if session_id:
            message["sessionId"] = session_id
        try:
            os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise BrowserError(f"{method}: Chromium is gone ({exc}){self.stderr_tail()}") \
                from exc
        deadline = time.monotonic() + timeout
        while True:
            reply = self.read(deadline, method, timeout)
            if reply.get("id") == sent:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.queues.get(reply.get("sessionId", ""), events).append(reply)

    def read(self, deadline: float, waiting_for: str, timeout: float) -> dict[str, Any]:
        """The next message from Chromium; an error with its stderr if it dies or stalls."""
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"{waiting_for}: no answer from Chromium within "
                                   f"{timeout:.0f} s{self.stderr_tail()}")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(f"{waiting_for}: Chromium exited{self.stderr_tail()}")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def close(self) -> None:
        if self.process is not None:
            try:
                if self.process.poll() is None:
                    with contextlib.suppress(BrowserError):  # it may exit before answering
                        self.call("Browser.close", {}, "", 5, [])
                    try:
                        self.process.wait(5)
                    except subprocess.TimeoutExpired:
                        self.process.kill()
                        self.process.wait(5)
            finally:
                self.process = None
        for fd in (self.to_browser, self.from_browser):
            if fd >= 0:
                os.close(fd)
        self.to_browser = self.from_browser = -1
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None
        self.profile.cleanup()

    def stderr_tail(self) -> str:
        if self.stderr is None:
            return ""
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return ("\nChromium stderr:\n" + "\n".join(lines[-15:])) if lines else ""


_shared: list[Chromium] = []  # this process's Chromium with the usual flags


def _close_shared() -> None:
    if _shared:
        _shared.pop().close()


def _shared_chromium(executable: str) -> Chromium:
    """The process's Chromium with the usual flags, started once (about 1 s, more on a
    loaded machine) and again only if it died; closed when the process exits."""
    if _shared and not _shared[0].alive():
        _close_shared()
    if not _shared:
        _shared.append(Chromium(executable, ()))
        atexit.register(_close_shared)
    return _shared[0]


class Browser:
    """One page (tab) in Chromium; start, navigate, evaluate, close.

    Without other flags the page lives in a browser context of its own (cookies, storage,
    cache, downloads: nothing shared with another page) of the process's one Chromium;
    with ``flags`` (or another ``executable``) it gets a Chromium of its own."""

    def __init__(self, executable: str | None = None, timeout: float = 15.0,
                 flags: tuple[str, ...] = ()) -> None:
        self.executable = executable
        self.flags = flags  # more command-line switches (e.g. --host-resolver-rules)
        self.timeout = timeout
        self.chromium: Chromium | None = None
        self.owned = False  # a Chromium of its own, closed with the page
        self.context_id = ""
        self.session_id = ""
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.chromium.process if self.chromium else None

    def start(self) -> Browser:
        executable = self.executable or chromium_path()
        self.owned = bool(self.executable or self.flags)
        self.chromium = Chromium(executable, self.flags) if self.owned \
            else _shared_chromium(executable)
        try:
            target: dict[str, Any] = {"url": "about:blank"}
            if not self.owned:
                self.context_id = self.call("Target.createBrowserContext",
                                            page=False)["browserContextId"]
                # A new window, the size of --window-size's.
                target.update(browserContextId=self.context_id, width=1024, height=768)
            created = self.call("Target.createTarget", target, page=False)
            attached = self.call("Target.attachToTarget",
                                 {"targetId": created["targetId"], "flatten": True}, page=False)
            self.session_id = attached["sessionId"]
            self.chromium.queues[self.session_id] = self._events
            self.call("Page.enable")
        except BaseException:
            self.close()
            raise
        return self

    def call(self, method: str, params: dict[str, Any] | None = None,
             page: bool = True) -> dict[str, Any]:
        """Send one command (to the page, or to the browser) and return its result."""
        if self.chromium is None:
            raise BrowserError(f"{method}: the browser is closed")
        params = dict(params or {})
        if not page and self.context_id and method == "Browser.setDownloadBehavior":
            params.setdefault("browserContextId", self.context_id)  # this page's only
        return self.chromium.call(method, params, self.session_id if page else "",
                                  self.timeout, self._events)

    def wait_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for index, event in enumerate(self._events):
                if event["method"] == method and event.get("sessionId") == self.session_id:
                    del self._events[: index + 1]
                    params: dict[str, Any] = event.get("params", {})
                    return params
            if self.chromium is None:
                raise BrowserError(f"{method}: the browser is closed")
            reply = self.chromium.read(deadline, method, self.timeout)
            if "method" in reply:
                self.chromium.queues.get(reply.get("sessionId", ""), self._events).append(reply)

    def navigate(self, url: str) -> None:
        """Open ``url`` in the page and wait until it has loaded."""
        self._events.clear()
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        if result.get("loaderId"):  # none for a jump within the same document
            self.wait_event("Page.loadEventFired")

    def submit(self, form_selector: str) -> None:
        """Submit a form as its button would (no submit event: the page runs no script)
        and wait until the page it leads to has loaded."""
        self._load_after(f"document.querySelector({json.dumps(form_selector)}).submit()")

    def follow(self, link_selector: str) -> None:
        """Click a link and wait until the page it leads to has loaded."""
        self._load_after(f"document.querySelector({json.dumps(link_selector)}).click()")

    def _load_after(self, action: str) -> None:
        self._events.clear()
        self.evaluate(action)
        self.wait_event("Page.loadEventFired")

    def screenshot(self, path: Path) -> bytes:
        """A PNG of the whole page, written to ``path``."""
        size = self.evaluate("({w: document.documentElement.scrollWidth, "
                             "h: document.documentElement.scrollHeight})")
        shot = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["w"], "height": size["h"], "scale": 1}})
        png = base64.b64decode(shot["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return png

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        result = self.call("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"evaluate failed: {text}\n{expression}")
        return result["result"].get("value")

    def close(self) -> None:
        chromium, self.chromium = self.chromium, None
        if chromium is None:
            return
        chromium.queues.pop(self.session_id, None)
        if self.owned:
            chromium.close()
        elif self.context_id and chromium.alive():
            # Its pages go with it; a Chromium that no longer answers is started anew.
            try:
                chromium.call("Target.disposeBrowserContext",
                              {"browserContextId": self.context_id}, "", self.timeout, [])
            except BrowserError:
                if _shared and _shared[0] is chromium:
                    _shared.pop().close()
        self.context_id = self.session_id = ""


def page_file(path: Path) -> str:
    """The file:// URL of a local file."""
    return path.resolve().as_uri()


@contextlib.contextmanager
def chromium_or_fail(*flags: str) -> Iterator[Browser]:
    """A started Chromium (with ``flags`` besides the usual ones), closed afterwards; one
    that cannot start fails the test (CI installs it: a missing browser is never a skip)."""
    import pytest

    try:
        chromium = Browser(flags=flags).start()
    except BrowserError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield chromium
    finally:
        chromium.close()
