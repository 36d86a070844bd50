"""Issue 16 A2: no mass mail without a preview and a confirmation.

``status set --notify``, ``maintenance schedule``, ``maintenance cancel`` and ``announce``
show the change, each group with its recipients per language, the subject in each language
and the languages that fall back; they ask on a terminal (a real pseudo-terminal here),
go ahead with ``--yes``, only show with ``--dry-run``, and are refused without a terminal
and without either. Through the real CLI and a real SMTP server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from rnmail.models import Announcement, AuditEvent, Maintenance, OutboxMessage, utcnow
from tests.harness.install import Installation, add_members, install
from tests.harness.servers import SmtpServer
from tests.harness.statuspage import EXTRA, PASSWORD
from tests.harness.terminal import in_terminal

MUNICIPALITIES = (("bevolking@zuid.example", "nl"), ("population@rochebois.example", "fr"),
                  ("bevoelkerung@muehl.example", "de"))
ZONES = (("pz@police.example", "nl"), ("zp@police.example", "fr"),
         ("population@rochebois.example", "fr"))  # also a municipality: mailed once
START = "2099-06-01 18:00"
COMMANDS = {
    "status": ("status", "set", "down", "--comment-nl", "Terug rond 14u",
               "--notify", "municipalities,police-zones"),
    "schedule": ("maintenance", "schedule", "--start", START, "--duration", "2h",
                 "--groups", "municipalities,police-zones"),
    "cancel": ("maintenance", "cancel", "1"),
    "announce": ("announce", "--template", "circular", "--groups",
                 "municipalities,police-zones", "--var", "subject=Omzendbrief 7",
                 "--var", "body=Zie bijlage."),
}


@pytest.fixture
def site(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Installation]:
    site = install(tmp_path, db_url, smtp_server, extra=EXTRA, operator=("alice", PASSWORD))
    add_members(site.path, "municipalities", *MUNICIPALITIES)
    add_members(site.path, "police-zones", *ZONES)
    with site.db.transaction() as session:  # a maintenance to cancel, for both groups
        session.add(Maintenance(starts_at=utcnow() + timedelta(days=30),
                                ends_at=utcnow() + timedelta(days=30, hours=2),
                                components=["natural-persons"],
                                groups=["municipalities", "police-zones"], comment={},
                                created_by="alice"))
    site.ok("status", "publish")
    yield site
    site.close()


def untouched(site: Installation) -> tuple[object, ...]:
    """What a command that must not change anything could change."""
    return (site.count(Announcement), site.count(OutboxMessage), site.count(Maintenance),
            site.count(AuditEvent), (site.root / "public" / "status.json").read_bytes(),
            [m["state"] for m in site.json("maintenance", "list", "--all")],
            len(site.smtp.messages) if site.smtp else 0)


def test_without_a_terminal_a_mass_mail_is_refused_naming_yes(site: Installation) -> None:
    before = untouched(site)
    for name, command in COMMANDS.items():
        code, out, err = site.as_operator(*command)
        assert code == 1, (name, out, err)
        [line] = err.strip().splitlines()
        assert line == ("Error: this mails 5 recipient(s) and there is no terminal to confirm "
                        "it: give --yes to go ahead, or --dry-run to see what it would do")
        assert "Traceback" not in out + err
    # the failed sign-ins aside (none here), nothing was written, queued or sent
    assert untouched(site) == before


def test_dry_run_shows_the_preview_and_changes_nothing(site: Installation) -> None:
    before = untouched(site)
    outputs = {}
    for name, command in COMMANDS.items():
        code, out, err = site.as_operator(*command, "--dry-run")
        assert code == 0, (name, err)
        outputs[name] = out
        assert ("mail: 5 recipient(s) in municipalities, police-zones (de 1, fr 2, nl 2)"
                in out.splitlines()), out
        assert "  municipalities: de 1, fr 1, nl 1" in out.splitlines()
        assert "  police-zones: fr 1, nl 1" in out.splitlines()  # rochebois counted once
        assert "subjects:" in out and "queued" not in out
    assert untouched(site) == before
    status = outputs["status"].splitlines()
    assert status[:2] == ["status: down for natural-persons, web-services",
                          "comment (nl): Terug rond 14u"]
    # the comment exists only in Dutch: French and German readers get it, said so
    assert "falls back: de (1): comment in Dutch" in status
    assert "falls back: fr (2): comment in Dutch" in status
    assert outputs["schedule"].startswith(
        "maintenance: 2099-06-01 18:00 CEST → 2099-06-01 20:00 CEST (2h)")
    assert outputs["cancel"].startswith("cancel maintenance #1: ")
    assert "  nl: Omzendbrief 7" in outputs["announce"]

    # The subjects shown are those sent: the same status change, confirmed with --yes.
    shown = {line.split(": ", 1)[0].strip(): line.split(": ", 1)[1]
             for line in status[status.index("subjects:") + 1:] if line.startswith("  ")}
    code, _, err = site.as_operator(*COMMANDS["status"], "--yes")
    assert code == 0, err
    sent = {m["Content-Language"]: str(m["Subject"]) for m in site.mails()}
    assert sent == shown and len(sent) == 3
    assert len(site.smtp.messages) == 5 if site.smtp else False


def test_json_says_what_was_and_would_be_queued(site: Installation) -> None:
    planned = site.json("maintenance", "schedule", *COMMANDS["schedule"][2:], "--dry-run",
                        "--operator", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert planned["dry_run"] is True and planned["maintenance_id"] is None
    assert planned["preview"]["groups"] == {"municipalities": {"de": 1, "fr": 1, "nl": 1},
                                            "police-zones": {"fr": 1, "nl": 1}}
    assert planned["preview"]["languages"] == {"de": 1, "fr": 2, "nl": 2}
    assert planned["preview"]["recipients"] == 5 and planned["preview"]["fallbacks"] == {}
    assert sorted(planned["preview"]["subjects"]) == ["de", "fr", "nl"]
    assert site.count(Maintenance) == 1

    done = site.json("maintenance", "schedule", *COMMANDS["schedule"][2:], "--yes",
                     "--queue-only", "--operator", "alice", "--password-stdin",
                     input=PASSWORD + "\n")
    assert done["dry_run"] is False and done["maintenance_id"] == 2
    assert done["announcement_id"] == 1 and done["preview"] == planned["preview"]
    assert site.count(OutboxMessage, OutboxMessage.announcement_id == 1) == 5

    cancel = site.json("maintenance", "cancel", "2", "--yes", "--queue-only", "--operator",
                       "alice", "--password-stdin", input=PASSWORD + "\n")
    assert cancel["maintenance_id"] == 2 and cancel["announcement_id"] == 2
    assert cancel["preview"]["recipients"] == 5

    mailing = site.json(*COMMANDS["announce"], "--yes", "--queue-only", "--operator",
                        "alice", "--password-stdin", input=PASSWORD + "\n")
    assert mailing["announcement_id"] == 3 and mailing["template"] == "circular"
    assert mailing["preview"]["subjects"] == {"de": "Omzendbrief 7", "fr": "Omzendbrief 7",
                                              "nl": "Omzendbrief 7"}
    dry = site.json(*COMMANDS["announce"], "--dry-run", "--recipients")
    assert dry["announcement_id"] is None
    assert [r["email"] for r in dry["recipient_list"]] == [
        "bevoelkerung@muehl.example", "bevolking@zuid.example", "population@rochebois.example",
        "pz@police.example", "zp@police.example"]
    status = site.json("status", "set", "down", "--notify", "police-zones", "--dry-run",
                       "--operator", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert status["dry_run"] is True and status["preview"]["languages"] == {"fr": 2, "nl": 1}
    assert site.count(Announcement) == 3


def test_on_a_terminal_no_cancels_and_yes_sends(site: Installation) -> None:
    """A real pseudo-terminal: the operator types the password, reads the preview, and
    answers the question."""
    before = untouched(site)
    code, shown = in_terminal(site.path, *COMMANDS["status"], "--operator", "alice",
                              "--password-stdin",
                              answers=[("", PASSWORD + "\n"), ("[y/N]", "n\n")])
    assert code == 1, shown
    assert "mail: 5 recipient(s) in municipalities, police-zones (de 1, fr 2, nl 2)" in shown
    assert "Queue it for 5 recipient(s)? [y/N]: " in shown
    assert "Error: not confirmed: nothing changed, nothing queued" in shown
    assert "Traceback" not in shown
    assert untouched(site)[:3] == before[:3] and untouched(site)[4:] == before[4:]
    assert site.json("status", "show")["overall"] == "operational"

    code, shown = in_terminal(site.path, *COMMANDS["cancel"], "--operator", "alice",
                              "--password-stdin", "--queue-only",
                              answers=[("", PASSWORD + "\n"), ("[y/N]", "y\n")])
    assert code == 0, shown
    assert "maintenance #1 cancelled; 5 recipient(s) notified" in shown
    assert site.count(OutboxMessage) == 5
    [row] = site.json("maintenance", "list", "--all")
    assert row["state"] == "cancelled"


def test_a_change_that_mails_nobody_needs_no_confirmation(site: Installation) -> None:
    code, out, err = site.as_operator("status", "set", "degraded")
    assert code == 0 and "status: degraded" in out, err
    code, out, err = site.as_operator("maintenance", "schedule", "--start", START,
                                      "--duration", "1h")
    assert code == 0 and "0 recipient(s) notified" in out, err
    assert json.loads(site.ok("maintenance", "list", "--json"))[-1]["groups"] == []


def test_samples_to_oneself_are_no_mass_mail(site: Installation) -> None:
    """``announce --test-to`` mails one sample per language to the operator: shown marked
    ``[TEST]``, and sent without a question."""
    args = (*COMMANDS["announce"], "--test-to", "marie.lambert@rn.example")
    out = site.ok(*args, "--dry-run")
    assert "mail: 3 recipient(s) in test (de 1, fr 1, nl 1)" in out.splitlines()
    assert "  nl: [TEST] Omzendbrief 7" in out.splitlines()
    code, out, err = site.as_operator(*args, "--queue-only")
    assert code == 0, err
    assert "announcement #1: 3 recipient(s) queued" in out
    assert site.count(OutboxMessage) == 3
