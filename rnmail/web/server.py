"""The listeners of ``rnmail web`` (and of the daemon with ``[web].in_daemon``): the public
site on ``[web].bind`` and, on an address of its own, the status administration."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from rnmail.config import Config, parse_bind
from rnmail.db import Database
from rnmail.errors import RnmailError
from rnmail.web.admin import AdminSite
from rnmail.web.public import PublicSite


def site_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


@dataclass
class Listening:
    """The public site and, when configured, the admin: what ``start`` opened."""

    runners: list[web.AppRunner]
    url: str  # the public site's
    admin_url: str | None

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
                               access_log)
        listening.runners.append(runner)
        listening.url = site_url(host, port)
        if admin_address:
            admin_host, admin_port = parse_bind(
                admin_address, "--admin-bind" if admin_bind else "[web].admin_bind")
            site = AdminSite(config, Database(config.database.url), send)
            listening.runners.append(await _listen(site.application(), admin_host,
                                                   admin_port, admin_address, access_log))
            listening.admin_url = site_url(admin_host, admin_port) + "admin/"
    except BaseException:
        await listening.close()
        raise
    return listening


async def _listen(app: web.Application, host: str, port: int, address: str,
                  access_log: logging.Logger | None) -> web.AppRunner:
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0,
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
