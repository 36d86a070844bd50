"""A real headless Chromium, driven through the DevTools protocol, for what a person sees.

The protocol runs over ``--remote-debugging-pipe`` (the transport Puppeteer and Playwright
use): Chromium reads commands from its fd 3 and writes replies and events to its fd 4, each
message one JSON text ended by a NUL byte. No port to find, no websocket client to install.

    with Browser() as browser:
        browser.navigate(path.as_uri())
        text = browser.evaluate("document.querySelector('#fr').innerText")
"""

from __future__ import annotations

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


class Browser:
    """One Chromium process with one page (tab); start, navigate, evaluate, close."""

    def __init__(self, executable: str | None = None, timeout: float = 15.0,
                 flags: tuple[str, ...] = ()) -> None:
        self.executable = executable
        self.flags = flags  # more command-line switches (e.g. --host-resolver-rules)
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.session_id = ""
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._stderr: Any = None
        self._to_browser = -1
        self._from_browser = -1
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def start(self) -> Browser:
        executable = self.executable or chromium_path()
        self._profile = tempfile.TemporaryDirectory(prefix="rnmail-chromium-")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as Chromium
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
                 "bash", executable, *FLAGS, *self.flags, f"--user-data-dir={self._profile.name}",
                 "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
                pass_fds=(child_r, child_w),
            )
        except OSError as exc:
            os.close(commands_w)
            os.close(replies_r)
            raise BrowserError(f"cannot start {executable}: {exc}; {INSTALL_HINT}") from exc
        finally:
            os.close(child_r)
            os.close(child_w)
        self._to_browser, self._from_browser = commands_w, replies_r
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"}, page=False)
            attached = self.call("Target.attachToTarget",
                                 {"targetId": target["targetId"], "flatten": True}, page=False)
            self.session_id = attached["sessionId"]
            self.call("Page.enable")
        except BaseException:
            self.close()
            raise
        return self

    def call(self, method: str, params: dict[str, Any] | None = None,
             page: bool = True) -> dict[str, Any]:
        """Send one command (to the page, or to the browser) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method,
                                   "params": params or {}}
        if page:
            message["sessionId"] = self.session_id
        try:
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise BrowserError(f"{method}: Chromium is gone ({exc}){self._stderr_tail()}") \
                from exc
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self._events.append(reply)

    def wait_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for index, event in enumerate(self._events):
                if event["method"] == method and event.get("sessionId") == self.session_id:
                    del self._events[: index + 1]
                    params: dict[str, Any] = event.get("params", {})
                    return params
            reply = self._read(deadline, method)
            if "method" in reply:
                self._events.append(reply)

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
        if self.process is not None:
            try:
                if self.process.poll() is None:
                    with contextlib.suppress(BrowserError):  # it may exit before answering
                        self.call("Browser.close", page=False)
                    try:
                        self.process.wait(5)
                    except subprocess.TimeoutExpired:
                        self.process.kill()
                        self.process.wait(5)
            finally:
                self.process = None
        for fd in (self._to_browser, self._from_browser):
            if fd >= 0:
                os.close(fd)
        self._to_browser = self._from_browser = -1
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None

    def _read(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        """The next message from Chromium; an error with its stderr if it dies or stalls."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"{waiting_for}: no answer from Chromium within "
                                   f"{self.timeout:.0f} s{self._stderr_tail()}")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(f"{waiting_for}: Chromium exited"
                                   f"{self._stderr_tail()}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return ("\nChromium stderr:\n" + "\n".join(lines[-15:])) if lines else ""


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
