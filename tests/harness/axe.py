"""axe-core (Deque's accessibility engine, npm package ``axe-core`` pinned in
``tests/axe/package.json``) run in the page a ``Browser`` shows: the WCAG 2.0/2.1 A and AA
rules, their violations as short lines a failing assertion prints.

scripts/test installs it (``npm ci`` in tests/axe) when ``node_modules`` is missing; a
missing engine fails the test, never skips it. The script is injected through the DevTools
protocol with the page's Content-Security-Policy bypassed (the desk and the public pages
allow no script: that is what they are checked for, not what axe is)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from tests.harness.browser import Browser

AXE = Path(__file__).resolve().parents[1] / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
INSTALL_HINT = "cd tests/axe && npm ci (scripts/test does it; needs nodejs and npm)"


@cache
def axe_source() -> str:
    if not AXE.is_file():
        import pytest

        pytest.fail(f"axe-core not found at {AXE}: {INSTALL_HINT}", pytrace=False)
    return AXE.read_text(encoding="utf-8")


def allow_injection(browser: Browser) -> None:
    """Let the injected engine run on pages whose policy forbids scripts (before loading
    them: the bypass applies to the documents loaded after it)."""
    browser.call("Page.setBypassCSP", {"enabled": True})


def violations(browser: Browser) -> list[str]:
    """The A and AA violations of the page shown: ``rule (impact): target — summary``, one
    line per element; ``[]`` for a page that passes."""
    if not browser.evaluate("typeof window.axe === 'object'"):
        browser.evaluate(axe_source() + "\n;true")
    found = browser.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: " + json.dumps(list(TAGS)) + "},"
        " resultTypes: ['violations']}).then(r => r.violations.flatMap(v => v.nodes.map("
        "n => `${v.id} (${v.impact}): ${n.target.join(' ')} — ${n.failureSummary}`)))")
    return list(found)


def page_violations(browser: Browser, url: str) -> list[str]:
    """Open ``url`` and check it; each line prefixed with the URL's last part."""
    browser.navigate(url)
    where = url.rsplit("/", 1)[-1] or url
    return [f"{where}: {line}" for line in violations(browser)]
