"""Fixtures backed by real servers (see tests/harness/servers.py): no mocks."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _pytest.terminal import TerminalReporter

from rnmail.db import Database
from tests.harness import template
from tests.harness.daemon import Daemon
from tests.harness.servers import (
    Dovecot,
    SmtpServer,
    TokenServer,
    database,
    drop_spare_schemas,
    fresh_postgres_schema,
)


@pytest.fixture(scope="session", autouse=True)
def _schema_from_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``rnmail init`` of an empty database copies a schema migrated once per process
    (tests/harness/template.py): running every revision took 1-2 s per test."""
    upgrade = template.copying(Database.upgrade, tmp_path_factory.mktemp("template"),
                               fresh_postgres_schema)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Database, "upgrade", upgrade)
        yield
    drop_spare_schemas()


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """argon2id at its lowest cost in the test processes, as Django's documentation advises a
    fast hasher for tests: the shipped cost (0.2 s of both cores and 64 MiB per hash) made
    every sign-in test slow. The processes the tests start (daemon, web, scheduler) hash at
    the shipped cost, which ``test_passwords_are_hashed_at_the_shipped_cost`` checks."""
    from argon2 import PasswordHasher

    from rnmail.auth import signin

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signin, "HASHER", PasswordHasher(time_cost=1, memory_cost=64,
                                                       parallelism=1))
        yield


@pytest.fixture(autouse=True)
def _real_migrations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests marked ``migrations`` run the Alembic revisions themselves."""
    if request.node.get_closest_marker("migrations"):
        with template.real_migrations():
            yield
    else:
        yield


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot for the whole session: starting it costs ~0.1 s per start."""
    server = Dovecot().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap(dovecot: Dovecot) -> Dovecot:
    """The session's Dovecot with empty mailboxes for info and fax."""
    for user in ("info", "fax"):
        dovecot.clear(user)
    return dovecot


@pytest.fixture(scope="session")
def token_server() -> Iterator[TokenServer]:
    """The OAuth2 introspection endpoint behind oauth_dovecot; issue() makes tokens."""
    server = TokenServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def oauth_dovecot(token_server: TokenServer) -> Iterator[Dovecot]:
    """A second Dovecot that also accepts XOAUTH2/OAUTHBEARER (tokens checked by
    token_server), started only by the tests that ask for it; the session's
    `dovecot` stays password-only.  Password login works here too."""
    server = Dovecot(users=("helpdesk", "fax"), oauth2_url=token_server.url).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def oauth_imap(oauth_dovecot: Dovecot) -> Dovecot:
    """oauth_dovecot with empty mailboxes."""
    for user in oauth_dovecot.users:
        oauth_dovecot.clear(user)
    return oauth_dovecot


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A fresh SMTP sink per test, so recorded messages and failures can't leak."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or an isolated PostgreSQL schema.

    PostgreSQL being down is a failure, never a skip: CI must test both engines.
    """
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """That database migrated to the head, disposed of after the test."""
    migrated = Database(db_url)
    migrated.upgrade()
    try:
        yield migrated
    finally:
        migrated.dispose()


ARTIFACTS = Path(os.environ.get("RNMAIL_ARTIFACTS")
                 or Path(__file__).resolve().parent.parent / "test-artifacts")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests keep what a person may want to look at (screenshots); printed at the
    end of the run. $RNMAIL_ARTIFACTS, else test-artifacts/ in the checkout."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a browser fixture (headless Chromium) is ``slow``, like those
    marked so by hand (``scripts/test --quick`` leaves them out)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    files = sorted(p for p in ARTIFACTS.rglob("*") if p.is_file()) if ARTIFACTS.is_dir() \
        else []
    if files:
        terminalreporter.write_sep("-", f"test artifacts in {ARTIFACTS}")
        for path in files:
            terminalreporter.write_line(f"{path.relative_to(ARTIFACTS)}  "
                                        f"{path.stat().st_size:,} bytes")


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start ``rnmail run`` on a config file (and a ``verbose`` option: ``Daemon``), as
    often as the test needs; any still running at the end is killed."""
    daemons: list[Daemon] = []

    def start(config: Path, verbose: str = "-v") -> Daemon:
        daemon = Daemon(config, tmp_path / f"run{len(daemons)}.log", verbose)
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait()
