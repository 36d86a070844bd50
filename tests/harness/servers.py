"""Real servers for the test-suite: Dovecot (IMAP), aiosmtpd (SMTP), PostgreSQL,
and an OAuth2 token-introspection endpoint for Dovecot's XOAUTH2.

No mocks: the daemon is tested against the same protocols it meets in
production, so IDLE, MOVE, UIDPLUS and SMTP error replies behave for real.
"""
from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from imap_tools import MailBoxUnencrypted

from tests.harness import template

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "secret"
DEFAULT_USERS = ("info", "fax", "bench")


# Ports for the servers the tests start: below the kernel's ephemeral range (32768 on), where
# outgoing connections and every ``bind(0)`` draw theirs, in a band of 2,000 per xdist
# worker, handed out in turn. ``bind(0)`` here had let a port go to another worker's server
# (or a connection) before the test's server bound it: "address already in use" in CI.
_PORT_BAND = 2000
_PORT_BASE = 10000


def _worker_ports() -> Iterator[int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    band = _PORT_BASE + (int(worker) if worker.isdigit() else 0) % 11 * _PORT_BAND
    start = secrets.randbelow(_PORT_BAND)  # another run on the machine starts elsewhere
    while True:
        for offset in range(_PORT_BAND):
            yield band + (start + offset) % _PORT_BAND


_ports = _worker_ports()


def free_port() -> int:
    """An unused loopback port of this worker's band, none handed out twice in a row."""
    for _ in range(_PORT_BAND):
        port = next(_ports)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port in this worker's band")


def dovecot_version() -> tuple[int, int]:
    out = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = re.match(r"(\d+)\.(\d+)", out).groups()
    return int(major), int(minor)


# --------------------------------------------------------------------------- IMAP

# Common to 2.3 and 2.4.  chroot is emptied so the login/anvil processes work
# without root, and the internal users are the current user when not root
# (Dovecot cannot change uid then); mail_uid/mail_gid: see _mail_owner().
# mail_max_userip_connections is raised because the daemon, the tests and the
# benchmarks all log in from 127.0.0.1.  auth_failure_delay = 0 and the
# unusable anvil-auth-penalty socket (mode 0 disables the per-IP penalty,
# up to 15 s) keep wrong-password tests from slowing down later logins.
_COMMON_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
auth_mechanisms = {auth_mechanisms}
auth_failure_delay = 0
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_fsync = {mail_fsync}
verbose_proctitle = yes
{internal_users}
namespace inbox {{
  inbox = yes
  separator = /
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

# Dovecot 2.3 (Debian 12).  LAYOUT=fs lets folder names contain dots.
_CONF_23 = """\
disable_plaintext_auth = no
mail_location = maildir:~/Maildir:LAYOUT=fs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users/%u{password_mechanisms}
}}
userdb {{
  driver = static
  args = home={root}/home/%u
}}
"""

# XOAUTH2 on 2.3: a second passdb, only for the token mechanisms (the
# passwd-file one is then limited to plain/login, so a wrong password never
# reaches the introspection server and a token is never compared to a
# password).  Empty tokeninfo_url: Dovecot goes straight to introspection,
# POSTing token=<token> (RFC 7662) and accepting the login only if the JSON
# reply has active=true and username = the user the client claimed.
_CONF_23_OAUTH2 = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf.ext
}}
"""
_OAUTH2_EXT_23 = """\
introspection_mode = post
introspection_url = {oauth2_url}
username_attribute = username
active_attribute = active
active_value = true
"""

# Dovecot 2.4 (Debian 13) renamed most settings.  Not exercised on Debian 12.
_CONF_24 = """\
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
auth_allow_cleartext = yes
mail_driver = maildir
mail_path = ~/Maildir
mailbox_list_layout = fs
passdb passwd-file {{
  passwd_file_path = {root}/users/%{{user}}
}}
userdb static {{
  fields {{
    home = {root}/home/%{{user}}
  }}
}}
"""

# XOAUTH2 on 2.4 (from the 2.4 documentation, not exercised on Debian 12):
# the mechanisms validate tokens themselves, no passdb involved.
_CONF_24_OAUTH2 = """\
oauth2_introspection_mode = post
oauth2_introspection_url = {oauth2_url}
oauth2_username_attribute = username
oauth2_active_attribute = active
oauth2_active_value = true
"""


class Dovecot:
    """A throw-away Dovecot IMAP server in a temp dir, on a free loopback port.

    Runs as the current user (root in CI or a normal user) with its own
    config, so the tests neither need nor touch /etc/dovecot or port 143.

    With ``oauth2_url`` (see ``TokenServer.url``) it also offers XOAUTH2 and
    OAUTHBEARER, the tokens being checked by that introspection endpoint;
    password logins (used by the helpers below) keep working.
    """

    host = "127.0.0.1"

    def __init__(self, users: Iterable[str] = DEFAULT_USERS, oauth2_url: str | None = None,
                 fsync: bool = False) -> None:
        """``fsync=True`` keeps Dovecot's production default (``mail_fsync = optimized``):
        benchmarks want it; tests run faster without."""
        self.users = list(users)
        self.oauth2_url = oauth2_url
        self.fsync = fsync
        self.port = 0
        self.root: Path | None = None
        self.proc: subprocess.Popen | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> Dovecot:
        self.root = Path(tempfile.mkdtemp(prefix="rnmail-dovecot-"))
        self.root.chmod(0o755)  # Dovecot refuses base_dirs it can't traverse
        (self.root / "home").mkdir()
        os.chown(self.root / "home", *self._mail_owner())
        for user in self.users:
            self.add_user(user, PASSWORD)
        for _ in range(3):  # free_port() may race with another process
            self.port = free_port()
            self._write_config()
            self.proc = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() kills all of it
            )
            if self._wait_ready():
                return self
            self._kill()
        log = self.log()[-3000:]
        self.stop()
        raise RuntimeError(f"Dovecot did not start; log:\n{log}")

    def stop(self) -> None:
        self._kill()
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @staticmethod
    def _mail_owner() -> tuple[int, int]:
        """Owner of the mail files: the current user, or nobody when root.

        Dovecot hard-refuses mail access as uid 0 ("Mail access not allowed
        for root", whatever first_valid_uid says), so under root (CI) the
        mail processes drop to nobody:nogroup.
        """
        if os.getuid() != 0:
            return os.getuid(), os.getgid()
        return pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid

    def _write_config(self) -> None:
        uid, gid = self._mail_owner()
        if os.getuid() == 0:
            internal_users = ""  # Debian's dovecot/dovenull users exist
        else:
            user, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
            internal_users = (f"default_login_user = {user}\n"
                              f"default_internal_user = {user}\n"
                              f"default_internal_group = {group}\n")
        values = dict(root=self.root, uid=uid, gid=gid, port=self.port,
                      internal_users=internal_users, oauth2_url=self.oauth2_url,
                      auth_mechanisms="plain login", password_mechanisms="",
                      mail_fsync="optimized" if self.fsync else "never")
        v24 = dovecot_version() >= (2, 4)
        oauth2 = ""
        if self.oauth2_url:
            values["auth_mechanisms"] = "plain login xoauth2 oauthbearer"
            if v24:
                oauth2 = _CONF_24_OAUTH2.format(**values)
            else:
                values["password_mechanisms"] = "\n  mechanisms = plain login"
                oauth2 = _CONF_23_OAUTH2.format(**values)
                (self.root / "oauth2.conf.ext").write_text(_OAUTH2_EXT_23.format(**values))
        version = _CONF_24 if v24 else _CONF_23
        # 2.4 wants dovecot_config_version first, so the version part leads.
        text = version.format(**values) + oauth2 + _COMMON_CONF.format(**values)
        (self.root / "dovecot.conf").write_text(text)

    def idling(self, user: str) -> bool:
        """Whether a client of ``user`` is in IMAP IDLE now (the process titles of this
        server's imap processes: ``verbose_proctitle``)."""
        assert self.proc is not None
        for entry in Path("/proc").iterdir():
            try:
                if not entry.name.isdigit() or os.getsid(int(entry.name)) != self.proc.pid:
                    continue
                title = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:  # ended meanwhile
                continue
            if title.startswith("dovecot/imap ") and f"[{user} " in title and " IDLE]" in title:
                return True
        return False

    def halt(self) -> None:
        """Stop the server but keep its mail and port: ``resume()`` brings it back."""
        self._kill()

    def crash(self) -> None:
        """Kill -9 the server and every process it started: no BYE on open connections."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def resume(self) -> None:
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        if not self._wait_ready():
            raise RuntimeError(f"Dovecot did not come back; log:\n{self.log()[-3000:]}")

    def _wait_ready(self, timeout: float = 15) -> bool:
        """True once a real LOGIN works (the port opens before auth is up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with self.mailbox(self.users[0]):
                    return True
            except Exception:
                time.sleep(0.05)
        return False

    def _kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # Children (imap, auth, ...) exit when the master goes; make sure.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def log(self) -> str:
        path = self.root / "dovecot.log" if self.root else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    # -- users and mail ----------------------------------------------------
    def add_user(self, name: str, password: str = PASSWORD) -> None:
        """One passwd-file per user: Dovecot re-reads a changed file at most
        once a second, but opens a new user's file at once -- no restart."""
        (self.root / "users").mkdir(exist_ok=True)
        (self.root / "users" / name).write_text(f"{name}:{{PLAIN}}{password}::::::\n")
        if name not in self.users:
            self.users.append(name)

    def mailbox(self, user: str, password: str = PASSWORD, folder: str = "INBOX"):
        """A logged-in imap-tools mailbox; use it as a context manager."""
        return MailBoxUnencrypted(self.host, self.port, timeout=30).login(user, password, folder)

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> str:
        """Append one message; returns its UID (from UIDPLUS' APPENDUID)."""
        return self.append_many(user, [raw], folder)[0]

    def append_many(self, user: str, raws: Iterable[bytes], folder: str = "INBOX") -> list[str]:
        with self.mailbox(user) as mb:
            uids = []
            for raw in raws:
                _, data = mb.append(raw, folder)
                uids.append(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1).decode())
            return uids

    def folder_uids(self, user: str, folder: str = "INBOX") -> list[str]:
        with self.mailbox(user, folder=folder) as mb:
            return mb.uids()

    def fetch_raw(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Exact bytes of every message in UID order (BODY.PEEK: no \\Seen)."""
        with self.mailbox(user, folder=folder) as mb:
            typ, data = mb.client.uid("FETCH", "1:*", "(BODY.PEEK[])")
            if typ != "OK":
                raise RuntimeError(f"FETCH failed: {data!r}")
            return [item[1] for item in data if isinstance(item, tuple)]

    def folders(self, user: str) -> list[str]:
        with self.mailbox(user) as mb:
            return [f.name for f in mb.folder.list()]

    def create_folder(self, user: str, folder: str) -> None:
        with self.mailbox(user) as mb:
            mb.folder.create(folder)

    def clear(self, user: str) -> None:
        """Empty INBOX and delete every other folder, so tests are independent."""
        with self.mailbox(user) as mb:
            names = [f.name for f in mb.folder.list() if f.name.upper() != "INBOX"]
            for name in sorted(names, key=lambda n: n.count("/"), reverse=True):
                mb.folder.delete(name)  # children first
                mb.folder.subscribe(name, False)
            uids = mb.uids()
            if uids:
                mb.delete(uids)


# --------------------------------------------------------------------------- OAuth2

class _IntrospectionHandler(BaseHTTPRequestHandler):
    """RFC 7662 introspection: the token comes as a POSTed form field (Dovecot's
    introspection_mode = post), a query parameter (get) or a Bearer header (auth)."""

    server: _IntrospectionHTTPServer

    def _token(self) -> str:
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        query = parse_qs(urlsplit(self.path).query)
        if self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            query = parse_qs(self.rfile.read(length).decode("ascii", "replace"))
        return (query.get("token") or query.get("access_token") or [""])[0]

    def _answer(self) -> None:
        token = self._token()
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(token)
            user = owner.tokens.get(token)
        reply = {"active": True, "username": user} if user else {"active": False}
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest output clean; `requests` records what was asked


class _IntrospectionHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: TokenServer


class TokenServer:
    """A tiny OAuth2 authorisation server: issues opaque bearer tokens and
    answers Dovecot's introspection requests for them (stdlib http.server in a
    thread on a free loopback port).  Tokens it did not issue, or revoked, are
    reported active=false."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens: dict[str, str] = {}
        self.requests: list[str] = []  # every token Dovecot asked about
        self.httpd: _IntrospectionHTTPServer | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> TokenServer:
        # Port 0: the kernel picks a free port atomically, no free_port() race.
        self.httpd = _IntrospectionHTTPServer((self.host, 0), _IntrospectionHandler)
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       name="oauth2-introspection", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self.httpd is not None, "TokenServer not started"
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/introspect"

    def issue(self, user: str) -> str:
        """A new bearer token that introspects as active for ``user``."""
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = user
        return token

    def revoke(self, token: str) -> None:
        with self.lock:
            self.tokens.pop(token, None)


# --------------------------------------------------------------------------- SMTP

@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    received_at: float = 0.0  # time.time() when the server accepted it


class _RecordingHandler:
    """aiosmtpd handler: records envelopes and fails chosen recipients.

    Recipients containing "reject" get a permanent 550, "tempfail" a 451;
    `failures` can map any further address (or substring) to a reply.
    """

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.envelopes: list[Envelope] = []
        self.failures: dict[str, str] = {
            "reject": "550 5.1.1 user unknown",
            "tempfail": "451 4.3.0 try later",
        }
        # SMTP sessions (counted from EHLO/HELO to QUIT or disconnection), see SmtpServer
        self.sessions = 0
        self.open_sessions = 0
        self.max_open_sessions = 0
        self.most_in_a_session = 0  # messages accepted in the busiest session
        self.session_limit: int | None = None
        self.closed_421 = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            failures = dict(self.failures)
        for needle, reply in failures.items():
            if needle in address:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if isinstance(server, _CountingSMTP):
                server.accepted += 1
                self.most_in_a_session = max(self.most_in_a_session, server.accepted)
            self.envelopes.append(Envelope(envelope.mail_from, list(envelope.rcpt_tos),
                                           envelope.original_content or envelope.content,
                                           time.time()))
            self.lock.notify_all()
        return "250 Message accepted for delivery"


class _CountingSMTP(SMTP):
    """aiosmtpd's SMTP, one per connection, that counts sessions for the handler and,
    when ``handler.session_limit`` is set, answers 421 to the MAIL FROM after that many
    messages and hangs up (as relays such as SES do)."""

    handler: _RecordingHandler

    def __init__(self, handler: _RecordingHandler, **kwargs) -> None:
        super().__init__(handler, **kwargs)
        self.handler = handler
        self.accepted = 0
        self.counted = False

    def _count(self) -> None:
        if self.counted:
            return
        self.counted = True
        with self.handler.lock:
            self.handler.sessions += 1
            self.handler.open_sessions += 1
            self.handler.max_open_sessions = max(self.handler.max_open_sessions,
                                                 self.handler.open_sessions)

    def _uncount(self) -> None:
        if not self.counted:
            return
        self.counted = False
        with self.handler.lock:
            self.handler.open_sessions -= 1

    async def smtp_HELO(self, arg: str) -> None:
        self._count()
        await super().smtp_HELO(arg)

    async def smtp_EHLO(self, arg: str) -> None:
        self._count()
        await super().smtp_EHLO(arg)

    async def smtp_MAIL(self, arg: str | None) -> None:
        limit = self.handler.session_limit
        if limit is not None and self.accepted >= limit:
            self._uncount()
            with self.handler.lock:
                self.handler.closed_421 += 1
            await self.push("421 4.4.2 too many messages in this session, reconnect")
            assert self.transport is not None
            self.transport.close()
            return
        await super().smtp_MAIL(arg)

    async def smtp_QUIT(self, arg: str) -> None:
        self._uncount()  # before the 221: the client may open its next session right after
        await super().smtp_QUIT(arg)

    def connection_lost(self, error: Exception | None) -> None:
        self._uncount()
        super().connection_lost(error)


class _CountingController(Controller):
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """A real SMTP server (aiosmtpd in a thread) that keeps what it receives.

    It also counts SMTP sessions (``sessions``, and the most open at one moment in
    ``max_open_sessions``) and, with ``session_limit = N``, refuses the N+1th message of
    a session with a 421 and closes the connection.
    """

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.handler = _RecordingHandler()
        self.port = 0
        self.controller: Controller | None = None

    def start(self, port: int | None = None) -> SmtpServer:
        """Listen on ``port`` (a free one by default; a given one to come back on)."""
        self.port = port or free_port()
        self.controller = _CountingController(self.handler, hostname=self.host, port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def messages(self) -> list[Envelope]:
        with self.handler.lock:
            return list(self.handler.envelopes)

    @property
    def failures(self) -> dict[str, str]:
        """Recipient substring -> SMTP reply; edit it to add failure cases."""
        return self.handler.failures

    @property
    def session_limit(self) -> int | None:
        return self.handler.session_limit

    @session_limit.setter
    def session_limit(self, limit: int | None) -> None:
        self.handler.session_limit = limit

    @property
    def sessions(self) -> int:
        """SMTP sessions begun (EHLO or HELO) so far."""
        with self.handler.lock:
            return self.handler.sessions

    @property
    def max_open_sessions(self) -> int:
        """The most SMTP sessions that were open at one moment."""
        with self.handler.lock:
            return self.handler.max_open_sessions

    @property
    def most_in_a_session(self) -> int:
        """The most messages accepted in one SMTP session."""
        with self.handler.lock:
            return self.handler.most_in_a_session

    @property
    def closed_421(self) -> int:
        """Sessions ended with a 421 because of ``session_limit``."""
        with self.handler.lock:
            return self.handler.closed_421

    def count(self) -> int:
        with self.handler.lock:
            return len(self.handler.envelopes)

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.envelopes.clear()

    def wait_for(self, n: int, timeout: float = 10) -> list[Envelope]:
        """Block until at least n messages arrived; AssertionError otherwise."""
        with self.handler.lock:
            if not self.handler.lock.wait_for(lambda: len(self.handler.envelopes) >= n, timeout):
                raise AssertionError(f"expected {n} messages within {timeout}s, "
                                     f"got {len(self.handler.envelopes)}")
            return list(self.handler.envelopes)


# --------------------------------------------------------------------------- PostgreSQL

PG_HOST, PG_PORT, PG_USER, PG_DB = "127.0.0.1", 5432, "postgres", "test"
PG_START_HINT = (
    f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} (user {PG_USER}, database {PG_DB}). "
    "Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start "
    "(scripts/test does this for you)."
)


def postgres_url() -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}"


def _pg_connect() -> psycopg.Connection:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DB,
                           connect_timeout=5, autocommit=True)


def postgres_problem() -> str | None:
    """None if PostgreSQL accepts connections, else what to tell the developer."""
    try:
        _pg_connect().close()
    except psycopg.OperationalError as exc:
        return f"{PG_START_HINT}\n{exc}"
    return None


@contextlib.contextmanager
def fresh_postgres_schema() -> Iterator[str]:
    """Yield a URL whose search_path is a new, empty schema; drop it afterwards.

    A schema per test is much cheaper than a database per test and keeps the
    tests independent.  The connections are tagged with application_name so
    that ones the test leaked (which would block DROP SCHEMA) are terminated.
    Raises psycopg.OperationalError if PostgreSQL is down.
    """
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with _pg_connect() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        # synchronous_commit=off: a commit does not wait for the WAL's fsync (5 ms on this
        # disk). Only a crash of PostgreSQL itself could lose such a commit, which no test
        # does; what other sessions see, and when, is unchanged.
        yield (f"{postgres_url()}?options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"
               f"&application_name={schema}")
    finally:
        with _pg_connect() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = %s AND pid <> pg_backend_pid()", [schema])
            if not template.recycle(conn, schema):  # unchanged, kept for the next test
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def drop_spare_schemas() -> None:
    """Drop the schemas kept for reuse (``template.recycle``): the test process ends."""
    if template.has_spares():
        with _pg_connect() as conn:
            template.drop_spares(conn)


@contextlib.contextmanager
def database(kind: str, root: Path) -> Iterator[str]:
    """An empty database of ``kind`` (``sqlite``: a file in ``root``; ``postgresql``: a
    fresh schema). PostgreSQL down is a failure, never a skip: CI must test both engines."""
    if kind == "sqlite":
        yield f"sqlite:///{root}/rnmail.db"
        return
    problem = postgres_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    with fresh_postgres_schema() as url:
        yield url
