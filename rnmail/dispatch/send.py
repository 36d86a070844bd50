"""Send: deliver leased outbox rows through a transport and record each outcome.

The SMTP transport keeps one aiosmtplib connection for a whole run and maps replies:
2xx sent, 4xx (or a lost connection) retried later, 5xx failed. The file transport writes
each message as an ``.eml`` file, for the embedded set-up that needs no mail server.
An SMTP transaction is never cut: rows are finished one by one as the server answers.

Next stage: ``track`` (bounces arriving later are matched in ``ingest.bounce``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import aiosmtplib

from rnmail.config import Config, SmtpConfig
from rnmail.db import Database
from rnmail.dispatch.outbox import Outcome, claim, finish, release
from rnmail.errors import ServerUnavailable
from rnmail.models import OutboxMessage

log = logging.getLogger(__name__)
CLAIM_BATCH = 200


class Transport(Protocol):
    async def open(self) -> None: ...
    async def deliver(self, mail_from: str, to: str, raw: bytes) -> Outcome: ...
    async def close(self) -> None: ...


class SmtpTransport:
    def __init__(self, cfg: SmtpConfig) -> None:
        self.cfg = cfg
        self.client: aiosmtplib.SMTP | None = None

    async def open(self) -> None:
        cfg = self.cfg
        context = ssl.create_default_context() if cfg.security != "none" else None
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            timeout=cfg.timeout,
            use_tls=cfg.security == "ssl",
            start_tls=cfg.security == "starttls",
            tls_context=context,
        )
        try:
            await client.connect()
            if cfg.user:
                await client.login(cfg.user, cfg.password)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ServerUnavailable(f"SMTP server {cfg.host}:{cfg.port}: {exc}") from None
        self.client = client

    async def deliver(self, mail_from: str, to: str, raw: bytes) -> Outcome:
        if self.client is None or not self.client.is_connected:
            await self.open()
        assert self.client is not None
        try:
            _errors, reply = await self.client.sendmail(mail_from, [to], raw)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            return Outcome(ok=False, permanent=refused.code >= 500, reply=_reply(refused))
        except aiosmtplib.SMTPResponseException as exc:
            return Outcome(ok=False, permanent=exc.code >= 500, reply=_reply(exc))
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.client = None
            return Outcome(ok=False, permanent=False, reply=f"connection lost: {exc}")
        return Outcome(ok=True, permanent=False, reply=reply)

    async def close(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.quit()
            except (aiosmtplib.SMTPException, OSError):
                self.client.close()
        self.client = None


class FileTransport:
    """Writes each message to ``directory`` as an .eml file (no mail server needed)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    async def deliver(self, mail_from: str, to: str, raw: bytes) -> Outcome:
        name = f"{os.urandom(8).hex()}-{to.replace('/', '_')}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(raw)
        tmp.replace(self.directory / name)
        return Outcome(ok=True, permanent=False, reply=f"written to {name}")

    async def close(self) -> None:
        return None


def make_transport(cfg: SmtpConfig) -> Transport:
    if cfg.transport == "file":
        assert cfg.directory is not None
        return FileTransport(cfg.directory)
    return SmtpTransport(cfg)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


async def send_queued(
    db: Database, config: Config, transport: Transport | None = None
) -> SendReport:
    """Deliver every due outbox row; returns how many were sent, retried and failed."""
    transport = transport or make_transport(config.smtp)
    report = SendReport()
    lease = timedelta(seconds=config.outbox.lease_seconds)
    opened = False
    try:
        while True:
            with db.transaction() as session:
                leased = claim(session, CLAIM_BATCH, lease)
            if not leased:
                break
            pending = [row.id for row in leased]
            try:
                if not opened:
                    await transport.open()
                    opened = True
                for item in leased:
                    outcome = await transport.deliver(item.mail_from, item.to_addr, item.raw)
                    with db.transaction() as session:
                        row = session.get(OutboxMessage, item.id)
                        assert row is not None
                        finish(session, row, outcome, config.outbox)
                        state = row.state
                    pending.remove(item.id)
                    _count(report, state, item, outcome)
            except ServerUnavailable:
                with db.transaction() as session:
                    release(session, pending)
                raise
    finally:
        if opened:
            await transport.close()
    return report


def _count(report: SendReport, state: str, row: OutboxMessage, outcome: Outcome) -> None:
    if state == "sent":
        report.sent += 1
        log.info("sent outbox=%d to=%s message_id=%s", row.id, row.to_addr, row.message_id)
    elif state == "failed":
        report.failed += 1
        log.warning("failed outbox=%d to=%s reply=%s", row.id, row.to_addr, outcome.reply)
    else:
        report.retried += 1
        log.info("deferred outbox=%d to=%s reply=%s", row.id, row.to_addr, outcome.reply)


def send_outbox(db: Database, config: Config) -> SendReport:
    return asyncio.run(send_queued(db, config))


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}"
