"""Sending at scale: the outbox drained over parallel, recycled SMTP connections.

Real aiosmtpd on loopback (tests/harness/servers.py counts its sessions and can answer 421 after N
messages in a session or refuse chosen recipients), both databases, and a real kill -9 of
the sending process. Timing asserts are lower bounds only: a loaded machine is slower,
never faster.
"""

from __future__ import annotations

import asyncio
import email
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import select, text, update

from cli.app import TWO_PROCESSES_FROM
from rnmail.config import SmtpConfig, load_config
from rnmail.db import Database
from rnmail.dispatch import send
from rnmail.dispatch.announce import announcement_status
from rnmail.dispatch.outbox import Outcome
from rnmail.dispatch.transport import Body, SmtpTransport
from rnmail.models import Announcement, OutboxMessage, Suppression, utcnow
from tests.harness.factories import HELPDESK, Desk, write_config
from tests.harness.install import rnmail
from tests.harness.mailings import (
    OPERATOR,
    SUBJECT,
    import_group,
    people,
    queue_mailing,
)
from tests.harness.servers import SmtpServer, database, free_port

ROOT = Path(__file__).resolve().parent.parent
RUN = "from cli.main import main; main()"
PASSWORD = "a long enough password"


# --------------------------------------------------------------------------- helpers

def configure(tmp_path: Path, db_url: str, port: int, **outbox: Any) -> Path:
    """A config file for the SMTP server on ``port`` with these ``[outbox]`` keys."""
    keys = "\n".join(f"{key} = {value}" for key, value in outbox.items())
    return write_config(tmp_path, db_url,
                        smtp=f'[smtp]\nhost = "127.0.0.1"\nport = {port}\ntimeout = 5',
                        extra=f"[outbox]\n{keys}")


def open_desk(config: Path) -> Desk:
    return Desk(load_config(config))  # migrates the database


def rows(desk: Desk, announcement_id: int) -> dict[str, dict[str, Any]]:
    with desk.db.transaction() as session:
        found = session.scalars(select(OutboxMessage)
                                .where(OutboxMessage.announcement_id == announcement_id))
        return {r.to_addr: {"state": r.state, "attempts": r.attempts, "reply": r.last_reply,
                            "next": r.next_attempt_at, "lease": r.lease_until,
                            "message_id": r.message_id} for r in found}


def status(desk: Desk, announcement_id: int) -> dict[str, Any]:
    with desk.db.transaction() as session:
        return announcement_status(session, announcement_id)


def counts(**nonzero: int) -> dict[str, int]:
    return {"queued": 0, "sending": 0, "sent": 0, "failed": 0, "bounced": 0, "suppressed": 0,
            **nonzero}


def make_due(desk: Desk) -> None:
    """Bring the deferred rows' next attempt to now (instead of waiting for the backoff)."""
    with desk.db.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.state == "queued")
                        .values(next_attempt_at=utcnow()))


def start(config: Path, *args: str, stdin: str | None = None,
          code: str = RUN) -> subprocess.Popen[bytes]:
    """``rnmail --config CONFIG ARGS`` as a real process of its own."""
    read, write = os.pipe()
    os.write(write, (stdin or "").encode())  # a line fits in the pipe's buffer
    os.close(write)
    try:
        return subprocess.Popen([sys.executable, "-c", code, "--config", str(config), *args],
                                cwd=ROOT, stdin=read, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    finally:
        os.close(read)


def finish(proc: subprocess.Popen[bytes], timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(), err.decode()


def parsed(content: bytes) -> EmailMessage:
    msg = email.message_from_bytes(content, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


# --------------------------------------------------------------------------- the lines

def test_the_server_receives_what_sendmail_delivers_from_the_same_bytes() -> None:
    """The sender writes DATA itself, a mailing's shared part prepared once per run
    (``transport.wire_message``): the server must receive exactly what aiosmtplib's own
    ``sendmail()`` delivers from the same bytes — dots at the start of lines, bare line
    ends, no line end at the end, personal headers apart or not."""
    head = b"To: <a@example.org>\r\nSubject: dots\r\n"
    body = b"\r\n.one\n..two\r\n.\r\nbare\rend\n.\nlast line without its end"
    cases = [(head, Body.of(body)), (head + body, None),
             (head[:-1], Body.of(b"\n" + body)),  # a head ending in a lone CR
             (b"Subject: x\r\n", Body.of(b"\r\n.")), (b"Subject: y\r\n\r\n.", None)]

    async def deliver(port: int) -> None:
        transport = SmtpTransport(SmtpConfig(host="127.0.0.1", port=port, timeout=5))
        for head_part, shared in cases:
            outcome = await transport.deliver(HELPDESK, "a@example.org", head_part, shared)
            assert outcome.ok, outcome
        await transport.close()
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=5) as client:
            for head_part, shared in cases:
                whole = head_part + (shared.data if shared else b"")
                await client.sendmail(HELPDESK, ["a@example.org"], whole)

    with SmtpServer() as server:
        asyncio.run(deliver(server.port))
        received = [m.content for m in server.messages]
    assert len(received) == 2 * len(cases)
    assert received[:len(cases)] == received[len(cases):]
    assert received[0].endswith(b"\r\n.one\r\n..two\r\n.\r\nbare\r\nend\r\n.\r\n"
                                b"last line without its end\r\n")


def test_each_reply_has_the_timeout_and_a_silent_server_loses_the_connection() -> None:
    """The sender times each reply itself (one timer moved on per command): a server that
    takes most of ``timeout`` for every reply still gets the mail, one that stops
    answering costs the connection after ``timeout``, and the row is retried."""
    async def smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   silent_after: bytes | None) -> None:
        writer.write(b"220 slow.example.org ESMTP\r\n")
        in_data = False
        while line := await reader.readline():
            if in_data:
                in_data = line != b".\r\n"
                if in_data:
                    continue
            elif silent_after is not None and line.startswith(silent_after):
                continue  # never answered
            await asyncio.sleep(0.3)
            if line.startswith(b"EHLO"):
                writer.write(b"250-slow.example.org\r\n250 SIZE 1000000\r\n")
            elif line.startswith(b"DATA"):
                writer.write(b"354 go ahead\r\n")
                in_data = True
            elif line.startswith(b"QUIT"):
                writer.write(b"221 bye\r\n")
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    async def deliver(silent_after: bytes | None) -> tuple[Outcome, float, bool]:
        server = await asyncio.start_server(lambda r, w: smtp(r, w, silent_after),
                                            "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport = SmtpTransport(SmtpConfig(host="127.0.0.1", port=port, timeout=0.5))
        began = time.monotonic()
        outcome = await transport.deliver(HELPDESK, "a@example.org",
                                          b"Subject: slow\r\n\r\nBonjour\r\n")
        took = time.monotonic() - began
        dropped = transport.client is None
        await transport.close()
        server.close()
        return outcome, took, dropped

    outcome, took, dropped = asyncio.run(deliver(None))
    assert outcome.ok and took >= 1.2 and not dropped  # four replies of 0.3 s, each in time
    outcome, took, dropped = asyncio.run(deliver(b"RCPT"))
    assert not outcome.ok and not outcome.permanent and dropped
    assert outcome.reply == "connection lost: Timed out waiting for server response"
    assert 0.5 <= took < 0.5 + 0.3 * 3 + 2  # EHLO and MAIL answered, then the timeout


# --------------------------------------------------------------------------- at scale

def test_mailing_to_300_over_four_recycled_connections(tmp_path: Path, db_url: str,
                                                       smtp_server: SmtpServer) -> None:
    config = configure(tmp_path, db_url, smtp_server.port, connections=4,
                       messages_per_connection=25)
    desk = open_desk(config)
    members = people(300)
    import_group(desk, tmp_path, "communes", members)
    announcement = queue_mailing(desk, ["communes"])
    assert status(desk, announcement)["finished"] is False

    report = desk.send()

    assert (report.sent, report.retried, report.failed) == (300, 0, 0)
    envelopes = smtp_server.messages
    assert sorted(e.rcpt_tos[0] for e in envelopes) == [m[0] for m in members]  # once each
    member = {m[0]: m for m in members}
    message_ids = set()
    for envelope in envelopes:
        [to] = envelope.rcpt_tos
        local, domain = HELPDESK.split("@")  # a signed envelope sender of its own (VERP)
        assert envelope.mail_from.startswith(f"{local}+b.")
        assert envelope.mail_from.endswith(f"@{domain}")
        msg = parsed(envelope.content)
        _, name, language = member[to]
        [address] = msg["To"].addresses
        assert (address.addr_spec, address.display_name) == (to, name)
        assert msg["List-Id"] == "<communes.rn.example>"
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["Content-Language"] == language
        assert msg["List-Unsubscribe"] is None
        assert msg.get_content_type() == "multipart/alternative"
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert text is not None and html is not None
        assert "La nouvelle procédure s'applique." in text.get_content()
        assert "La nouvelle procédure s&#39;applique." in html.get_content()
        assert msg["Subject"] == SUBJECT
        message_ids.add(msg["Message-ID"])
    assert len(message_ids) == 300

    assert smtp_server.sessions >= 12  # 300 messages, 25 per session at most
    assert smtp_server.most_in_a_session <= 25
    assert 2 <= smtp_server.max_open_sessions <= 4  # in parallel, never more than 4

    state = status(desk, announcement)
    assert state["finished"] is True
    assert state["counts"] == counts(sent=300)
    recorded = rows(desk, announcement)
    assert {r["attempts"] for r in recorded.values()} == {1}
    assert all(r["reply"].startswith("250 ") for r in recorded.values()), \
        {r["reply"] for r in recorded.values()}
    assert all(r["lease"] is None for r in recorded.values())
    desk.close()


def test_421_after_n_messages_per_session_delivers_everything_once(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    """A relay that hangs up with 421 after 10 messages (SES-like) although we would send
    100 per session: the refused message is retried, nothing is lost or sent twice."""
    config = configure(tmp_path, db_url, smtp_server.port, connections=2,
                       messages_per_connection=100, retry_base_seconds=0.01)
    desk = open_desk(config)
    members = people(60)
    import_group(desk, tmp_path, "zones", members)
    announcement = queue_mailing(desk, ["zones"])
    smtp_server.session_limit = 10

    first = desk.send()
    assert first.retried >= 1 and first.failed == 0
    for _ in range(20):
        if status(desk, announcement)["finished"]:
            break
        time.sleep(0.05)  # the 10 ms backoff
        desk.send()

    received = Counter(e.rcpt_tos[0] for e in smtp_server.messages)
    assert sorted(received) == [m[0] for m in members]
    assert set(received.values()) == {1}
    assert smtp_server.closed_421 >= 1
    assert smtp_server.most_in_a_session == 10
    assert smtp_server.sessions >= 6
    recorded = rows(desk, announcement)
    assert {r["state"] for r in recorded.values()} == {"sent"}
    # each 421 cost exactly one attempt of one row, which was then sent
    assert sum(r["attempts"] for r in recorded.values()) == 60 + smtp_server.closed_421
    assert status(desk, announcement)["counts"] == counts(sent=60)
    desk.close()


def test_replies_per_recipient_backoff_max_attempts_and_retry(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    config = configure(tmp_path, db_url, smtp_server.port, connections=2, max_attempts=3,
                       retry_base_seconds=60)
    desk = open_desk(config)
    members = [(f"{who}@commune.example", who, "fr")
               for who in ("ok1", "gone", "full", "busy", "ok2")]
    import_group(desk, tmp_path, "mixed", members)
    smtp_server.failures.update({
        "gone@": "550 5.1.1 <gone@commune.example>: mailbox unavailable",
        "full@": "450 4.2.2 mailbox full",
        "busy@": "454 4.7.1 relay temporarily unavailable",
    })
    announcement = queue_mailing(desk, ["mixed"])

    before = utcnow()
    report = desk.send()
    after = utcnow()
    assert (report.sent, report.retried, report.failed) == (2, 2, 1)
    r = rows(desk, announcement)
    assert r["ok1@commune.example"]["state"] == r["ok2@commune.example"]["state"] == "sent"
    gone = r["gone@commune.example"]
    assert (gone["state"], gone["attempts"]) == ("failed", 1)
    assert gone["reply"] == "550 5.1.1 <gone@commune.example>: mailbox unavailable"
    for who, reply in (("full", "450 4.2.2 mailbox full"),
                       ("busy", "454 4.7.1 relay temporarily unavailable")):
        row = r[f"{who}@commune.example"]
        assert (row["state"], row["attempts"], row["reply"]) == ("queued", 1, reply)
        assert before + timedelta(seconds=60) <= row["next"] <= after + timedelta(seconds=60)
        assert row["lease"] is None
    state = status(desk, announcement)
    assert state["finished"] is False
    assert state["counts"] == counts(sent=2, failed=1, queued=2)

    # not due yet: nothing is attempted
    assert desk.send().retried == 0
    assert len(smtp_server.messages) == 2

    # second failure: the delay doubles
    make_due(desk)
    before = utcnow()
    assert desk.send().retried == 2
    after = utcnow()
    r = rows(desk, announcement)
    for who in ("full", "busy"):
        row = r[f"{who}@commune.example"]
        assert (row["state"], row["attempts"]) == ("queued", 2)
        assert before + timedelta(seconds=120) <= row["next"] <= after + timedelta(seconds=120)

    # third failure: max_attempts reached, failed with the last reply kept
    make_due(desk)
    assert desk.send().failed == 2
    r = rows(desk, announcement)
    assert (r["full@commune.example"]["state"], r["full@commune.example"]["attempts"],
            r["full@commune.example"]["reply"]) == ("failed", 3, "450 4.2.2 mailbox full")
    assert r["busy@commune.example"]["state"] == "failed"

    code, out, _ = rnmail(config, "announce", "status", str(announcement), "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["finished"] is True and shown["counts"] == counts(sent=2, failed=3)
    code, out, _ = rnmail(config, "announce", "status", str(announcement))
    assert code == 0 and "finished" in out and "3 failed" in out

    code, out, _ = rnmail(config, "announce", "retry", str(announcement))
    assert code == 0 and out.strip() == "3 failed delivery(ies) queued again"
    r = rows(desk, announcement)
    assert {a: (row["state"], row["attempts"]) for a, row in r.items() if "ok" not in a} == {
        f"{who}@commune.example": ("queued", 0) for who in ("gone", "full", "busy")}
    shown = json.loads(rnmail(config, "announce", "status", str(announcement), "--json")[1])
    assert shown["finished"] is False and shown["counts"] == counts(sent=2, queued=3)

    for needle in ("gone@", "full@", "busy@"):
        del smtp_server.failures[needle]
    code, out, _ = rnmail(config, "outbox", "send")
    assert code == 0 and out.strip() == "3 sent, 0 deferred, 0 failed"
    received = Counter(e.rcpt_tos[0] for e in smtp_server.messages)
    assert received == Counter(m[0] for m in members)  # everyone exactly once
    assert status(desk, announcement)["counts"] == counts(sent=5)
    code, _, err = rnmail(config, "announce", "retry", "999")
    assert code == 1 and "no announcement #999" in err
    desk.close()


def test_smtp_server_down_releases_the_leased_rows(tmp_path: Path, db_url: str,
                                                   smtp_server: SmtpServer) -> None:
    """Nothing listening: one clear line, exit status 1, every leased row queued again
    with its attempts unchanged (no attempt was made)."""
    config = configure(tmp_path, db_url, smtp_server.port, connections=4, retry_base_seconds=60)
    desk = open_desk(config)
    import_group(desk, tmp_path, "first", people(12, "one.example"))
    import_group(desk, tmp_path, "second", people(40, "two.example"))
    smtp_server.failures["pop000"] = "451 4.3.0 try later"  # pop0000..pop0009 of each
    earlier = queue_mailing(desk, ["first"])
    desk.send()
    make_due(desk)
    later = queue_mailing(desk, ["second"])
    before = {**rows(desk, earlier), **rows(desk, later)}
    assert Counter((r["state"], r["attempts"]) for r in before.values()) == {
        ("sent", 1): 2, ("queued", 1): 10, ("queued", 0): 40}
    smtp_server.stop()
    dead = configure(tmp_path, db_url, free_port(), connections=4, retry_base_seconds=60)

    code, out, err = finish(start(dead, "outbox", "send"))

    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("Error: SMTP server 127.0.0.1:") and "Traceback" not in err
    after = {**rows(desk, earlier), **rows(desk, later)}
    assert {a: (r["state"], r["attempts"], r["reply"]) for a, r in after.items()} == {
        a: (r["state"], r["attempts"], r["reply"]) for a, r in before.items()}
    assert all(r["lease"] is None for r in after.values())
    assert status(desk, later)["counts"] == counts(queued=40)
    desk.close()


# --------------------------------------------------------------------------- rate

def test_rate_limit_in_one_process(tmp_path: Path, db_url: str,
                                   smtp_server: SmtpServer) -> None:
    config = configure(tmp_path, db_url, smtp_server.port, connections=2, rate=40)
    desk = open_desk(config)
    import_group(desk, tmp_path, "g", people(80))
    queue_mailing(desk, ["g"])
    started = time.monotonic()
    assert desk.send().sent == 80
    elapsed = time.monotonic() - started
    times = sorted(e.received_at for e in smtp_server.messages)
    assert len(times) == 80
    assert elapsed >= 1.9, elapsed  # 80 slots at 40/s: the last one 79/40 = 1.975 s later
    assert times[-1] - times[0] >= 1.7, times[-1] - times[0]  # spread, not a slow start
    desk.close()


# Two senders must both have rows to send: with the default claim of 500 rows, the first
# process to start would lease all 120 and the second find nothing.
SMALL_CLAIMS = "import rnmail.dispatch.send as s; s.CLAIM_BATCH = 10; " + RUN


@pytest.mark.slow
def test_rate_limit_holds_across_processes(tmp_path: Path, db_url: str,
                                           smtp_server: SmtpServer) -> None:
    config = configure(tmp_path, db_url, smtp_server.port, connections=2, rate=40)
    desk = open_desk(config)
    import_group(desk, tmp_path, "g", people(120))
    announcement = queue_mailing(desk, ["g"])
    procs = [start(config, "outbox", "send", code=SMALL_CLAIMS) for _ in range(2)]
    results = [finish(proc) for proc in procs]
    sent = []
    for code, out, err in results:
        assert code == 0, err
        sent.append(int(out.split()[0]))
    assert sum(sent) == 120
    assert min(sent) >= 10, sent  # both processes did send
    times = sorted(e.received_at for e in smtp_server.messages)
    assert len(times) == 120
    # 120 slots at 40/s shared: 119/40 = 2.975 s (less the first connection's set-up);
    # at 40/s per process it would be ~1.5 s
    assert times[-1] - times[0] >= 2.7, times[-1] - times[0]
    assert status(desk, announcement)["counts"] == counts(sent=120)
    desk.close()


def test_rows_waiting_longer_than_their_lease_are_not_sent_twice(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A scale model of a big mailing through a slow relay (claims of 500 rows at 3 messages
    a second: the second claim waits ~300 s, the default lease, for its turn), here claims
    of 10 at 20/s with 0.3 s leases. Rows waiting in the sender's queue must keep their
    lease, or the sender's next claim (or another sender) takes them again."""
    monkeypatch.setattr(send, "CLAIM_BATCH", 10)
    config = configure(tmp_path, db_url, smtp_server.port, connections=1, rate=20,
                       lease_seconds=0.3)
    desk = open_desk(config)
    members = people(30)
    import_group(desk, tmp_path, "g", members)
    announcement = queue_mailing(desk, ["g"])
    report = desk.send()
    received = Counter(e.rcpt_tos[0] for e in smtp_server.messages)
    assert received == Counter(m[0] for m in members)
    assert report.sent == 30
    assert status(desk, announcement)["counts"] == counts(sent=30)
    desk.close()


# --------------------------------------------------------------------------- kill -9

@pytest.mark.slow
def test_kill_9_mid_mailing_resumes_without_loss_and_bounded_duplicates(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    connections = 4
    config = configure(tmp_path, db_url, smtp_server.port, connections=connections,
                       lease_seconds=1)
    desk = open_desk(config)
    members = people(1000)
    import_group(desk, tmp_path, "communes", members)
    assert rnmail(config, "operator", "add", OPERATOR, "--password-stdin",
                  input=PASSWORD + "\n")[0] == 0

    kills = 0
    proc = start(config, "announce", "--yes", "--template", "circular", "--groups", "communes",
                 "--var", f"subject={SUBJECT}", "--var", "body=y", "--operator", OPERATOR,
                 "--password-stdin", stdin=PASSWORD + "\n")
    marks = [100, 500]  # kill once the server has this many messages
    try:
        for mark in marks:
            smtp_server.wait_for(mark, timeout=60)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            assert proc.returncode == -signal.SIGKILL
            kills += 1
            assert smtp_server.count() < len(members), "the kill must land mid-mailing"
            time.sleep(1.3)  # the killed sender's leases expire
            proc = start(config, "outbox", "send")
        code, _, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0 and "Traceback" not in err, err
    assert kills == 2

    with desk.db.transaction() as session:
        [announcement] = session.scalars(select(Announcement.id)).all()
    state = status(desk, announcement)
    assert state["finished"] is True, state
    assert state["counts"] == counts(sent=1000)
    received = Counter(e.rcpt_tos[0] for e in smtp_server.messages)
    assert set(received) == {m[0] for m in members}  # nobody lost
    twice = {address: n for address, n in received.items() if n > 1}
    assert max(received.values()) <= 1 + kills
    assert len(twice) <= (send.RECORD_WINDOW + 1) * connections * kills, twice
    # a resend is the very same message (same Message-ID), not a second announcement
    ids: dict[str, set[str]] = {}
    for envelope in smtp_server.messages:
        if envelope.rcpt_tos[0] in twice:
            msg = email.message_from_bytes(envelope.content)
            ids.setdefault(envelope.rcpt_tos[0], set()).add(msg["Message-ID"])
    assert all(len(found) == 1 for found in ids.values()), ids
    desk.close()


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # two senders: PostgreSQL only
def test_the_second_sender_killed_mid_mailing_loses_nothing(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    """A large foreground mailing forks a second sender (``send_in_two``). Killed -9 mid-way,
    the command still ends in one clear line, not a traceback: what the first process sent
    is sent, the rows the second had claimed go out after their lease, at most the second's
    unrecorded window twice."""
    connections = 4
    config = configure(tmp_path, db_url, smtp_server.port, connections=connections,
                       lease_seconds=1)
    desk = open_desk(config)
    # Rows enough that the second process still has some whatever the first leased before
    # it connected (with 1,000, before the first claim was cut to 50, it had found none and
    # ended before the kill).
    members = people(max(TWO_PROCESSES_FROM, 4 * send.CLAIM_BATCH))
    import_group(desk, tmp_path, "communes", members)
    assert rnmail(config, "operator", "add", OPERATOR, "--password-stdin",
                  input=PASSWORD + "\n")[0] == 0
    proc = start(config, "announce", "--yes", "--template", "circular", "--groups", "communes",
                 "--var", f"subject={SUBJECT}", "--var", "body=y", "--operator", OPERATOR,
                 "--password-stdin", stdin=PASSWORD + "\n")
    try:
        smtp_server.wait_for(100, timeout=60)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 1, children  # the forked sender
        state = Path(f"/proc/{children[0]}/stat").read_text().rpartition(")")[2].split()[0]
        assert state != "Z", "the second sender must still be at work"
        os.kill(int(children[0]), signal.SIGKILL)
        # Counted now: once the killed sender's leases expire (1 s), the first process may
        # send its rows too before it ends, which a loaded machine did (1000 of 1000).
        assert smtp_server.count() < len(members), "the kill must land mid-mailing"
        code, _, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0 and "Traceback" not in err, err
    assert "the second sending process ended with status -9" in err
    assert "the mail stays queued" in err
    time.sleep(1.3)  # the killed sender's leases expire
    code, _, err = finish(start(config, "outbox", "send"))
    assert code == 0, err
    with desk.db.transaction() as session:
        [announcement] = session.scalars(select(Announcement.id)).all()
    assert status(desk, announcement)["counts"] == counts(sent=len(members))
    received = Counter(e.rcpt_tos[0] for e in smtp_server.messages)
    assert set(received) == {m[0] for m in members}  # nobody lost
    twice = [address for address, n in received.items() if n > 1]
    assert max(received.values()) <= 2
    assert len(twice) <= (send.RECORD_WINDOW + 1) * (connections // 2), twice
    desk.close()


# send_in_two in a process of its own, its progress counted: what the operator's progress bar
# sees, and how much of it had come when this process's own share was done.
PROGRESS_RUN = """
import json, sys
from collections import Counter
from rnmail.config import load_config
from rnmail.db import Database
from rnmail.dispatch import send_in_two as two
config = load_config(sys.argv[2])
seen = Counter()
here = {}
send_queued = two.send_queued
async def this_share(*args, **kwargs):
    report = await send_queued(*args, **kwargs)
    here.update(sent=report.sent, seen=sum(seen.values()))
    return report
two.send_queued = this_share
def progress(announcement, state):
    seen[f"{announcement} {state}"] += 1
report = two.send_in_two(Database.of(config), config, progress)
print(json.dumps({"report": report.as_json(), "seen": seen, "here": here}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # two senders: PostgreSQL only
def test_the_progress_counts_both_senders_rows_as_they_go(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    """The operator's progress bar of a large mailing counts the second sending process's
    rows as it sends them (relayed over a pipe), not only this process's half."""
    config = configure(tmp_path, db_url, smtp_server.port, connections=4)
    desk = open_desk(config)
    members = people(3 * TWO_PROCESSES_FROM)
    import_group(desk, tmp_path, "communes", members)
    assert rnmail(config, "operator", "add", OPERATOR, "--password-stdin",
                  input=PASSWORD + "\n")[0] == 0
    code, _, err = finish(start(config, "announce", "--yes", "--queue-only", "--template",
                                "circular", "--groups", "communes", "--var",
                                f"subject={SUBJECT}", "--var", "body=y", "--operator",
                                OPERATOR, "--password-stdin", stdin=PASSWORD + "\n"))
    assert code == 0, err
    with desk.db.transaction() as session:
        [announcement] = session.scalars(select(Announcement.id)).all()
    code, out, err = finish(start(config, code=PROGRESS_RUN))
    assert code == 0, err
    result = json.loads(out)
    assert result["report"] == {"sent": len(members), "deferred": 0, "failed": 0}
    assert result["seen"] == {f"{announcement} sent": len(members)}  # each row once
    # This process's share ended with the other's rows counted already, not at its end.
    assert result["here"]["seen"] > result["here"]["sent"], result["here"]
    assert smtp_server.count() == len(members)
    desk.close()


def test_the_progress_relay_stops_watching_an_ended_pipe() -> None:
    """The second sender gone (its end of the pipe closed, or the process killed), the
    relay takes what it wrote and the event loop stops watching the pipe: an ended pipe is
    always readable, and would otherwise wake the first sender's loop for nothing until its
    share is sent."""
    from rnmail.dispatch.send_in_two import ProgressRelay

    read_end, write_end = os.pipe()
    os.write(write_end, b"7 sent\n0 queued\n7 fa")
    os.write(write_end, b"iled\n")
    os.close(write_end)
    seen: list[tuple[int | None, str]] = []
    relay = ProgressRelay(read_end, lambda announcement, state: seen.append((announcement,
                                                                             state)))
    wakes = 0

    def read() -> None:
        nonlocal wakes
        wakes += 1
        relay.read_some()

    async def meanwhile() -> None:
        asyncio.get_running_loop().add_reader(read_end, read)
        await asyncio.sleep(0.2)

    asyncio.run(meanwhile())
    relay.read_to_end()
    assert seen == [(7, "sent"), (None, "queued"), (7, "failed")]
    assert relay.ended and wakes <= 3, wakes


def test_the_senders_kept_connection_outlives_a_database_restart(tmp_path: Path) -> None:
    """The replies are recorded over one connection kept for the whole run, which no pool
    pre-ping checks: when the server ended it since the last commit (a PostgreSQL restart),
    the next commit connects again and is not lost."""
    with database("postgresql", tmp_path) as url:
        db = Database(url)
        kept = db.kept_connection()
        try:
            pid = kept.run(lambda connection: connection.scalar(text("SELECT pg_backend_pid()")))
            with db.engine.connect() as other:
                assert other.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"),
                                    {"pid": pid})
            again = kept.run(lambda connection: connection.scalar(
                text("SELECT pg_backend_pid()")))
            assert again != pid
        finally:
            kept.close()
            db.dispose()


# --------------------------------------------------------------------------- suppression

def test_suppressed_addresses_are_never_sent(tmp_path: Path, db_url: str,
                                             smtp_server: SmtpServer) -> None:
    config = configure(tmp_path, db_url, smtp_server.port)
    desk = open_desk(config)
    members = people(6)
    import_group(desk, tmp_path, "g", members)
    banned = members[2][0]
    with desk.db.transaction() as session:
        session.add(Suppression(email=banned, reason="3 hard bounce(s)", hard_bounces=3))
    announcement = queue_mailing(desk, ["g"])
    assert rows(desk, announcement)[banned]["state"] == "suppressed"
    assert status(desk, announcement)["counts"] == counts(queued=5, suppressed=1)

    assert desk.send().sent == 5
    assert desk.send().sent == 0
    received = sorted(e.rcpt_tos[0] for e in smtp_server.messages)
    assert received == sorted(m[0] for m in members if m[0] != banned)
    r = rows(desk, announcement)
    assert (r[banned]["state"], r[banned]["attempts"]) == ("suppressed", 0)
    code, out, _ = rnmail(config, "announce", "status", str(announcement), "--json")
    shown = json.loads(out)
    assert code == 0
    assert shown["finished"] is True and shown["counts"] == counts(sent=5, suppressed=1)
    assert "1 suppressed" in rnmail(config, "announce", "status", str(announcement))[1]
    assert rnmail(config, "announce", "retry", str(announcement))[1].startswith("0 failed")
    assert rows(desk, announcement)[banned]["state"] == "suppressed"
    desk.close()
