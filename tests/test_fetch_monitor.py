"""The fetch monitor: one alert when a mailbox has failed for ``fetch_alert_minutes``, one
"recovered" mail when it works again; never twice, not across a restart nor two instances.
The core with a test clock on both databases, then the real daemon against a Dovecot that
goes away and comes back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from rnmail.daemon.fetch_monitor import fetch_failed, fetch_worked
from rnmail.db import Database
from rnmail.models import FetchFailure, OutboxMessage, ScheduledStep
from rnmail.tickets.team import add_staff
from tests.harness.daemon import Daemon
from tests.harness.factories import Desk, make_config, write_config
from tests.harness.install import rnmail, smtp_block
from tests.harness.mail import received, text_of
from tests.harness.servers import Dovecot, SmtpServer
from tests.harness.wait import until

DATA = Path(__file__).parent / "data"
T0 = datetime(2026, 12, 7, 8, 5, tzinfo=UTC)  # 09:05 in Brussels
ERROR = "imap.rn.example:993: login refused for user 'info'"
NL, FR = "an@example.org", "marie@example.org"


@pytest.fixture
def desk(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Desk]:
    d = Desk(make_config(tmp_path, db_url, smtp=smtp_server, daemon={
        "fetch_alert_minutes": 15}))
    with d.db.transaction() as session:
        add_staff(session, NL, "An Peeters", "nl")
        add_staff(session, FR, "Marie Dubois", "fr")
    yield d
    d.close()


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_one_alert_after_the_delay_and_one_recovery(desk: Desk,
                                                    smtp_server: SmtpServer) -> None:
    db, config = desk.db, desk.config
    assert fetch_failed(db, config, "info", ERROR, now=at(0)) == 0
    assert fetch_failed(db, config, "info", "other error", now=at(14.9)) == 0
    assert desk_count(desk) == 0
    assert fetch_failed(db, config, "info", ERROR, now=at(15)) == 2
    assert fetch_failed(db, config, "info", ERROR, now=at(16)) == 0
    assert fetch_failed(db, config, "info", ERROR, now=at(600)) == 0
    desk.send()
    [nl] = received(smtp_server, NL)
    assert nl["Subject"] == "Het ophalen van mailbox info mislukt sinds 09:05"
    assert "07/12/2026 om 09:05" in text_of(nl) and ERROR in text_of(nl)
    assert nl["Auto-Submitted"] == "auto-generated"
    [fr] = received(smtp_server, FR)
    assert fr["Subject"] == "La relève de la boîte info échoue depuis 09:05"

    assert fetch_worked(db, config, "info", now=at(601)) == 2
    assert fetch_worked(db, config, "info", now=at(602)) == 0
    desk.send()
    assert [m["Subject"] for m in received(smtp_server, NL)][1:] == [
        "Het ophalen van mailbox info werkt weer"]
    [_, back] = received(smtp_server, FR)
    assert back["Subject"] == "La relève de la boîte info fonctionne à nouveau"
    assert "depuis 19:06" in text_of(back)  # 601 minutes after 09:05
    with db.transaction() as session:
        assert session.get(FetchFailure, "info") is None
        assert sorted(session.scalars(ScheduledStep.__table__.select().with_only_columns(
            ScheduledStep.key))) == ["fetch-alert:info:2026-12-07T08:05:00+00:00",
                                     "fetch-recovered:info:2026-12-07T08:05:00+00:00"]


def test_a_short_failure_mails_nothing_and_a_new_one_starts_afresh(desk: Desk) -> None:
    db, config = desk.db, desk.config
    assert fetch_failed(db, config, "info", ERROR, now=at(0)) == 0
    assert fetch_worked(db, config, "info", now=at(10)) == 0  # no alert: no recovery either
    assert fetch_failed(db, config, "info", ERROR, now=at(20)) == 0  # since 20, not 0
    assert fetch_failed(db, config, "info", ERROR, now=at(34)) == 0
    assert fetch_failed(db, config, "info", ERROR, now=at(35)) == 2
    assert fetch_worked(db, config, "info", now=at(36)) == 2
    # the next outage is another failure, with its own alert
    assert fetch_failed(db, config, "info", ERROR, now=at(40)) == 0
    assert fetch_failed(db, config, "info", ERROR, now=at(55)) == 2
    assert desk_count(desk) == 6


def test_the_failure_start_survives_a_restart_and_a_second_instance(
        desk: Desk, tmp_path: Path, db_url: str) -> None:
    assert fetch_failed(desk.db, desk.config, "info", ERROR, now=at(0)) == 0
    desk.db.dispose()
    again = Database.of(desk.config)  # another process, or the same one restarted
    try:
        assert fetch_failed(again, desk.config, "info", ERROR, now=at(15)) == 2
        assert fetch_failed(desk.db, desk.config, "info", ERROR, now=at(15)) == 0
        assert fetch_worked(again, desk.config, "info", now=at(20)) == 2
        assert fetch_worked(desk.db, desk.config, "info", now=at(20)) == 0
    finally:
        again.dispose()
    assert desk_count(desk) == 4


def test_zero_minutes_sends_nothing(tmp_path: Path, db_url: str) -> None:
    desk = Desk(make_config(tmp_path, db_url, daemon={"fetch_alert_minutes": 0}))
    try:
        with desk.db.transaction() as session:
            add_staff(session, NL, "An Peeters", "nl")
        assert fetch_failed(desk.db, desk.config, "info", ERROR, now=at(0)) == 0
        assert fetch_failed(desk.db, desk.config, "info", ERROR, now=at(600)) == 0
        assert fetch_worked(desk.db, desk.config, "info", now=at(601)) == 0
        assert desk_count(desk) == 0
    finally:
        desk.close()


def desk_count(desk: Desk) -> int:
    with desk.db.transaction() as session:
        return len(list(session.scalars(OutboxMessage.__table__.select()
                                        .with_only_columns(OutboxMessage.id))))


# --------------------------------------------------------------------------- the daemon

def failures(daemon: Daemon) -> int:
    """How many passes of the mailbox failed so far (the ingest logs each)."""
    return daemon.text().count("ERROR rnmail.ingest.runner: IMAP info")


@pytest.mark.slow
def test_the_daemon_mails_one_alert_and_one_recovery_across_a_restart(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer,
        started: Callable[[Path], Daemon]) -> None:
    with Dovecot() as server:
        mailbox = (f'[[mailbox]]\nname = "info"\nhost = "{server.host}"\n'
                   f'port = {server.port}\nuser = "info"\npassword = "secret"\ntimeout = 5')
        config = write_config(tmp_path, db_url, mailbox=mailbox, smtp=smtp_block(smtp_server),
                              # the retries back off from 0.1 s: 0.1, 0.2, 0.4, 0.8...
                              extra="[daemon]\npoll_seconds = 0.1\nsend_seconds = 0.3\n"
                                    "stop_seconds = 10\nidle = false\n"
                                    "fetch_alert_minutes = 0.01\n")  # 0.6 s
        assert rnmail(config, "init")[0] == 0
        for address, language in ((NL, "nl"), (FR, "fr")):
            assert rnmail(config, "staff", "add", address, "--name", "Staff",
                          "--language", language)[0] == 0
        daemon = started(config)
        server.append("info", (DATA / "lang_nl_gemeente_toegangssleutel.eml").read_bytes())
        until(lambda: received(smtp_server, "bevolking@gemeente.example"),
              what="the acknowledgement: a pass worked")
        server.halt()
        until(lambda: len(monitor_mails(smtp_server, NL)) == 1, timeout=60, what="the alert")
        seen = failures(daemon)
        until(lambda: failures(daemon) >= seen + 2, timeout=60, what="two more failed passes")
        assert daemon.stop() == 0
        # a restart during the outage: the failure is remembered, the alert not repeated
        daemon = started(config)
        until(lambda: failures(daemon) >= 3, timeout=60, what="failed passes after restart")
        server.resume()
        until(lambda: len(monitor_mails(smtp_server, NL)) == 2, timeout=60,
              what="the recovery")
        until(lambda: len(monitor_mails(smtp_server, FR)) == 2, timeout=60)
        assert daemon.stop() == 0
    subjects = [m["Subject"] for m in monitor_mails(smtp_server, NL)]
    assert subjects[0].startswith("Het ophalen van mailbox info mislukt sinds ")
    assert subjects[1] == "Het ophalen van mailbox info werkt weer"
    subjects = [m["Subject"] for m in monitor_mails(smtp_server, FR)]
    assert subjects[0].startswith("La relève de la boîte info échoue depuis ")
    assert subjects[1] == "La relève de la boîte info fonctionne à nouveau"
    # besides these four: the acknowledgement and the staff's two notifications of the ticket
    assert len(smtp_server.messages) == 4 + 3


def monitor_mails(smtp: SmtpServer, to: str) -> list[EmailMessage]:
    return [m for m in received(smtp, to) if "RN #" not in m["Subject"]]
