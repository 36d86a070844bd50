"""Transports: how one outbox row's mail goes out (``Sender`` in ``send`` decides which
rows, when, and records what came back).

``SmtpTransport`` holds one aiosmtplib connection, reused for ``messages_per_connection``
mails. It writes MAIL, RCPT and DATA on aiosmtplib's protocol itself: aiosmtplib's
``data()`` ran two regular expressions over each whole message and its ``execute_command``
waited for each reply through ``asyncio.wait_for``, together more CPU a mail than the rest
of the sending (docs/performance.md, sixth pass). A mailing's shared part is prepared for
DATA once (``Body``), each reply timed by one timer a transaction. ``FileTransport`` writes
each mail as an ``.eml`` file with its envelope sender as the Return-Path, for the embedded
set-up that needs no mail server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosmtplib
from aiosmtplib.email import quote_address
from aiosmtplib.response import SMTPResponse

from rnmail.config import Config, SmtpConfig
from rnmail.dispatch.outbox import Outcome
from rnmail.errors import ServerUnavailable
from rnmail.util.publicfiles import create_private, private_folder


@dataclass(frozen=True, slots=True)
class Body:
    """A mailing's shared part (``OutboxBody``) as stored and as SMTP's DATA sends it,
    worked out once for the run instead of for each of its thousands of mails."""

    data: bytes
    wire: bytes

    @classmethod
    def of(cls, data: bytes) -> Body:
        return cls(data, data_lines(data))


class Transport(Protocol):
    """Delivers one message to one recipient, connecting on first use. The message is
    ``head`` (the whole mail, or a mailing's personal headers) followed by ``body``."""

    async def deliver(self, mail_from: str, to: str, head: bytes,
                      body: Body | None = None) -> Outcome: ...
    async def close(self) -> None: ...


# What aiosmtplib's data() does to every message, character by character: line ends made
# CRLF, a dot at the start of a line doubled (RFC 5321 §4.5.2).
_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def data_lines(text: bytes) -> bytes:
    """``text`` as DATA transmits it (before the final ``.``): CRLF line ends, leading dots
    doubled, ending with CRLF."""
    text = _LINE_END.sub(b"\r\n", text)
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    return _LEADING_DOT.sub(b"..", text)


def wire_message(head: bytes, body: Body | None) -> bytes:
    """The message as DATA transmits it, ending with the ``.`` line; a mailing's shared
    part as the run prepared it, so that only the few personal header lines are scanned
    for each mail. They end with a line end (``header_block``), so apart or together the
    lines are the same."""
    if body is None:
        return data_lines(head) + b".\r\n"
    if not head.endswith(b"\n"):
        return data_lines(head + body.data) + b".\r\n"
    return data_lines(head) + body.wire + b".\r\n"


class SmtpTransport:
    """One SMTP connection, opened on first use and recycled after ``per_connection``
    messages (relays such as SES refuse more per session with a 421)."""

    def __init__(self, cfg: SmtpConfig, per_connection: int = 100) -> None:
        self.cfg = cfg
        self.per_connection = per_connection
        self.client: aiosmtplib.SMTP | None = None
        self.used = 0

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
            if client.is_ehlo_or_helo_needed:  # what sendmail() did first; SIZE needs it
                try:
                    await client.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await client.helo()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ServerUnavailable(f"SMTP server {cfg.host}:{cfg.port}: {exc}") from None
        self.client = client
        self.used = 0

    async def deliver(self, mail_from: str, to: str, head: bytes,
                      body: Body | None = None) -> Outcome:
        if self.client is not None and self.used >= self.per_connection:
            await self.close()
        if self.client is None or not self.client.is_connected:
            await self.open()
        assert self.client is not None
        self.used += 1
        try:
            reply = await self._transaction(self.client, mail_from, to, head, body)
        except aiosmtplib.SMTPResponseException as exc:  # MAIL, RCPT or DATA refused
            if exc.code == 421:  # the server is closing this session: start a new one
                self._drop()
            return Outcome(ok=False, permanent=exc.code >= 500, reply=_reply(exc))
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._drop()
            return Outcome(ok=False, permanent=False, reply=f"connection lost: {exc}")
        return Outcome(ok=True, permanent=False, reply=f"250 {reply}")  # DATA: only 250

    @staticmethod
    async def _transaction(client: aiosmtplib.SMTP, mail_from: str, to: str, head: bytes,
                           body: Body | None) -> str:
        """What ``sendmail()`` does for one recipient, with each address checked once
        (``sendmail()`` parses both twice, character by character: ~90 µs a mail with the
        VERP sender), the SIZE taken from the message as queued (CRLF already) and the
        message's lines prepared by ``wire_message`` (``data()`` scans all of it twice for
        every mail). Each reply has ``timeout`` seconds, as aiosmtplib gives it, through
        one timer moved on for each command rather than a ``wait_for`` per reply. After a
        refusal the envelope is reset, as ``sendmail()`` does."""
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Server not connected")
        end = body.data if body is not None and body.data else head
        size = len(head) + (len(body.data) if body is not None else 0)
        size += 0 if end.endswith(b"\r\n") else 2
        size_option = b" SIZE=%d" % size if client.supports_extension("size") else b""
        loop = asyncio.get_running_loop()
        timeout = client.timeout

        async def ask(deadline: asyncio.Timeout, line: bytes) -> SMTPResponse:
            if timeout is not None:
                deadline.reschedule(loop.time() + timeout)
            protocol.write(line)
            return await protocol.read_response(timeout=None)

        try:
            async with asyncio.timeout(None) as deadline:
                reply = await ask(deadline, b"MAIL FROM:" + _mailbox(mail_from) + size_option
                                  + b"\r\n")
                if reply.code != 250:
                    raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, mail_from)
                reply = await ask(deadline, b"RCPT TO:" + _mailbox(to) + b"\r\n")
                if reply.code not in (250, 251):
                    raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, to)
                reply = await ask(deadline, b"DATA\r\n")
                if reply.code != 354:
                    raise aiosmtplib.SMTPDataError(reply.code, reply.message)
                reply = await ask(deadline, wire_message(head, body))
                if reply.code != 250:
                    raise aiosmtplib.SMTPDataError(reply.code, reply.message)
                return reply.message
        except TimeoutError:  # the timer's, as aiosmtplib words it (the connection is dropped)
            raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"
                                                  ) from None
        except aiosmtplib.SMTPResponseException:
            # Disconnected or refused again: the first refusal is what counts.
            with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):
                await client.rset()
            raise

    async def close(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.quit()
            except (aiosmtplib.SMTPException, OSError):
                self.client.close()
        self.client = None

    def _drop(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None


class FileTransport:
    """Writes each message to ``directory`` as an .eml file (no mail server needed)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ready = False

    async def deliver(self, mail_from: str, to: str, head: bytes,
                      body: Body | None = None) -> Outcome:
        raw = head if body is None else head + body.data
        if not self.ready:
            private_folder(self.directory)
            self.ready = True
        name = f"{os.urandom(8).hex()}-{to.replace('/', '_')}.eml"
        tmp = self.directory / f".{name}.tmp"
        # 0600 whatever the umask: mail to people is private
        create_private(tmp, f"Return-Path: <{mail_from}>\r\n".encode() + raw)
        tmp.replace(self.directory / name)
        return Outcome(ok=True, permanent=False, reply=f"written to {name}")

    async def close(self) -> None:
        return None


def make_transport(config: Config) -> Transport:
    if config.smtp.transport == "file":
        assert config.smtp.directory is not None
        return FileTransport(config.smtp.directory)
    return SmtpTransport(config.smtp, config.outbox.messages_per_connection)


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}"


# A dot-atom address: every envelope sender rnmail writes and nearly every recipient.
PLAIN_MAILBOX = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def _mailbox(address: str) -> bytes:
    """``<address>`` for MAIL FROM or RCPT TO: a plain address as it is, anything else
    through aiosmtplib's own parsing (``quote_address``) and the check its
    ``execute_command`` makes (no control character: no command injected)."""
    if PLAIN_MAILBOX.fullmatch(address):
        return b"<" + address.encode("ascii") + b">"
    quoted = quote_address(address).encode("ascii")
    if _CONTROL.search(quoted):
        raise ValueError("Command arg contains a prohibited control character")
    return quoted
