"""Issue 16 B: every time a person reads is in ``[helpdesk].timezone`` (Europe/Brussels by
default), with the zone named; ``--json`` keeps ISO 8601 with its offset; the database
keeps UTC. A time at 10:00 UTC reads 11:00 in winter and 12:00 in summer, on each surface
the issue names: ``maintenance list``, ``ticket show``, ``announce list``, ``access
blocked``, the delegation mail's history, the phone message's received-at line and the
admin's planned-maintenance table."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from rnmail.config import parse_config
from rnmail.errors import ConfigError
from rnmail.i18n.formats import BRUSSELS, format_time, text_day, text_time, zone_phrase
from rnmail.models import (
    Announcement,
    DirectoryUser,
    Maintenance,
    Message,
    Organisation,
    Ticket,
    utcnow,
)
from tests.harness import corpus
from tests.harness.admin import Admin
from tests.harness.admin import admin as admin  # the fixture
from tests.harness.factories import TEST_SECRET
from tests.harness.install import Installation, add_members, install, rnmail

YEAR = utcnow().year + 1  # maintenance in the future, so that `maintenance list` shows it
WINTER = datetime(YEAR, 1, 15, 10, 0, tzinfo=UTC)  # 11:00 CET
SUMMER = datetime(YEAR, 7, 15, 10, 0, tzinfo=UTC)  # 12:00 CEST
OPERATOR = ("oscar", "correct horse battery staple")


# --------------------------------------------------------------------------- the helper


def test_one_helper_writes_each_time_in_brussels_time_across_the_changes() -> None:
    assert text_time(WINTER) == f"{YEAR}-01-15 11:00 CET"
    assert text_time(SUMMER) == f"{YEAR}-07-15 12:00 CEST"
    assert text_time(SUMMER.isoformat()) == f"{YEAR}-07-15 12:00 CEST"  # as --json prints it
    assert text_time(None) == "-" and text_time(None, BRUSSELS, "never") == "never"
    # Summer time starts on 29 March 2026 at 01:00 UTC: 01:59 CET, then 03:00 CEST.
    assert text_time(datetime(2026, 3, 29, 0, 59, tzinfo=UTC)) == "2026-03-29 01:59 CET"
    assert text_time(datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == "2026-03-29 03:00 CEST"
    # It ends on 25 October 2026 at 01:00 UTC: 02:30 comes twice, told apart by the zone.
    assert text_time(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == "2026-10-25 02:30 CEST"
    assert text_time(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == "2026-10-25 02:30 CET"
    # The local day, not the UTC one: 23:30 UTC on 31 December is New Year's Day.
    assert text_day(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "2027-01-01"
    assert format_time(WINTER, "fr") == f"15/01/{YEAR} 11:00"
    assert format_time(SUMMER, "de") == f"15.07.{YEAR} 12:00"
    assert [zone_phrase(BRUSSELS, lang) for lang in ("fr", "nl", "de", "en")] == [
        "heure de Bruxelles", "Brusselse tijd", "Brüsseler Zeit", "Brussels time"]
    assert zone_phrase(ZoneInfo("Europe/Paris"), "fr") == "heure de Paris"
    assert text_time(WINTER, ZoneInfo("UTC")) == f"{YEAR}-01-15 10:00 UTC"


def _config(tmp_path: Path, helpdesk: str) -> dict[str, object]:
    return {"database": {"url": "sqlite:///x.db"},
            "helpdesk": {"address": "info@rn.example",
                         "secret": TEST_SECRET,
                         **json.loads(helpdesk)},
            "mailbox": [{"name": "info", "type": "maildir", "path": "m"}],
            "smtp": {"transport": "file", "directory": "out"}}


def test_the_zone_is_one_key_checked_at_load(tmp_path: Path) -> None:
    config = parse_config(_config(tmp_path, "{}"), tmp_path / "rnmail.toml")
    assert config.helpdesk.timezone == "Europe/Brussels"
    assert config.helpdesk.zone == BRUSSELS and config.stats.zone == BRUSSELS  # the figures
    paris = parse_config(_config(tmp_path, '{"timezone": "Europe/Paris"}'),
                         tmp_path / "rnmail.toml")
    assert paris.stats.timezone == "Europe/Paris"
    with pytest.raises(ConfigError, match=r"\[helpdesk\].timezone: unknown time zone "
                                          r"'Europe/Bruxelles'"):
        parse_config(_config(tmp_path, '{"timezone": "Europe/Bruxelles"}'),
                     tmp_path / "rnmail.toml")


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url, operator=OPERATOR)
    (tmp_path / "maildir/new").mkdir(parents=True)
    add_members(site.path, "communes", ("bevolking@zuidhoven.example", "nl"))
    yield site
    site.close()


def _schedule(desk: Installation, start: str) -> int:
    code, out, err = desk.as_operator("maintenance", "schedule", "--start", start,
                                      "--duration", "2h", "--groups", "communes",
                                      "--queue-only", "--yes")
    assert code == 0, (out, err)
    return int(re.search(r"maintenance #(\d+) scheduled", out)[1])  # type: ignore[index]


def test_maintenance_list_in_brussels_time_and_json_in_utc_with_its_offset(
        desk: Installation) -> None:
    # The operator types Brussels time, in winter and in summer.
    _schedule(desk, f"{YEAR}-01-15 11:00")
    _schedule(desk, f"{YEAR}-07-15 12:00")
    rows = json.loads(desk.ok("maintenance", "list", "--json"))
    assert [(r["starts_at"], r["ends_at"]) for r in rows] == [
        (f"{YEAR}-01-15T10:00:00+00:00", f"{YEAR}-01-15T12:00:00+00:00"),
        (f"{YEAR}-07-15T10:00:00+00:00", f"{YEAR}-07-15T12:00:00+00:00")]
    winter, summer = desk.ok("maintenance", "list").splitlines()
    assert f"{YEAR}-01-15 11:00 CET → {YEAR}-01-15 13:00 CET" in winter
    assert f"{YEAR}-07-15 12:00 CEST → {YEAR}-07-15 14:00 CEST" in summer
    assert "+00:00" not in winter + summer

    # announce list: the announcements queued, at a known moment.
    with desk.db.transaction() as session:
        session.execute(update(Announcement).values(created_at=SUMMER))
    lines = desk.ok("announce", "list").splitlines()
    assert lines and all(f"{YEAR}-07-15 12:00 CEST" in line for line in lines), lines
    [first, *_] = json.loads(desk.ok("announce", "list", "--json"))
    assert first["created_at"] == f"{YEAR}-07-15T10:00:00+00:00"

    # status show names the zone the same way.
    assert f"{YEAR}-01-15 11:00 CET → {YEAR}-01-15 13:00 CET" in desk.ok("status", "show")


def test_another_zone_is_followed_everywhere(tmp_path: Path, db_url: str) -> None:
    site = install(tmp_path, db_url, operator=OPERATOR, init=False)
    site.path.write_text(site.path.read_text().replace(
        "[helpdesk]\n", '[helpdesk]\ntimezone = "UTC"\n', 1))
    site.ok("init")
    site.ok("operator", "add", OPERATOR[0], "--password-stdin", input=OPERATOR[1] + "\n")
    add_members(site.path, "communes", ("bevolking@zuidhoven.example", "nl"))
    try:
        _schedule(site, f"{YEAR}-07-15 10:00")  # typed in UTC now
        [row] = json.loads(site.ok("maintenance", "list", "--json"))
        assert row["starts_at"] == f"{YEAR}-07-15T10:00:00+00:00"
        assert f"{YEAR}-07-15 10:00 UTC → {YEAR}-07-15 12:00 UTC" in site.ok("maintenance",
                                                                             "list")
    finally:
        site.close()


def test_ticket_show_in_brussels_time(desk: Installation) -> None:
    desk.deliver(corpus.simple("Certificat", "Bonjour, il me faut un certificat.",
                               from_addr="jean@citizen.example"), "1.eml")
    with desk.db.transaction() as session:
        session.execute(update(Ticket).values(created_at=WINTER))
        session.execute(update(Message).values(date=SUMMER))
    shown = desk.ok("ticket", "show", "1")
    assert f"created: {YEAR}-01-15 11:00 CET" in shown
    assert f"<- {YEAR}-07-15 12:00 CEST from jean@citizen.example" in shown
    detail = json.loads(desk.ok("ticket", "show", "1", "--json"))
    assert detail["created_at"] == f"{YEAR}-01-15T10:00:00+00:00"
    assert detail["messages"][0]["date"] == f"{YEAR}-07-15T10:00:00+00:00"


def test_access_blocked_in_brussels_time(desk: Installation) -> None:
    with desk.db.transaction() as session:
        town = Organisation(name="Gemeente Zuidhoven", kind="municipality", code="99001",
                            language="nl")
        session.add(DirectoryUser(organisation=town, email="jan@zuidhoven.example",
                                  name="Jan Peeters", language="nl", access_status="blocked",
                                  status_since=WINTER))
    out = desk.ok("access", "blocked")
    assert f"blocked since {YEAR}-01-15 11:00 CET" in out
    [row] = json.loads(desk.ok("access", "blocked", "--json"))
    assert row["since"] == f"{YEAR}-01-15T10:00:00+00:00"
    assert f"access: blocked since {YEAR}-01-15;" in desk.ok(
        "directory", "show", "jan@zuidhoven.example")


# --------------------------------------------------------------------------- the mails


def _mails(desk: Installation) -> dict[str, EmailMessage]:
    mails = {}
    for path in sorted((desk.root / "outgoing").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        mails[str(msg["To"])] = msg
    return mails


def test_delegation_history_and_phone_message_in_brussels_time(desk: Installation) -> None:
    desk.deliver(corpus.simple("Certificat", "Bonjour, il me faut un certificat.",
                               from_addr="jean@citizen.example"), "1.eml")
    with desk.db.transaction() as session:
        session.execute(update(Message).values(date=WINTER))
    desk.ok("service", "add", "legal", "--email", "legal@second.example")
    desk.ok("ticket", "delegate", "1", "legal", "--note", "Question juridique")
    desk.ok("staff", "add", "marie@rn.example", "--name", "Marie")
    desk.ok("staff", "add", "jan@rn.example", "--name", "Jan", "--language", "nl")
    for who in ("marie@rn.example", "jan@rn.example"):
        desk.ok("message", "take", "--for", who, "--caller", "Luc Martin",
                "--phone", "0470/12.34.56", "--text", "Merci de rappeler.")
    desk.ok("outbox", "send")
    mails = _mails(desk)

    handover = mails["legal@second.example"].get_content()  # in the default language, fr
    assert "Historique (heure de Bruxelles):" in handover
    assert f"--- 15/01/{YEAR} 11:00 · " in handover

    now = utcnow()
    fr = mails["marie@rn.example"].get_content()
    nl = mails["jan@rn.example"].get_content()
    assert "UTC" not in fr + nl
    received = re.search(r"Reçu le: (\S+ \S+) \(heure de Bruxelles\)", fr)
    assert received, fr
    moment = datetime.strptime(received[1], "%d/%m/%Y %H:%M").replace(tzinfo=BRUSSELS)
    assert abs((moment - now).total_seconds()) < 120, received[1]  # Brussels, not UTC
    assert re.search(r"Ontvangen op: \S+ \S+ \(Brusselse tijd\)", nl), nl


# --------------------------------------------------------------------------- the admin


def test_admin_planned_maintenance_and_announcements_in_brussels_time(admin: Admin) -> None:
    with admin.db.transaction() as session:
        item = Maintenance(starts_at=WINTER, ends_at=SUMMER, components=["web-services"],
                           groups=["communes"], created_by="alice")
        session.add(item)
        session.flush()
        session.add(Announcement(kind="maintenance-announcement", template="maintenance",
                                 groups=["communes"], maintenance_id=item.id,
                                 operator="alice", created_at=WINTER))
    admin.login()
    english = admin.get("/admin/").text  # the harness asks for English
    assert "<th>From (Brussels)</th><th>To (Brussels)</th>" in english
    page = admin.get("/admin/?lang=fr").text
    table = page[page.index('<table id="maintenance">'):]
    table = table[:table.index("</table>")]
    assert "UTC" not in table
    assert "<th>De (Bruxelles)</th><th>À (Bruxelles)</th>" in table
    assert f"<td>15/01/{YEAR} 11:00</td><td>15/07/{YEAR} 12:00</td>" in table
    assert "Début (heure de Bruxelles)" in page  # the field beside it says the same zone
    queued = page[page.index('<table id="announcements">'):]
    queued = queued[:queued.index("</table>")]
    assert "Mise en file (Bruxelles)" in queued and f"15/01/{YEAR} 11:00" in queued
    assert "UTC" not in queued


# --------------------------------------------------------------------------- the figures


def test_the_figures_count_hours_and_days_in_the_same_zone(tmp_path: Path, db_url: str) -> None:
    """The zone is one key: the figures follow it as every other surface does. One
    database, the same three tickets, read with two configurations."""
    site = install(tmp_path, db_url)
    try:
        with site.db.transaction() as session:
            for n, moment in enumerate((WINTER, SUMMER,
                                        datetime(2026, 12, 31, 23, 30, tzinfo=UTC))):
                session.add(Ticket(subject=f"t{n}", channel="mail", language="fr",
                                   requester=f"r{n}@example.org", created_at=moment))
    finally:
        site.close()
    tokyo = tmp_path / "tokyo.toml"
    tokyo.write_text(site.path.read_text().replace(
        "[helpdesk]\n", '[helpdesk]\ntimezone = "Asia/Tokyo"\n', 1))

    def figures(config: Path, by: str) -> str:
        code, out, err = rnmail(config, "stats", "--by", by, "--format", "json")
        assert code == 0, (out, err)
        return out

    hours = figures(site.path, "hour")
    assert '"11"' in hours and '"12"' in hours and '"00"' in hours  # CET, CEST, 00:30 CET
    assert "2027-01-01" in figures(site.path, "day")  # 23:30 UTC on 31 December
    in_tokyo = figures(tokyo, "hour")
    assert '"19"' in in_tokyo and '"11"' not in in_tokyo  # 10:00 UTC is 19:00 in Tokyo


def test_archive_before_a_day_means_midnight_in_brussels(desk: Installation,
                                                         tmp_path: Path) -> None:
    """Closed at 23:30 UTC on 30 November is 00:30 on 1 December in Brussels: not closed
    before 1 December (the UTC midnight took it)."""
    desk.ok("ticket", "new", "--requester", "02/518.21.31", "--subject", "Appel", "--close")
    with desk.db.transaction() as session:
        session.execute(update(Ticket).values(
            closed_at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC)))
    index = json.loads(desk.ok("archive", "export", "--before", "2026-12-01", "--out",
                               str(tmp_path / "a"), "--json"))
    assert index == []
    index = json.loads(desk.ok("archive", "export", "--before", "2026-12-02", "--out",
                               str(tmp_path / "b"), "--json"))
    assert len(index) == 1
