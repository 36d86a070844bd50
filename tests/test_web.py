"""``rnmail web``: the public status page and FAQ over HTTP, from a real server.

The site is published first from a SQLite database (``notices.publish``, ``faq.publish``),
then served by the real aiohttp application on a free loopback port (in-process on a loop
thread, or ``rnmail web`` / ``rnmail run`` as subprocesses) and read with http.client:
headers, conditional requests, methods, path traversal, languages, the database down, and
one page in a real Chromium under the Content-Security-Policy.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from rnmail.config import WebConfig, load_config, parse_config
from rnmail.db import Database
from rnmail.errors import ConfigError, ServerUnavailable
from rnmail.status.components import set_status
from rnmail.status.notices import publish
from rnmail.tickets import faq
from rnmail.util.publicfiles import write_public_file
from rnmail.web import public as web
from tests.harness.browser import Browser, chromium_or_fail
from tests.harness.factories import TEST_SECRET, make_config, write_config
from tests.harness.install import Installation, rnmail
from tests.harness.servers import free_port
from tests.harness.statuspage import SEEN, VERBATIM, rgb
from tests.harness.wait import until
from tests.harness.web import (
    Reply,
    Server,
    csp_messages,
    request,
    running_daemon,
    start_cli,
)

ROOT = Path(__file__).resolve().parent.parent
RUN = "from cli.main import main; main()"
ETAG = re.compile(r'"[0-9a-f]{32}"')
SECRET = TEST_SECRET.encode()  # [helpdesk].secret of write_config: must never come out


class Site(Installation):
    """The published installation (harness.install), served by ``server``."""

    def __init__(self, path: Path, server: Server) -> None:
        super().__init__(path)
        self.server = server

    @property
    def status_dir(self) -> Path:
        return self.config.status.public_dir

    @property
    def faq_dir(self) -> Path:
        return self.config.helpdesk.public_dir / "faq"


def publish_site(folder: Path, port: int) -> Path:
    """A config, a SQLite database with a degraded status and a bilingual FAQ entry, and
    both published: the files the site serves."""
    url = f"sqlite:///{folder}/rnmail.db"
    path = write_config(folder, url, extra=f'[web]\nbind = "127.0.0.1:{port}"\n')
    config = load_config(path)
    db = Database(config.database.url)
    try:
        db.upgrade()
        with db.transaction() as session:
            set_status(session, config.status, "degraded", ["web-services"],
                       {"fr": "Réponses lentes", "nl": "Trage antwoorden"}, "ops")
            entry = faq.add_entry(session, "fr", "Clé d'accès bloquée ?",
                                  "Appelez le help desk.", publish=True)
            faq.edit_entry(session, entry.id, "nl", "Toegangssleutel geblokkeerd?",
                           "Bel de helpdesk.")
        publish(db, config)
        with db.transaction() as session:
            faq.publish(session, config)
    finally:
        db.dispose()
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    path = publish_site(folder, free_port())
    server = Server(load_config(path))
    try:
        yield Site(path, server)
    finally:
        server.stop()


def get(site: Site, path: str, method: str = "GET", **headers: str) -> Reply:
    return request(site.server.port, path, method, **headers)


def security_headers(reply: Reply) -> None:
    assert reply.header("X-Content-Type-Options") == "nosniff"
    assert reply.header("Referrer-Policy") == "no-referrer"
    policy = reply.header("Content-Security-Policy")
    assert policy.startswith("default-src 'none';") and "script-src" not in policy
    assert "frame-ancestors 'none'" in policy and "unsafe" not in policy
    assert "aiohttp" not in reply.header("Server") and "Python" not in reply.header("Server")


# The files and their headers


@pytest.mark.parametrize(("path", "name", "content_type"), [
    ("/", "index.html", "text/html; charset=utf-8"),
    ("/index.html", "index.html", "text/html; charset=utf-8"),
    ("/status.json", "status.json", "application/json; charset=utf-8"),
    ("/feed.atom", "feed.atom", "application/atom+xml; charset=utf-8"),
])
def test_status_files(site: Site, path: str, name: str, content_type: str) -> None:
    reply = get(site, path)
    assert reply.status == 200
    assert reply.body == (site.status_dir / name).read_bytes()
    assert reply.header("Content-Type") == content_type
    assert reply.header("Cache-Control") == "public, max-age=30"
    assert ETAG.fullmatch(reply.header("ETag"))
    mtime = (site.status_dir / name).stat().st_mtime
    assert reply.header("Last-Modified") == formatdate(int(mtime), usegmt=True)
    security_headers(reply)
    if name == "index.html":
        assert reply.header("Content-Language") == "nl, fr, de"
        assert "style-src 'sha256-" in reply.header("Content-Security-Policy")
    if name == "status.json":
        assert json.loads(reply.body)["overall"] == "degraded"


def test_faq_files(site: Site) -> None:
    for language in ("fr", "nl", "de", "en"):
        reply = get(site, f"/faq/{language}.html")
        assert reply.status == 200
        assert reply.body == (site.faq_dir / f"{language}.html").read_bytes()
        assert reply.header("Content-Type") == "text/html; charset=utf-8"
        assert reply.header("Cache-Control") == "public, max-age=300"
        assert reply.header("Content-Language") == language
        assert ETAG.fullmatch(reply.header("ETag"))
        security_headers(reply)
    assert "Toegangssleutel geblokkeerd?" in get(site, "/faq/nl.html").body.decode()


def test_max_ages_come_from_the_config(tmp_path: Path, site: Site) -> None:
    config = parse_config({
        "database": {"url": "sqlite:///unused.db"},
        "helpdesk": {"address": "info@rn.example", "secret": TEST_SECRET,
                     "public_dir": str(site.config.helpdesk.public_dir)},
        "status": {"public_dir": str(site.status_dir)},
        "web": {"status_max_age": 5, "faq_max_age": 3600},
    }, tmp_path / "rnmail.toml")
    server = Server(config, f"127.0.0.1:{free_port()}")
    try:
        assert request(server.port, "/").header("Cache-Control") == "public, max-age=5"
        assert request(server.port, "/faq/fr.html").header(
            "Cache-Control") == "public, max-age=3600"
    finally:
        server.stop()


def test_etag_and_last_modified_give_304(site: Site) -> None:
    first = get(site, "/status.json")
    etag, modified = first.header("ETag"), first.header("Last-Modified")
    assert get(site, "/status.json").header("ETag") == etag  # stable for the same content
    for condition in ({"If_None_Match": etag}, {"If_None_Match": f'"x", W/{etag}'},
                      {"If_None_Match": "*"}, {"If_Modified_Since": modified}):
        reply = get(site, "/status.json", **condition)
        assert reply.status == 304, condition
        assert reply.body == b""
        assert reply.header("ETag") == etag
        assert reply.header("Cache-Control") == "public, max-age=30"
        assert "Content-Type" not in reply.headers
    # If-None-Match wins over If-Modified-Since; an older date, a wrong tag: the file.
    assert get(site, "/status.json", If_None_Match='"other"',
               If_Modified_Since=modified).status == 200
    assert get(site, "/status.json",
               If_Modified_Since="Mon, 02 Jan 2006 15:04:05 GMT").status == 200
    assert get(site, "/status.json", If_Modified_Since="not a date").status == 200


def test_a_republished_file_is_served_at_once_with_a_new_etag(site: Site) -> None:
    path = site.status_dir / "status.json"
    original = path.read_text(encoding="utf-8")
    before = get(site, "/status.json")
    try:
        changed = json.dumps({**json.loads(original), "overall": "down"}) + "\n"
        write_public_file(path, changed)
        after = get(site, "/status.json", If_None_Match=before.header("ETag"))
        assert after.status == 200
        assert json.loads(after.body)["overall"] == "down"
        assert after.header("ETag") != before.header("ETag")
    finally:
        write_public_file(path, original)
    assert get(site, "/status.json").header("ETag") == before.header("ETag")


def test_head_is_get_without_the_body(site: Site) -> None:
    full = get(site, "/")
    head = get(site, "/", "HEAD")
    assert head.status == 200 and head.body == b""
    assert head.header("Content-Length") == str(len(full.body))
    for name in ("ETag", "Last-Modified", "Content-Type", "Cache-Control",
                 "Content-Security-Policy"):
        assert head.header(name) == full.header(name)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/status.json", "/faq/", "/nowhere"])
def test_only_get_and_head(site: Site, method: str, path: str) -> None:
    reply = get(site, path, method)
    assert reply.status == 405
    assert {m.strip() for m in reply.header("Allow").split(",")} == {"GET", "HEAD"}
    security_headers(reply)


# Nothing but the two folders


@pytest.fixture
def planted(site: Site) -> Iterator[None]:
    """Things beside the published files that must not be served."""
    outside = site.root
    made = [
        site.status_dir / ".hidden.html",
        site.status_dir / ".index.html.1234.5678.tmp",
        site.status_dir / "secret.txt",  # a symbolic link to the config file
        site.status_dir / "inside.html",  # a symbolic link to a served file
        site.faq_dir / "config.txt",
        site.status_dir / "folder.json",  # a folder
        site.status_dir / "data.db",  # an extension that is not served
    ]
    made[0].write_text("hidden")
    made[1].write_text("half-written")
    made[2].symlink_to(outside / "rnmail.toml")
    made[3].symlink_to(site.status_dir / "index.html")
    made[4].symlink_to(outside / "rnmail.toml")
    made[5].mkdir()
    made[6].write_text("not served")
    try:
        yield
    finally:
        for path in made:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()


TRAVERSALS = [
    "/../rnmail.toml", "/../../rnmail.toml", "/faq/../../rnmail.toml",
    "/%2e%2e/rnmail.toml", "/%2E%2E/%2e%2e/rnmail.toml", "/faq/%2e%2e/%2e%2e/rnmail.toml",
    "/..%2frnmail.toml", "/..%2f..%2frnmail.toml", "/faq/..%2F..%2F..%2Frnmail.toml",
    "/%2e%2e%2f%2e%2e%2frnmail.toml", "/..%5c..%5crnmail.toml", "/..\\..\\rnmail.toml",
    "//etc/passwd", "/%2fetc%2fpasswd", "/faq//etc/passwd", "/faq/%2fetc%2fpasswd",
    "/etc/passwd", "/faq/../../../../../../etc/passwd",
    "/.hidden.html", "/.index.html.1234.5678.tmp", "/secret.txt", "/inside.html",
    "/faq/config.txt", "/folder.json", "/folder.json/", "/data.db", "/faq/fr.html/",
    "/faq/fr.html/..", "/status.json%00.html", "/index.html%00", "/faq/..", "/faq/.",
    "/var/status/index.html", "/rnmail.toml", "/rnmail.db",
]


@pytest.mark.usefixtures("planted")
@pytest.mark.parametrize("path", TRAVERSALS)
def test_nothing_outside_the_public_folders(site: Site, path: str) -> None:
    reply = get(site, path)
    assert reply.status in (400, 404), (path, reply.status)
    assert SECRET not in reply.body and b"[database]" not in reply.body
    assert b"hidden" not in reply.body and b"half-written" not in reply.body


@pytest.mark.usefixtures("planted")
def test_absolute_form_and_directories(site: Site) -> None:
    port = site.server.port
    for target in (f"http://127.0.0.1:{port}/../rnmail.toml",
                   f"http://127.0.0.1:{port}//etc/passwd", "/etc/passwd"):
        reply = get(site, target)
        assert reply.status in (400, 404) and SECRET not in reply.body
    # A folder is never listed: /faq/ negotiates (a redirect), the status folder is a page.
    assert get(site, "/faq/").status == 302
    assert b"fr.html" not in get(site, "/faq/").body
    for name in os.listdir(site.status_dir):
        assert name not in get(site, "/folder.json").body.decode()


# Languages


@pytest.mark.parametrize("language", ["nl", "fr", "de"])
def test_language_paths_lead_to_their_section(site: Site, language: str) -> None:
    reply = get(site, f"/{language}")
    assert reply.status == 302
    location = reply.header("Location")
    assert location == f"./#{language}"  # relative: works below a proxy's prefix too
    assert urljoin(f"{site.server.url}{language}", location) == f"{site.server.url}#{language}"
    assert reply.header("Cache-Control") == "public, max-age=30"
    assert get(site, "/en").status == 404  # the status page has no English section


@pytest.mark.parametrize(("accept", "expected"), [
    (None, "fr"),  # [helpdesk].default_language
    ("nl", "nl"),
    ("de-CH, fr;q=0.5", "de"),
    ("en-GB,en;q=0.9", "en"),
    ("es, it;q=0.8", "fr"),  # none published: the default
    ("nl;q=0.2, fr;q=0.1", "nl"),
    ("fr;q=0.1, nl;q=0.2", "nl"),
    ("*", "fr"),
    ("fr;q=0, *;q=0.5", "nl"),  # anything but French: the first other language
    ("NL-be", "nl"),
    ("garbage;;, de", "de"),
])
def test_faq_negotiates_the_language(site: Site, accept: str | None, expected: str) -> None:
    headers = {"Accept_Language": accept} if accept is not None else {}
    reply = get(site, "/faq/", **headers)
    assert reply.status == 302
    assert reply.header("Location") == f"{expected}.html"
    assert reply.header("Vary") == "Accept-Language"
    assert reply.header("Cache-Control") == "public, max-age=300"
    followed = urljoin(f"{site.server.url}faq/", reply.header("Location"))
    assert followed == f"{site.server.url}faq/{expected}.html"
    assert get(site, "/faq").header("Location") == "faq/"


def test_faq_negotiates_among_the_pages_that_exist(site: Site) -> None:
    german = site.faq_dir / "de.html"
    hidden = site.faq_dir / "de.html.away"
    german.rename(hidden)
    try:
        assert get(site, "/faq/", Accept_Language="de, nl;q=0.5").header(
            "Location") == "nl.html"
        assert get(site, "/faq/de.html").status == 404
    finally:
        hidden.rename(german)
    assert get(site, "/faq/", Accept_Language="de, nl;q=0.5").header(
        "Location") == "de.html"


def test_negotiate() -> None:
    available = ["fr", "nl", "de", "en"]
    assert web.negotiate("", available, "fr") == "fr"
    assert web.negotiate("", ["nl", "de"], "fr") == "nl"
    assert web.negotiate("de", ["fr", "nl"], "nl") == "nl"
    assert web.negotiate("*;q=0.1, de;q=0.05", available, "en") == "en"
    assert web.negotiate("fr;q=0", ["fr"], "fr") == "fr"  # nothing else to give
    assert web.negotiate("nl", [], "fr") is None


# The database down, the CLI and the daemon


def unreachable_database() -> str:
    return f"postgresql+psycopg://rnmail@127.0.0.1:{free_port()}/rnmail"


def config_without_database(site: Site, folder: Path, port: int) -> Path:
    """The site's public folders, a database that does not answer."""
    folder.mkdir(exist_ok=True)
    path = write_config(folder, unreachable_database(), extra=(
        f'[status]\npublic_dir = "{site.status_dir}"\n[web]\nbind = "127.0.0.1:{port}"\n'))
    path.write_text(path.read_text().replace(
        'attachments_dir = "attachments"',
        f'attachments_dir = "attachments"\npublic_dir = "{site.config.helpdesk.public_dir}"'))
    return path


def test_serves_while_the_database_is_down(site: Site, tmp_path: Path) -> None:
    config = load_config(config_without_database(site, tmp_path / "down", free_port()))
    database = Database(config.database.url)
    with pytest.raises(ServerUnavailable, match="Connection refused"):
        database.check_schema()
    database.dispose()
    server = Server(config)
    try:
        for path in ("/", "/status.json", "/feed.atom", "/faq/nl.html"):
            reply = request(server.port, path)
            assert reply.status == 200, path
        assert request(server.port, "/").body == (site.status_dir / "index.html").read_bytes()
    finally:
        server.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_until_a_signal(site: Site, tmp_path: Path, sig: int) -> None:
    port = free_port()
    config = config_without_database(site, tmp_path / "cli", free_port())
    proc, line = start_cli(config, "--bind", f"127.0.0.1:{port}")  # --bind wins
    try:
        assert line == f"rnmail web: serving http://127.0.0.1:{port}/ (Ctrl-C to stop)\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=10) as r:
            assert r.status == 200 and json.load(r)["overall"] == "degraded"
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    rest = proc.stderr.read().decode()
    assert rest == "rnmail web: stopped\n"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_cli_port_in_use_is_one_line(site: Site, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = config_without_database(site, tmp_path / "busy", port)  # [web].bind
        result = subprocess.run([sys.executable, "-c", RUN, "--config", str(config), "web"],
                                cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr == (f"Error: web: cannot listen on 127.0.0.1:{port}: "
                             "address already in use\n")


def test_cli_bad_bind_is_one_line(site: Site, tmp_path: Path) -> None:
    config = config_without_database(site, tmp_path / "bad", free_port())
    result = rnmail(config, "web", "--bind", "8080")
    assert result.code == 1
    assert result.err.startswith("Error: --bind '8080': an address and port")
    assert result.err.count("\n") == 1


@pytest.mark.slow
def test_the_daemon_serves_the_site_when_asked(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", extra=(
        "[daemon]\npoll_seconds = 0.3\nsend_seconds = 0.3\nstop_seconds = 10\n"
        f'[web]\nin_daemon = true\nbind = "127.0.0.1:{port}"\n'))
    assert rnmail(config, "init").code == 0
    log = tmp_path / "run.log"
    with running_daemon(config, log):
        def served(path: str) -> bool:
            try:
                return request(port, path).status == 200
            except OSError:
                return False

        # The daemon publishes the status page, then the FAQ, at start.
        until(lambda: served("/") and served("/faq/fr.html"))
        reply = request(port, "/status.json")
        assert reply.status == 200 and json.loads(reply.body)["overall"] == "operational"
        assert reply.header("Cache-Control") == "public, max-age=30"
        assert request(port, "/faq/").header("Location") == "fr.html"
    text = log.read_text()
    assert f"rnmail run: public site on http://127.0.0.1:{port}/" in text
    assert "rnmail run: stopped" in text and "Traceback" not in text
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.slow
def test_the_daemon_with_its_port_taken_stops_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", extra=(
            f'[web]\nin_daemon = true\nbind = "127.0.0.1:{port}"\n'))
        assert rnmail(config, "init").code == 0
        result = subprocess.run([sys.executable, "-c", RUN, "--config", str(config), "run"],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == (f"Error: web: cannot listen on 127.0.0.1:{port}: "
                             "address already in use\n")


# [web] in the config


def web_config(tmp_path: Path, **values: Any) -> WebConfig:
    return make_config(tmp_path, "sqlite:///unused.db", web=values).web


def test_web_config_defaults_and_good_values(tmp_path: Path) -> None:
    assert web_config(tmp_path) == WebConfig("127.0.0.1:8080", 30, 300, False)
    for bind in ("0.0.0.0:80", "[::]:8443", "[::1]:8080", "localhost:8080",
                 "web.rn.example:8080", "192.0.2.10:65535"):
        assert web_config(tmp_path, bind=bind).bind == bind
    assert web_config(tmp_path, status_max_age=0, faq_max_age=86400,
                      in_daemon=True) == WebConfig("127.0.0.1:8080", 0, 86400, True)


@pytest.mark.parametrize(("values", "message"), [
    ({"bind": "127.0.0.1"}, "[web].bind '127.0.0.1': an address and port"),
    ({"bind": "8080"}, "[web].bind '8080': an address and port"),
    ({"bind": ":8080"}, "[web].bind ':8080': an address and port"),
    ({"bind": "127.0.0.1:0"}, "an address and port"),
    ({"bind": "127.0.0.1:65536"}, "an address and port"),
    ({"bind": "127.0.0.1:http"}, "an address and port"),
    ({"bind": "::1:8080"}, "an address and port"),
    ({"bind": "[web.rn.example]:80"}, "an address and port"),
    ({"bind": "bad host:80"}, "an address and port"),
    ({"bind": 8080}, "[web].bind: expected a string"),
    ({"status_max_age": -1}, "[web].status_max_age: must not be negative"),
    ({"faq_max_age": "300"}, "[web].faq_max_age: expected an integer"),
    ({"faq_max_age": 1.5}, "[web].faq_max_age: expected an integer"),
    ({"status_max_age": 10**9}, "[web].status_max_age: at most 31536000 seconds"),
    ({"in_daemon": "yes"}, "[web].in_daemon: expected"),
    ({"port": 8080}, "[web]: unknown key(s) port"),
])
def test_web_config_bad_values(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        web_config(tmp_path, **values)
    assert message in str(error.value)


# In a real browser, under the Content-Security-Policy


VIOLATIONS = """(() => { window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || '')));
})()"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_or_fail() as chromium:
        chromium.call("Page.addScriptToEvaluateOnNewDocument", {"source": VIOLATIONS})
        yield chromium


def violations(browser: Browser) -> list[str]:
    """The page's securitypolicyviolation events (they are dispatched as tasks)."""
    found: list[str] = browser.evaluate(
        "new Promise(done => setTimeout(() => done(window.__violations), 200))")
    return found


def test_the_page_renders_under_its_policy(site: Site, browser: Browser) -> None:
    browser.navigate(site.server.url)
    sections = browser.evaluate(SEEN)
    assert list(sections) == ["nl", "fr", "de"]
    for language, section in sections.items():
        assert section["shown"]
        assert section["banner"] == VERBATIM["degraded"][language]
        assert section["state"] == "degraded"
        red, green, blue = rgb(section["background"])  # the inline style applied: orange
        assert red > 200 and 100 < green < 200 and blue < 80
    assert violations(browser) == []
    assert csp_messages(browser) == []
    switch = browser.evaluate("""[...document.querySelectorAll('nav.languages a')].map(a => {
        const box = a.getBoundingClientRect();
        return [a.getAttribute('href'), box.width > 0 && box.height > 0]; })""")
    assert switch == [["#nl", True], ["#fr", True], ["#de", True]]
    # /de: the redirect to /#de shows the German section alone.
    browser.navigate(f"{site.server.url}de")
    assert browser.evaluate("location.href") == f"{site.server.url}#de"
    shown = browser.evaluate("""[...document.querySelectorAll('main > section')]
        .filter(s => getComputedStyle(s).display !== 'none').map(s => s.lang)""")
    assert shown == ["de"]
    # The FAQ: negotiated from the browser's languages, styled, with its own switch.
    agent = browser.evaluate("navigator.userAgent")
    for accept, page in (("es-ES,es", "fr"), ("nl-BE,nl;q=0.9,fr;q=0.8", "nl")):
        browser.call("Emulation.setUserAgentOverride",
                     {"userAgent": agent, "acceptLanguage": accept})
        browser.navigate(f"{site.server.url}faq/")
        assert browser.evaluate("location.pathname") == f"/faq/{page}.html"
        assert browser.evaluate("document.documentElement.lang") == page
    assert browser.evaluate("[...document.querySelectorAll('nav a')].map(a => a.hreflang)"
                            ) == ["fr", "nl", "de", "en"]
    assert browser.evaluate("getComputedStyle(document.querySelector('summary')).fontWeight"
                            ) == "600"
    assert violations(browser) == []
    assert csp_messages(browser) == []


def test_a_violation_would_be_seen(site: Site, browser: Browser) -> None:
    """The checks above can fail: a page with an inline script and a style attribute."""
    page = site.status_dir / "control.html"
    page.write_text("<!DOCTYPE html><html><head><style>p { color: rgb(1, 2, 3); }</style>"
                    "</head><body><p style=\"color: red\">x</p>"
                    "<script>window.ran = 1</script></body></html>")
    try:
        browser.navigate(f"{site.server.url}control.html")
        assert browser.evaluate("window.ran === undefined")
        assert browser.evaluate("getComputedStyle(document.querySelector('p')).color"
                                ) == "rgb(1, 2, 3)"  # the hashed block applies, not the attribute
        directives = violations(browser)
        assert any(d.startswith("script-src") for d in directives), directives
        assert any(d.startswith("style-src") for d in directives), directives
        assert csp_messages(browser)
    finally:
        page.unlink()
