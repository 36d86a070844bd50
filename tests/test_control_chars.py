"""Control characters in names and addresses: imports refuse them cell by cell with
``file:line: what``; and a member row that is already unusable (written in the database
before the check, or by hand) never blocks a status change or a mailing — its outbox row is
``failed`` with the reason, the others go out. Through the real CLI and the web admin's
confirm endpoint, a real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.models import Announcement, ComponentState, GroupMember, OutboxMessage, UserGroup
from tests.harness.admin import Admin, status_fields
from tests.harness.admin import admin as admin
from tests.harness.factories import write_config
from tests.harness.install import Installation, add_members, install, rnmail
from tests.harness.servers import SmtpServer
from tests.harness.statuspage import EXTRA, PASSWORD

# Every kind the imports refuse: C0 (line breaks, tab, NUL, ESC), DEL, C1 (NEL), the
# Unicode line and paragraph separators.
CONTROLS = {"LF": "\n", "CR": "\r", "CRLF": "\r\n", "TAB": "\t", "NUL": "\x00",
            "ESC": "\x1b", "DEL": "\x7f", "NEL": "\x85", "LS": "\u2028", "PS": "\u2029"}
# Rows already in the database: a name with a header injection, an address with one, an
# address with a space, a non-ASCII address; each one alone would have failed the whole
# notice (and the status change with it).
BAD_MEMBERS = [("evil@ops.example", "Evil\r\nBcc: spy@evil.invalid"),
               ("inject@ops.example\r\nBcc: spy@evil.invalid", "Inject"),
               ("two words@ops.example", "Space"),
               ("müller@ops.example", "Umlaut"),
               ("esc@ops.example", "Esc\x1b[31mred")]  # PostgreSQL holds no NUL
GOOD = ("bevolking@zuid.example", "population@sud.example")


def write_rows(path: Path, header: list[str], rows: list[list[str]],
               delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    path = write_config(tmp_path, db_url)
    assert rnmail(path, "init")[0] == 0
    return path


# --------------------------------------------------------------------------- imports


@pytest.mark.parametrize("control", list(CONTROLS))
def test_lists_validate_and_import_refuse_control_characters(
        config: Path, tmp_path: Path, control: str) -> None:
    char = CONTROLS[control]
    path = write_rows(tmp_path / "lists" / "ops.csv",
                      ["email", "name", "language", "organisation", "code", "notes"], [
                          ["ok@ops.example", "Fine", "fr", "", "", ""],
                          ["a@ops.example", f"Evil{char}Bcc: spy@evil.invalid", "fr", "", "",
                           ""],
                          ["b@ops.example", "B", "nl", f"Org{char}", "", ""],
                          ["c@ops.example", "C", "nl", "", "", f"unknown column{char}"],
                      ], delimiter=";")
    for command in ("validate", "import"):
        ran = rnmail(config, "lists", command, str(path))
        assert ran.code == 1 and "Traceback" not in ran.output, ran.output
        lines = ran.output.splitlines()
        for column in ("name", "organisation", "notes"):
            assert any(line.startswith(f"{path}:") and f": {column}: control character U+"
                       in line for line in lines), (column, ran.output)
    shown = rnmail(config, "lists", "list", "--json")
    assert "ops" not in shown.out  # nothing imported


@pytest.mark.parametrize("control", ["LF", "CR", "TAB", "NEL", "LS"])
def test_directory_import_refuses_control_characters(
        config: Path, tmp_path: Path, control: str) -> None:
    char = CONTROLS[control]
    header = ["organisation", "organisation_type", "organisation_code", "name", "email",
              "phone", "language", "role", "access_status"]
    path = write_rows(tmp_path / "directory.csv", header, [
        ["Commune", "municipality", "C1", "Fine", "ok@town.example", "", "fr", "", "active"],
        ["Commune", "municipality", "C1", f"Evil{char}Bcc: x", "a@town.example", "", "fr",
         "", "active"],
        [f"Commune{char}", "municipality", "C2", "B", "b@town.example", "", "fr",
         f"role{char}", "active"],
    ])
    ran = rnmail(config, "directory", "import", str(path))
    assert ran.code == 1 and "Traceback" not in ran.output, ran.output
    assert f"{path}:3: name: control character U+" in ran.err
    third = 4 + (char in ("\n", "\r"))  # the line the row starts on, after a 2-line cell
    assert f"{path}:{third}: organisation: control character U+" in ran.err
    assert f"{path}:{third}: role: control character U+" in ran.err
    assert rnmail(config, "directory", "export").out.count("\n") == 1  # the header only


# --------------------------------------------------------------------------- sending


def insert_bad_members(db_url: str, installation: Installation | Admin, group: str) -> None:
    """The unusable rows, written straight into the database as an old import left them."""
    with installation.db.transaction() as session:
        group_id = session.scalar(select(UserGroup.id).where(UserGroup.name == group))
        for email, name in BAD_MEMBERS:
            session.add(GroupMember(group_id=group_id, email=email, name=name, language="fr"))


def outcome(installation: Installation | Admin) -> dict[str, tuple[str, str | None]]:
    with installation.db.transaction() as session:
        return {row.to_addr: (row.state, row.last_reply)
                for row in session.scalars(select(OutboxMessage))}


def check_failed_and_sent(rows: dict[str, tuple[str, str | None]], delivered: set[str]) -> None:
    for email, _name in BAD_MEMBERS:
        state, why = rows[email]
        assert state == "failed" and why, (email, rows[email])
    assert rows["evil@ops.example"][1].startswith("control character in the name")  # type: ignore[union-attr]
    assert {addr for addr, (state, _) in rows.items() if state == "sent"} == set(GOOD)
    assert delivered == set(GOOD)


@pytest.fixture
def site(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Installation]:
    site = install(tmp_path, db_url, smtp_server, extra=EXTRA, operator=("alice", PASSWORD))
    add_members(site.path, "ops", (GOOD[0], "nl"), (GOOD[1], "fr"))
    insert_bad_members(db_url, site, "ops")
    yield site
    site.close()


def delivered(site: Installation | Admin) -> set[str]:
    return {m["To"].addresses[0].addr_spec for m in site.mails()}  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", [
    ("status", "set", "--yes", "down", "--comment", "Panne", "--notify", "ops"),
    ("announce", "--yes", "--template", "circular", "--groups", "ops", "--var", "body=Bonjour"),
    ("maintenance", "schedule", "--yes", "--start", "2099-06-01 18:00", "--duration", "2h",
     "--groups", "ops"),
])
def test_one_unusable_member_never_blocks_the_cli(site: Installation,
                                                  command: tuple[str, ...]) -> None:
    ran = site.as_operator(*command)
    assert ran.code == 0 and "Traceback" not in ran.output, ran.output
    assert site.run("outbox", "send").code == 0
    check_failed_and_sent(outcome(site), delivered(site))
    assert site.count(Announcement) == 1
    if command[0] == "status":
        with site.db.transaction() as session:
            assert set(session.scalars(select(ComponentState.state))) == {"down"}
    # A retry of the failed deliveries does not send the unwritable rows (nothing to send).
    retried = site.run("announce", "retry", "1")
    assert retried.code == 0, retried.output
    assert {state for state, _ in outcome(site).values()} == {"sent", "failed"}


@pytest.mark.slow
def test_one_unusable_member_never_blocks_the_admin_confirmation(
        admin: Admin, db_url: str) -> None:
    add_members(admin.path, "ops", (GOOD[0], "nl"), (GOOD[1], "fr"))
    insert_bad_members(db_url, admin, "ops")
    csrf = admin.signed_in()
    done = admin.post("/admin/status", [*status_fields(csrf, "down", ("ops",)),
                                        ("confirm", "1")])
    assert done.status == 303, done.text
    assert set(admin.states().values()) == {"down"}
    from tests.harness.wait import until
    until(lambda: {a for a, (s, _) in outcome(admin).items() if s == "sent"} == set(GOOD),
          timeout=20)
    check_failed_and_sent(outcome(admin), delivered(admin))
    reply = admin.post("/admin/maintenance", [("csrf", csrf), ("start", "2099-03-05T18:00"),
                                              ("duration", "3h"), ("group", "ops"),
                                              ("confirm", "1")])
    assert reply.status == 303, reply.text
    assert len(admin.audit("maintenance-schedule")) == 1
