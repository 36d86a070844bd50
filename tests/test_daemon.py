"""``rnmail run``: the real daemon as a subprocess, signals, reload, dependencies."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from rnmail.config import MailboxConfig, load_config
from rnmail.daemon.loop import mailbox_lock, stop_child
from rnmail.db import Database
from rnmail.dispatch.announce import announcement_status
from rnmail.errors import ServerUnavailable
from rnmail.ingest.fetch import wait_for_mail
from tests.harness.daemon import RUN, Daemon
from tests.harness.factories import Desk, write_config
from tests.harness.install import rnmail
from tests.harness.mailings import import_group, people, queue_mailing
from tests.harness.servers import (
    Dovecot,
    SmtpServer,
    free_port,
    fresh_postgres_schema,
    postgres_problem,
)
from tests.harness.wait import until

pytestmark = pytest.mark.slow  # the real daemon as a subprocess, outages and signals

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
FAST = "[daemon]\npoll_seconds = 0.3\nsend_seconds = 0.3\nstop_seconds = 10"


def drop(maildir: Path, name: str) -> None:
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / name, maildir / "tmp" / name)
    os.replace(maildir / "tmp" / name, maildir / "new" / name)


def outgoing(tmp_path: Path) -> list[Path]:
    out = tmp_path / "outgoing"
    return sorted(out.glob("*.eml")) if out.exists() else []


def test_mail_in_tickets_and_acknowledgements_out_then_a_clean_stop(
        tmp_path: Path, db_url: str, started: Callable[[Path], Daemon]) -> None:
    config = write_config(tmp_path, db_url, extra=FAST)
    assert rnmail(config, "init")[0] == 0
    assert rnmail(config, "block", "add", "jean.dupont@citizen.example")[0] == 0
    daemon = started(config)
    drop(tmp_path / "maildir", "lang_nl_gemeente_toegangssleutel.eml")
    drop(tmp_path / "maildir", "lang_fr_citizen_cle_bloquee.eml")  # a blocked sender: spam
    until(lambda: len(outgoing(tmp_path)) == 1)
    drop(tmp_path / "maildir", "lang_de_gemeinde_zugangsschluessel.eml")
    until(lambda: len(outgoing(tmp_path)) == 2)
    code, out, _ = rnmail(config, "ticket", "list")
    assert code == 0 and sum(line[1:2].isdigit() for line in out.splitlines()) == 2
    assert daemon.stop() == 0
    log = daemon.text()
    assert "rnmail run: stopped" in log and "Traceback" not in log
    assert "outbox: 1 sent" in log


def test_the_status_and_faq_pages_are_kept_current_without_a_command(
        tmp_path: Path, db_url: str, started: Callable[[Path], Daemon]) -> None:
    config = write_config(tmp_path, db_url, extra=FAST + "\npublish_seconds = 0.5\n"
                          f'[status]\npublic_dir = "{tmp_path}/status"\n')
    assert rnmail(config, "init")[0] == 0
    daemon = started(config)
    until(lambda: (tmp_path / "status/index.html").exists())  # published at start
    faq_page = load_config(config).helpdesk.public_dir / "faq/fr.html"
    assert rnmail(config, "faq", "add", "--lang", "fr", "--question", "Clé d'accès bloquée ?",
                  "--answer", "Appelez le helpdesk.", "--publish")[0] == 0
    until(lambda: faq_page.exists() and "Clé d&#39;accès bloquée ?" in faq_page.read_text())
    # A public folder that cannot be written is one log line, not a stopped scheduler.
    status, gone = tmp_path / "status", tmp_path / "gone"

    def file_in_its_place() -> bool:
        """The folder moved away whole (the daemon may be writing into it: rmtree could
        meet a file it had not listed), then a file where it was, unless the daemon made
        the folder again in between (then: try again)."""
        if status.is_dir():
            shutil.rmtree(gone, ignore_errors=True)
            status.rename(gone)
        try:
            status.write_text("not a folder")
        except IsADirectoryError:
            return False
        return True

    until(file_in_its_place)
    until(lambda: "status and FAQ publishing fails" in daemon.text())
    (tmp_path / "status").unlink()
    until(lambda: "status and FAQ publishing works again" in daemon.text())
    assert (tmp_path / "status/index.html").exists()
    assert daemon.stop() == 0
    log = daemon.text()
    assert log.count("status and FAQ publishing fails") == 1 and "Traceback" not in log


def test_a_second_instance_on_sqlite_is_refused(
        tmp_path: Path, started: Callable[[Path], Daemon]) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/rn.db", extra=FAST)
    assert rnmail(config, "init")[0] == 0
    first = started(config)
    until(lambda: "rnmail run:" in first.text())
    second = started(config)
    assert second.proc.wait(timeout=30) == 1
    assert "another `rnmail run` is using" in second.text()
    assert "Traceback" not in second.text()
    assert first.proc.poll() is None
    assert first.stop(signal.SIGINT) == 0


def test_sighup_reads_the_config_again_and_picks_up_a_new_mailbox(
        tmp_path: Path, db_url: str, started: Callable[[Path], Daemon]) -> None:
    config = write_config(tmp_path, db_url, extra=FAST)
    assert rnmail(config, "init")[0] == 0
    daemon = started(config)
    until(lambda: "rnmail run:" in daemon.text())
    fax = tmp_path / "faxdir"
    drop(fax, "fax_tiff_attachment.eml")
    text = config.read_text()
    config.write_text(text + f'\n[[mailbox]]\nname = "fax"\nkind = "fax"\ntype = "maildir"\n'
                             f'path = "{fax}"\n')
    daemon.proc.send_signal(signal.SIGHUP)
    until(lambda: len(outgoing(tmp_path)) == 1)
    assert "config reloaded: 2 mailbox(es)" in daemon.text()
    config.write_text(text + "\n[nonsense]\n")  # a broken config is refused, the old one kept
    daemon.proc.send_signal(signal.SIGHUP)
    until(lambda: "the config was not reloaded" in daemon.text())
    drop(tmp_path / "maildir", "lang_nl_gemeente_toegangssleutel.eml")
    until(lambda: len(outgoing(tmp_path)) == 2)
    assert daemon.stop() == 0


def test_the_smtp_server_going_away_is_logged_once_and_mail_goes_out_when_it_is_back(
        tmp_path: Path, db_url: str, started: Callable[..., Daemon]) -> None:
    port = free_port()
    config = write_config(tmp_path, db_url, smtp=f'[smtp]\nhost = "127.0.0.1"\nport = {port}',
                          extra=FAST.replace("send_seconds = 0.3", "send_seconds = 0.1"))
    assert rnmail(config, "init")[0] == 0
    daemon = started(config, "-vv")  # -vv: a debug line for each retry
    drop(tmp_path / "maildir", "lang_nl_gemeente_toegangssleutel.eml")
    until(lambda: "SMTP server: failure 4," in daemon.text())  # four tries, one line
    assert daemon.text().count("is unavailable") == 1
    server = SmtpServer().start(port)
    try:
        until(lambda: len(server.messages) == 1, timeout=60)
        until(lambda: "SMTP server is back" in daemon.text())
        assert daemon.proc.poll() is None
        assert daemon.stop() == 0
    finally:
        server.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (PostgreSQL down is a failure, never a skip)."""
    problem = postgres_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    with fresh_postgres_schema() as url:
        yield url


def drop_requests(tmp_path: Path, config: Path, count: int) -> list[str]:
    """Drop ``count`` requests; wait until every one has left the Maildir (no instance can
    read it again) and as many acknowledgements are sent."""
    names = sorted(p.name for p in DATA.glob("lang_*.eml"))[:count]
    maildir = tmp_path / "maildir"
    for name in names:
        drop(maildir, name)

    def settled() -> bool:
        if [entry for sub in ("new", "cur") for entry in (maildir / sub).iterdir()]:
            return False
        rows = json.loads(rnmail(config, "outbox", "list", "--json")[1])
        return len(rows) >= len(names) and {row["state"] for row in rows} == {"sent"}

    until(settled, timeout=60)
    return names


def answered_once(tmp_path: Path, config: Path, names: list[str]) -> None:
    """Once the daemons stopped (a pass under way was committed first): one ticket and one
    sent acknowledgement per request, nothing twice."""
    code, out, _ = rnmail(config, "ticket", "list", "--json")
    assert code == 0 and len(json.loads(out)) == len(names)
    code, out, _ = rnmail(config, "outbox", "list", "--json")
    assert sorted(row["state"] for row in json.loads(out)) == ["sent"] * len(names)
    assert len(outgoing(tmp_path)) == len(names)


def test_two_instances_on_postgresql_share_the_work_without_doing_anything_twice(
        tmp_path: Path, pg_url: str, started: Callable[[Path], Daemon]) -> None:
    config = write_config(tmp_path, pg_url, extra=FAST)
    assert rnmail(config, "init")[0] == 0
    first, second = started(config), started(config)
    until(lambda: "rnmail run:" in first.text() and "rnmail run:" in second.text())
    names = drop_requests(tmp_path, config, 12)
    assert first.stop() == 0 and second.stop() == 0
    answered_once(tmp_path, config, names)
    for daemon in (first, second):
        assert "Traceback" not in daemon.text()


def test_the_mailbox_lock_belongs_to_one_schema(tmp_path: Path, pg_url: str) -> None:
    """Advisory locks are per database: another installation in another schema of the same
    database (here: another test's) holding mailbox 'info' does not stop this one."""
    with fresh_postgres_schema() as other_url:
        other, mine = Database(other_url), Database(pg_url)
        try:
            with mailbox_lock(other, "info") as other_holds, \
                    mailbox_lock(mine, "info") as holds:
                assert other_holds() and holds()
            with mailbox_lock(mine, "info") as first, mailbox_lock(mine, "info") as second:
                assert first() and not second()  # within one schema: one reader
        finally:
            other.dispose()
            mine.dispose()


def test_a_mailbox_lock_lost_with_its_database_session_is_taken_again(
        tmp_path: Path, pg_url: str, started: Callable[[Path], Daemon]) -> None:
    engine = create_engine(pg_url)

    def holders() -> list[int]:
        """This test's daemons' sessions holding an advisory lock (not other test runs')."""
        with engine.connect() as connection:
            return list(connection.scalars(text(
                "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted "
                "AND a.application_name = current_setting('application_name')")))

    try:
        config = write_config(tmp_path, pg_url, extra=FAST)
        assert rnmail(config, "init")[0] == 0
        first, second = started(config), started(config)
        until(lambda: len(holders()) == 1)
        [pid] = holders()
        with engine.connect() as connection:  # as a database restart would
            assert connection.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        until(lambda: "the lock was lost" in first.text() + second.text())
        until(lambda: len(holders()) == 1 and holders() != [pid])
        names = drop_requests(tmp_path, config, 6)
        assert first.stop() == 0 and second.stop() == 0
        answered_once(tmp_path, config, names)
        assert holders() == []  # released on the way out
        for daemon in (first, second):
            assert "Traceback" not in daemon.text()
    finally:
        engine.dispose()


def test_json_logs_carry_the_ids_as_fields(tmp_path: Path, started: Callable[[Path], Daemon]
                                           ) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/rn.db", extra=FAST)
    assert rnmail(config, "init")[0] == 0
    drop(tmp_path / "maildir", "lang_nl_gemeente_toegangssleutel.eml")
    result = subprocess.run([sys.executable, "-c", RUN, "--config", str(config), "-v",
                             "--log-format", "json", "ingest", "once"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    [created] = [e for e in entries if e["message"].startswith("ticket created")]
    assert created["ticket"] == 1 and created["mailbox"] == "info"
    assert created["level"] == "info" and created["logger"] == "rnmail.ingest.pipeline"
    assert created["time"].endswith("+00:00")


def test_metrics_in_prometheus_text_format_on_a_loopback_address(
        tmp_path: Path, db_url: str, started: Callable[[Path], Daemon]) -> None:
    port = free_port()
    config = write_config(tmp_path, db_url,
                          extra=FAST + f'\nmetrics_address = "127.0.0.1:{port}"')
    assert rnmail(config, "init")[0] == 0
    assert rnmail(config, "block", "add", "jean.dupont@citizen.example")[0] == 0
    daemon = started(config)
    drop(tmp_path / "maildir", "lang_nl_gemeente_toegangssleutel.eml")
    drop(tmp_path / "maildir", "lang_fr_citizen_cle_bloquee.eml")  # a blocked sender: spam
    until(lambda: len(outgoing(tmp_path)) == 1)

    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
            return str(page.read().decode())

    until(lambda: 'rnmail_mails_total{result="sent"} 1.0' in scrape())
    text = scrape()
    assert 'rnmail_tickets_created_total{mailbox="info"} 1.0' in text
    assert 'rnmail_messages_ingested_total{mailbox="info",outcome="ticket"} 1.0' in text
    assert 'rnmail_outbox_messages{state="sent"} 1.0' in text
    assert "rnmail_quarantine_held 0.0" in text and "rnmail_database_up 1.0" in text
    assert 'rnmail_messages_ingested_total{mailbox="info",outcome="spam"} 1.0' in text
    assert "rnmail_spam_held 1.0" in text
    assert 'rnmail_last_successful_poll_timestamp_seconds{mailbox="info"}' in text
    assert daemon.stop() == 0


@pytest.mark.parametrize("address", ["0.0.0.0:9464", "192.0.2.1:9464", "127.0.0.1", "x:1"])
def test_metrics_only_on_loopback(tmp_path: Path, address: str) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/rn.db",
                          extra=f'[daemon]\nmetrics_address = "{address}"')
    code, _, err = rnmail(config, "init")
    assert code == 1 and "[daemon].metrics_address" in err and "loopback" in err


def imap_config(tmp_path: Path, db_url: str, server: Dovecot, poll: float) -> Path:
    mailbox = (f'[[mailbox]]\nname = "info"\nhost = "{server.host}"\nport = {server.port}\n'
               'user = "info"\npassword = "secret"\ntimeout = 5')
    return write_config(tmp_path, db_url, mailbox=mailbox,
                        extra=f"[daemon]\npoll_seconds = {poll}\nsend_seconds = 0.3\n"
                              "stop_seconds = 10\nidle_seconds = 30")


def test_imap_idle_brings_new_mail_in_at_once(
        tmp_path: Path, db_url: str, imap: Dovecot, started: Callable[[Path], Daemon]) -> None:
    config = imap_config(tmp_path, db_url, imap, poll=120)  # no poll during the test
    assert rnmail(config, "init")[0] == 0
    daemon = started(config)
    until(lambda: imap.idling("info"))  # the first pass is done and the poller is idling
    start = time.monotonic()
    imap.append("info", (DATA / "lang_nl_gemeente_toegangssleutel.eml").read_bytes())
    until(lambda: len(outgoing(tmp_path)) == 1, timeout=30)
    assert time.monotonic() - start < 15  # IDLE, not the 120 s poll
    assert imap.folder_uids("info") == []
    assert daemon.stop() == 0  # stops promptly although idling


def test_the_imap_server_going_away_is_survived_and_mail_caught_up(
        tmp_path: Path, db_url: str, started: Callable[[Path], Daemon]) -> None:
    with Dovecot() as server:
        config = imap_config(tmp_path, db_url, server, poll=0.1)
        assert rnmail(config, "init")[0] == 0
        daemon = started(config)
        server.append("info", (DATA / "lang_nl_gemeente_toegangssleutel.eml").read_bytes())
        until(lambda: len(outgoing(tmp_path)) == 1)
        server.halt()

        def failed_passes() -> int:
            """The passes that found the server gone (the ingest logs each one)."""
            return daemon.text().count("rnmail.ingest.runner: IMAP info (")

        # Five failed passes, the backoff doubling from 0.1 s (1.5 s in all), once the poller
        # finds the server gone: at once from an IDLE that sees the connection end, at worst
        # when its IDLE period ends (idle_seconds = 30; a clean-clone run under load once
        # saw no failed pass within 30 s of the halt, the daemon logging nothing meanwhile).
        try:
            until(lambda: failed_passes() >= 5, timeout=60)
        except AssertionError as exc:  # what the daemon did meanwhile
            raise AssertionError(f"{exc}; the daemon's log:\n{daemon.text()[-5000:]}") from None
        assert daemon.text().count("mailbox info is unavailable") == 1  # one line for them all
        server.resume()
        server.append("info", (DATA / "lang_de_gemeinde_zugangsschluessel.eml").read_bytes())
        until(lambda: len(outgoing(tmp_path)) == 2, timeout=60)
        assert "mailbox info is back" in daemon.text()
        assert daemon.proc.poll() is None and daemon.stop() == 0


@pytest.mark.parametrize("end", ["crash", "halt"])
def test_an_idling_connection_notices_the_server_gone_with_or_without_its_bye(
        tmp_path: Path, end: str) -> None:
    """kill -9 leaves no BYE on the IDLE connection (imap-tools' poll then returns nothing
    at once, again and again): the wait must end, not spin until its 30 s deadline."""
    with Dovecot() as server:
        [box] = load_config(imap_config(tmp_path, f"sqlite:///{tmp_path}/db", server, 1)
                            ).mailboxes
        outcome: list[object] = []
        waiter = threading.Thread(target=lambda: outcome.append(
            _idle_outcome(box)), daemon=True)
        waiter.start()
        until(lambda: server.idling("info") or not waiter.is_alive())  # logged in, idling
        assert waiter.is_alive(), outcome
        ended = time.monotonic()
        getattr(server, end)()
        waiter.join(10)
        assert not waiter.is_alive() and time.monotonic() - ended < 5
        assert outcome[0] in ("changed", ServerUnavailable)


def _idle_outcome(box: MailboxConfig) -> object:
    try:
        return wait_for_mail(box, 30, lambda: False)
    except ServerUnavailable:
        return ServerUnavailable


def test_sigterm_during_a_mailing_then_a_restart_sends_to_everyone_exactly_once(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer,
        started: Callable[[Path], Daemon]) -> None:
    n = 1000  # the stop lands after 300: hundreds still to send
    config = write_config(tmp_path, db_url,
                          smtp=f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}',
                          extra=FAST)
    assert rnmail(config, "init")[0] == 0
    desk = Desk(load_config(config))
    import_group(desk, tmp_path, "municipalities", people(n))
    announcement = queue_mailing(desk, ["municipalities"])
    first = started(config)
    until(lambda: len(smtp_server.messages) >= 300, timeout=60)
    assert first.stop() == 0  # SIGTERM mid-mailing: what is under way finishes and is recorded
    sent_before = len(smtp_server.messages)
    assert sent_before < n, "the stop must land in the middle of the mailing"
    second = started(config)

    def all_recorded_sent() -> bool:
        with desk.db.transaction() as session:
            return bool(announcement_status(session, announcement)["counts"]["sent"] == n)

    until(all_recorded_sent, timeout=120)
    assert second.stop() == 0  # its SMTP transactions are over: any duplicate is in by now
    received = Counter(env.rcpt_tos[0] for env in smtp_server.messages)
    assert len(received) == n and set(received.values()) == {1}  # exactly once each
    desk.close()


def test_demo_seeds_tickets_groups_and_a_maintenance_once_without_mail(
        tmp_path: Path, db_url: str) -> None:
    lists = Path(__file__).resolve().parent.parent / "lists"
    config = write_config(tmp_path, db_url, extra=f'[dispatch]\nlists_dir = "{lists}"')
    assert rnmail(config, "init")[0] == 0
    code, out, err = rnmail(config, "demo")
    assert code == 0, err
    assert "4 example tickets, 5 user group(s), maintenance #1 planned" in out
    assert rnmail(config, "demo")[1] == "the demo data is already there\n"
    tickets = json.loads(rnmail(config, "ticket", "list", "--json")[1])
    assert len(tickets) == 4 and {t["channel"] for t in tickets} == {"phone", "letter", "fax"}
    [planned] = json.loads(rnmail(config, "maintenance", "list", "--json")[1])
    assert planned["groups"] == [] and planned["starts_at"].endswith(("17:00:00+00:00",
                                                                      "16:00:00+00:00"))
    assert json.loads(rnmail(config, "outbox", "list", "--json")[1]) == []  # nobody mailed
    status = json.loads((tmp_path / "var" / "status" / "status.json").read_text())
    assert [m["id"] for m in status["maintenance"]] == [1]


async def started(code: str) -> tuple[asyncio.subprocess.Process, asyncio.Task[int]]:
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code,
                                                   stdin=asyncio.subprocess.DEVNULL,
                                                   stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    await process.stdout.readline()  # it is ready
    return process, asyncio.ensure_future(process.wait())


def test_stopping_a_child_that_is_already_gone_is_no_error() -> None:
    """Ctrl-C reaches the whole process group: the command server may have exited and
    been reaped before the daemon stops it (a traceback and status 1 in a clean-clone CI
    run of the README's walk-through)."""

    async def gone_before_the_stop() -> int | None:
        process, exited = await started("print('ready', flush=True)")
        await process.wait()
        await asyncio.sleep(0.05)  # the transport has let the reaped process go
        await stop_child(process, exited, 5)
        return process.returncode

    assert asyncio.run(gone_before_the_stop()) == 0


def test_a_child_deaf_to_sigterm_is_killed_after_the_wait() -> None:
    async def deaf() -> int | None:
        process, exited = await started(
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)")
        await stop_child(process, exited, 0.3)
        return process.returncode

    assert asyncio.run(deaf()) == -signal.SIGKILL
