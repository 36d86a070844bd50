"""Fixtures backed by real servers (see tests/servers.py): no mocks."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Dovecot, SmtpServer, fresh_postgres_schema, postgres_problem


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
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/rnmail.db"
        return
    problem = postgres_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    with fresh_postgres_schema() as url:
        yield url
