"""The listeners of ``rnmail web`` (and of the daemon with ``[web].in_daemon``): the public
site on ``[web].bind`` and, on an internal address of its own, the status administration
(``/admin``) and the help desk's desk (``/desk``); the public listener serves neither.

Both listeners close a connection that has not sent a request's complete headers within
``[web].header_timeout`` (aiohttp's keep-alive timer, which also runs before the first
request: slowloris), and close at once a connection beyond
``[web].max_connections_per_address`` from one client address (``GuardedRunner``). Before
the admin listens, TOTP secrets stored in clear by an older version are encrypted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server
from sqlalchemy.exc import SQLAlchemyError

from rnmail.auth import operators
from rnmail.config import Config, WebConfig, parse_bind
from rnmail.db import Database
from rnmail.errors import RnmailError
from rnmail.web.admin import AdminSite
from rnmail.web.desk import DeskSite
from rnmail.web.https import Note, startup_note
from rnmail.web.public import PublicSite
from rnmail.web.signin import among, internal_application

log = logging.getLogger("rnmail.web")


class _CappedHandler(RequestHandler):
    """aiohttp's connection handler, counted per client address by its ``_CappedServer``."""

    peer: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        manager = self._manager
        if isinstance(manager, _CappedServer):
            manager.opened(self, transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        manager = self._manager
        if isinstance(manager, _CappedServer):
            manager.closed(self)
        super().connection_lost(exc)


class _CappedServer(Server):
    """Makes ``_CappedHandler``s and closes a connection beyond the per-address cap."""

    def __init__(self, *args: Any, cap: int, exempt: tuple[IPv4Network | IPv6Network, ...],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cap, self.exempt = cap, exempt
        self.open: Counter[str] = Counter()

    def __call__(self) -> RequestHandler:
        return _CappedHandler(self, loop=self._loop, **self._kwargs)

    def opened(self, handler: _CappedHandler, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if among(address, self.exempt):
            return
        if self.open[address] >= self.cap:
            log.warning("web: connection from %s refused: %d already open", address,
                        self.open[address])
            handler.force_close()
            if isinstance(transport, asyncio.Transport):
                transport.abort()
            return
        handler.peer = address
        self.open[address] += 1

    def closed(self, handler: _CappedHandler) -> None:
        if handler.peer is not None:
            self.open[handler.peer] -= 1
            if self.open[handler.peer] <= 0:
                del self.open[handler.peer]
            handler.peer = None


class GuardedRunner(web.AppRunner):
    """An ``AppRunner`` whose connections are capped per client address (see the module)."""

    def __init__(self, app: web.Application, web_config: WebConfig, **kwargs: Any) -> None:
        super().__init__(app, keepalive_timeout=web_config.header_timeout, **kwargs)
        self._cap = web_config.max_connections_per_address
        self._exempt = web_config.trusted_proxies

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        capped = _CappedServer(server.request_handler, request_factory=server.request_factory,
                               handler_cancellation=server.handler_cancellation,
                               loop=server._loop, cap=self._cap, exempt=self._exempt,
                               **server._kwargs)
        return capped


def site_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


@dataclass
class Listening:
    """The public site and, when configured, the admin: what ``start`` opened."""

    runners: list[web.AppRunner]
    url: str  # the public site's
    admin_url: str | None  # the internal listener's /admin/ (its /desk/ beside it)
    admin_note: Note | None = None  # about Secure cookies and HTTPS (rnmail.web.https)

    @property
    def desk_url(self) -> str | None:
        """The desk's address, beside the admin's on the internal listener."""
        return self.admin_url.removesuffix("admin/") + "desk/" if self.admin_url else None

    async def close(self) -> None:
        for runner in reversed(self.runners):
            with contextlib.suppress(Exception):
                await runner.cleanup()


async def start(config: Config, bind: str | None = None, admin_bind: str | None = None,
                send: Callable[[], None] | None = None) -> Listening:
    """Listen on ``bind`` (default ``[web].bind``) and, for the status administration, on
    ``admin_bind`` (default ``[web].admin_bind``; "" for none). ``send`` wakes whatever
    sends the outbox (the daemon's sender); without it the admin sends by itself.
    RnmailError if an address is taken."""
    address = bind or config.web.bind
    host, port = parse_bind(address, "--bind" if bind else "[web].bind")
    admin_address = config.web.admin_bind if admin_bind is None else admin_bind
    access = logging.getLogger("rnmail.web.access")
    access_log = access if access.isEnabledFor(logging.DEBUG) else None
    listening = Listening([], "", None)
    try:
        runner = await _listen(PublicSite(config).application(), host, port, address,
                               access_log, config.web)
        listening.runners.append(runner)
        listening.url = site_url(host, port)
        if admin_address:
            admin_host, admin_port = parse_bind(
                admin_address, "--admin-bind" if admin_bind else "[web].admin_bind")
            site = AdminSite(config, Database.of(config), send)
            try:
                sealed = await asyncio.to_thread(operators.seal_clear_totp_secrets, site.db,
                                                 site.cipher)
            except SQLAlchemyError as exc:  # the database is down: sealed at each sign-in
                log.warning("web: TOTP secrets not checked: %s", str(exc).splitlines()[0])
                sealed = 0
            if sealed:
                log.info("web: %d TOTP secret(s) stored in clear are now encrypted", sealed)
            desk = DeskSite(config, site.db, site.send)
            listening.runners.append(await _listen(
                internal_application([site, desk]), admin_host, admin_port, admin_address,
                access_log, config.web))
            listening.admin_url = site_url(admin_host, admin_port) + "admin/"
            listening.admin_note = startup_note(config.web, admin_address)
    except BaseException:
        await listening.close()
        raise
    return listening


async def _listen(app: web.Application, host: str, port: int, address: str,
                  access_log: logging.Logger | None, web_config: WebConfig) -> web.AppRunner:
    runner = GuardedRunner(app, web_config, handle_signals=False, shutdown_timeout=5.0,
                           access_log=access_log)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        reason = exc.strerror or str(exc)
        if "error while attempting to bind" in reason:
            reason = reason.rpartition(": ")[2]
        raise RnmailError(f"web: cannot listen on {address}: {reason}") from None
    return runner


def serve(config: Config, bind: str | None = None, admin_bind: str | None = None,
          ready: Callable[[Listening], None] | None = None) -> None:
    """``rnmail web``: serve until SIGTERM or SIGINT."""
    if bind:
        parse_bind(bind, "--bind")  # before anything starts
    if admin_bind:
        parse_bind(admin_bind, "--admin-bind")
    asyncio.run(_serve(config, bind, admin_bind, ready))


async def _serve(config: Config, bind: str | None, admin_bind: str | None,
                 ready: Callable[[Listening], None] | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    listening = await start(config, bind, admin_bind)
    try:
        if ready is not None:
            ready(listening)
        await stop.wait()
    finally:
        await listening.close()
