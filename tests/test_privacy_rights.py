"""A person's rights (issue 19): ``rnmail privacy export`` (GDPR Art. 15) and ``privacy
erase`` (Art. 17), ``rnmail/privacy/{person,export,erase}.py``, on both databases.

An Peeters wrote twice by mail (one with a PDF), called (logged with her address and
number), faxed from her number, took part in Bert's ticket (in its Cc, made a participant
by staff, and answered in it),
is in the directory (with a status change) and in a user group. Bert is the other person:
nothing of his may be in An's export, and all of it must survive An's erasure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.models import (
    Attachment,
    AuditEvent,
    DirectoryUser,
    GroupMember,
    Message,
    OutboxMessage,
    Participant,
    QuarantinedMessage,
    Ticket,
)
from rnmail.util.blobs import BlobStore
from tests.harness.install import Installation, install
from tests.harness.privacy import blob_files, database_state, figures

HERE = Path(__file__).resolve().parent
AN = "an.peeters@example.org"
AN_NAME = "An Peeters"
AN_PHONE = "+3225550177"  # not the help desk's numbers, which every mail signs with
BERT = "bert.janssens@bert.test"
BERT_SECRET = "Bert-geheim-4711"
PDF = b"%PDF-1.4\n% An's identity card copy\n%%EOF\n"
MAILBOXES = """[[mailbox]]
name = "info"
type = "maildir"
path = "maildir"

[[mailbox]]
name = "fax"
kind = "fax"
type = "maildir"
path = "faxdir"
"""
EXTRA = '[fax]\naddress_pattern = "{number}@fax.rn.example"\n'


def mail(sender: str, name: str, subject: str, body: str, *, cc: str = "",
         pdf: bytes | None = None, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = "info@rn.example"
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg["Date"] = "Mon, 02 Mar 2026 09:00:00 +0100"
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(body)
    if pdf is not None:
        msg.add_attachment(pdf, maintype="application", subtype="pdf",
                           filename="identiteitskaart.pdf")
    return msg.as_bytes()


def fax(site: Installation) -> None:
    new = site.root / "faxdir" / "new"
    new.mkdir(parents=True, exist_ok=True)
    raw = (HERE / "data" / "fax_pdf_subject_en_slash_dots.eml").read_bytes()
    (new / "fax.eml").write_bytes(raw.replace(b"Fax from 02/210.10.31", b"Fax from 02/555.01.77"))
    site.ok("ingest", "once")


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url, mailbox=MAILBOXES, extra=EXTRA)
    sheet = tmp_path / "directory.csv"
    sheet.write_text(
        "organisation,organisation_type,organisation_code,name,email,phone,language,role,"
        "access_status\n"
        f"Gemeente Noordhout,municipality,99001,{AN_NAME},{AN},02/555.01.77,nl,"
        "bevolking,active\n"
        f"Gemeente Noordhout,municipality,99001,Bert Janssens,{BERT},,nl,,active\n",
        encoding="utf-8")
    site.ok("directory", "import", str(sheet))
    site.ok("directory", "set-status", AN, "blocked", "--reason", "three wrong codes")
    for who, name in ((AN, AN_NAME), (BERT, "Bert Janssens")):
        site.ok("lists", "add", "gemeenten", who, "--name", name, "--language", "nl",
                "--create")
    site.deliver(mail(AN, AN_NAME, "Toegangssleutel geblokkeerd", "Mijn sleutel werkt niet.",
                      pdf=PDF))
    site.deliver(mail(AN, AN_NAME, "Adreswijziging", "Graag mijn adres aanpassen."))
    site.deliver(mail(BERT, "Bert Janssens", "Vraag van Bert", f"Mijn dossier {BERT_SECRET}.",
                      cc=AN))
    bert_ticket = ticket_of(site, BERT)
    site.ok("ticket", "participant", "add", str(bert_ticket), AN)  # staff add her
    site.deliver(mail(AN, AN_NAME, f"Re: [RN #{bert_ticket}] Vraag van Bert",
                      "Ik bevestig wat Bert schrijft."))
    site.ok("ticket", "new", "--email", AN, "--phone", "02 555 01 77", "--name", AN_NAME,
            "--subject", "Telefoon over haar sleutel", "--note", "Belde om 10u.")
    fax(site)
    quarantine(site, AN, AN_NAME, "Mijn mail kwam niet aan.")
    quarantine(site, BERT, "Bert Janssens", f"Nog eens {BERT_SECRET}.")
    yield site
    site.close()


def quarantine(site: Installation, sender: str, name: str, body: str) -> None:
    """A mail of theirs kept in the quarantine (as the ingest keeps one it cannot process)."""
    raw = mail(sender, name, "Onleesbaar", body)
    blobs = BlobStore(site.config.helpdesk.attachments_dir)
    digest = blobs.put(raw)
    blobs.sync()
    with site.db.transaction() as session:
        session.add(QuarantinedMessage(mailbox="info", reason="test: not processed",
                                       raw_sha256=digest, raw_size=len(raw),
                                       subject="Onleesbaar", from_addr=f"{name} <{sender}>"))


def ticket_of(site: Installation, requester: str) -> int:
    with site.db.transaction() as session:
        return int(session.scalars(select(Ticket.id).where(Ticket.requester == requester)
                                   .order_by(Ticket.id.desc())).first() or 0)


def files_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace")
                     for p in sorted(folder.rglob("*")) if p.is_file())


def test_the_export_holds_everything_about_her_and_nothing_of_bert(
        site: Installation, tmp_path: Path) -> None:
    out = tmp_path / "export-an"
    done = site.json("privacy", "export", "--email", AN.upper(), "--phone", "02/555.01.77",
                     "--out", str(out), "--json")
    assert done["tickets"] == 4 and done["other_tickets"] == 1, done  # 2 mails, call, fax
    assert done["directory"] == 1 and done["group_memberships"] == 1
    assert done["outbox"] >= 3 and done["audit_entries"] >= 2 and done["language"] == "nl"
    assert done["quarantined"] == 1
    person = json.loads((out / "person.json").read_text())
    channels = sorted(t["channel"] for t in person["tickets"])
    assert channels == ["fax", "mail", "mail", "phone"]
    for ticket in person["tickets"]:
        for message in ticket["messages"]:
            assert (out / message["eml"]).is_file() and (out / message["json"]).is_file()
    # the PDF she sent, and the fax's image, as files
    files = [f for t in person["tickets"] for m in t["messages"] for f in m["files"]]
    assert {f["filename"] for f in files} >= {"identiteitskaart.pdf", "fax-fax-0001.pdf"}
    pdf = next(f for f in files if f["filename"] == "identiteitskaart.pdf")
    assert (out / pdf["file"]).read_bytes() == PDF
    # received mail byte for byte from the raw copy
    first = person["tickets"][0]["messages"][0]
    assert b"Mijn sleutel werkt niet." in (out / first["eml"]).read_bytes()
    # in Bert's ticket: her participant row and her own answer, nothing of Bert's
    [other] = person["other_tickets"]
    assert other["participants"] == [{"address": AN, "role": "cc"}]
    assert [m["direction"] for m in other["messages"]] == ["in"]
    assert b"Ik bevestig" in (out / other["messages"][0]["eml"]).read_bytes()
    directory = json.loads((out / "directory.json").read_text())
    assert directory["entry"]["email"] == AN and directory["entry"]["access_status"] == "blocked"
    assert [e["action"] for e in directory["history"]][-1] == "directory-status"
    assert [g["group"] for g in json.loads((out / "groups.json").read_text())] == ["gemeenten"]
    outbox = json.loads((out / "outbox.json").read_text())
    assert {row["to"] for row in outbox} <= {AN, f"{AN_PHONE}@fax.rn.example"}
    [held] = json.loads((out / "quarantine.json").read_text())
    assert b"Mijn mail kwam niet aan." in (out / held["eml"]).read_bytes()
    everything = files_text(out)
    assert BERT not in everything and BERT_SECRET not in everything
    assert "Bert Janssens" not in everything
    # the index, in her language (the directory's), links to every file it lists
    index = (out / "index.html").read_text()
    assert '<html lang="nl">' in index and "Uw persoonsgegevens" in index
    for message in first, other["messages"][0]:
        assert f'href="{message["eml"]}"' in index
    assert 'href="directory.json"' in index and 'href="outbox.json"' in index


def test_the_export_is_refused_into_a_folder_in_use_and_never_left_half_written(
        site: Installation, tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    error = site.fails("privacy", "export", "--email", AN, "--out", str(used))
    assert "not an empty folder" in error
    assert [p.name for p in used.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    site.ok("privacy", "export", "--phone", "0032 2 555 01 77", "--out", str(empty))
    assert (empty / "index.html").is_file()
    # by number alone: the call, the fax and the directory entry (its number), not the mail
    person = json.loads((empty / "person.json").read_text())
    assert sorted(t["channel"] for t in person["tickets"]) == ["fax"]
    assert [m["kind"] for t in person["other_tickets"] for m in t["messages"]] == [
        "correspondence"]  # the call, whose requester is her address, is from her number
    assert person["directory"]["entry"]["email"] == AN
    # nothing partial is left next to them
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert "not a phone number" in site.fails("privacy", "export", "--phone", "12",
                                              "--out", str(tmp_path / "x"))
    assert "--email" in site.fails("privacy", "export", "--out", str(tmp_path / "y"))


def age_blobs(site: Installation) -> None:
    """The files were stored minutes ago, as in real life (the erasure spares files stored
    in the last minutes: a mail being stored may share them)."""
    for path in site.config.helpdesk.attachments_dir.rglob("*"):
        if path.is_file():
            os.utime(path, (0, 0))


def test_erase_leaves_nothing_of_her_and_everything_else(site: Installation) -> None:
    before = figures(site)
    bert_ticket = ticket_of(site, BERT)
    with site.db.transaction() as session:
        bert_before = [(m.from_addr, m.text) for m in session.scalars(
            select(Message).where(Message.ticket_id == bert_ticket,
                                  Message.from_addr == BERT))]
        her_blobs = {m.raw_sha256 for m in session.scalars(select(Message).join(Ticket).where(
            Ticket.requester.in_((AN, AN_PHONE))))}
        her_blobs |= set(session.scalars(select(Attachment.sha256).join(Message).join(Ticket)
                                         .where(Ticket.requester == AN)))
        her_blobs |= set(session.scalars(select(QuarantinedMessage.raw_sha256).where(
            QuarantinedMessage.from_addr.contains(AN))))
    her_blobs.discard(None)
    assert her_blobs <= set(blob_files(site))
    age_blobs(site)
    done = site.json("privacy", "erase", "--email", AN, "--phone", "02/555.01.77",
                     "--reason", f"request 2026-17 by {AN}", "--by", "dpo", "--json")
    assert done["tickets"] == 4 and done["files_deleted"] >= 4 and not done["nothing"]
    assert done["quarantined"] == 1
    assert figures(site) == before
    # searches by her address, number and name find nothing
    for query in (AN, "02/555.01.77", "+3225550177", "Peeters", "sleutel", "identiteitskaart"):
        assert site.json("ticket", "search", query, "--json") == [], query
    assert "no user" in site.fails("directory", "show", AN)
    assert site.json("directory", "lookup", "Peeters") == []
    with site.db.transaction() as session:
        assert session.scalars(select(DirectoryUser).where(DirectoryUser.email == AN)).all() == []
        assert [m.email for m in session.scalars(select(GroupMember))] == [BERT]
        assert session.scalars(select(OutboxMessage).where(
            OutboxMessage.to_addr.in_((AN, f"{AN_PHONE}@fax.rn.example")))).all() == []
        assert session.scalars(select(Participant).where(Participant.address == AN)).all() == []
        assert [q.from_addr for q in session.scalars(select(QuarantinedMessage))] == [
            f"Bert Janssens <{BERT}>"]
        for event in session.scalars(select(AuditEvent)):
            text = json.dumps(event.detail)
            assert AN not in text and AN_PHONE not in text and AN_NAME not in text, text
        # Bert's ticket and mail intact
        assert [(m.from_addr, m.text) for m in session.scalars(
            select(Message).where(Message.ticket_id == bert_ticket,
                                  Message.from_addr == BERT))] == bert_before
    assert not her_blobs & set(blob_files(site))  # the files are gone from the store
    assert site.json("ticket", "search", BERT_SECRET, "--json")[0]["id"] == bert_ticket
    assert [g["email"] for g in site.json("lists", "show", "gemeenten", "--json")] \
        == [BERT]
    [event] = site.audit("privacy-erase")
    assert event["actor"] == "dpo" and len(event["detail"]["subject"]) == 64
    assert AN not in json.dumps(event) and "request 2026-17 by (erased" in json.dumps(event)
    # again: nothing found, nothing changed
    erased = database_state(site, leaving_out=("audit_event",))
    again = site.json("privacy", "erase", "--email", AN, "--phone", AN_PHONE, "--reason",
                      "twice", "--json")
    assert again["nothing"] and again["subject"] == event["detail"]["subject"]
    assert database_state(site, leaving_out=("audit_event",)) == erased
    assert len(site.audit("privacy-erase")) == 2  # the request is on record all the same


def test_a_ticket_on_legal_hold_stops_the_erasure_with_nothing_changed(
        site: Installation, tmp_path: Path) -> None:
    held = ticket_of(site, AN_PHONE)  # the fax
    site.ok("ticket", "hold", str(held), "--reason", "court case 26/123")
    before = tmp_path / "before"
    site.ok("privacy", "export", "--email", AN, "--phone", AN_PHONE, "--out", str(before))
    error = site.fails("privacy", "erase", "--email", AN, "--phone", AN_PHONE, "--reason", "x")
    assert f"#{held}" in error and "legal hold" in error and "nothing was erased" in error
    after = tmp_path / "after"
    site.ok("privacy", "export", "--email", AN, "--phone", AN_PHONE, "--out", str(after))
    assert json.loads((before / "person.json").read_text())["tickets"] == json.loads(
        (after / "person.json").read_text())["tickets"]
    assert site.audit("privacy-erase") == []
    site.ok("ticket", "unhold", str(held))  # released: the erasure goes through
    assert site.json("privacy", "erase", "--email", AN, "--phone", AN_PHONE, "--reason",
                     "request 2026-18", "--json")["tickets"] == 4


def test_privacy_officers_are_granted_and_revoked_on_the_command_line(
        site: Installation) -> None:
    site.ok("staff", "add", "dpo@rn.example", "--name", "Data Officer")
    assert "is a privacy officer" in site.ok("staff", "privacy", "DPO@rn.example", "--grant",
                                             "--by", "admin")
    assert "nothing changed" in site.ok("staff", "privacy", "dpo@rn.example", "--grant")
    assert "not a privacy officer" in site.ok("staff", "privacy", "dpo@rn.example",
                                              "--revoke", "--by", "admin")
    assert [(e["action"], e["actor"], e["detail"]) for e in reversed(
        site.audit()) if e["action"].startswith("staff-privacy")] == [
        ("staff-privacy-grant", "admin", {"staff": "dpo@rn.example"}),
        ("staff-privacy-revoke", "admin", {"staff": "dpo@rn.example"})]
    assert "no staff member" in site.fails("staff", "privacy", AN, "--grant")
