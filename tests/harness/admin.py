"""The status administration under test: an installation with operator ``alice`` and her
second factor, served on free loopback ports (``admin`` fixture), and an ``Admin`` client
that keeps its cookies and signs in over HTTP."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyotp
import pytest
from sqlalchemy import select, update

from rnmail.auth import operators
from rnmail.config import load_config
from rnmail.db import Database
from rnmail.errors import RnmailError
from rnmail.models import AuditEvent, ComponentState, Operator, Staff
from tests.harness.factories import write_config
from tests.harness.mail import received
from tests.harness.servers import SmtpServer, free_port
from tests.harness.web import (
    Reply,
    Server,
    request,
)

PASSWORD = "correct horse battery staple"


@dataclass
class Admin:
    """An installation with operator alice (password + TOTP), served on two ports."""

    root: Path
    db: Database
    smtp: SmtpServer
    public_port: int
    admin_port: int
    secret: str
    cookies: dict[str, str] = field(default_factory=dict)
    used: int = -1  # the last TOTP step used (each code is accepted once)

    @property
    def path(self) -> Path:
        """The config file."""
        return self.root / "rnmail.toml"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}/admin/"

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}/"

    def code(self) -> str:
        """An unused valid code: the current 30 s step or, when that one is used, the next
        (one step of drift is allowed). When both are used, the replay marks are cleared in
        the database rather than waiting up to 30 s for the clock: a test signs in more
        often than twice a minute, and the replay defence has tests of its own."""
        totp = pyotp.TOTP(self.secret)
        current = int(time.time() // 30)
        step = max(current, self.used + 1)
        if step > current + 1:
            with self.db.transaction() as session:
                for model in (Operator, Staff):
                    session.execute(update(model).values(totp_last_step=None))
            step = current
        self.used = step
        return str(totp.at(step * 30))

    def http(self, method: str, path: str, fields: list[tuple[str, str]] | None = None,
             body: bytes | None = None, **headers: str) -> Page:
        connection = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=30)
        sent = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                "Accept-Language": "en",  # the pages in English unless a test asks
                **{k.replace("_", "-"): v for k, v in headers.items()}}
        if fields is not None:
            body = urlencode(fields).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            reply = Page(response.status, response.headers, response.read())
        finally:
            connection.close()
        for line in reply.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(line).items():
                if morsel["max-age"] == "0" or (morsel["expires"] and not morsel.value):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return reply

    def get(self, path: str) -> Page:
        return self.http("GET", path)

    def post(self, path: str, fields: list[tuple[str, str]], **headers: str) -> Page:
        return self.http("POST", path, fields, **headers)

    def login(self, password: str = PASSWORD, code: str | None = None,
              name: str = "alice") -> Page:
        form = self.get("/admin/login")
        return self.post("/admin/login", [
            ("csrf", form.csrf()), ("operator", name), ("password", password),
            ("code", self.code() if code is None else code)])

    def signed_in(self) -> str:
        """Sign in; returns the session's CSRF token (from the dashboard)."""
        reply = self.login()
        assert reply.status == 303 and reply.header("Location") == "/admin/", reply.text
        dashboard = self.get("/admin/")
        assert dashboard.status == 200, dashboard.text
        return dashboard.csrf()

    def mails(self) -> list[EmailMessage]:
        return received(self.smtp)

    def audit(self, action: str) -> list[AuditEvent]:
        with self.db.transaction() as session:
            return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                        .order_by(AuditEvent.id)))

    def states(self) -> dict[str, str]:
        with self.db.transaction() as session:
            return {row.name: row.state for row in session.scalars(select(ComponentState))}

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            request(self.public_port, "/status.json").body.decode())
        return data


class Page(Reply):
    """An answer of the admin: its HTML as text."""

    @property
    def text(self) -> str:
        return self.body.decode()

    def csrf(self) -> str:
        match = re.search(r'name="csrf" value="([^"]+)"', self.text)
        assert match, self.text
        return match.group(1)


def install(root: Path, db_url: str, smtp: SmtpServer, extra: str = "",
            secure_cookies: bool = False) -> tuple[Path, str]:
    """Config, schema, operator alice with her second factor; returns (config, secret).
    The cookies are not ``Secure`` (plain HTTP) unless ``secure_cookies``."""
    path = write_config(root, db_url, smtp=(
        f'[smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"'), extra=f"""
[status]
public_dir = "public"
public_url = "https://status.rn.example"

[operators]
max_failures = 5
lockout_minutes = 10

[web]
bind = "127.0.0.1:{free_port()}"
admin_bind = "127.0.0.1:{free_port()}"
secure_cookies = {str(secure_cookies).lower()}
max_failures_per_address = 8
status_max_age = 0  # the browser must not show the page it saw before the change
{extra}""")
    db = Database(db_url)
    try:
        db.upgrade()
        with db.transaction() as session:
            operators.add_operator(session, "alice", PASSWORD)
            uri = operators.enable_totp(
                session, "alice", cipher=operators.TotpCipher(load_config(path).helpdesk.secret))
    finally:
        db.dispose()
    secret = re.search(r"secret=([A-Z2-7]+)", uri)
    assert secret
    return path, secret.group(1)


@pytest.fixture
def admin(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Admin]:
    with served(tmp_path, db_url, smtp_server) as found:
        yield found


@contextlib.contextmanager
def served(root: Path, db_url: str, smtp: SmtpServer, secure_cookies: bool = False,
           extra: str = "") -> Iterator[Admin]:
    """``install`` and both sites served (``rnmail web``'s server), stopped afterwards."""
    path, secret = install(root, db_url, smtp, extra, secure_cookies=secure_cookies)
    config = load_config(path)
    from rnmail.status.notices import publish

    db = Database(db_url)
    publish(db, config)
    server = _listening(path)
    config = load_config(path)
    assert server.listening.admin_url == f"http://{config.web.admin_bind}/admin/"
    try:
        yield Admin(root, db, smtp, server.port,
                    int(config.web.admin_bind.rpartition(":")[2]), secret)
    finally:
        server.stop()
        db.dispose()


def _listening(path: Path) -> Server:
    """``rnmail web``'s server on the config's ports; a port another process took since
    ``free_port()`` chose it (a race on a busy machine) is replaced by new ones."""
    for _ in range(3):
        try:
            return Server(load_config(path))
        except RnmailError as exc:
            if "address already in use" not in str(exc):
                raise
            text = path.read_text()
            for key in ("bind", "admin_bind"):
                text = re.sub(rf'(?m)^{key} = "127\.0\.0\.1:\d+"',
                              f'{key} = "127.0.0.1:{free_port()}"', text)
            path.write_text(text)
    return Server(load_config(path))


def status_fields(csrf: str, state: str, groups: tuple[str, ...] = (),
                  comments: dict[str, str] | None = None) -> list[tuple[str, str]]:
    fields = [("csrf", csrf), ("state", state)]
    fields += [(f"comment_{lang}", text) for lang, text in (comments or {}).items()]
    fields += [("group", g) for g in groups]
    return fields
