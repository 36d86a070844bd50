"""The status administration as a newcomer meets it: over plain HTTP from another machine
(its ``Secure`` cookies dropped by the browser: said at start and on the sign-in page, not
"CSRF token expired"), and on a phone (390 px wide: every page fits, the language links
readable). Real servers, a real database, headless Chromium."""

from __future__ import annotations

import dataclasses
import json
import re
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from rnmail.config import load_config
from rnmail.web.https import startup_note
from tests.harness.admin import PASSWORD, Admin, install, served
from tests.harness.admin import admin as admin  # the fixture
from tests.harness.browser import Browser, chromium_or_fail
from tests.harness.install import add_members
from tests.harness.mail import wait_for_mail
from tests.harness.servers import SmtpServer, free_port
from tests.harness.web import start_cli, stopped_at_the_end

HTTPS_NEEDED = "This page came over plain HTTP"
NAME = "admin.rn.example"  # what a colleague's browser would type; resolved to loopback
LANGUAGES = ("fr", "nl", "de", "en")  # the admin's, each a link of the switch


def test_over_plain_http_the_sign_in_page_says_https_is_needed(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    with served(tmp_path, db_url, smtp_server, secure_cookies=True) as admin:
        host = f"{NAME}:{admin.admin_port}"
        form = admin.http("GET", "/admin/login", Host=host)
        assert form.status == 200 and 'id="https-needed"' in form.text
        assert HTTPS_NEEDED in form.text and "secure_cookies = false" in form.text
        assert SimpleCookie(form.header("Set-Cookie"))["rnmail_login"]["secure"]
        # The browser dropped the Secure cookie: the sign-in says why, not "expired".
        admin.cookies.clear()
        reply = admin.http("POST", "/admin/login", [
            ("csrf", form.csrf()), ("operator", "alice"), ("password", PASSWORD),
            ("code", admin.code())], Host=host)
        assert reply.status == 403 and HTTPS_NEEDED in reply.text
        assert "expired" not in reply.text
        assert "HTTPS" in admin.http("GET", "/admin/login", Host=host,
                                     Accept_Language="fr").text.split("https-needed")[1]
        # From this machine (loopback), the browser keeps them: no warning, sign-in works.
        assert 'id="https-needed"' not in admin.get("/admin/login").text
        assert 'id="https-needed"' not in admin.http(
            "GET", "/admin/login", Host=f"localhost:{admin.admin_port}").text
        assert admin.login().status == 303
        # X-Forwarded-Proto is ignored from an address that is not a trusted proxy.
        forwarded = admin.http("GET", "/admin/login", Host=host, X_Forwarded_Proto="https")
        assert 'id="https-needed"' in forwarded.text


def test_behind_a_trusted_https_proxy_nothing_is_said(tmp_path: Path,
                                                     smtp_server: SmtpServer) -> None:
    with served(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server,
                secure_cookies=True, extra='trusted_proxies = ["127.0.0.0/8"]\n') as admin:
        host = f"{NAME}:{admin.admin_port}"
        form = admin.http("GET", "/admin/login", Host=host, X_Forwarded_Proto="https")
        assert 'id="https-needed"' not in form.text
        plain = admin.http("GET", "/admin/login", Host=host, X_Forwarded_Proto="http")
        assert 'id="https-needed"' in plain.text
        # Without its cookie (expired, not dropped) the old message stays.
        admin.cookies.clear()
        reply = admin.http("POST", "/admin/login", [("csrf", form.csrf())], Host=host,
                           X_Forwarded_Proto="https")
        assert reply.status == 403 and "expired" in reply.text


def test_rnmail_web_says_the_cookies_need_https(tmp_path: Path,
                                               smtp_server: SmtpServer) -> None:
    path, _secret = install(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server,
                            secure_cookies=True)
    port = free_port()
    proc, _line = start_cli(path, "--admin-bind", f"127.0.0.1:{port}")
    with stopped_at_the_end(proc):
        assert proc.stderr is not None
        assert "status administration on" in proc.stderr.readline().decode()
        note = proc.stderr.readline().decode()
        assert note.startswith("rnmail web: the admin's cookies are Secure")
        assert "HTTPS reverse proxy in front" in note
    config = load_config(path)
    remote = startup_note(config.web, "0.0.0.0:8081")
    assert remote is not None and remote.warning
    assert "secure_cookies = false" in remote.text and "HTTPS" in remote.text
    plain = dataclasses.replace(config.web, secure_cookies=False)
    assert startup_note(plain, "0.0.0.0:8081") is None


@pytest.mark.slow
def test_in_a_browser_plain_http_from_another_machine_is_explained(
        tmp_path: Path, smtp_server: SmtpServer, artifacts: Path) -> None:
    """Chromium reaching the admin by a name (mapped to loopback) over plain HTTP drops the
    Secure cookie as it would from a colleague's desk."""
    with served(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server,
                secure_cookies=True) as admin, \
            chromium_or_fail(f"--host-resolver-rules=MAP {NAME} 127.0.0.1") as browser:
        base = f"http://{NAME}:{admin.admin_port}/admin/"
        browser.navigate(f"{base}login")
        assert HTTPS_NEEDED in text(browser, "#https-needed")
        fill(browser, {"operator-name": "alice", "password": PASSWORD, "code": admin.code()})
        browser.submit("#login")
        problem = text(browser, "#problem")
        assert HTTPS_NEEDED in problem and "expired" not in problem
        browser.screenshot(artifacts / "admin" / "plain-http.png")
        assert admin.audit("login") == []


# --------------------------------------------------------------------------- on a phone

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
CONTRAST = """(() => {
  const channel = c => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll('#languages a, #languages strong')].map(el => {
    const box = el.getBoundingClientRect();
    const fg = luminance(rgb(getComputedStyle(el).color)), bg = luminance(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const under = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return {text: el.textContent, ratio, right: box.right,
            visible: box.width > 0 && (under === el || el.contains(under))};
  });
})()"""


def fill(browser: Browser, values: dict[str, str | bool]) -> None:
    for field_id, value in values.items():
        target = json.dumps(field_id)
        if isinstance(value, bool):
            browser.evaluate(f"document.getElementById({target}).checked = {str(value).lower()}")
        else:
            browser.evaluate(f"document.getElementById({target}).value = {json.dumps(value)}")


def text(browser: Browser, selector: str = "main") -> str:
    found: str = browser.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText"
                                  " ?? ''")
    return found


def fits_a_phone(browser: Browser, name: str, artifacts: Path) -> None:
    browser.screenshot(artifacts / "admin" / "phone" / f"{name}.png")
    width = browser.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, (name, width)
    links = browser.evaluate(CONTRAST)
    assert len(links) == len(LANGUAGES), (name, links)
    for link in links:
        assert link["ratio"] >= 4.5 and link["right"] <= 390 and link["visible"], (name, link)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the page, not storage
def test_on_a_phone_every_admin_page_fits_and_the_language_links_are_readable(
        admin: Admin, artifacts: Path) -> None:
    add_members(admin.path, "municipalities", ("bevolking@zuid.example", "nl"),
                ("population-de-la-commune-au-nom-long@sud.example", "fr"))
    add_members(admin.path, "police-zones-of-the-whole-kingdom", ("pz@police.example", "nl"))
    csrf = admin.signed_in()
    assert admin.post("/admin/maintenance", [
        ("csrf", csrf), ("start", "2031-03-05T18:00"), ("duration", "2h"),
        ("group", "municipalities"), ("comment_fr", "Mise à jour " * 20),
        ("confirm", "1")]).status == 303
    wait_for_mail(admin.smtp, 2)
    number = admin.audit("maintenance-schedule")[0].detail["maintenance"]
    with chromium_or_fail() as browser:
        browser.call("Emulation.setDeviceMetricsOverride", PHONE)
        for language in LANGUAGES:
            browser.navigate(f"{admin.base}login?lang={language}")
            fits_a_phone(browser, f"login-{language}", artifacts)
        sign_in = {"operator-name": "alice", "password": PASSWORD, "code": admin.code()}
        fill(browser, sign_in)
        browser.submit("#login")
        for language in LANGUAGES:
            browser.navigate(f"{admin.base}?lang={language}")
            fits_a_phone(browser, f"dashboard-{language}", artifacts)
        # The previews: a status change, a maintenance, a cancellation.
        fill(browser, {"state-down": True, "status-group-municipalities": True,
                       "status-group-police-zones-of-the-whole-kingdom": True})
        browser.submit("#status-form")
        assert "Confirm" in text(browser, "#confirm")
        fits_a_phone(browser, "status-preview", artifacts)
        browser.navigate(admin.base)
        fill(browser, {"maintenance-start": "2031-04-01T18:00", "maintenance-duration": "3h",
                       "maintenance-group-municipalities": True})
        browser.submit("#maintenance-form")
        fits_a_phone(browser, "maintenance-preview", artifacts)
        browser.navigate(admin.base)
        browser.submit(f'form[action="/admin/maintenance/{number}/cancel"]')
        assert text(browser, "#cancelled")
        fits_a_phone(browser, "cancel-preview", artifacts)
        # An error on the dashboard, an announcement's progress, the audit log.
        browser.navigate(admin.base)
        fill(browser, {"maintenance-start": "2031-04-01T18:00",
                       "maintenance-duration": "3 heures"})
        browser.submit("#maintenance-form")
        assert text(browser, "#problem")
        fits_a_phone(browser, "dashboard-error", artifacts)
        announcement = admin.audit("maintenance-schedule")[0].id  # any: one exists
        assert announcement
        browser.navigate(admin.base)
        href = browser.evaluate("document.querySelector('#announcements a').href")
        assert re.search(r"/admin/announcements/\d+$", href)
        browser.navigate(href)
        fits_a_phone(browser, "announcement", artifacts)
        browser.navigate(f"{admin.base}audit")
        fits_a_phone(browser, "audit", artifacts)
