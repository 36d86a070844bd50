"""A ticket's history: every change with who made it and through what, through the real
command line and the real mail pipeline (Maildir in, aiosmtpd out), on SQLite and
PostgreSQL; and no ticket field changes without its event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli.app import login_name
from cli.main import main
from rnmail.i18n.formats import BRUSSELS, text_time
from rnmail.models import DirectoryUser, Organisation, Staff, Ticket
from rnmail.tickets.history import Actor, UnrecordedChange, change
from tests.harness import corpus
from tests.harness.install import Installation, install
from tests.harness.mail import JAN, MARIE, REQUESTER, reply_to
from tests.harness.servers import SmtpServer

BLOCKED = "jan@zuidhoven.example"


@pytest.fixture
def site(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Installation]:
    site = install(tmp_path, db_url, smtp_server)
    site.ok("staff", "add", MARIE, "--name", "Marie Lambert")
    site.ok("staff", "add", JAN, "--name", "Jan Peeters", "--language", "nl")
    site.ok("service", "add", "web-services", "--email", "ws@rn.example")
    yield site
    site.close()


def history(site: Installation, ticket_id: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = site.json("ticket", "show", str(ticket_id))["history"]
    for event in events:  # ISO 8601 with its offset
        assert datetime.fromisoformat(event["at"]).utcoffset() is not None
    return events


def brief(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(what, old, new, actor, kind, via) of each event."""
    return [(e["what"], e["old"], e["new"], e["actor"], e["actor_kind"], e["via"])
            for e in events]


def test_mail_reply_commands_cli_reopen_and_delegation_are_history(site: Installation) -> None:
    site.deliver(corpus.simple("Clé d'accès bloquée", "Bonjour, ma clé est bloquée.",
                               from_addr=REQUESTER, message_id="<q1@citizen.example>"))
    site.ok("outbox", "send")
    [notification] = site.mails(MARIE)
    site.deliver(reply_to(notification, MARIE,
                          "#category access-key\n#close\nBonjour,\nVotre clé est débloquée."))
    assert site.json("ticket", "show", "1")["status"] == "closed"
    site.ok("ticket", "reopen", "1", "--author", "Jan Peeters")
    site.ok("ticket", "pending", "1")  # no --author: the OS user
    site.ok("ticket", "delegate", "1", "web-services", "--author", "Gérard (stagiaire)")

    marie, jan, me = "Marie Lambert", "Jan Peeters", login_name()
    assert brief(history(site, 1)) == [
        ("opened", None, "mail", REQUESTER, "requester", "mail"),
        ("reply", None, REQUESTER, marie, "staff", "mail"),
        ("assignee", None, "marie.lambert@rn.example", marie, "staff", "mail"),  # she answered
        ("category", None, "access-key", marie, "staff", "mail"),
        ("resolution", None, "first-contact", marie, "staff", "mail"),
        ("status", "open", "closed", marie, "staff", "mail"),
        ("status", "closed", "open", jan, "staff", "cli"),
        ("resolution", "first-contact", None, jan, "staff", "cli"),
        ("status", "open", "pending", me, "user", "cli"),
        ("service", None, "web-services", "Gérard (stagiaire)", "user", "cli"),
        ("status", "pending", "delegated", "Gérard (stagiaire)", "user", "cli"),
    ]
    events = history(site, 1)
    assert events[1]["actor_email"] == MARIE and events[1]["login"] is None
    assert events[6]["actor_email"] == JAN and events[6]["login"] == me  # who typed it
    assert events[9]["login"] == me

    shown = site.ok("ticket", "show", "1").splitlines()
    section = shown[shown.index("History") + 1:]
    assert len(section) == 11
    assert section[0].endswith(f"opened by mail  ({REQUESTER}, requester via mail)")
    assert section[5].endswith(f"status: open -> closed  ({marie} <{MARIE}>, staff via mail)")
    assert section[6].endswith(f"status: closed -> open  ({jan} <{JAN}>, staff via cli, {me})")
    assert section[8].endswith(f"status: open -> pending  ({me}, user via cli)")
    # its time as people read it, in [helpdesk].timezone (Brussels: CET in December)
    assert section[0].startswith(f"   {text_time(events[0]['at'], BRUSSELS)}  ")
    assert section[0].split()[2] in ("CET", "CEST")


def test_a_requester_reply_reopens_and_the_history_says_it_was_them(site: Installation
                                                                    ) -> None:
    site.deliver(corpus.simple("Question", "Bonjour.", from_addr=REQUESTER,
                               message_id="<q1@citizen.example>"))
    site.ok("ticket", "close", "1", "--author", MARIE)
    site.deliver(corpus.simple("RE: Question", "Encore une chose.", from_addr=REQUESTER,
                               extra_headers={"In-Reply-To": "<q1@citizen.example>"}))
    assert brief(history(site, 1))[-2:] == [
        ("status", "closed", "open", REQUESTER, "requester", "mail"),
        ("resolution", "first-contact", None, REQUESTER, "requester", "mail"),
    ]


def test_cli_notes_answers_and_participants_are_history(site: Installation) -> None:
    site.ok("ticket", "new", "--requester", "02/511 22 33", "--subject", "Appel",
            "--author", MARIE)
    site.ok("ticket", "set", "1", "--category", "certificate", "--type", "gemeente")
    site.ok("ticket", "assign", "1", JAN, "--author", MARIE)
    site.ok("ticket", "comment", "1", "-m", "Rappeler demain.", "--author", JAN)
    site.ok("ticket", "participant", "add", "1", "chef@commune.example")
    site.ok("ticket", "participant", "remove", "1", "chef@commune.example")
    me = login_name()
    assert brief(history(site, 1)) == [
        ("opened", None, "phone", "Marie Lambert", "staff", "cli"),
        ("assignee", None, MARIE, "Marie Lambert", "staff", "cli"),  # she took the call
        ("category", None, "certificate", me, "user", "cli"),
        ("requester-type", "other", "municipality", me, "user", "cli"),
        ("assignee", MARIE, JAN, "Marie Lambert", "staff", "cli"),
        ("note", None, "Rappeler demain.", "Jan Peeters", "staff", "cli"),
        ("participant-add", None, "chef@commune.example", me, "user", "cli"),
        ("participant-del", "chef@commune.example", None, me, "user", "cli"),
    ]
    # nothing changed, nothing recorded
    site.ok("ticket", "set", "1", "--category", "certificate")
    assert len(history(site, 1)) == 8


def test_an_unblock_is_history(site: Installation) -> None:
    with site.db.transaction() as session:
        zuid = Organisation(name="Gemeente Zuidhoven", kind="municipality", code="99001",
                            language="nl")
        session.add(DirectoryUser(organisation=zuid, email=BLOCKED, name="Jan Peeters",
                                  language="nl", access_status="blocked"))
    site.deliver(corpus.simple("Toegangssleutel geblokkeerd", "Mijn sleutel is geblokkeerd.",
                               from_addr=BLOCKED, lang="nl"))
    site.ok("access", "unblock", BLOCKED, "--ticket", "1", "--identity-confirmed",
            "--entitled", "--action", "new-key", "--by", MARIE)
    assert brief(history(site, 1))[1:] == [
        ("note", None, history(site, 1)[1]["new"], "Marie Lambert", "staff", "cli"),
        ("category", None, "access-key", "Marie Lambert", "staff", "cli"),
        ("access-unblock", "blocked", f"{BLOCKED}: new-key", "Marie Lambert", "staff", "cli"),
    ]


def test_a_ticket_change_without_its_event_is_refused(site: Installation) -> None:
    """The guard behind every code path: a change that bypasses the recorder fails the
    transaction (and so the tests of whoever wrote it)."""
    site.ok("ticket", "new", "--requester", "02/511 22 33", "--subject", "Appel")
    for field, value in (("status", "closed"), ("category", "legal"),
                         ("requester_type", "police"), ("resolution", "investigated")):
        with pytest.raises(UnrecordedChange, match=field), site.db.transaction() as session:
            setattr(session.get(Ticket, 1), field, value)
    with pytest.raises(UnrecordedChange, match="assignee"), site.db.transaction() as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None
        ticket.assignee = session.scalars(select(Staff)).first()
    assert site.json("ticket", "show", "1")["status"] == "open"
    with site.db.transaction() as session:  # through the recorder: fine
        ticket = session.get(Ticket, 1)
        assert ticket is not None
        change(ticket, "category", "legal", Actor.system("test"))
    assert history(site, 1)[-1]["actor_kind"] == "system"


def test_rnmail_staff_names_the_actor_and_an_unproven_staff_mail_is_rnmails_note(
        site: Installation) -> None:
    site.deliver(corpus.simple("Question", "Bonjour.", from_addr=REQUESTER))
    result = CliRunner().invoke(main, ["--config", str(site.path), "ticket", "pending", "1"],
                                env={"RNMAIL_STAFF": JAN}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # Marie writes to the ticket without answering a notification of hers: kept as a note
    # by rnmail, never as hers (that she wrote it is what the mail cannot prove)
    site.deliver(corpus.simple("[RN #1] Question", "Je regarde.", from_addr=MARIE))
    events = brief(history(site, 1))
    assert events[1] == ("status", "open", "pending", "Jan Peeters", "staff", "cli")
    what, old, new, actor, kind, via = events[2]
    assert (what, old, actor, kind, via) == ("note", None, "rnmail", "system", "system")
    assert new.startswith(f"{MARIE}: ")
