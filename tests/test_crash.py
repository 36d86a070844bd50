"""Crash safety: kill -9 the real ingest process at random moments, run it again, count.

Whatever the moment of the kill (mid-fetch, mid-batch, between commit and IMAP move), the
end state must hold every message exactly once: no loss, no duplicate ticket or reply.
"""

from __future__ import annotations

import email
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rnmail.config import OutboxConfig
from rnmail.dispatch import send
from rnmail.models import Message, OutboxMessage, Ticket
from tests.harness import corpus
from tests.harness.factories import Desk, make_config, write_config
from tests.harness.servers import Dovecot, SmtpServer

pytestmark = pytest.mark.slow  # kill -9 of real processes

ROOT = Path(__file__).resolve().parent.parent
RUN = "from cli.main import main; main()"


def write_toml(tmp_path: Path, db_url: str, imap: Dovecot, batch: int, smtp: str) -> Path:
    mailbox = (f'[[mailbox]]\nname = "info"\nhost = "{imap.host}"\nport = {imap.port}\n'
               'user = "info"\npassword = "secret"')
    return write_config(tmp_path, db_url, mailbox=mailbox, smtp=smtp,
                        extra=f"[ingest]\nbatch_size = {batch}\nauto_reply_domain_limit = 10000\n"
                              "[outbox]\nlease_seconds = 0.5")  # hundreds in one domain


def run_until_done(config: Path, command: list[str], rng: random.Random,
                   lo: float, hi: float) -> int:
    """Start the command, SIGKILL it after a random delay; repeat until it exits by itself."""
    kills = 0
    for _ in range(40):
        proc = subprocess.Popen([sys.executable, "-c", RUN, "--config", str(config), *command],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            # Widened after each kill: on a loaded machine start-up alone may outlast hi.
            proc.wait(timeout=rng.uniform(lo, hi) * 1.1 ** kills)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            time.sleep(0.6)  # let a lease taken by the killed process expire
            continue
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr
        return kills
    raise AssertionError("never finished")


def test_kill_9_during_ingest_loses_nothing_and_duplicates_nothing(
        tmp_path: Path, db_url: str, imap: Dovecot) -> None:
    n = 300
    imap.append_many("info", [
        corpus.simple(f"Demande {i}", f"Bonjour, question numéro {i} sur ma clé d'accès.",
                      from_addr=f"user{i}@citizen.example") for i in range(n)
    ])
    config = write_toml(tmp_path, db_url, imap, batch=7,
                        smtp=f'[smtp]\ntransport = "file"\ndirectory = "{tmp_path}/out"')
    desk = Desk(make_config(tmp_path, db_url, imap))  # migrates the database
    kills = run_until_done(config, ["ingest", "once"], random.Random(7), 0.5, 1.1)
    assert kills >= 3, "the test must actually interrupt the ingest"
    assert imap.folder_uids("info") == []
    # A kill during IMAP MOVE may leave the server's copy twice in Processed (Dovecot moves
    # by copy + expunge); what matters is that every message left INBOX and exists once here.
    processed = imap.fetch_raw("info", "Processed")
    moved = {email.message_from_bytes(raw)["Message-ID"] for raw in processed}
    assert len(moved) == n
    with desk.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == n
        assert session.scalar(select(func.count()).select_from(Message)
                              .where(Message.direction == "in")) == n
        acks = session.scalars(select(OutboxMessage.to_addr)).all()
        assert sorted(acks) == sorted(f"user{i}@citizen.example" for i in range(n))
    desk.close()


def test_kill_9_during_sending_loses_no_mail(tmp_path: Path, db_url: str, imap: Dovecot,
                                             smtp_server: SmtpServer) -> None:
    """Every acknowledgement reaches the server; a kill between the server's 250 and our
    commit may resend the mails whose reply was not recorded yet, with the same Message-ID
    (at-least-once, bounded per connection)."""
    n = 120
    imap.append_many("info", [
        corpus.simple(f"Q {i}", "Bonjour, pouvez-vous m'aider avec mon certificat ?",
                      from_addr=f"person{i}@citizen.example") for i in range(n)
    ])
    desk = Desk(make_config(tmp_path, db_url, imap, ingest={"auto_reply_domain_limit": 10000}))
    desk.ingest()
    config = write_toml(tmp_path, db_url, imap, batch=100,
                        smtp=f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}')
    kills = run_until_done(config, ["outbox", "send"], random.Random(11), 0.9, 1.6)
    received = [env.rcpt_tos[0] for env in smtp_server.messages]
    assert set(received) == {f"person{i}@citizen.example" for i in range(n)}
    per_kill = (send.RECORD_WINDOW + 1) * OutboxConfig().connections
    assert len(received) - n <= per_kill * kills
    with desk.db.transaction() as session:
        states = session.scalars(select(OutboxMessage.state)).all()
    assert set(states) == {"sent"}
    desk.close()
