"""Scheduled maintenance (issue 4): announced at once, then reminded, started and ended by a
real ``rnmail scheduler run`` process whose jobs live in the database (``apscheduler_jobs``).

Through late starts, restarts, kill -9 and a second scheduler, every notification step runs
once and each of its notices reaches each member of the groups once, in their language; the
components' status comes from the maintenance's times, with or without a scheduler.
On SQLite and PostgreSQL, against the file transport or a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from rnmail.auth.operators import add_operator
from rnmail.daemon.scheduler import SYNC_SECONDS, job_store_scheduler
from rnmail.directory.groups import import_lists
from rnmail.dispatch.send import RECORD_WINDOW, send_outbox
from rnmail.errors import RnmailError
from rnmail.models import Announcement, AuditEvent, Maintenance, OutboxMessage, utcnow
from rnmail.status.maintenance import (
    add_jobs,
    parse_duration,
    parse_local_time,
    run_step,
    schedule_maintenance,
)
from rnmail.status.page import BRUSSELS
from tests.harness.factories import write_config
from tests.harness.install import Installation
from tests.harness.servers import SmtpServer
from tests.harness.wait import until

ROOT = Path(__file__).resolve().parent.parent
RUN = "from cli.main import main; main()"
# The same scheduler, but syncing with the job store every second (instead of SYNC_SECONDS)
# and calling a step late after one second (instead of a minute): restarts, re-added jobs and
# late steps then happen within a test's few seconds, and a step run twice shows at once.
RUN_FAST = ("import datetime, rnmail.daemon.scheduler as s, rnmail.status.maintenance as m; "
            "s.SYNC_SECONDS = 1; m.LATE = datetime.timedelta(seconds=1); "
            "from cli.main import main; main()")
OPERATOR, PASSWORD = "ops", "maintenance-pw-1"
STEPS = ("reminder", "start", "end")
MEMBERS = {  # group → (address, language)
    "communes": [("greffe@commune-a.example", "fr"), ("bevolking@gemeente-b.example", "nl"),
                 ("buergerdienst@gemeinde-c.example", "de")],
    "police": [("zone@police-d.example", "en"), ("greffe@commune-a.example", "fr")],
}
WORDS = {  # each language's subject, per step
    "fr": {"announcement": "] Maintenance planifiée", "reminder": "] Rappel : maintenance",
           "start": "a commencé", "end": "est terminée", "cancellation": "est annulée"},
    "nl": {"announcement": "] Gepland onderhoud", "reminder": "] Herinnering: gepland",
           "start": "is begonnen", "end": "is beëindigd", "cancellation": "is geannuleerd"},
    "de": {"announcement": "] Geplante Wartung", "reminder": "] Erinnerung: geplante",
           "start": "hat begonnen", "end": "ist abgeschlossen", "cancellation": "wurde abgesagt"},
    "en": {"announcement": "] Planned maintenance", "reminder": "] Reminder: planned",
           "start": "has started", "end": "has ended", "cancellation": "has been cancelled"},
}


# --------------------------------------------------------------------------- helpers


class Site(Installation):
    """The installation (harness.install) and what these tests ask of its maintenance
    windows; ``members`` is address → language, every group's member once."""

    def __init__(self, path: Path, members: dict[str, str]) -> None:
        super().__init__(path, operator=(OPERATOR, PASSWORD))
        self.members = members

    def schedule(self, start_in: float, duration: float, remind: float | None = None,
                 groups: tuple[str, ...] = ("communes", "police"),
                 components: tuple[str, ...] = ()) -> int:
        """A maintenance starting in ``start_in`` seconds (the CLI counts in minutes)."""
        result = schedule_maintenance(
            self.db, self.config, OPERATOR, utcnow() + timedelta(seconds=start_in),
            timedelta(seconds=duration), list(components), list(groups),
            timedelta(seconds=remind) if remind is not None else None, {})
        return result.maintenance_id

    def send(self) -> None:
        report = send_outbox(self.db, self.config)
        assert report.failed == 0

    def maintenance(self, maintenance_id: int) -> Maintenance:
        with self.db.transaction() as session:
            item = session.get(Maintenance, maintenance_id)
            assert item is not None
            return item

    def jobs(self) -> dict[str, datetime]:
        with self.db.engine.connect() as connection:
            rows = connection.execute(text("SELECT id, next_run_time FROM apscheduler_jobs"))
            return {row[0]: datetime.fromtimestamp(row[1], UTC) for row in rows}

    def step_events(self, maintenance_id: int) -> list[tuple[str, dict[str, Any]]]:
        """(step, detail) of the scheduler's audit events for the maintenance, in order."""
        with self.db.transaction() as session:
            rows = session.execute(select(AuditEvent.action, AuditEvent.detail).where(
                AuditEvent.actor == "scheduler").order_by(AuditEvent.id)).all()
        return [(action.removeprefix("maintenance-"), detail) for action, detail in rows
                if detail.get("maintenance") == maintenance_id]

    def announcements(self, maintenance_id: int) -> dict[str, Announcement]:
        with self.db.transaction() as session:
            rows = session.scalars(select(Announcement).where(
                Announcement.maintenance_id == maintenance_id)).all()
        steps = [(a.step_key or "").rsplit(":", 1)[-1] for a in rows]
        assert len(steps) == len(set(steps)), steps
        return dict(zip(steps, rows, strict=True))

    def outbox_per_step(self, maintenance_id: int) -> Counter[tuple[str, str]]:
        """(step, address) → how many rows the outbox holds for it."""
        with self.db.transaction() as session:
            rows = session.execute(
                select(Announcement.step_key, OutboxMessage.to_addr)
                .join(OutboxMessage, OutboxMessage.announcement_id == Announcement.id)
                .where(Announcement.maintenance_id == maintenance_id)).all()
        return Counter(((key or "").rsplit(":", 1)[-1], to) for key, to in rows)

    def outbox_states(self) -> list[tuple[str, int, str | None]]:
        """Each outbox row's (state, attempts, last SMTP reply)."""
        with self.db.transaction() as session:
            rows = session.execute(select(OutboxMessage.state, OutboxMessage.attempts,
                                          OutboxMessage.last_reply)).all()
        return [tuple(row) for row in rows]

    def step_of_announcement(self) -> dict[int, str]:
        with self.db.transaction() as session:
            rows = session.execute(select(Announcement.id, Announcement.step_key)).all()
        return {id_: (key or "").rsplit(":", 1)[-1] for id_, key in rows}

    def outgoing(self) -> list[bytes]:
        """The mails the file transport wrote."""
        directory = self.config.smtp.directory
        assert directory is not None
        return [p.read_bytes() for p in sorted(directory.glob("*.eml"))] if (
            directory.exists()) else []

    def page(self) -> dict[str, Any] | None:
        path = self.config.status.public_dir / "status.json"
        return json.loads(path.read_text()) if path.exists() else None


@dataclass(frozen=True)
class Mail:
    to: str
    step: str
    language: str
    message_id: str
    subject: str
    body: str


def parse_mails(site: Site, raws: list[bytes]) -> list[Mail]:
    steps = site.step_of_announcement()
    mails = []
    for raw in raws:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        match = re.match(r"<[^.@]+\.a(\d+)\.", msg["Message-ID"])
        assert match, msg["Message-ID"]
        body = msg.get_body(("plain",))
        assert body is not None
        mails.append(Mail(msg["To"].addresses[0].addr_spec, steps[int(match[1])],
                          msg["Content-Language"], msg["Message-ID"], str(msg["Subject"]),
                          body.get_content()))  # type: ignore[attr-defined]
    return mails


class Scheduler:
    """A real ``rnmail -v scheduler run`` process; its log goes to a file."""

    def __init__(self, site: Site, run: str = RUN) -> None:
        self.log_path = site.path.parent / f"scheduler-{time.monotonic_ns()}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", run, "--config", str(site.path), "-v", "scheduler",
                 "run"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def syncs(self) -> int:
        """How many times the job-store sync (``add_jobs``) has run."""
        return len(re.findall(r'Job "add_jobs .*" executed successfully', self.log))

    def stop(self) -> str:
        """SIGTERM: the scheduler finishes the step under way and exits with status 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the scheduler ignored SIGTERM:\n{self.log}") from None
        assert code == 0, f"exit status {code}:\n{self.log}"
        return self.log

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


Launch = Callable[..., Scheduler]


@pytest.fixture
def launch() -> Iterator[Launch]:
    """Starts scheduler processes; any a test leaves running (it failed) is killed."""
    started: list[Scheduler] = []

    def start(site: Site, run: str = RUN) -> Scheduler:
        started.append(Scheduler(site, run))
        return started[-1]

    yield start
    for scheduler in started:
        scheduler.kill()


MakeSite = Callable[..., Site]


@pytest.fixture
def make_site(tmp_path: Path, db_url: str) -> Iterator[MakeSite]:
    """Makes the installation, with the file transport or ``smtp=SmtpServer``."""
    made: list[Site] = []

    def make(smtp: SmtpServer | None = None, bulk: int = 0, lease: float = 30) -> Site:
        made.append(new_site(tmp_path, db_url, smtp, bulk, lease))
        return made[-1]

    yield make
    for site in made:
        site.close()


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    return make_site()


def new_site(tmp_path: Path, db_url: str, smtp: SmtpServer | None, bulk: int,
             lease: float) -> Site:
    """Groups ``communes`` (fr, nl, de) and ``police`` (en, and fr shared with communes),
    plus ``bulk`` with ``bulk`` members; start and end notices on. ``lease``: the outbox's
    lease, short only where a test kills a sender (a sender merely slowed down past its
    lease, on a loaded machine, is taken for dead and its mail sent again)."""
    smtp_block = (f'[smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"'
                  if smtp else "")
    path = write_config(tmp_path, db_url, smtp=smtp_block, extra=f"""
[status]
public_dir = "public"
maintenance_notices = ["start", "end"]

[outbox]
lease_seconds = {lease}
""")
    site = Site(path, {})
    db = site.db
    db.upgrade()
    groups = {name: list(rows) for name, rows in MEMBERS.items()}
    if bulk:
        langs = ("fr", "nl", "de")
        groups["bulk"] = [(f"office{i}@bulk.example", langs[i % 3]) for i in range(bulk)]
    files = []
    for name, rows in groups.items():
        csv = tmp_path / "lists" / f"{name}.csv"
        csv.parent.mkdir(exist_ok=True)
        csv.write_text("email,name,language\n" + "".join(
            f"{address},Service {i},{lang}\n" for i, (address, lang) in enumerate(rows)))
        files.append(csv)
    import_lists(db, files)
    with db.transaction() as session:
        add_operator(session, OPERATOR, PASSWORD)
    site.members = {address: lang for rows in groups.values() for address, lang in rows}
    return site


def group_members(*groups: str) -> dict[str, str]:
    return {address: lang for g in groups for address, lang in MEMBERS[g]}


# --------------------------------------------------------------------------- 1. input


@pytest.mark.parametrize(("value", "expected"), [
    ("3h", timedelta(hours=3)), ("90m", timedelta(minutes=90)),
    ("1h30", timedelta(hours=1, minutes=30)), ("1h30m", timedelta(minutes=90)),
    ("2d", timedelta(days=2)), (" 45 min ", timedelta(minutes=45)), ("2H", timedelta(hours=2)),
])
def test_parse_duration(value: str, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["", "  ", "0h", "3x", "h", "-1h", "3 hours", "1.5h", "3h 2d",
                                   "3", " 90 ", "120"])  # no unit: three minutes? hours?
def test_parse_duration_refuses_with_a_clear_message(value: str) -> None:
    with pytest.raises(RnmailError, match=r"duration .*(3h|zero)"):
        parse_duration(value)


def test_parse_local_time_is_brussels_time() -> None:
    assert parse_local_time("2026-12-05 18:00") == datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    assert parse_local_time("2026-07-01 18:00") == datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    assert parse_local_time("2026-07-01T18:00+00:00") == datetime(2026, 7, 1, 18, tzinfo=UTC)
    for bad in ("05/12/2026 18:00", "tomorrow", "", "2026-13-01 10:00"):
        with pytest.raises(RnmailError, match="YYYY-MM-DD HH:MM"):
            parse_local_time(bad)


# --------------------------------------------------------------------------- 2. scheduling


def test_schedule_announces_in_each_language_and_writes_the_jobs(site: Site) -> None:
    year = utcnow().year + 1
    code, out, err = site.as_operator(
        "maintenance", "schedule", "--yes", "--start", f"{year}-12-05 18:00", "--duration", "3h",
        "--component", "natural-persons", "--groups", "communes,police", "--remind", "24h",
        "--comment", "Migration de la base")
    assert code == 0, err
    maintenance_id = int(re.search(r"maintenance #(\d+) scheduled", out)[1])  # type: ignore[index]
    members = group_members("communes", "police")
    assert f"{len(members)} recipient(s) notified" in out
    assert f"{len(members)} sent" in err  # sent in the foreground

    mails = parse_mails(site, site.outgoing())
    assert sorted(m.to for m in mails) == sorted(members)  # each member once, shared one too
    expected = {  # each language's period and duration: 18:00 Brussels time, 3 hours
        "fr": (f"le 05/12/{year} de 18:00 à 21:00", "3 heures"),
        "nl": (f"op 05/12/{year} van 18:00 tot 21:00", "3 uur"),
        "de": (f"am 05.12.{year} von 18:00 bis 21:00 Uhr", "3 Stunden"),
        "en": (f"on 05/12/{year} from 18:00 to 21:00", "3 hours"),
    }
    for mail in mails:
        assert mail.step == "announcement"
        assert mail.language == members[mail.to]
        period, duration = expected[mail.language]
        assert period in mail.subject and duration in mail.subject, mail.subject
        assert period in mail.body and duration in mail.body, mail.body
        assert WORDS[mail.language]["announcement"] in mail.subject
        assert "Migration de la base" in mail.body
        assert str(maintenance_id) in mail.body

    start = datetime(year, 12, 5, 17, 0, tzinfo=UTC)
    assert site.jobs() == {
        f"maintenance-{maintenance_id}-reminder": start - timedelta(hours=24),
        f"maintenance-{maintenance_id}-start": start,
        f"maintenance-{maintenance_id}-end": start + timedelta(hours=3),
    }

    code, out, _ = site.run("maintenance", "list", "--json")
    assert code == 0
    (row,) = json.loads(out)
    assert row["id"] == maintenance_id and row["state"] == "scheduled"
    assert row["starts_at"] == start.isoformat()
    assert row["ends_at"] == (start + timedelta(hours=3)).isoformat()
    assert row["components"] == ["natural-persons"]
    assert row["groups"] == ["communes", "police"]
    assert row["reminder_before_seconds"] == 24 * 3600
    assert row["created_by"] == OPERATOR
    assert [(n["step"], n["recipients"]) for n in row["notices"]] == [
        ("announcement", len(members))]

    page = site.page()  # published at once, the maintenance ahead
    assert page is not None and page["overall"] == "operational"
    assert [m["id"] for m in page["maintenance"]] == [maintenance_id]


def test_a_long_maintenance_needs_yes(site: Site) -> None:
    year = utcnow().year + 1
    code, _, err = site.as_operator(
        "maintenance", "schedule", "--yes", "--start", f"{year}-01-06 10:00", "--duration", "8d",
        "--groups", "communes", "--queue-only")
    assert code == 0, err
    [row] = site.json("maintenance", "list")
    assert row["ends_at"] > row["starts_at"] and "8 days" in str(
        datetime.fromisoformat(row["ends_at"]) - datetime.fromisoformat(row["starts_at"]))


def test_schedule_refuses_wrong_input_and_writes_nothing(site: Site) -> None:
    year = utcnow().year + 1
    cases = [
        (["--start", "2020-01-06 10:00", "--duration", "1h"], "has passed"),
        (["--start", f"{year}-01-06 10:00", "--duration", "1h", "--groups", "communes,nope"],
         "no group 'nope'"),
        (["--start", f"{year}-01-06 10:00", "--duration", "1h", "--component", "teleport"],
         "unknown component 'teleport'"),
        (["--start", f"{year}-01-06 10:00", "--duration", "soon"], "duration 'soon'"),
        (["--start", f"{year}-01-06 10:00", "--duration", "3", "--groups", "communes"],
         "duration '3' has no unit: use e.g. 3h"),
        (["--start", f"{year}-01-06 10:00", "--duration", "8d", "--groups", "communes"],
         "longer than [status].max_maintenance_days (7 days): give --yes"),
        (["--start", "next monday", "--duration", "1h"], "YYYY-MM-DD HH:MM"),
    ]
    for args, message in cases:
        code, out, err = site.as_operator("maintenance", "schedule", *args)
        assert code == 1, (args, out, err)
        assert message in err and "Traceback" not in err, err
    with site.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Maintenance)) == 0
        assert session.scalar(select(func.count()).select_from(Announcement)) == 0
    assert site.jobs() == {}
    assert site.outgoing() == []


def test_a_reminder_whose_time_has_passed_is_not_created(site: Site) -> None:
    start = (utcnow() + timedelta(hours=2)).astimezone(BRUSSELS)
    code, out, err = site.as_operator(
        "maintenance", "schedule", "--start", f"{start:%Y-%m-%d %H:%M}", "--duration", "30m",
        "--groups", "communes", "--remind", "24h", "--queue-only", "--yes")
    assert code == 0, err
    assert "no reminder: its time has already passed" in err
    maintenance_id = int(re.search(r"#(\d+)", out)[1])  # type: ignore[index]
    assert sorted(site.jobs()) == [f"maintenance-{maintenance_id}-end",
                                   f"maintenance-{maintenance_id}-start"]
    assert site.maintenance(maintenance_id).remind_seconds is None
    assert site.outgoing() == []  # --queue-only: the daemon sends it
    assert site.outbox_per_step(maintenance_id) == Counter(
        ("announcement", address) for address in group_members("communes"))


def test_scheduling_beside_a_due_job_neither_runs_nor_breaks_it(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI writes jobs through a scheduler of its own: it must not take (or choke on) a job
    that is due meanwhile — that one belongs to the scheduler process."""
    crashes: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    first = site.schedule(start_in=0.3, duration=600)
    until(lambda: utcnow() > site.maintenance(first).starts_at, 5, "the first start")
    second = site.schedule(start_in=600, duration=600)
    assert crashes == []
    assert f"maintenance-{first}-start" in site.jobs()  # still there for the scheduler
    assert f"maintenance-{second}-start" in site.jobs()
    assert site.step_events(first) == []  # and nothing ran in this process


# --------------------------------------------------------------------------- 3. derived status


def status(site: Site) -> dict[str, Any]:
    code, out, err = site.run("status", "show", "--json")
    assert code == 0, err
    view: dict[str, Any] = json.loads(out)
    return view


def test_status_comes_from_the_times_without_any_scheduler(site: Site) -> None:
    now = utcnow()
    with site.db.transaction() as session:
        running = Maintenance(starts_at=now - timedelta(minutes=1),
                              ends_at=now + timedelta(hours=1), components=["web-services"],
                              groups=[], comment={"fr": "Migration"}, created_by=OPERATOR)
        later = Maintenance(starts_at=now + timedelta(hours=2), ends_at=now + timedelta(hours=3),
                            components=["natural-persons"], groups=[], created_by=OPERATOR)
        session.add_all([running, later])
    assert site.jobs() == {}  # no job at all: nothing has to run for the status to change

    view = status(site)
    states = {c["name"]: (c["state"], c["maintenance_id"]) for c in view["components"]}
    assert states == {"web-services": ("down", running.id),
                      "natural-persons": ("operational", None)}
    assert view["overall"] == "down"
    assert [(m["id"], m["state"]) for m in view["maintenance"]] == [
        (running.id, "in-progress"), (later.id, "scheduled")]

    with site.db.transaction() as session:  # the window closes: operational again
        session.execute(update(Maintenance).where(Maintenance.id == running.id)
                        .values(ends_at=utcnow() - timedelta(seconds=1)))
    view = status(site)
    assert {c["name"]: c["state"] for c in view["components"]} == {
        "web-services": "operational", "natural-persons": "operational"}
    assert view["overall"] == "operational"
    assert [m["id"] for m in view["maintenance"]] == [later.id]


def test_status_follows_a_scheduled_window_as_time_passes(site: Site) -> None:
    # a window long enough to be seen by a poll on a loaded machine
    maintenance_id = site.schedule(start_in=0.5, duration=3,
                                   components=("natural-persons",))

    def state() -> str:
        view = status(site)
        natural = next(c for c in view["components"] if c["name"] == "natural-persons")
        return str(natural["state"])

    until(lambda: state() == "down", 10, "the maintenance to start")
    until(lambda: state() == "operational", 10, "the maintenance to end")
    assert site.step_events(maintenance_id) == []  # no scheduler ran


# --------------------------------------------------------------------------- 4. a real scheduler


def assert_each_notice_once(site: Site, maintenance_id: int, mails: list[Mail],
                            steps: tuple[str, ...]) -> None:
    """Every member got every step's notice exactly once, in their language."""
    got = Counter((m.step, m.to) for m in mails if m.step in steps)
    assert got == Counter({(step, address): 1 for step in steps for address in site.members})
    for mail in mails:
        assert mail.language == site.members[mail.to]
        assert WORDS[mail.language][mail.step] in mail.subject, mail
    assert site.outbox_per_step(maintenance_id) == got


@pytest.mark.slow
def test_a_real_scheduler_reminds_starts_and_ends_once(
        make_site: MakeSite, smtp_server: SmtpServer, launch: Launch) -> None:
    site = make_site(smtp=smtp_server)
    # The jobs are in the store before the scheduler starts. The reminder falls due while it
    # starts up (and runs as soon as it is up), the start well after: at a load of 8 the
    # scheduler took 5 s from its start to its first step (the process, then the imports of
    # the mail composer at the first step), ran start and end together and rightly skipped
    # the reminder as too late, so the page never said down long enough to be seen.
    maintenance_id = site.schedule(start_in=10, duration=3, remind=9)
    site.send()  # the announcement, as `maintenance schedule` does in the foreground
    item = site.maintenance(maintenance_id)
    scheduler = launch(site)
    try:
        down = until(lambda: (p := site.page()) and p["overall"] == "down" and p,
                          4 * SYNC_SECONDS, "the page to say down")
        assert {c["name"]: (c["state"], c["maintenance_id"]) for c in down["components"]} == {
            "natural-persons": ("down", maintenance_id), "web-services": ("down", maintenance_id)}
        assert datetime.fromisoformat(down["generated_at"]) >= item.starts_at
        until(lambda: len(site.step_events(maintenance_id)) == 3, 20, "the end step")
        up = until(lambda: (p := site.page()) and p["overall"] == "operational" and p, 10,
                        "the page to say operational")
        assert datetime.fromisoformat(up["generated_at"]) >= item.ends_at
        assert up["maintenance"] == []
        until(lambda: len(smtp_server.messages) >= 4 * len(site.members), 20,
                   "every notice to be delivered")
    except AssertionError as exc:  # say what did arrive and what the scheduler did
        raise AssertionError(f"{exc}: {len(smtp_server.messages)} of "
                             f"{4 * len(site.members)}; outbox {site.outbox_states()}; "
                             f"scheduler log:\n"
                             f"{scheduler.log[-4000:]}") from None
    finally:
        log = scheduler.stop()
    assert "Traceback" not in log, log

    mails = parse_mails(site, [e.content for e in smtp_server.messages])
    assert all(len(e.rcpt_tos) == 1 for e in smtp_server.messages)
    assert_each_notice_once(site, maintenance_id, mails, ("announcement", *STEPS))
    events = site.step_events(maintenance_id)
    assert [step for step, _ in events] == list(STEPS)  # each once, in order
    announcements = site.announcements(maintenance_id)
    for step, detail in events:
        assert detail["outcome"] == f"announcement #{announcements[step].id}"
        assert detail["note"] is None and announcements[step].note is None
    assert site.jobs() == {}  # done jobs leave the store


# --------------------------------------------------------------------------- 5. restarts


@pytest.mark.slow
def test_a_start_missed_while_no_scheduler_ran_runs_late_with_a_note(
        site: Site, launch: Launch) -> None:
    maintenance_id = site.schedule(start_in=1.5, duration=3600, remind=1)
    site.send()
    item = site.maintenance(maintenance_id)
    assert sorted(site.jobs()) == sorted(f"maintenance-{maintenance_id}-{s}" for s in STEPS)
    # No scheduler while the reminder and the start fall due (RUN_FAST: late after 1 s).
    until(lambda: utcnow() > item.starts_at + timedelta(seconds=1.2), 10, "the start")
    scheduler = launch(site, RUN_FAST)
    try:
        until(lambda: len(site.step_events(maintenance_id)) >= 2, 30, "the late steps")
        syncs = scheduler.syncs()  # a step taken for not done would come back at a sync
        until(lambda: scheduler.syncs() > syncs, 10, "one more job-store sync")
    finally:
        log = scheduler.stop()
    assert "Traceback" not in log, log

    events = dict(site.step_events(maintenance_id))
    # Each step once (the reminder and the start, both due at once, in either order).
    assert sorted(s for s, _ in site.step_events(maintenance_id)) == ["reminder", "start"]
    announcements = site.announcements(maintenance_id)
    assert events["reminder"]["outcome"].startswith("skipped")  # useless once started
    assert "reminder" not in announcements
    assert "late" in events["start"]["note"] and events["start"]["late_seconds"] >= 1
    assert announcements["start"].note == events["start"]["note"]
    assert events["start"]["outcome"] == f"announcement #{announcements['start'].id}"
    page = site.page()
    assert page is not None and page["overall"] == "down"
    assert datetime.fromisoformat(page["generated_at"]) > item.starts_at
    assert list(site.jobs()) == [f"maintenance-{maintenance_id}-end"]  # kept for its time
    site.send()
    assert_each_notice_once(site, maintenance_id, parse_mails(site, site.outgoing()),
                            ("announcement", "start"))


def test_a_step_without_a_notice_runs_once(site: Site) -> None:
    """Steps that mail nobody (no groups, or not in maintenance_notices) leave no
    announcement: they must still count as done, or every sync would run them again."""
    maintenance_id = site.schedule(start_in=0.2, duration=600, remind=0.1, groups=())
    until(lambda: utcnow() > site.maintenance(maintenance_id).starts_at, 5, "the start")
    assert run_step(site.db, site.config, maintenance_id, "reminder").startswith("skipped")
    assert run_step(site.db, site.config, maintenance_id, "start") == "page updated"
    with job_store_scheduler(site.db) as scheduler:
        for step in ("reminder", "start"):
            scheduler.remove_job(f"maintenance-{maintenance_id}-{step}")  # as when run
        assert add_jobs(scheduler, site.db) == 0
    assert sorted(site.jobs()) == [f"maintenance-{maintenance_id}-end"]
    assert run_step(site.db, site.config, maintenance_id, "start") == "already done"
    assert [s for s, _ in site.step_events(maintenance_id)] == ["reminder", "start"]


@pytest.mark.slow
def test_kill_9_at_random_moments_every_notice_exactly_once(
        make_site: MakeSite, launch: Launch) -> None:
    site = make_site(bulk=90, lease=0.5)
    groups = ("communes", "police", "bulk")
    maintenance_id = site.schedule(start_in=4, duration=3, remind=1, groups=groups)
    site.send()
    rng = random.Random(20261205)
    kills = 0
    deadline = time.monotonic() + 120
    while len(site.step_events(maintenance_id)) < 3:
        assert time.monotonic() < deadline, site.step_events(maintenance_id)
        scheduler = launch(site, RUN_FAST)
        # The kill's moment counts from the scheduler's start, not Python's: on a loaded
        # machine the imports alone outlast the delay, and no kill would interrupt work.
        until(lambda s=scheduler: "scheduler running" in s.log or s.proc.poll() is not None,
              30, "the scheduler to start")
        if kills >= 8:  # enough: on a loaded machine a step may outlast every kill window
            until(lambda: len(site.step_events(maintenance_id)) >= 3, 60, "the last steps")
            assert "Traceback" not in scheduler.stop()
            break
        try:
            scheduler.proc.wait(timeout=rng.uniform(0.3, 1.5))
        except subprocess.TimeoutExpired:
            scheduler.kill()
            kills += 1
            continue
        raise AssertionError(f"the scheduler stopped by itself:\n{scheduler.log}")
    assert kills >= 3, "the test must actually interrupt the scheduler"

    # A clean run afterwards finds nothing left to do (a job a kill left in the store is
    # taken, and finds its step done), and runs nothing again.
    scheduler = launch(site, RUN_FAST)
    try:
        until(lambda: scheduler.syncs() and not site.jobs(), 20, "a job-store sync")
    finally:
        log = scheduler.stop()
    assert "Traceback" not in log, log

    def outbox_drained() -> bool:  # once the leases of a killed scheduler's mail expire
        site.send()
        with site.db.transaction() as session:
            return set(session.scalars(select(OutboxMessage.state))) == {"sent"}

    until(outbox_drained, 20, "the outbox to be sent")

    events = site.step_events(maintenance_id)
    assert sorted(s for s, _ in events) == sorted(STEPS), events  # each step once, none lost
    announcements = site.announcements(maintenance_id)
    sent = ["announcement"]
    for step, detail in events:
        if step in announcements:
            assert detail["outcome"] == f"announcement #{announcements[step].id}"
            sent.append(step)
        else:  # a reminder (or start) the kills pushed past its use
            assert step != "end" and detail["outcome"].startswith("skipped"), detail
    assert "end" in sent
    # Queued once per member; delivered at least once: a kill loses the record of at most
    # RECORD_WINDOW + 1 deliveries per connection (rnmail.dispatch.send.Sender), which go
    # out again with the same Message-ID.
    assert site.outbox_per_step(maintenance_id) == Counter(
        {(step, address): 1 for step in sent for address in site.members})
    mails = parse_mails(site, site.outgoing())
    got = Counter((m.step, m.to) for m in mails)
    assert set(got) == {(step, address) for step in sent for address in site.members}
    assert sum(got.values()) - len(got) <= (
        kills * (RECORD_WINDOW + 1) * site.config.outbox.connections)
    assert len({m.message_id for m in mails}) == len(got)
    assert site.jobs() == {}


# --------------------------------------------------------------------------- 6. two schedulers


@pytest.mark.slow
def test_two_schedulers_at_once_send_each_notice_once(site: Site, launch: Launch) -> None:
    schedulers = [launch(site, RUN_FAST), launch(site, RUN_FAST)]
    try:
        until(lambda: all(s.syncs() for s in schedulers), 30, "both schedulers")
        # Scheduled while they run: each finds the jobs in the store at its next sync.
        maintenance_id = site.schedule(start_in=2.5, duration=1.5, remind=1.5)
        site.send()
        until(lambda: len(site.step_events(maintenance_id)) >= 3, 25, "the end step")
        until(lambda: all(s.syncs() >= 2 for s in schedulers), 10, "both to sync")
        until(lambda: len(site.outgoing()) >= 4 * len(site.members), 20, "the mail")
    finally:
        logs = [s.stop() for s in schedulers]
    for log in logs:
        assert "Traceback" not in log, log
    assert [s for s, _ in site.step_events(maintenance_id)] == list(STEPS)
    assert_each_notice_once(site, maintenance_id, parse_mails(site, site.outgoing()),
                            ("announcement", *STEPS))


# --------------------------------------------------------------------------- 7. cancellation


def test_cancel_sends_one_notice_removes_the_jobs_and_the_down_status(site: Site) -> None:
    later = site.schedule(start_in=3600, duration=3600, remind=1800)
    running = site.schedule(start_in=0.5, duration=3600, components=("web-services",))
    site.send()
    until(lambda: status(site)["overall"] == "down", 10, "the maintenance to start")
    assert sorted(site.jobs()) == sorted(
        [f"maintenance-{later}-{s}" for s in STEPS]
        + [f"maintenance-{running}-start", f"maintenance-{running}-end"])

    code, out, err = site.as_operator("maintenance", "cancel", "--yes", str(running))
    assert code == 0, err
    assert f"maintenance #{running} cancelled; {len(site.members)} recipient(s) notified" in out
    view = status(site)
    assert view["overall"] == "operational"
    assert all(c["maintenance_id"] is None for c in view["components"])
    assert sorted(site.jobs()) == sorted(f"maintenance-{later}-{s}" for s in STEPS)
    page = site.page()
    assert page is not None and page["overall"] == "operational"  # republished at once

    code, _, err = site.as_operator("maintenance", "cancel", "--yes", str(running))
    assert code == 1 and f"maintenance #{running} is already cancelled" in err
    code, _, err = site.as_operator("maintenance", "cancel", "--yes", "999")
    assert code == 1 and "no maintenance #999" in err
    with site.db.transaction() as session:
        past = Maintenance(starts_at=utcnow() - timedelta(hours=2),
                           ends_at=utcnow() - timedelta(hours=1), created_by=OPERATOR)
        session.add(past)
    code, _, err = site.as_operator("maintenance", "cancel", "--yes", str(past.id))
    assert code == 1 and f"maintenance #{past.id} has already ended" in err
    # A job that slipped through (a scheduler that took it just before) does nothing.
    assert run_step(site.db, site.config, running, "start").startswith("nothing to do")

    mails = parse_mails(site, site.outgoing())
    cancellations = [m for m in mails if m.step == "cancellation"]
    assert Counter(m.to for m in cancellations) == Counter(list(site.members))  # once each
    for mail in cancellations:
        assert WORDS[mail.language]["cancellation"] in mail.subject
    code, out, _ = site.run("maintenance", "list", "--json", "--all")
    rows = {row["id"]: row for row in json.loads(out)}
    assert rows[running]["state"] == "cancelled"
    assert [n["step"] for n in rows[running]["notices"]] == ["announcement", "cancellation"]
    code, out, _ = site.run("maintenance", "list", "--json")
    assert [row["id"] for row in json.loads(out)] == [later]
    with site.db.transaction() as session:
        actions = session.scalars(select(AuditEvent.action).where(
            AuditEvent.action.like("maintenance-%")).order_by(AuditEvent.id)).all()
    assert actions == ["maintenance-schedule", "maintenance-schedule", "maintenance-cancel"]

