"""What a command must refuse, or say in one line, instead of doing harm or printing a
traceback: the help desk's own address as a person, a staff member or a service; an export
over something that is not a file; numbers and dates past what a database or Python holds; a
database URL that is not one; a disk that refuses the write; a page that cannot be written
after the status change was saved. Found by trying the commands as a careless or hostile
user would (``rnmail`` run in-process on a real database, both engines where it stores).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.models import OutboxMessage
from tests.harness import corpus
from tests.harness.factories import write_config
from tests.harness.install import Installation, install, rnmail

OWN = "info@rn.example"  # write_config's [helpdesk].address


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url, operator=("nuit", "mot de passe de nuit"))
    site.drop(corpus.simple("Clé bloquée", "Bonjour, ma clé est bloquée.",
                            from_addr="jean@example.org"))
    site.ok("ingest", "once")
    yield site
    site.close()


@pytest.mark.parametrize("address", [OWN, "INFO@RN.EXAMPLE", " Info@rn.example "])
def test_the_help_desk_itself_is_no_person_member_or_service(site: Installation,
                                                             address: str) -> None:
    for command in (("staff", "add", address, "--name", "Boîte info"),
                    ("service", "add", "loop", "--email", address),
                    ("privacy", "erase", "--email", address, "--reason", "test"),
                    ("privacy", "export", "--email", address, "--out",
                     str(site.root / "export"))):
        assert "is the help desk itself" in site.fails(*command), command
    site.ok("service", "add", "legal", "--email", "legal@second.example")
    assert "is the help desk itself" in site.fails("service", "edit", "legal", "--email",
                                                  address)
    assert site.json("ticket", "show", "1")["messages"][0]["from"] == "jean@example.org"
    assert not (site.root / "export").exists()


def test_an_export_never_replaces_what_is_not_a_file(site: Installation) -> None:
    folder = site.root / "a-folder"
    folder.mkdir()
    (folder / "keep.txt").write_text("kept")
    fifo = site.root / "a-fifo"
    os.mkfifo(fifo)
    link = site.root / "a-link"
    link.symlink_to(folder / "keep.txt")
    for target in (folder, fifo, link):
        line = site.fails("ticket", "export", "1", "--format", "mbox", "--out", str(target))
        assert "is not a plain file" in line, line
    assert (folder / "keep.txt").read_text() == "kept" and fifo.is_fifo() and link.is_symlink()
    earlier = site.root / "ticket-1.mbox"
    earlier.write_text("an earlier export\n")
    site.ok("ticket", "export", "1", "--format", "mbox", "--out", str(earlier))
    assert earlier.read_text().startswith("From ")  # a file of that name is replaced


def test_a_write_the_disk_refuses_is_one_line(site: Installation) -> None:
    blocker = site.root / "a-file"
    blocker.write_text("not a folder")
    for command in (("ticket", "export", "1", "--format", "json", "--out",
                     str(blocker / "t.json")),
                    ("ticket", "export", "1", "--format", "eml", "--out", str(blocker / "d")),
                    ("archive", "export", "--before", "2100-01-01", "--out",
                     str(blocker / "archive"))):
        line = site.fails(*command)
        assert "Not a directory" in line or "File exists" in line, (command, line)


@pytest.mark.parametrize("command", [
    ("ticket", "show", "9223372036854775808"),
    ("ticket", "show", "#99999999999999999999"),
    ("ticket", "reply", "99999999999999999999", "--text", "x"),
])
def test_a_ticket_number_no_database_holds_is_refused(site: Installation,
                                                      command: tuple[str, ...]) -> None:
    code, _out, err = site.run(*command)
    assert code == 2 and "is not a ticket number" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [
    ("ticket", "list", "--limit", "99999999999999999999"),
    ("ticket", "split", "1", "--message", "99999999999999999999"),
    ("announce", "status", "99999999999999999999"),
    ("quarantine", "retry", "99999999999999999999"),
    ("spam", "delete", "9223372036854775808"),
])
def test_other_numbers_past_a_database_integer_are_refused(site: Installation,
                                                           command: tuple[str, ...]) -> None:
    code, _out, err = site.run(*command)
    assert code == 2 and "range" in err and "Traceback" not in err, err


@pytest.mark.parametrize("command", [
    ("stats", "--from", "0001-01-01"),
    ("stats", "--to", "9999-12-31"),
    ("stats", "times", "--from", "0001-01-01"),
    ("stats", "due", "--to", "9999-12-31"),
    ("report", "--from", "0001-01-01", "--to", "0001-12-31", "--out", "report.html"),
    ("archive", "export", "--before", "0001-01-01", "--out", "archive"),
])
def test_days_at_the_ends_of_the_calendar_are_one_line(site: Installation,
                                                      command: tuple[str, ...]) -> None:
    assert "a number or a date out of range" in site.fails(*command)


@pytest.mark.parametrize("duration", ["99999999999h", "9999999d", "400d"])
def test_a_maintenance_longer_than_a_year_is_refused(site: Installation,
                                                     duration: str) -> None:
    code, _out, err = site.as_operator("maintenance", "schedule", "--start",
                                       "2099-01-01 18:00", "--duration", duration, "--yes")
    assert code == 1 and "longer than a year" in err and "Traceback" not in err


def test_a_status_saved_but_not_published_says_both(tmp_path: Path, db_url: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    site = install(tmp_path, db_url, extra=f'[status]\npublic_dir = "{blocker / "status"}"',
                   operator=("nuit", "mot de passe de nuit"))
    try:
        code, _out, err = site.as_operator("status", "set", "down", "--comment", "panne")
        assert code == 1 and "Traceback" not in err
        assert "the status change is saved, but the page could not be written" in err
        assert "rnmail status publish" in err
        assert site.json("status", "show")["overall"] == "down"  # saved indeed
    finally:
        site.close()


@pytest.mark.parametrize(("url", "words"), [
    ("not a url", "[database] url cannot be used"),
    ("mysql://nobody@127.0.0.1:1/x", "[database] url cannot be used"),
])
def test_a_database_url_that_cannot_be_used_is_one_line(tmp_path: Path, url: str,
                                                        words: str) -> None:
    site = install(tmp_path, url, init=False)
    for command in (("init",), ("ticket", "list")):
        assert words in site.fails(*command), command


def test_a_file_that_is_no_database_is_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "rnmail.db"
    garbage.write_bytes(b"this is not a SQLite database, only words" * 100)
    site = install(tmp_path, f"sqlite:///{garbage}", init=False)
    for command in (("init",), ("ticket", "list")):
        line = site.fails(*command)
        assert "file is not a database" in line and "sqlalche.me" not in line, line
    folder_file = tmp_path / "plain"
    folder_file.write_text("x")
    (tmp_path / "other").mkdir()
    other = install(tmp_path / "other", f"sqlite:///{folder_file}/rnmail.db", init=False)
    assert "Not a directory" in other.fails("init")


@pytest.mark.parametrize(("section", "line", "words"), [
    ("smtp", "port = 99999", "[smtp].port: at most 65535"),
    ("smtp", "port = 0", "[smtp].port: must be at least 1"),
    ("smtp", "timeout = nan", "[smtp].timeout: must be a positive finite number"),
    ("smtp", "timeout = inf", "[smtp].timeout: must be a positive finite number"),
    ("due", 'first_response = "99999999999999999999h"', "up to 3650d"),
])
def test_config_values_that_would_fail_later_are_refused_at_once(
        tmp_path: Path, section: str, line: str, words: str) -> None:
    extra = f"[{section}]\n{line}\n"
    smtp = ('[smtp]\ntransport = "file"\ndirectory = "outgoing"\n' + line
            if section == "smtp" else "")
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/db", smtp=smtp,
                        extra="" if section == "smtp" else extra)
    code, _out, err = rnmail(path, "ticket", "list")
    assert code == 1 and words in err and "Traceback" not in err, err


def test_ctrl_c_during_outbox_send_aborts_and_gives_the_rows_back(tmp_path: Path,
                                                                   db_url: str) -> None:
    """A relay that accepts and never answers; Ctrl-C: "Aborted!" and exit 1, not a count
    of nothing sent with exit 0, and no row left leased to a process that is gone."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    site = install(tmp_path, db_url, extra="")
    try:
        site.path.write_text(site.path.read_text().replace(
            '[smtp]\ntransport = "file"\ndirectory = "outgoing"',
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\ntimeout = 2'))
        site.drop(corpus.simple("Clé bloquée", "Bonjour, ma clé est bloquée.",
                                from_addr="jean@example.org"))
        assert "1 message(s)" in site.ok("ingest", "once")  # its acknowledgement queued
        proc = subprocess.Popen(
            [sys.executable, "-c", "from cli.main import main; main()", "--config",
             str(site.path), "outbox", "send"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent)
        silent.settimeout(30)
        waiting, _ = silent.accept()  # its delivery under way, waiting for the greeting
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        waiting.close()
        assert proc.returncode == 1 and b"Aborted!" in err, (proc.returncode, out, err)
        assert b"0 sent" not in out and b"Traceback" not in err
        with site.db.transaction() as session:
            states = {row.state for row in session.scalars(select(OutboxMessage))}
        assert states == {"queued"}, states  # given back: the next run sends it
    finally:
        silent.close()
        site.close()


def test_an_attachment_that_is_no_file_or_too_large_is_refused(site: Installation) -> None:
    big = site.root / "big.pdf"
    with big.open("wb") as handle:
        handle.truncate(26 * 2**20)  # over [helpdesk].max_attachment_mb (25)
    for path, words in (("/dev/zero", "is not a plain file"), (str(big), "larger than 25 MB")):
        assert words in site.fails("ticket", "reply", "1", "-m", "Bonjour", "--attach", path)
    assert [m for m in site.json("ticket", "show", "1")["messages"]
            if m["direction"] == "out" and m["kind"] == "correspondence"
            and "Bonjour" in (m["text"] or "")] == []  # nothing queued


def test_a_backup_never_replaces_the_database_it_copies(tmp_path: Path) -> None:
    site = install(tmp_path, f"sqlite:///{tmp_path}/rnmail.db")
    try:
        live = tmp_path / "rnmail.db"
        for target in (live, tmp_path / "rnmail.db-wal", tmp_path / "sub" / ".." / "rnmail.db"):
            assert "is the database itself" in site.fails("db", "backup", "--out", str(target))
        site.ok("ticket", "list")  # still a database
        site.ok("db", "backup", "--out", str(tmp_path / "copy.db"))
    finally:
        site.close()


@pytest.mark.parametrize("command", [("directory", "search"), ("directory", "lookup")])
def test_a_search_longer_than_a_name_is_one_line(site: Installation,
                                                 command: tuple[str, ...]) -> None:
    assert "at most 200 characters" in site.fails(*command, "ab" * 150)
    site.ok(*command, "Dupont")


def test_control_characters_in_a_subject_or_a_name_become_spaces(site: Installation) -> None:
    made = site.json("ticket", "new", "--channel", "phone", "--requester", "+32 2 555 01 23",
                     "--name", "Jean\x07 Dupont", "--subject", "Clé\nbloquée\x07 \x85encore",
                     "--note", "Rappel", "--json")
    shown = site.json("ticket", "show", str(made["id"]))
    assert shown["subject"] == "Clé bloquée encore"
    assert shown["requester_name"] == "Jean Dupont"
    site.ok("staff", "add", "bel@rn.example", "--name", "Paul\x07\nMartin")
    assert [s["name"] for s in site.json("staff", "list", "--json")
            if s["email"] == "bel@rn.example"] == ["Paul Martin"]
