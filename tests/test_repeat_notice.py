"""A notice is never mailed twice by accident (issue 16, A3): a command whose change is
committed succeeds even when the mail server is down (the mail stays queued), and the same
notice to the same groups within ``[status].repeat_window_minutes`` is refused unless
``--again`` — so running the command a second time mails nobody twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.models import Announcement, OutboxMessage
from tests.harness.admin import Admin, status_fields
from tests.harness.admin import admin as admin  # the fixture
from tests.harness.install import Installation, add_members, rnmail
from tests.harness.servers import SmtpServer, free_port
from tests.harness.statuspage import EXTRA, PASSWORD

ZONES = (("pz.noord@police.example", "nl"), ("zp.sud@police.example", "fr"))


@pytest.fixture
def down(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    """An installation whose SMTP server does not answer (nothing listens on its port)."""
    from tests.harness.factories import write_config

    smtp = f'[smtp]\nhost = "127.0.0.1"\nport = {free_port()}\nsecurity = "none"\ntimeout = 2'
    site = Installation(write_config(tmp_path, db_url, smtp=smtp, extra=EXTRA), None,
                        ("alice", PASSWORD))
    site.ok("init")
    site.ok("operator", "add", "alice", "--password-stdin", input=PASSWORD + "\n")
    add_members(site.path, "police-zones", *ZONES)
    yield site
    site.close()


def queued(site: Installation) -> list[tuple[int | None, str, str]]:
    with site.db.transaction() as session:
        return [(r.announcement_id, r.to_addr, r.state) for r in session.scalars(
            select(OutboxMessage).order_by(OutboxMessage.id))]


def test_a_dead_mail_server_after_the_change_is_a_success_and_the_mail_stays_queued(
        down: Installation) -> None:
    code, out, err = down.as_operator("status", "set", "degraded", "--notify", "police-zones",
                                      "--comment", "Traag", "--yes")
    assert code == 0, err
    assert "announcement #1 queued" in out
    assert "not sent now" in err and "stays queued" in err and "outbox send" in err
    assert "Traceback" not in err
    assert down.json("status", "show")["overall"] == "degraded"
    assert sorted(queued(down)) == [(1, "pz.noord@police.example", "queued"),
                                    (1, "zp.sud@police.example", "queued")]


def test_the_same_notice_again_is_refused_unless_again(down: Installation) -> None:
    notice = ("status", "set", "--yes", "degraded", "--notify", "police-zones",
              "--comment", "Traag")
    assert down.as_operator(*notice, "--queue-only")[0] == 0
    code, _, err = down.as_operator(*notice, "--queue-only")  # the operator tries again
    assert code == 1
    assert "same notice" in err and "police-zones" in err and "--again" in err
    assert len(queued(down)) == 2  # nothing more queued
    # A different notice is not a repeat: another comment, another position, other groups.
    assert down.as_operator("status", "set", "--yes", "degraded", "--notify", "police-zones",
                            "--comment", "Nog steeds traag", "--queue-only")[0] == 0
    assert down.as_operator("status", "set", "--yes", "down", "--notify", "police-zones",
                            "--comment", "Traag", "--queue-only")[0] == 0
    # Asked for explicitly, it goes again.
    assert down.as_operator(*notice, "--again", "--queue-only")[0] == 0
    with down.db.transaction() as session:
        assert session.scalar(select(Announcement.id).order_by(Announcement.id.desc())) == 4
    assert len(queued(down)) == 8


def test_the_window_is_configurable(tmp_path: Path, db_url: str,
                                    smtp_server: SmtpServer) -> None:
    from tests.harness.install import install

    site = install(tmp_path, db_url, smtp_server,
                   extra=EXTRA.replace("[status]\n", "[status]\nrepeat_window_minutes = 0\n"),
                   operator=("alice", PASSWORD))
    add_members(site.path, "police-zones", *ZONES)
    notice = ("status", "set", "--yes", "degraded", "--notify", "police-zones", "--queue-only")
    assert site.as_operator(*notice)[0] == 0
    assert site.as_operator(*notice)[0] == 0  # 0: never refused
    site.close()
    assert rnmail(site.path, "status", "set", "--help").out.count("--again") == 1


@pytest.mark.slow  # a real admin server per run
def test_the_web_admin_refuses_the_same_notice_unless_its_box_is_ticked(admin: Admin) -> None:
    add_members(admin.path, "police-zones", *ZONES)
    csrf = admin.signed_in()
    fields = [*status_fields(csrf, "degraded", ("police-zones",), {"nl": "Traag"}),
              ("confirm", "1")]
    assert admin.post("/admin/status", fields).status == 303
    again = admin.post("/admin/status", fields)  # a second click, or a second operator
    assert again.status == 400 and "same notice" in again.text
    assert admin.post("/admin/status", [*fields, ("again", "1")]).status == 303
    with admin.db.transaction() as session:
        assert len(list(session.scalars(select(Announcement)))) == 2
