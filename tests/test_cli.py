"""The command line: the embedded set-up end to end, JSON shapes, and clear errors."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import click
import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cli.app import handle_errors
from rnmail.db import Database, migration_revisions
from rnmail.i18n.formats import text_day
from tests.harness.factories import write_config
from tests.harness.install import rnmail
from tests.harness.servers import Dovecot, SmtpServer, free_port

DATA = Path(__file__).parent / "data"


@pytest.fixture
def drop(tmp_path: Path, db_url: str) -> Path:
    config = write_config(tmp_path, db_url)
    assert rnmail(config, "init")[0] == 0
    return config


def test_drop_an_eml_and_get_a_ticket_and_acknowledgement(drop: Path, tmp_path: Path) -> None:
    (tmp_path / "maildir" / "new").mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "lang_nl_gemeente_toegangssleutel.eml", tmp_path / "maildir/new/a.eml")
    shutil.copy(DATA / "fax_tiff_attachment.eml", tmp_path / "maildir/new/b.eml")
    code, out, _ = rnmail(drop, "ingest", "once")
    assert code == 0 and "2 message(s): 2 ticket" in out
    assert list((tmp_path / "maildir/new").iterdir()) == []
    assert len(list((tmp_path / "maildir/.Processed/cur").iterdir())) == 2

    code, out, _ = rnmail(drop, "ticket", "list", "--json")
    tickets = json.loads(out)
    assert {t["language"] for t in tickets} >= {"nl"}
    for key in ("id", "subject", "status", "channel", "requester", "language", "created_at"):
        assert all(key in t for t in tickets)

    code, out, _ = rnmail(drop, "outbox", "list", "--json")
    rows = json.loads(out)
    assert len(rows) == 2 and all(r["state"] == "queued" for r in rows)
    assert set(rows[0]) >= {"id", "to", "subject", "state", "attempts", "ticket_id"}
    assert rnmail(drop, "outbox", "send")[1].startswith("2 sent")
    assert len(list((tmp_path / "outgoing").glob("*.eml"))) == 2
    assert {r["state"] for r in json.loads(rnmail(drop, "outbox", "list", "--json")[1])} == {"sent"}

    nl = next(t for t in tickets if t["language"] == "nl")
    code, out, _ = rnmail(drop, "ticket", "show", str(nl["id"]), "--json")
    detail = json.loads(out)
    first = detail["messages"][0]
    for key in ("direction", "from", "to", "subject", "message_id", "date", "text", "attachments"):
        assert key in first
    assert [m["direction"] for m in detail["messages"]] == ["in", "out"]
    code, out, _ = rnmail(drop, "ticket", "show", str(nl["id"]))
    assert code == 0 and detail["subject"] in out


def test_quarantine_commands(drop: Path, tmp_path: Path) -> None:
    (tmp_path / "maildir/new").mkdir(parents=True, exist_ok=True)
    (tmp_path / "maildir/new/junk.eml").write_bytes(b"\x00\x01 not a mail at all \xff" * 20)
    code, out, _ = rnmail(drop, "ingest", "once")
    assert code == 0 and "1 quarantined" in out
    [held] = json.loads(rnmail(drop, "quarantine", "list", "--json")[1])
    assert "not an email message" in held["reason"]
    # deleted by the retention run six months after it came ([privacy].quarantine_months)
    came = datetime.fromisoformat(held["created_at"])
    deleted = datetime.fromisoformat(held["deleted_after"])
    assert (deleted.year * 12 + deleted.month) - (came.year * 12 + came.month) == 6
    # the day in Brussels time, as every time the CLI prints
    assert f"until {text_day(held['deleted_after'])}" in rnmail(drop, "quarantine", "list")[1]
    code, _, err = rnmail(drop, "quarantine", "retry", str(held["id"]))
    assert code == 1 and "still fails" in err
    code, _, err = rnmail(drop, "quarantine", "retry", "999")
    assert code == 1 and "no quarantined message #999" in err


def test_unknown_ticket_is_one_line(drop: Path) -> None:
    code, _, err = rnmail(drop, "ticket", "show", "4242")
    assert code == 1 and err.strip() == "Error: no ticket #4242"


def test_database_without_schema_says_run_init(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/empty.db")
    code, _, err = rnmail(config, "ticket", "list")
    assert code == 1 and "run `rnmail init` first" in err and "Traceback" not in err


@pytest.mark.parametrize("newer", [False, True])
def test_a_database_at_another_schema_is_one_line(drop: Path, db_url: str, newer: bool) -> None:
    """Commands check the schema revision with one SELECT, not through Alembic: an older
    schema (a new rnmail, `rnmail init` not run yet) or a newer one is refused all the same."""
    *_, previous, head = migration_revisions()
    revision = "9999" if newer else previous
    said = (f"is at schema 9999, unknown to this rnmail (its newest is {head}): it was "
            "migrated by a newer version" if newer
            else f"is at schema {previous}, this rnmail needs {head}: run `rnmail init`")
    db = Database(db_url)
    with db.transaction() as session:
        session.execute(text("UPDATE alembic_version SET version_num = :revision"),
                        {"revision": revision})
    db.dispose()
    for args in (("ticket", "show", "1"), ("status", "show", "--json")):
        code, out, err = rnmail(drop, *args)
        assert (code, out) == (1, "") and said in err and "Traceback" not in err


@pytest.mark.parametrize("args", [
    ("ticket", "show", "abc"), ("ticket", "list", "--status", "lost"),
    ("ticket", "list", "--limit", "0"), ("outbox", "list", "--state", "x"), ("nosuch",),
])
def test_wrong_arguments_are_usage_errors(drop: Path, args: tuple[str, ...]) -> None:
    code, _, err = rnmail(drop, *args)
    assert code == 2 and "Error" in err and "Traceback" not in err


def test_missing_or_broken_config(tmp_path: Path) -> None:
    code, _, err = rnmail(tmp_path / "absent.toml", "ticket", "list")
    assert code == 1 and "not found" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[helpdesk]\naddress = 3\n")
    code, _, err = rnmail(bad, "init")
    assert code == 1 and "[helpdesk].address: expected a string" in err


def test_unreachable_imap_server_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/db.sqlite", mailbox=f"""
[[mailbox]]
name = "info"
host = "127.0.0.1"
port = {port}
user = "info"
password = "secret"
timeout = 3
""")
    assert rnmail(config, "init")[0] == 0
    code, _, err = rnmail(config, "ingest", "once")
    assert code == 1 and f"IMAP info (127.0.0.1:{port})" in err and "Traceback" not in err


def test_wrong_imap_password_is_one_line(tmp_path: Path, imap: Dovecot) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/db.sqlite", mailbox=f"""
[[mailbox]]
name = "info"
host = "{imap.host}"
port = {imap.port}
user = "info"
password = "wrong"
""")
    rnmail(config, "init")
    code, _, err = rnmail(config, "ingest", "once")
    assert code == 1 and "login refused for user 'info'" in err


def test_unreachable_smtp_server_keeps_the_mail_queued(drop: Path, tmp_path: Path) -> None:
    (tmp_path / "maildir/new").mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "lang_en_plain_ascii.eml", tmp_path / "maildir/new/a.eml")
    rnmail(drop, "ingest", "once")
    text = drop.read_text().replace('transport = "file"\ndirectory = "outgoing"',
                                    f'host = "127.0.0.1"\nport = {free_port()}\ntimeout = 3')
    drop.write_text(text)
    code, _, err = rnmail(drop, "outbox", "send")
    assert code == 1 and "SMTP server 127.0.0.1" in err
    assert [r["state"] for r in json.loads(rnmail(drop, "outbox", "list", "--json")[1])] == [
        "queued"]


def test_smtp_replies_decide_sent_deferred_failed(tmp_path: Path, db_url: str,
                                                  smtp_server: SmtpServer) -> None:
    config = write_config(tmp_path, db_url, smtp=f"""[smtp]
host = "{smtp_server.host}"
port = {smtp_server.port}
""")
    rnmail(config, "init")
    (tmp_path / "maildir/new").mkdir(parents=True, exist_ok=True)
    for i, who in enumerate(("ok", "reject", "tempfail")):
        raw = (DATA / "lang_en_plain_ascii.eml").read_bytes()
        raw = raw.replace(b"Message-ID: <", f"Message-ID: <{who}-".encode())
        raw = _with_from(raw, f"{who}@citizen.example")
        (tmp_path / f"maildir/new/{i}.eml").write_bytes(raw)
    assert rnmail(config, "ingest", "once")[0] == 0
    code, out, _ = rnmail(config, "outbox", "send")
    assert code == 0 and out.strip() == "1 sent, 1 deferred, 1 failed"
    rows = {r["to"]: r for r in json.loads(rnmail(config, "outbox", "list", "--json")[1])}
    assert rows["ok@citizen.example"]["state"] == "sent"
    assert rows["reject@citizen.example"]["state"] == "failed"
    assert rows["reject@citizen.example"]["last_reply"].startswith("550")
    deferred = rows["tempfail@citizen.example"]
    assert deferred["state"] == "queued" and deferred["attempts"] == 1
    assert deferred["last_reply"].startswith("451")
    assert rnmail(config, "outbox", "send")[1].strip() == "0 sent, 0 deferred, 0 failed"
    [envelope] = smtp_server.messages
    assert envelope.rcpt_tos == ["ok@citizen.example"]


def _with_from(raw: bytes, address: str) -> bytes:
    lines = raw.split(b"\n")
    out = [(b"From: " + address.encode() + (b"\r" if line.endswith(b"\r") else b""))
           if line.lower().startswith(b"from:") else line for line in lines]
    return b"\n".join(out)


def test_a_reused_drop_file_name_is_a_new_message(drop: Path, tmp_path: Path) -> None:
    new = tmp_path / "maildir/new"
    new.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "lang_en_plain_ascii.eml", new / "request.eml")
    assert "1 ticket" in rnmail(drop, "ingest", "once")[1]
    shutil.copy(DATA / "lang_fr_citizen_cle_bloquee.eml", new / "request.eml")
    assert "1 ticket" in rnmail(drop, "ingest", "once")[1]
    assert len(json.loads(rnmail(drop, "ticket", "list", "--json")[1])) == 2
    assert len(list((tmp_path / "maildir/.Processed/cur").iterdir())) == 2


def test_quarantined_message_whose_raw_file_is_gone(drop: Path, tmp_path: Path) -> None:
    (tmp_path / "maildir/new").mkdir(parents=True, exist_ok=True)
    (tmp_path / "maildir/new/junk.eml").write_bytes(b"\x00junk\xff" * 50)
    rnmail(drop, "ingest", "once")
    [held] = json.loads(rnmail(drop, "quarantine", "list", "--json")[1])
    shutil.rmtree(tmp_path / "attachments")
    code, _, err = rnmail(drop, "quarantine", "retry", str(held["id"]))
    assert code == 1 and "cannot be read" in err and "Traceback" not in err


def test_database_gone_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    code, _, err = rnmail(config, "ticket", "list")
    assert code == 1 and err.startswith("Error: database") and "Traceback" not in err


@pytest.mark.parametrize("by_ctrl_c", [True, False])
def test_a_ctrl_c_inside_the_database_driver_is_aborted_not_a_traceback(by_ctrl_c: bool) -> None:
    """A Ctrl-C landing in the connection pool's ping left psycopg's connection busy, and
    the pool's clean-up raised over it (seen in ``tests/test_command_server.py``): the
    command ends as any Ctrl-C does. The same error without a Ctrl-C behind it is a bug,
    and shows as one."""
    def reset() -> None:  # the pool's clean-up, as SQLAlchemy wraps the driver's error
        driver = psycopg.ProgrammingError(
            "can't change 'autocommit' now: connection in transaction status ACTIVE")
        try:
            raise driver
        except psycopg.ProgrammingError as exc:
            raise DBAPIError("SELECT 1", None, exc) from exc

    @click.command()
    @handle_errors
    def command() -> None:
        if not by_ctrl_c:
            reset()
        try:
            raise KeyboardInterrupt  # in the ping
        except KeyboardInterrupt:
            reset()

    result = CliRunner().invoke(command)
    assert result.exit_code == 1
    if by_ctrl_c:
        assert result.output == "Aborted!\n" and isinstance(result.exception, SystemExit)
    else:
        assert isinstance(result.exception, DBAPIError)
