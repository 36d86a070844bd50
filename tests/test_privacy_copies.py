"""The copies rnmail makes of a person's words, and the people beside them.

A data-protection review found what the export and the erasure missed: the staff's
notification of a mail is that mail again (its text, its sender), a delegation carries the
ticket's history, an SMTP refusal repeats the recipient, spam and organisation contacts
were never looked at, and a requester's export carried another writer's mail (a
notification of it, a reply threaded in by its Message-ID, an address in the history).
Real mail through the real pipeline and the real commands, both databases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.models import Message, Organisation, OutboxMessage, SpamMessage, TicketView, utcnow
from rnmail.tickets.presence import record_view
from rnmail.tickets.team import find_staff
from tests.harness.install import Installation, install

AN, BERT, CARLA = "an.peeters@example.org", "bert.janssens@bert.test", "carla@example.test"
AN_WORDS = "Ik bevestig de verhuis van Bert, kenmerk ANWORDS4711."
CARLA_WORDS = "Carla hier, over mijn eigen zaak CARLAWORDS22."


def mail(sender: str, name: str, subject: str, body: str,
         in_reply_to: str | None = None) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = f"{name} <{sender}>", "info@rn.example", subject
    m["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    if in_reply_to:
        m["In-Reply-To"] = m["References"] = in_reply_to
    m.set_content(body)
    return m.as_bytes()


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    """Bert's ticket #1, into which An (a participant) wrote, delegated to the second line
    afterwards (the delegation carries the history); Carla's reply threaded in by one of
    our Message-IDs; an SMTP refusal that repeats An's address; An's mail held as spam;
    An a contact address of an organisation."""
    site = install(tmp_path, db_url, extra='[ingest]\nspam_flag_headers = ["X-Spam-Flag"]')
    site.ok("staff", "add", "agent@rn.example", "--name", "Agent Smith", "--language", "nl")
    site.ok("service", "add", "verhuis", "--email", "verhuis@second.example")
    site.deliver(mail(BERT, "Bert Janssens", "Vraag van Bert", "Mijn dossier, graag."))
    site.ok("ticket", "participant", "add", "1", AN)
    site.deliver(mail(AN, "An Peeters", "Re: [RN #1] Vraag van Bert", AN_WORDS))
    site.ok("ticket", "delegate", "1", "verhuis", "--note", f"Zie de mail van {AN}.")
    with site.db.transaction() as session:
        ours = session.scalars(select(Message.message_id).where(
            Message.ticket_id == 1, Message.direction == "out",
            Message.kind == "correspondence")).first()
        refused = session.scalars(select(OutboxMessage).where(
            OutboxMessage.to_addr == AN)).first()
        if refused is None:
            refused = session.scalars(select(OutboxMessage)).first()
            assert refused is not None
            refused.to_addr = AN
        refused.state, refused.last_reply = "failed", f"550 5.1.1 <{AN}>: unknown user"
        session.add(Organisation(name="Gemeente Zuid", kind="municipality", code="99001",
                                 language="nl", contact_emails=[AN, "balie@zuid.example"]))
    site.deliver(mail(CARLA, "Carla Dubois", "Re: Vraag van Bert", CARLA_WORDS,
                      in_reply_to=ours))
    spam = mail(AN, "An Peeters", "Nog eens", "Nog eens ANSPAM3.")
    site.deliver(b"X-Spam-Flag: YES\n" + spam)
    yield site
    site.close()


def everything(site: Installation) -> str:
    """Every text the database holds about messages, outgoing mail, spam and
    organisations, as one string to search."""
    with site.db.transaction() as session:
        parts: list[str] = []
        for m in session.scalars(select(Message)):
            parts += [m.subject or "", m.from_addr or "", m.text or "", m.display_text or "",
                      m.html or "", " ".join(m.to_addrs or []), " ".join(m.cc_addrs or [])]
        for o in session.scalars(select(OutboxMessage)):
            parts += [o.to_addr, o.subject or "", (o.raw or b"").decode(errors="replace"),
                      o.last_reply or ""]
        parts += [s.from_addr or "" for s in session.scalars(select(SpamMessage))]
        for org in session.scalars(select(Organisation)):
            parts += org.contact_emails or []
    return "\n".join(parts)


def test_the_setting_holds_every_copy(site: Installation) -> None:
    """The control: before the erasure each copy is there to be found."""
    held = everything(site)
    assert held.count("ANWORDS4711") >= 3  # her mail, the notification, the delegation
    assert f"550 5.1.1 <{AN}>" in held and f"{AN}" in held
    with site.db.transaction() as session:
        assert session.scalars(select(SpamMessage)).one().from_addr == AN


def test_erasure_removes_every_copy_of_her_words_and_address(site: Installation) -> None:
    out = site.json("privacy", "erase", "--email", AN, "--reason", "her request", "--json")
    assert out["quarantined"] == 1  # the spam held
    held = everything(site)
    assert "ANWORDS4711" not in held and "ANSPAM3" not in held
    assert AN not in held.lower()
    assert "balie@zuid.example" in held  # the organisation's other contact stays
    assert "Mijn dossier" in held and "CARLAWORDS22" in held  # the others' words stay
    for query in (AN, "ANWORDS4711"):
        assert site.json("ticket", "search", query) == [], query
    with site.db.transaction() as session:
        assert session.scalars(select(SpamMessage)).all() == []
    again = site.json("privacy", "erase", "--email", AN, "--reason", "again", "--json")
    assert again["nothing"] is True


def test_the_requesters_export_holds_nobody_elses_words(site: Installation) -> None:
    folder = site.root / "export-bert"
    site.ok("privacy", "export", "--email", BERT, "--out", str(folder))
    files = [p for p in folder.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes().decode(errors="replace")
        for other in ("ANWORDS4711", "CARLAWORDS22", AN, CARLA):
            assert other not in data, (path.relative_to(folder), other)
    person = json.loads((folder / "person.json").read_text())
    [ticket] = person["tickets"]
    assert "Mijn dossier" in (folder / ticket["messages"][0]["eml"]).read_text()
    kinds = [m["kind"] for m in ticket["messages"]]
    assert "delegation" not in kinds or all(  # the delegation quotes An: left out or clean
        AN not in (folder / m["eml"]).read_text() for m in ticket["messages"])
    assert any(e["new"] == "(another person)" for e in ticket["history"])


def test_her_export_names_her_spam_and_her_organisation(site: Installation) -> None:
    folder = site.root / "export-an"
    site.ok("privacy", "export", "--email", AN, "--out", str(folder))
    person = json.loads((folder / "person.json").read_text())
    kinds = [row["kind"] for row in person["quarantine"]]
    assert kinds == ["spam"]
    assert b"ANSPAM3" in (folder / person["quarantine"][0]["eml"]).read_bytes()
    assert person["organisation_contacts"] == [
        {"organisation": "Gemeente Zuid", "code": "99001", "email": AN}]
    index = (folder / "index.html").read_text()
    assert 'id="contact-of"' in index and "Gemeente Zuid (99001)" in index
    assert "CARLAWORDS22" not in json.dumps(person)


def test_the_retention_forgets_who_had_a_ticket_open(site: Installation) -> None:
    with site.db.transaction() as session:
        agent = find_staff(session, "agent@rn.example")
        record_view(session, agent.id, 1, utcnow() - timedelta(days=2))
    report = site.json("privacy", "purge", "--json")
    assert report["presence_views"] == 1
    with site.db.transaction() as session:
        assert session.scalars(select(TicketView)).all() == []
        record_view(session, agent.id, 1, utcnow() - timedelta(minutes=3))
    assert site.json("privacy", "purge", "--json")["presence_views"] == 0
    with site.db.transaction() as session:
        assert len(session.scalars(select(TicketView)).all()) == 1  # today's stays
