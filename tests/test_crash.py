"""Crash safety: kill -9 the real ingest process at random moments, run it again, count.

Whatever the moment of the kill (mid-fetch, mid-batch, between commit and IMAP move), the
end state must hold every message exactly once: no loss, no duplicate ticket or reply.
"""

from __future__ import annotations

import contextlib
import email
import json
import os
import random
import select as selectors
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
from tests.harness.wait import until

pytestmark = pytest.mark.slow  # kill -9 of real processes

ROOT = Path(__file__).resolve().parent.parent
# One Python with rnmail imported forks each run of the command (argv and the file for its
# stderr come as one JSON line; it answers the child's pid, then its exit status). The random
# kill delay thus runs from the moment the command starts its work (fetch, batch, commit,
# move, send): the interpreter's start-up, which on a loaded machine alone outlasted the
# delay, is paid once, not before every run. That includes the modules the commands import
# only when they run (``cli.main``): without them a run spent its first second importing,
# and most kills landed there.
FORKER = """
import json, os, sys
from cli.main import main
import rnmail.dispatch.send, rnmail.ingest.runner
for line in sys.stdin:
    argv, err = json.loads(line)
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        code = 1
        try:
            main(argv)
        except SystemExit as exit:
            code = 0 if exit.code is None else exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
        sys.stderr.flush()
        os._exit(code)
    print(pid, flush=True)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


class Forker:
    """The process that forks the runs (``FORKER``)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", FORKER], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buffer = b""

    def start(self, argv: list[str], stderr: Path) -> int:
        """Fork a run of ``rnmail ARGV``; its pid."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps([argv, str(stderr)]).encode() + b"\n")
        self.proc.stdin.flush()
        pid = self.line(60)
        assert pid is not None, "the forker did not answer"
        return pid

    def line(self, timeout: float) -> int | None:
        """The next number the forker writes, None if none within ``timeout`` seconds."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not selectors.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            assert chunk, "the forker died"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return int(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def children(pid: int) -> list[int]:
    """The processes ``pid`` started that are still running."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    """Running, not ended (a zombie not reaped yet has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def write_toml(tmp_path: Path, db_url: str, imap: Dovecot, batch: int, smtp: str,
               outbox: str = "") -> Path:
    mailbox = (f'[[mailbox]]\nname = "info"\nhost = "{imap.host}"\nport = {imap.port}\n'
               'user = "info"\npassword = "secret"')
    return write_config(tmp_path, db_url, mailbox=mailbox, smtp=smtp,
                        extra=f"[ingest]\nbatch_size = {batch}\nauto_reply_domain_limit = 10000\n"
                              f"[outbox]\nlease_seconds = 0.5\n{outbox}")  # hundreds in one domain


def run_until_done(config: Path, command: list[str], rng: random.Random,
                   lo: float, hi: float, lease: float = 0.0, most: int = 60) -> int:
    """Start the command, SIGKILL it after a random delay; repeat until it exits by itself,
    or at most ``most`` times: then one run is left to finish. ``lease``: how long a lease
    taken by a killed run keeps its mails from the next."""
    forker = Forker()
    stderr = config.parent / "stderr.txt"
    kills, running = 0, 0
    try:
        while kills <= most:  # by the 60th kill the delay is 300 times hi
            running = forker.start(["--config", str(config), *command], stderr)
            # Widened after each kill, in case one batch alone outlasts hi on a slow machine.
            code = forker.line(rng.uniform(lo, hi) * 1.1 ** kills if kills < most else 120)
            if code is None and kills < most:
                helpers = children(running)  # its parse-ahead process, once started
                with contextlib.suppress(ProcessLookupError):  # it may have just ended
                    os.kill(running, signal.SIGKILL)
                code = forker.line(120)
                until(lambda h=helpers: not any(map(alive, h)), 10,
                      f"the killed run's processes {helpers} to end with it")
            assert code is not None, "the run did not end"
            running = 0
            if code == -signal.SIGKILL:
                kills += 1
                time.sleep(lease * 1.2)  # let a lease taken by the killed run expire
                continue
            errors = stderr.read_text()
            assert code == 0, errors
            assert "Traceback" not in errors
            return kills
    finally:
        if running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(running, signal.SIGKILL)
        forker.close()
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
    # Six kills at random moments of the work (start-up, fetch, batch, between commit and
    # move), then a run left to end: the kills that land in the work were 4-6 when the
    # runs were killed until one ended in time, each kill costing a run's start again.
    # The 300 mails take about half a second since the ingest uses both cores: the kills
    # come within that.
    kills = run_until_done(config, ["ingest", "once"], random.Random(7), 0.1, 0.5, most=6)
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
    # At most 300 mails a second: the 120 take 0.4 s, so a kill at 0.05-0.3 s lands in the
    # sending however fast the machine (unthrottled, a quiet machine sent them all first).
    config = write_toml(tmp_path, db_url, imap, batch=100,
                        smtp=f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}',
                        outbox="rate = 300")
    kills = run_until_done(config, ["outbox", "send"], random.Random(11), 0.05, 0.3,
                           lease=0.5, most=3)
    assert kills >= 1, "the test must actually interrupt the sending"
    received = [env.rcpt_tos[0] for env in smtp_server.messages]
    assert set(received) == {f"person{i}@citizen.example" for i in range(n)}
    per_kill = (send.RECORD_WINDOW + 1) * OutboxConfig().connections
    assert len(received) - n <= per_kill * kills
    with desk.db.transaction() as session:
        states = session.scalars(select(OutboxMessage.state)).all()
    assert set(states) == {"sent"}
    desk.close()
