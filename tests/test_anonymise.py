"""Anonymising a ticket (rnmail.privacy.anonymise), on SQLite and PostgreSQL: names,
addresses, numbers, texts and files go (the files from the blob store too, unless another
ticket still has them), every figure of ``stats`` and ``report`` stays, and doing it again
changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.models import Attachment, Message, OutboxMessage, Participant, Ticket, TicketEvent
from rnmail.privacy.anonymise import ANONYMISED, Removed, anonymise_ticket, delete_blobs
from rnmail.util.blobs import BlobStore
from tests.harness.install import Installation, install
from tests.harness.privacy import blob_files, database_state, figures

PDF = b"%PDF-1.4 carte d'identite de Jan Janssens\n"
SHARED = b"%PDF-1.4 formulaire commun\n"


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url)
    site.ok("staff", "add", "agnes@example.org", "--name", "Agnès Accueil")
    yield site
    site.close()


def request(sender: str, subject: str, body: str, *files: tuple[str, bytes]) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "info@example.org", subject
    mail["Message-ID"] = f"<{abs(hash((sender, subject)))}@citizen.example>"
    mail.set_content(body)
    for name, data in files:
        mail.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return bytes(mail)


def anonymise(site: Installation, *ids: int) -> Removed:
    removed = Removed()
    with site.db.transaction() as session:
        for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(ids))):
            removed.add(anonymise_ticket(session, ticket))
        delete_blobs(session, BlobStore(site.config.helpdesk.attachments_dir), removed.blobs,
                     spare_seconds=0)
    return removed


def seed(site: Installation) -> None:
    site.deliver(request("Jan Janssens <jan.janssens@citizen.example>", "Clé bloquée Janssens",
                         "Bonjour, je suis Jan Janssens, rue Haute 12, tél. 0475 12 34 56.",
                         ("identite-janssens.pdf", PDF), ("formulaire.pdf", SHARED)))
    site.deliver(request("Commune <population@ixelles.example>", "Formulaire",
                         "Voici le formulaire.", ("formulaire.pdf", SHARED)))
    site.ok("ticket", "reply", "1", "-m", "Bonjour Monsieur Janssens, c'est réglé.",
            "--author", "agnes@example.org")
    site.ok("ticket", "close", "1", "--author", "agnes@example.org")
    site.ok("ticket", "new", "--phone", "0475 99 88 77", "--name", "Marie Peeters",
            "--org", "Commune d'Ixelles", "--requester-type", "municipality",
            "--subject", "Accès Peeters", "--note", "Madame Peeters, 0475 99 88 77, débloquée",
            "--close", "--author", "agnes@example.org")


def test_personal_data_goes_and_the_figures_stay(site: Installation) -> None:
    seed(site)
    before, files = figures(site), blob_files(site)
    assert [t["id"] for t in site.json("ticket", "search", "Janssens")] == [1]
    assert site.json("ticket", "search", "0475 12 34 56")
    assert site.json("ticket", "search", "Peeters")

    with site.db.transaction() as session:
        updated = session.scalars(select(Ticket.updated_at).order_by(Ticket.id)).all()
    removed = anonymise(site, 1, 3)
    with site.db.transaction() as session:  # not an activity: the queue's order stays
        assert session.scalars(select(Ticket.updated_at).order_by(Ticket.id)).all() == updated
    assert (removed.tickets, removed.participants) == (2, 1)
    assert removed.attachments == 2 and removed.raw_mails == 1 and removed.outbox >= 1

    assert figures(site) == before
    for words in ("Janssens", "0475 12 34 56", "+32475123456", "Peeters", "0475 99 88 77",
                  "jan.janssens@citizen.example", "Haute"):
        assert site.json("ticket", "search", words) == [], words
    # the identity card's file is gone; the form that ticket #2 also has stays
    left = blob_files(site)
    assert len(left) < len(files) and sum(left.values()) < sum(files.values())
    with site.db.transaction() as session:
        one = session.get(Ticket, 1)
        assert one is not None and one.anonymised_at is not None
        # not a citizen nor in the directory: the figures by organisation count its domain
        assert (one.subject, one.requester, one.requester_name) == (
            ANONYMISED, "@citizen.example", None)
        three = session.get(Ticket, 3)
        assert three is not None and three.requester_org == "Commune d'Ixelles"
        assert three.requester == ANONYMISED and three.channel == "phone"
        texts = session.execute(select(Message.subject, Message.text, Message.display_text,
                                       Message.from_addr, Message.to_addrs, Message.html,
                                       Message.raw_sha256, Message.from_name)
                                .where(Message.ticket_id.in_([1, 3]))).all()
        for subject, text, display, sender, to, html, raw, name in texts:
            assert (subject, text, display, to, html, raw) == (ANONYMISED, "", "", [], None,
                                                               None)
            assert "citizen" not in sender and name in (None, "Agnès Accueil")
        assert not session.scalars(select(Participant).where(Participant.ticket_id == 1)).all()
        assert all(a.sha256 is None and a.filename == ANONYMISED for a in session.scalars(
            select(Attachment).join(Message).where(Message.ticket_id == 1)))
        kept = session.scalars(select(Attachment.sha256).join(Message)
                               .where(Message.ticket_id == 2)).all()
        assert kept and all(kept)
        for event in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == 1)):
            assert "janssens" not in f"{event.actor} {event.actor_email} {event.old} " \
                                     f"{event.new}".lower()
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == 1)):
            assert (row.to_addr, row.raw) == ("", b"")
    for digest in kept:
        assert (site.config.helpdesk.attachments_dir / digest[:2] / digest[2:4]
                / digest).is_file()
    assert site.json("ticket", "search", "formulaire")  # ticket #2 is untouched

    anonymised = database_state(site)
    again = anonymise(site, 1, 3)
    assert again == Removed()
    assert database_state(site) == anonymised and blob_files(site) == left
