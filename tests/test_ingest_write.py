"""What ingest writes without the ORM (``rnmail.ingest.store.write``): a batch's new tickets,
their history, participants, mails and attachments, with everything the ORM's hooks gave
them (due times, folded names, search numbers), on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rnmail.ingest.store import StoredMail, write
from rnmail.models import (
    Attachment,
    Message,
    OutboxMessage,
    Participant,
    ProcessedMessage,
    Ticket,
    TicketEvent,
    utcnow,
)
from rnmail.tickets.due import DueRules
from rnmail.tickets.search import search_tickets
from rnmail.util.blobs import BlobStore
from tests.harness import corpus
from tests.harness.factories import Desk, make_config
from tests.harness.servers import Dovecot, SmtpServer

HELENE = "helene.gerard@commune.example"
FIRST_ID = "<attestation-1@commune.example>"


@pytest.fixture
def desk(tmp_path: Path, db_url: str, imap: Dovecot, smtp_server: SmtpServer) -> Iterator[Desk]:
    d = Desk(make_config(tmp_path, db_url, imap, smtp_server))
    yield d
    d.close()


def with_attachment() -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Hélène Gérard <{HELENE}>"
    mail["To"] = "info@rn.example"
    mail["Subject"] = "Attestation de résidence"
    mail["Message-ID"] = FIRST_ID
    mail["Date"] = "Mon, 01 Dec 2025 10:00:00 +0100"
    mail.set_content("Bonjour, il me faut une attestation. Appelez-moi au 0470 12 34 56.")
    mail.add_attachment(b"%PDF-1.4 carte", maintype="application", subtype="pdf",
                        filename="carte.pdf")
    return mail.as_bytes()


def test_a_batch_of_new_tickets_and_a_reply_to_one_of_them(desk: Desk, imap: Dovecot) -> None:
    imap.append("info", with_attachment())
    imap.append("info", corpus.simple("Re: Attestation de résidence",
                                      "Je joins aussi ma composition de ménage.",
                                      from_addr=HELENE,
                                      extra_headers={"In-Reply-To": FIRST_ID}))
    imap.append("info", corpus.simple("Clé d'accès bloquée", "Ma clé ne fonctionne plus.",
                                      from_addr="jean.dupont@commune.example"))
    assert desk.ingest().outcomes == {"ticket": 2, "reply": 1}  # one batch

    rules = DueRules(desk.config)
    with desk.db.transaction() as session:
        first, second = session.scalars(select(Ticket).order_by(Ticket.id))
        assert (first.requester, first.requester_name) == (HELENE, "Hélène Gérard")
        assert first.requester_name_folded == "helene gerard"
        assert (first.status, first.requester_type, first.sender_unverified) == (
            "open", "other", False)
        assert first.updated_at >= first.created_at  # the reply touched it
        for ticket in (first, second):
            due = rules.times(ticket, [])
            assert ticket.due_response_at == due.first_response is not None
            assert ticket.due_resolution_at == due.resolution
            assert ticket.due_at == due.next is not None

        events = session.execute(select(TicketEvent.ticket_id, TicketEvent.what,
                                        TicketEvent.new, TicketEvent.actor,
                                        TicketEvent.actor_email, TicketEvent.via)
                                 .order_by(TicketEvent.id)).all()
        assert [tuple(e) for e in events] == [
            (first.id, "opened", "mail", "Hélène Gérard", HELENE, "mail"),
            (second.id, "opened", "mail", second.requester_name or second.requester,
             second.requester, "mail")]
        assert session.scalars(select(Participant.address)
                               .where(Participant.ticket_id == first.id)).all() == [HELENE]

        incoming = session.scalars(select(Message).where(Message.direction == "in")
                                   .order_by(Message.id)).all()
        assert [m.ticket_id for m in incoming] == [first.id, first.id, second.id]
        assert incoming[0].search_numbers == "32470123456"
        assert incoming[0].to_addrs == ["info@rn.example"] and incoming[0].kind == (
            "correspondence")
        [attachment] = session.scalars(select(Attachment)).all()
        assert (attachment.message_id, attachment.filename, attachment.size) == (
            incoming[0].id, "carte.pdf", len(b"%PDF-1.4 carte"))
        assert attachment.sha256 is not None
        assert BlobStore(desk.config.helpdesk.attachments_dir).get(
            attachment.sha256) == b"%PDF-1.4 carte"
        assert sorted(session.scalars(select(ProcessedMessage.message_db_id))) == sorted(
            m.id for m in incoming)
        assert sorted(session.scalars(select(OutboxMessage.ticket_id))) == [
            first.id, second.id]  # acknowledged, the reply not

        assert [r["id"] for r in search_tickets(session, "residence")] == [first.id]
        assert [r["id"] for r in search_tickets(session, "0470 12 34 56")] == [first.id]
        assert [r["id"] for r in search_tickets(session, "ménage")] == [first.id]
        assert [r["id"] for r in search_tickets(session, "bloquee")] == [second.id]


def test_a_failed_write_leaves_nothing(desk: Desk, imap: Dovecot) -> None:
    """The rows go in the caller's transaction: a write that fails part way (here on a mail
    repeating a stored one's dedupe key, after its new ticket went in) leaves nothing."""
    imap.append("info", corpus.simple("Premier", "Un.", from_addr=HELENE))
    desk.ingest()
    with desk.db.transaction() as session:
        [key] = session.scalars(select(Message.dedupe_key)
                                .where(Message.direction == "in")).all()
    now = utcnow()
    ticket = Ticket(subject="x", status="open", channel="mail", requester=HELENE,
                    language="fr", requester_type="other", sender_unverified=False,
                    created_at=now, updated_at=now)
    row = {c.key: None for c in Message.__table__.columns if c.key != "id"}
    row.update(direction="in", kind="correspondence", from_addr=HELENE, subject="x",
               to_addrs=[], cc_addrs=[], text="", display_text="", dedupe_key=key,
               created_at=now)
    with (desk.db.transaction() as session, pytest.raises(IntegrityError),
          session.begin_nested()):
        write(session, [StoredMail(ticket, row)], None)
    assert len(desk.tickets()) == 1
