"""The listeners of ``rnmail web`` under a slow or greedy client (real sockets on loopback):
headers sent a byte at a time (slowloris), and more connections from one address than
``[web].max_connections_per_address``; both the public site and the admin."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rnmail.config import Config, load_config
from tests.harness.factories import write_config
from tests.harness.servers import free_port
from tests.harness.wait import until
from tests.harness.web import Server, request


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", extra=f"""
[status]
public_dir = "public"

[web]
bind = "127.0.0.1:{free_port()}"
admin_bind = "127.0.0.1:{free_port()}"
secure_cookies = false
header_timeout = 2
max_connections_per_address = 20
""")
    from tests.harness.install import rnmail
    assert rnmail(path, "init").code == 0
    return load_config(path)


@pytest.fixture
def server(config: Config) -> Iterator[Server]:
    running = Server(config)
    try:
        yield running
    finally:
        running.stop()


def ports(config: Config) -> list[int]:
    return [int(config.web.bind.rpartition(":")[2]),
            int(config.web.admin_bind.rpartition(":")[2])]


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed this connection (EOF or reset on read)."""
    sock.settimeout(0.05)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


@pytest.mark.slow
def test_slow_headers_are_closed_after_the_header_timeout(config: Config,
                                                          server: Server) -> None:
    """Connections to each listener that send a header line every half second, never the
    end of the headers: all closed within a few seconds of the 2 s timeout."""
    socks: list[socket.socket] = []
    try:
        for port in ports(config):
            for _ in range(15):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                socks.append(sock)
        started = time.monotonic()
        while time.monotonic() - started < 8 and not all(
                closed_by_server(s) for s in socks):
            for sock in socks:
                with contextlib.suppress(OSError):  # a header line, never the blank one
                    sock.sendall(b"X-a: b\r\n")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        assert all(closed_by_server(s) for s in socks), "a slow client kept its connection"
        assert elapsed < 7
    finally:
        for sock in socks:
            sock.close()
    assert request(ports(config)[0], "/").status in (200, 404)  # still serving


@pytest.mark.slow
def test_many_slow_connections_from_one_address_are_capped_and_closed(
        config: Config, server: Server) -> None:
    """300 slowloris connections: beyond 20 per listener they are closed at once, the rest
    at the header timeout; a new client is served meanwhile once they are gone."""
    port = ports(config)[0]
    socks = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            with contextlib.suppress(OSError):
                sock.sendall(b"GET / HTTP/1.1\r\n")
            socks.append(sock)
        time.sleep(0.5)
        open_now = sum(not closed_by_server(s) for s in socks)
        assert open_now <= 20, open_now
        until(lambda: all(closed_by_server(s) for s in socks), 3,
              "the header timeout (2 s) to close the rest")
    finally:
        for sock in socks:
            sock.close()
    assert request(port, "/").status in (200, 404)


def test_a_connection_beyond_the_cap_is_closed_and_one_under_it_served(
        config: Config, server: Server) -> None:
    for port in ports(config):
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
        try:
            time.sleep(0.2)
            extra = socket.create_connection(("127.0.0.1", port), timeout=5)
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            extra.settimeout(2)
            try:
                answer = extra.recv(1024)
            except OSError:
                answer = b""
            assert answer == b"", answer  # closed without an answer
            extra.close()
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.2)  # the server saw them go
        assert request(port, "/").status in (200, 302, 404)
