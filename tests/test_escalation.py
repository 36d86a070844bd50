"""Nothing stalls (``rnmail.tickets.escalation``): reminders to a service that does not
answer a delegated ticket, on business days (a weekend and Belgian public holidays do not
count), then the overdue notice to the assignee; warnings before a due time; the automatic
close of a pending ticket nobody answers, with a last mail in the requester's language.
Each step once: run twice, by two schedulers at once on PostgreSQL, and by the real daemon
stopped and started again. The clock is moved by passing ``now`` (and by back-dating the
delegation for the daemon), never by sleeping."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from rnmail.config import ConfigError, load_config
from rnmail.db import Database
from rnmail.i18n.formats import BRUSSELS
from rnmail.models import Ticket, TicketEvent, utcnow
from rnmail.tickets import escalation
from rnmail.tickets.escalation import (
    LATE_WITHIN,
    business_calendar,
    close_unanswered,
    remind_services,
    run_reminders,
    warn_due,
)
from tests.harness import corpus
from tests.harness.factories import write_config
from tests.harness.install import Installation, install
from tests.harness.mail import MARIE, REQUESTER, reply_to, text_of
from tests.harness.servers import SmtpServer
from tests.harness.wait import until
from tests.harness.web import running_daemon

SERVICE = "population@commune.example"
PAUL = "paul.peeters@helpdesk.example"
DELEGATED = datetime(2025, 12, 24, 10, 0, tzinfo=BRUSSELS)  # a Wednesday, Christmas next


def brussels(*args: int) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS).astimezone(UTC)  # type: ignore[misc]


@pytest.fixture
def site(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Installation]:
    site = install(tmp_path, db_url, smtp_server, extra=(
        '[due]\nfirst_response = "2h"\nresolution = "1d"\n'
        '[[reminders.autoclose]]\ncategory = "access-key"\nafter = "2d"\n'))
    site.ok("staff", "add", MARIE, "--name", "Marie Lambert")
    site.ok("staff", "add", PAUL, "--name", "Paul Peeters", "--language", "nl")
    site.ok("service", "add", "population", "--email", SERVICE)
    yield site
    site.close()


def delegated_ticket(site: Installation, delegated_at: datetime = DELEGATED) -> int:
    """A ticket assigned to Marie, delegated to the population service at ``delegated_at``."""
    ticket = site.json("ticket", "new", "--email", REQUESTER, "--subject", "Adresse erronée",
                       "--author", "Marie Lambert")["id"]
    site.ok("ticket", "assign", str(ticket), MARIE)
    site.ok("ticket", "delegate", str(ticket), "population", "--author", "Marie Lambert")
    with site.db.transaction() as session:
        row = session.get(Ticket, ticket)
        assert row is not None
        row.delegated_at = delegated_at.astimezone(UTC)
    site.ok("outbox", "send")
    return int(ticket)


def history(site: Installation, ticket: int, what: str) -> list[dict[str, Any]]:
    return [e for e in site.json("ticket", "show", str(ticket))["history"] if e["what"] == what]


def to_service(site: Installation) -> list[EmailMessage]:
    return site.mails(SERVICE)


def test_a_silent_service_is_reminded_on_business_days_then_the_assignee_told(
        site: Installation) -> None:
    ticket = delegated_ticket(site)
    [delegation] = to_service(site)
    base = f"{ticket}:{int(DELEGATED.timestamp())}"
    # Thu 25 Dec (Christmas), the weekend, then Fri 26, Mon 29, Tue 30 at 10:00: three days.
    for early in (brussels(2025, 12, 27, 12, 0), brussels(2025, 12, 30, 9, 59)):
        assert remind_services(site.db, site.config, early) == []
    first = brussels(2025, 12, 30, 10, 1)
    assert remind_services(site.db, site.config, first) == [f"service-reminder:{base}:1"]
    assert remind_services(site.db, site.config, first) == []  # run twice: once
    site.ok("outbox", "send")
    [_, reminder] = to_service(site)
    assert f"#{ticket}]" in reminder["Subject"] and "Rappel 1" in reminder["Subject"]
    assert reminder["In-Reply-To"] == delegation["Message-ID"]
    assert delegation["Message-ID"] in reminder["References"]
    assert "rappel n° 1" in text_of(reminder)

    # Wed 31 Dec, (1 Jan, New Year), Fri 2, Mon 5 Jan: the second reminder, the last one.
    assert remind_services(site.db, site.config, brussels(2026, 1, 5, 9, 0)) == []
    assert remind_services(site.db, site.config, brussels(2026, 1, 5, 10, 1)) == [
        f"service-reminder:{base}:2"]
    # Tue 6, Wed 7, Thu 8: overdue, told to the assignee only (Paul is not told).
    assert remind_services(site.db, site.config, brussels(2026, 1, 8, 9, 0)) == []
    assert remind_services(site.db, site.config, brussels(2026, 1, 8, 10, 1)) == [
        f"service-overdue:{base}"]
    assert remind_services(site.db, site.config, brussels(2026, 2, 8, 10, 1)) == []
    site.ok("outbox", "send")
    assert ["Rappel 2" in m["Subject"] for m in to_service(site)] == [False, False, True]
    [overdue] = [m for m in site.mails(MARIE) if "En retard" in m["Subject"]]
    assert "population" in overdue["Subject"] and "malgré les rappels" in text_of(overdue)
    assert not [m for m in site.mails(PAUL) if "Achterstallig" in m["Subject"]]
    reminders = history(site, ticket, "service-reminder")
    assert [(e["new"], e["actor"]) for e in reminders] == [
        ("population #1", "scheduler"), ("population #2", "scheduler")]
    assert [e["new"] for e in history(site, ticket, "overdue")] == ["population"]


def test_a_service_is_written_to_in_its_contacts_language(site: Installation) -> None:
    """A Dutch-speaking service gets its delegation and reminders in Dutch, the others the
    help desk's default language (French here); cleared, it falls back to that default."""
    site.ok("service", "edit", "population", "--language", "nl")
    ticket = delegated_ticket(site)
    [delegation] = to_service(site)
    assert "Gedelegeerd ticket" in delegation["Subject"]
    assert f"ticket RN #{ticket} ter behandeling" in text_of(delegation)
    assert remind_services(site.db, site.config, brussels(2025, 12, 30, 10, 1))
    site.ok("outbox", "send")
    [_, reminder] = to_service(site)
    assert "Herinnering 1" in reminder["Subject"] and "herinnering nr. 1" in text_of(reminder)
    assert reminder["In-Reply-To"] == delegation["Message-ID"]  # still the same thread

    site.ok("service", "edit", "population", "--language", "")
    [service] = site.json("service", "list", "--json")
    assert service["language"] is None
    again = site.json("ticket", "new", "--email", REQUESTER, "--subject", "Autre adresse",
                      "--author", "Marie Lambert")["id"]
    site.ok("ticket", "delegate", str(again), "population", "--author", "Marie Lambert")
    site.ok("outbox", "send")
    latest = to_service(site)[-1]
    assert f"#{again}]" in latest["Subject"] and "Gedelegeerd" not in latest["Subject"]
    assert "Ticket délégué" in latest["Subject"], latest["Subject"]


def test_a_step_that_fails_does_not_keep_the_others_from_running(
        site: Installation, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in one step of the daemon's reminders job (here the first) is raised once the
    others have run: the silent service is reminded all the same."""
    ticket = delegated_ticket(site)

    def broken(_db: Database, _config: object) -> None:
        raise RuntimeError("a bug in waking the pending tickets")

    monkeypatch.setattr(escalation, "STEPS", (broken, *escalation.STEPS[1:]))
    with pytest.raises(RuntimeError, match="a bug in waking"):
        run_reminders(site.db, site.config)
    assert history(site, ticket, "service-reminder") or history(site, ticket, "overdue")


def test_the_service_answer_stops_the_reminders_and_a_new_delegation_counts_again(
        site: Installation) -> None:
    ticket = delegated_ticket(site, datetime.now(BRUSSELS) - timedelta(days=60))
    [delegation] = to_service(site)
    site.deliver(reply_to(delegation, SERVICE, "L'adresse a été corrigée hier."))
    assert history(site, ticket, "service-answer")
    assert remind_services(site.db, site.config) == []

    # Delegated again (to the same service): its own count, from the new delegation.
    site.ok("ticket", "delegate", str(ticket), "population", "--author", "Marie Lambert")
    with site.db.transaction() as session:
        row = session.get(Ticket, ticket)
        assert row is not None and row.delegated_at is not None
        again = row.delegated_at
    cal = business_calendar(site.config, again)
    later = cal.add(again, 3 * cal.length + 60)
    assert remind_services(site.db, site.config, later) == [
        f"service-reminder:{ticket}:{int(again.timestamp())}:1"]


def test_a_service_of_its_own_rhythm_and_no_reminder_at_all(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    site = install(tmp_path, db_url, smtp_server, extra=(
        "[reminders]\nservice_reminders = 0\n"
        '[[reminders.service]]\nname = "population"\ndays = 1\n'))
    try:
        site.ok("staff", "add", MARIE, "--name", "Marie Lambert")
        site.ok("service", "add", "population", "--email", SERVICE)
        ticket = delegated_ticket(site)
        # one business day (Fri 26 Dec), and no reminder: the overdue notice at once
        assert remind_services(site.db, site.config, brussels(2025, 12, 26, 9, 0)) == []
        assert remind_services(site.db, site.config, brussels(2025, 12, 26, 10, 1)) == [
            f"service-overdue:{ticket}:{int(DELEGATED.timestamp())}"]
    finally:
        site.close()


@pytest.mark.parametrize(("extra", "why"), [
    ('[[reminders.service]]\nname = "population"\n', "missing required key 'days'"),
    ('[[reminders.service]]\nname = "population"\ndays = 0\n', "at least 1 business day"),
    ('[[reminders.autoclose]]\ncategory = "access-key"\n', 'give after, e.g. "10d"'),
    ('[[reminders.autoclose]]\ncategory = "x"\nafter = "soon"\n', "positive number"),
    ("[reminders]\nservice_reminders = -1\n", "service_reminders"),
    ("[reminders]\nwarn_before = 3\n", "warn_before"),
])
def test_reminder_settings_refused(tmp_path: Path, extra: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        load_config(write_config(tmp_path, f"sqlite:///{tmp_path}/x.db", extra=extra))


def test_two_schedulers_at_once_remind_once(site: Installation) -> None:
    ticket = delegated_ticket(site)
    done: list[list[str]] = []
    start = threading.Barrier(2)
    databases = [Database(site.config.database.url) for _ in range(2)]

    def scheduler(db: Database) -> None:
        start.wait()
        done.append(remind_services(db, site.config, brussels(2025, 12, 30, 10, 1)))

    threads = [threading.Thread(target=scheduler, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for db in databases:
        db.dispose()
    assert sorted(done) == [[], [f"service-reminder:{ticket}:{int(DELEGATED.timestamp())}:1"]]
    site.ok("outbox", "send")
    assert len(to_service(site)) == 2  # the delegation and one reminder
    assert len(history(site, ticket, "service-reminder")) == 1


def test_the_daemon_reminds_once_across_a_restart(site: Installation) -> None:
    config = site.root / "rnmail.toml"
    config.write_text(config.read_text() + "[daemon]\npoll_seconds = 0.3\nsend_seconds = 0.3\n"
                      "reminder_seconds = 0.3\nstop_seconds = 10\n")
    now = utcnow()
    cal = business_calendar(site.config, now)
    overdue_by_a_minute = cal.moment(cal.business(now) - 3 * cal.length - 60)
    first = delegated_ticket(site, overdue_by_a_minute)
    with running_daemon(config, site.root / "run1.log"):
        until(lambda: len(to_service(site)) == 2, 30, "the first reminder")
    second = delegated_ticket(site, overdue_by_a_minute)
    with running_daemon(config, site.root / "run2.log"):
        until(lambda: len(to_service(site)) == 4, 30, "the second ticket's reminder")
        until(lambda: history(site, second, "service-reminder"), 10, "its history")
    subjects = [m["Subject"] for m in to_service(site)]
    assert [f"#{first}]" in s and "Rappel 1" in s for s in subjects] == [
        False, True, False, False]
    assert [f"#{second}]" in s and "Rappel 1" in s for s in subjects] == [
        False, False, False, True]
    assert len(history(site, first, "service-reminder")) == 1


def test_a_due_time_near_warns_the_assignee_once_per_due_time(site: Installation) -> None:
    # typed in by the reception (not on the staff): nobody has it yet
    ticket = site.json("ticket", "new", "--email", REQUESTER, "--subject", "Clé bloquée",
                       "--author", "Accueil")["id"]
    with site.db.transaction() as session:
        row = session.get(Ticket, ticket)
        assert row is not None and row.due_at is not None and row.due_response_at is not None
        assert row.assignee is None
        response_due, created = row.due_response_at, row.created_at
    assert warn_due(site.db, site.config, created) == []  # two business hours away
    near = response_due - timedelta(minutes=30)
    assert warn_due(site.db, site.config, near) == [
        f"due-warning:{ticket}:{int(response_due.timestamp())}"]
    assert warn_due(site.db, site.config, near) == []
    site.ok("outbox", "send")
    # unassigned: the team, each in their language
    [fr] = [m for m in site.mails(MARIE) if "Échéance proche" in m["Subject"]]
    [nl] = [m for m in site.mails(PAUL) if "Termijn bijna verstreken" in m["Subject"]]
    assert "recevoir sa première réponse" in text_of(fr) and "eerste antwoord" in text_of(nl)
    # the due time passes, nobody answered: the team is told it is late, once
    late = response_due + timedelta(minutes=1)
    assert warn_due(site.db, site.config, late) == [
        f"due-late:{ticket}:{int(response_due.timestamp())}"]
    assert warn_due(site.db, site.config, late + timedelta(minutes=5)) == []
    site.ok("outbox", "send")
    [fr] = [m for m in site.mails(MARIE) if "Échéance dépassée" in m["Subject"]]
    [nl] = [m for m in site.mails(PAUL) if "Termijn verstreken" in m["Subject"]]
    assert "cette échéance est dépassée et il est toujours ouvert" in text_of(fr)
    assert "die termijn is verstreken" in text_of(nl)
    assert [e["new"] for e in history(site, ticket, "due-missed")] == ["response"]

    site.ok("ticket", "reply", str(ticket), "--author", "Marie Lambert", "--message",
            "Bonjour, votre clé est débloquée.")
    with site.db.transaction() as session:
        row = session.get(Ticket, ticket)
        assert row is not None and row.due_at is not None
        resolution_due = row.due_at
    assert resolution_due != response_due
    assert warn_due(site.db, site.config, resolution_due - timedelta(minutes=10)) == [
        f"due-warning:{ticket}:{int(resolution_due.timestamp())}"]
    site.ok("outbox", "send")
    # answered, so assigned to Marie: only she is warned of the resolution
    assert len([m for m in site.mails(MARIE) if "Échéance proche" in m["Subject"]]) == 2
    assert len([m for m in site.mails(PAUL) if "Termijn bijna" in m["Subject"]]) == 1
    assert [e["new"] for e in history(site, ticket, "due-warning")] == [
        "response", "resolution"]


def test_a_due_time_passed_long_ago_or_on_a_ticket_set_aside_tells_nobody(
        site: Installation) -> None:
    """A daemon back after two days does not send the backlog of late tickets; a ticket
    waiting for its requester is not late."""
    ticket = site.json("ticket", "new", "--email", REQUESTER, "--subject", "Certificat",
                       "--author", "Accueil")["id"]
    with site.db.transaction() as session:
        row = session.get(Ticket, ticket)
        assert row is not None and row.due_response_at is not None
        response_due = row.due_response_at
    assert warn_due(site.db, site.config, response_due + LATE_WITHIN + timedelta(minutes=1)) == []
    site.ok("ticket", "pending", str(ticket))
    assert warn_due(site.db, site.config, response_due + timedelta(minutes=1)) == []
    assert history(site, ticket, "due-missed") == []


def went_pending(site: Installation, ticket: int, at: datetime) -> None:
    """Back-date the ticket's change into pending to ``at``."""
    with site.db.transaction() as session:
        event = session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket, TicketEvent.what == "status",
            TicketEvent.new == "pending").order_by(TicketEvent.id.desc())).first()
        assert event is not None
        event.at = at


def test_a_pending_ticket_nobody_answers_is_closed_with_a_last_mail_in_dutch(
        site: Installation) -> None:
    site.deliver(corpus.simple(
        "Toegangssleutel geblokkeerd",
        "Goedendag, mijn toegangssleutel tot het Rijksregister is geblokkeerd sinds gisteren. "
        "Kunt u mij helpen om opnieuw toegang te krijgen? Met vriendelijke groeten.",
        from_addr=REQUESTER, message_id="<nl1@citizen.example>"))
    ticket = 1
    assert site.json("ticket", "show", "1")["language"] == "nl"
    site.ok("ticket", "set", "1", "--category", "access-key")
    phone = site.json("ticket", "new", "--phone", "+32 2 555 01 23", "--subject", "Clé",
                      "--author", "Marie Lambert", "--category", "access-key")["id"]
    other = site.json("ticket", "new", "--email", "x@citizen.example", "--subject", "Autre",
                      "--author", "Marie Lambert")["id"]
    waiting = site.json("ticket", "new", "--email", "y@citizen.example", "--subject", "Clé",
                        "--author", "Marie Lambert", "--category", "access-key")["id"]
    for number in (ticket, phone, other):
        site.ok("ticket", "pending", str(number))
    day = (datetime.now(BRUSSELS) + timedelta(days=20)).date().isoformat()
    site.ok("ticket", "pending", str(waiting), "--until", day)
    since = brussels(2025, 12, 24, 10, 0)  # Wed; Thu 25 Christmas: Fri 26, Mon 29 = 2 days
    for number in (ticket, phone, other, waiting):
        went_pending(site, number, since)
    site.ok("outbox", "send")
    before = len(site.mails(REQUESTER))

    assert close_unanswered(site.db, site.config, brussels(2025, 12, 29, 9, 59)) == []
    assert close_unanswered(site.db, site.config, brussels(2025, 12, 29, 10, 1)) == [
        f"autoclose:{ticket}:{int(since.timestamp())}",
        f"autoclose:{phone}:{int(since.timestamp())}"]
    assert close_unanswered(site.db, site.config, brussels(2025, 12, 30, 10, 1)) == []
    site.ok("outbox", "send")
    [last] = site.mails(REQUESTER)[before:]
    assert "afgesloten" in last["Subject"] and "#1]" in last["Subject"]
    assert last["In-Reply-To"] == "<nl1@citizen.example>"
    assert "antwoord dan gewoon op dit bericht" in text_of(last)
    for number in (ticket, phone):
        shown = site.json("ticket", "show", str(number))
        assert shown["status"] == "closed"
        assert [(e["new"], e["actor"]) for e in history(site, number, "auto-closed")] == [
            ("2d", "scheduler")]
    # another category, and a ticket waiting until a day: left alone
    assert site.json("ticket", "show", str(other))["status"] == "pending"
    assert site.json("ticket", "show", str(waiting))["status"] == "pending"
