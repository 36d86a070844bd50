"""Ingest end to end: real Dovecot in, real SMTP out, SQLite and PostgreSQL underneath."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rnmail.models import Bounce, Message, OutboxMessage, ProcessedMessage, Ticket
from rnmail.util.blobs import BlobStore
from tests.harness import corpus
from tests.harness.factories import Desk, make_config, write_config
from tests.harness.install import rnmail
from tests.harness.servers import Dovecot, SmtpServer

DATA = Path(__file__).parent / "data"


def sample(name: str, **replace: str) -> bytes:
    raw = (DATA / name).read_bytes()
    for old, new in replace.items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


@pytest.fixture
def desk(tmp_path: Path, db_url: str, imap: Dovecot, smtp_server: SmtpServer) -> Iterator[Desk]:
    d = Desk(make_config(tmp_path, db_url, imap, smtp_server))
    yield d
    d.close()


def sent_to(smtp: SmtpServer, address: str) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(env.content, policy=email.policy.default)  # type: ignore[misc]
        for env in smtp.messages
        if address in env.rcpt_tos
    ]


def count(desk: Desk, model: type, *where: object) -> int:
    with desk.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_new_mail_becomes_ticket_acknowledged_and_moved(desk: Desk, imap: Dovecot,
                                                        smtp_server: SmtpServer) -> None:
    raw = sample("lang_fr_citizen_cle_bloquee.eml")
    imap.append("info", raw)
    report = desk.ingest()
    assert report.outcomes == {"ticket": 1}
    assert imap.folder_uids("info") == []
    [moved] = imap.fetch_raw("info", "Processed")
    assert moved.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")

    [ticket] = desk.tickets()
    assert ticket["channel"] == "mail" and ticket["language"] == "fr"
    assert ticket["status"] == "open"
    assert "accès" in ticket["subject"]
    assert desk.send().sent == 1
    [ack] = sent_to(smtp_server, ticket["requester"])
    assert f"[RN #{ticket['id']}]" in ack["Subject"]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == email.message_from_bytes(raw)["Message-ID"]
    assert "8:30" in ack.get_body(preferencelist=("plain",)).get_content()

    detail = desk.ticket(ticket["id"])
    assert [m["direction"] for m in detail["messages"]] == ["in", "out"]
    assert detail["messages"][1]["message_id"] == ack["Message-ID"]


@pytest.mark.parametrize(("name", "language", "word"), [
    ("lang_nl_gemeente_toegangssleutel.eml", "nl", "Ontvangstbevestiging"),
    ("lang_de_gemeinde_zugangsschluessel.eml", "de", "Eingangsbestätigung"),
    ("lang_en_plain_ascii.eml", "en", "Acknowledgement"),
])
def test_acknowledgement_in_the_requesters_language(desk: Desk, imap: Dovecot,
                                                    smtp_server: SmtpServer, name: str,
                                                    language: str, word: str) -> None:
    imap.append("info", sample(name))
    desk.ingest()
    desk.send()
    [ticket] = desk.tickets()
    assert ticket["language"] == language
    [ack] = sent_to(smtp_server, ticket["requester"])
    assert word in ack["Subject"]
    assert ack["Content-Language"] == language


def test_seen_messages_are_processed_too(desk: Desk, imap: Dovecot) -> None:
    imap.append("info", sample("lang_en_plain_ascii.eml"))
    with imap.mailbox("info") as mb:
        mb.flag(mb.uids(), "\\Seen", True)
    assert desk.ingest().outcomes == {"ticket": 1}


def test_reply_threads_by_our_message_id_without_subject_tag(desk: Desk, imap: Dovecot,
                                                             smtp_server: SmtpServer) -> None:
    imap.append("info", sample("lang_fr_citizen_cle_bloquee.eml"))
    desk.ingest()
    desk.send()
    [ticket] = desk.tickets()
    [ack] = sent_to(smtp_server, ticket["requester"])
    reply = corpus.simple("Merci", "Voici le complément demandé.", from_addr=ticket["requester"],
                          extra_headers={"In-Reply-To": ack["Message-ID"]})
    imap.append("info", reply)
    assert desk.ingest().outcomes == {"reply": 1}
    assert len(desk.tickets()) == 1
    messages = desk.ticket(ticket["id"])["messages"]
    assert [m["direction"] for m in messages] == ["in", "out", "in"]
    desk.send()
    assert len(sent_to(smtp_server, ticket["requester"])) == 1  # replies are not acknowledged


@pytest.mark.parametrize("name", [
    "reply_prefix_tr_fr.eml", "reply_prefix_aw_de.eml", "reply_prefix_wg_de.eml",
    "reply_prefix_antw_nl.eml", "reply_prefix_fwd_en.eml", "reply_tag_no_space.eml",
    "reply_tag_inner_spaces.eml", "reply_tag_no_brackets.eml",
    "reply_tag_inside_encoded_word.eml",
])
def test_subject_tag_threads_a_participant(desk: Desk, imap: Dovecot, name: str) -> None:
    reply = email.message_from_bytes(sample(name))
    sender = email.utils.parseaddr(reply["From"])[1]
    imap.append("info", corpus.simple("Première demande", "Bonjour, ma clé d'accès est bloquée.",
                                      from_addr=sender))
    desk.ingest()
    [ticket] = desk.tickets()
    imap.append("info", sample(name, **{"#1": f"#{ticket['id']}",
                                        "placeholder-msgid": "unknown-elsewhere"}))
    assert desk.ingest().outcomes == {"reply": 1}
    assert len(desk.tickets()) == 1


def test_subject_tag_from_a_stranger_opens_a_linked_ticket(desk: Desk, imap: Dovecot) -> None:
    imap.append("info", corpus.simple("Demande", "Bonjour, ma clé est bloquée depuis hier.",
                                      from_addr="owner@citizen.example"))
    desk.ingest()
    [first] = desk.tickets()
    imap.append("info", corpus.simple(f"RE: [RN #{first['id']}] Demande", "Injected text here",
                                      from_addr="intruder@elsewhere.example"))
    assert desk.ingest().outcomes == {"ticket": 1}
    tickets = desk.tickets()
    assert len(tickets) == 2
    assert tickets[1]["linked_ticket_id"] == first["id"]
    assert len(desk.ticket(first["id"])["messages"]) == 2  # request + acknowledgement only


def test_same_message_in_info_and_fax_mailboxes_makes_one_ticket(desk: Desk,
                                                                 imap: Dovecot) -> None:
    imap.append("info", sample("lang_fr_citizen_cle_bloquee.eml"))
    imap.append("fax", sample("duplicate_msgid_fax_mailbox.eml"))
    report = desk.ingest()
    assert report.outcomes == {"ticket": 1, "duplicate": 1}
    assert len(desk.tickets()) == 1
    assert imap.folder_uids("info") == [] and imap.folder_uids("fax") == []


def test_message_without_message_id_is_recognised_by_content(desk: Desk, imap: Dovecot) -> None:
    raw = sample("no_message_id.eml")
    imap.append("info", raw)
    desk.ingest()
    imap.append("info", raw)
    assert desk.ingest().outcomes == {"duplicate": 1}
    assert len(desk.tickets()) == 1


def test_committed_but_not_moved_is_only_moved_on_the_next_pass(desk: Desk,
                                                                imap: Dovecot) -> None:
    """The state a crash between commit and IMAP move leaves behind."""
    from rnmail.ingest.fetch import ImapSource
    from rnmail.ingest.pipeline import Delivery, IngestContext, process_batch

    for i in range(3):
        imap.append("info", corpus.simple(f"Demande {i}", "Bonjour, ma clé d'accès ne marche pas.",
                                          from_addr=f"user{i}@citizen.example"))
    ctx = IngestContext.from_config(desk.config)
    box = desk.config.mailbox("info")
    with ImapSource(box) as source:
        [batch] = list(source.batches(100, 10**8))
        with desk.db.transaction() as session:
            process_batch(session, ctx, [Delivery(item.raw, box, source.uidvalidity, item.uid)
                                         for item in batch])
        # crash here: committed, never moved
    assert len(imap.folder_uids("info")) == 3
    assert desk.ingest().outcomes == {"seen": 3}
    assert imap.folder_uids("info") == []
    assert len(desk.tickets()) == 3
    assert count(desk, OutboxMessage) == 3


def test_a_failed_move_behind_leaves_committed_mail_for_the_next_pass(
        tmp_path: Path, db_url: str, imap: Dovecot) -> None:
    """A batch is moved by a thread while the next one is processed: a move that fails (the
    done folder renamed away mid-pass) ends the pass with an error, and what was committed
    but not moved is only moved by the next pass: nothing lost, nothing twice."""
    from rnmail.ingest.runner import run_ingest

    desk = Desk(make_config(tmp_path, db_url, imap, ingest={"batch_size": 2}))
    imap.append_many("info", [
        corpus.simple(f"Demande {i}", "Bonjour, ma clé d'accès ne marche pas.",
                      from_addr=f"user{i}@citizen.example") for i in range(6)])
    renamed = []

    def rename_done_folder() -> bool:  # asked between batches
        if not renamed:
            with imap.mailbox("info") as mb:
                mb.folder.rename("Processed", "Renamed")
            renamed.append(True)
        return False

    report = run_ingest(desk.db, desk.config, "info", should_stop=rename_done_folder)
    [error] = report.errors
    assert "move failed" in error
    left = len(imap.folder_uids("info"))
    assert left >= 2  # at least the last batch committed: its move waited for the failed one
    committed = report.outcomes["ticket"]
    second = desk.ingest("info")
    assert second.outcomes.get("seen", 0) == committed - (6 - left)  # committed, not moved
    assert second.outcomes.get("ticket", 0) == 6 - committed
    assert imap.folder_uids("info") == []
    moved = len(imap.folder_uids("info", "Renamed")) + len(imap.folder_uids("info", "Processed"))
    assert moved == 6
    assert len(desk.tickets()) == 6
    assert count(desk, ProcessedMessage) == 6
    desk.close()


def test_redelivered_copy_with_a_new_uid_is_a_duplicate(desk: Desk, imap: Dovecot) -> None:
    raw = sample("lang_nl_gemeente_toegangssleutel.eml")
    imap.append("info", raw)
    desk.ingest()
    imap.append("info", raw)  # e.g. restored from Processed by hand: a new UID
    assert desk.ingest().outcomes == {"duplicate": 1}
    assert count(desk, Ticket) == 1 and count(desk, OutboxMessage) == 1


@pytest.mark.parametrize("name", [
    "auto_replied_ooo_fr.eml", "auto_precedence_bulk.eml", "auto_precedence_junk.eml",
    "auto_list_id_newsletter.eml", "auto_outlook_ooo_nl_suppress_only.eml",
    "auto_from_noreply.eml", "auto_from_postmaster.eml", "loop_from_helpdesk_info.eml",
])
def test_automatic_mail_is_kept_but_never_acknowledged(desk: Desk, imap: Dovecot,
                                                       name: str) -> None:
    imap.append("info", sample(name, **{"placeholder-msgid": "unknown-elsewhere"}))
    report = desk.ingest()
    assert report.outcomes in ({"ticket": 1}, {"bounce": 1})
    assert count(desk, OutboxMessage) == 0
    if "ticket" in report.outcomes:
        [ticket] = desk.tickets()
        assert desk.ticket(ticket["id"])["messages"][0]["kind"] == "auto"


def test_auto_reply_to_our_acknowledgement_joins_the_ticket_silently(desk: Desk,
                                                                     imap: Dovecot) -> None:
    imap.append("info", sample("lang_fr_citizen_cle_bloquee.eml"))
    desk.ingest()
    [_ticket] = desk.tickets()
    with desk.db.transaction() as session:
        ack_id = session.scalar(select(OutboxMessage.message_id))
    assert ack_id
    imap.append("info", sample("auto_replied_ooo_fr.eml",
                               **{"<placeholder-msgid@rn.example>": ack_id}))
    assert desk.ingest().outcomes == {"reply": 1}
    assert count(desk, OutboxMessage) == 1


def test_at_most_n_acknowledgements_per_address_per_day(tmp_path: Path, db_url: str,
                                                         imap: Dovecot) -> None:
    desk = Desk(make_config(tmp_path, db_url, imap, ingest={"auto_reply_limit": 3}))
    imap.append_many("info", [
        corpus.simple(f"Question {i}", "Bonjour, une nouvelle question pour vous.",
                      from_addr="loop@citizen.example") for i in range(5)
    ])
    assert desk.ingest().outcomes == {"ticket": 5}
    assert count(desk, OutboxMessage) == 3
    desk.close()


def test_bounce_is_recorded_against_the_outgoing_mail(desk: Desk, imap: Dovecot,
                                                      smtp_server: SmtpServer) -> None:
    imap.append("info", corpus.simple("Demande", "Bonjour, j'ai besoin d'un certificat.",
                                      from_addr="unknown-user@municipality.example"))
    desk.ingest()
    desk.send()
    with desk.db.transaction() as session:
        out_id, mid = session.execute(select(OutboxMessage.id, OutboxMessage.message_id)).one()
    imap.append("info", sample("bounce_dsn_permanent_5_1_1.eml",
                               **{"<out-placeholder@rn.example>": mid}))
    assert desk.ingest().outcomes == {"bounce": 1}
    assert count(desk, Ticket) == 1
    with desk.db.transaction() as session:
        bounce = session.scalars(select(Bounce)).one()
        assert bounce.outbox_id == out_id and bounce.permanent
        assert bounce.recipient == "unknown-user@municipality.example"
        assert "5.1.1" in (bounce.diagnostic or "")
        assert session.get(OutboxMessage, out_id).bounced_at is not None  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["bounce_postfix_plain_text.eml",
                                  "bounce_exchange_fr_localized.eml"])
def test_unknown_bounce_formats_are_tied_to_what_we_sent(desk: Desk, imap: Dovecot,
                                                         name: str) -> None:
    raw = sample(name)
    body = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",))
    addresses = re.findall(r"[\w.+-]+@[\w.-]+\.\w+", body.get_content())  # type: ignore[union-attr]
    address = next(a for a in addresses if not a.endswith("rn.example"))
    imap.append("info", corpus.simple("Demande", "Bonjour, j'ai une question sur mon dossier.",
                                      from_addr=address))
    desk.ingest()
    desk.send()
    with desk.db.transaction() as session:
        mid = session.scalars(select(OutboxMessage.message_id)).one()
    # Tied through the signed Message-ID quoted in the text, never by the address alone.
    imap.append("info", raw.replace(b"<out-placeholder@rn.example>", mid.encode()))
    assert desk.ingest().outcomes == {"bounce": 1}
    with desk.db.transaction() as session:
        bounce = session.scalars(select(Bounce)).one()
        assert bounce.recipient == address and bounce.outbox_id is not None
    assert count(desk, Ticket) == 1


@pytest.mark.parametrize("name", ["bounce_dsn_delayed_4_4_1.eml", "bounce_exim_plain_text.eml"])
def test_other_bounce_formats_never_become_tickets(desk: Desk, imap: Dovecot, name: str) -> None:
    imap.append("info", sample(name))
    assert desk.ingest().outcomes == {"bounce": 1}
    assert count(desk, Ticket) == 0 and count(desk, Bounce) >= 1


@pytest.mark.parametrize(("name", "number", "pages"), [
    ("fax_pdf_subject_en_slash_dots.eml", "+3222101031", 3),
    ("fax_pdf_subject_nl_e164.eml", "+3222101031", 2),
    ("fax_pdf_subject_fr_0032_encoded.eml", "+3225182131", None),
    ("fax_pdf_number_in_header_only.eml", "+3225182131", 4),
    ("fax_tiff_attachment.eml", "+3225182131", None),
])
def test_fax_gateway_mail_becomes_a_fax_ticket(desk: Desk, imap: Dovecot, smtp_server: SmtpServer,
                                               name: str, number: str, pages: int | None) -> None:
    imap.append("fax", sample(name))
    assert desk.ingest("fax").outcomes == {"ticket": 1}
    [ticket] = desk.tickets()
    assert (ticket["channel"], ticket["requester"]) == ("fax", number)
    if pages is not None:
        assert ticket["fax_pages"] == pages
    attachments = desk.ticket(ticket["id"])["messages"][0]["attachments"]
    assert any(a["content_type"] in ("application/pdf", "image/tiff") for a in attachments)
    desk.send()
    assert sent_to(smtp_server, f"{number}@fax.rn.example")


def test_fax_without_number_is_kept_without_acknowledgement(desk: Desk, imap: Dovecot) -> None:
    imap.append("fax", sample("fax_no_number.eml"))
    assert desk.ingest().outcomes == {"ticket": 1}
    assert desk.tickets()[0]["channel"] == "fax"
    assert count(desk, OutboxMessage) == 0


def test_attachments_are_stored_content_addressed(desk: Desk, imap: Dovecot) -> None:
    imap.append("info", sample("attachment_pdf_rfc2231_filename.eml"))
    imap.append("info", sample("multipart_related_inline_png.eml"))
    imap.append("info", sample("attachment_winmail_dat_tnef.eml"))
    imap.append("info", sample("forwarded_message_rfc822.eml"))
    desk.ingest()
    files = {}
    for t in desk.tickets():
        for a in desk.ticket(t["id"])["messages"][0]["attachments"]:
            files[a["filename"]] = a
    pdf = files["attestation résidence été.pdf"]
    from rnmail.util.blobs import BlobStore
    path = BlobStore(desk.config.helpdesk.attachments_dir).path(pdf["sha256"])
    assert path.read_bytes().startswith(b"%PDF") and path.stat().st_size == pdf["size"]
    assert any(a["content_type"] == "application/ms-tnef" for a in files.values())
    assert any(a["content_type"] == "image/png" and a["inline"] for a in files.values())
    assert any(a["content_type"] == "message/rfc822" for a in files.values())


def test_outlook_winmail_dat_is_unpacked_kept_and_shown(desk: Desk, imap: Dovecot,
                                                       tmp_path: Path, db_url: str) -> None:
    imap.append("info", sample("attachment_winmail_dat_outlook_two_files.eml"))
    assert desk.ingest().outcomes == {"ticket": 1}
    [ticket] = desk.tickets()
    files = desk.ticket(ticket["id"])["messages"][0]["attachments"]
    assert [f["filename"] for f in files] == ["winmail.dat", "AUTHORS", "README"]
    blobs = BlobStore(desk.config.helpdesk.attachments_dir)
    stored = {f["filename"]: blobs.path(f["sha256"]).read_bytes() for f in files}
    assert stored["winmail.dat"].startswith(b"\x78\x9f\x3e\x22")  # kept as received
    assert len(stored["winmail.dat"]) == 3481
    assert b"Authors of tnef" in stored["AUTHORS"] and len(stored["README"]) == 893
    code, out, err = rnmail(write_config(tmp_path, db_url), "ticket", "show", str(ticket["id"]))
    assert code == 0, err
    assert "winmail.dat (3481 bytes)" in out
    assert "AUTHORS (244 bytes)" in out and "README (893 bytes)" in out


def test_raw_message_is_kept_for_the_archive(desk: Desk, imap: Dovecot) -> None:
    raw = sample("charset_cp1252_declared_latin1.eml")
    imap.append("info", raw)
    desk.ingest()
    with desk.db.transaction() as session:
        sha = session.scalar(select(Message.raw_sha256).where(Message.direction == "in"))
    from rnmail.util.blobs import BlobStore
    assert BlobStore(desk.config.helpdesk.attachments_dir).get(sha or "") == raw


@pytest.mark.slow
def test_huge_attachment_is_recorded_as_omitted(desk: Desk, imap: Dovecot) -> None:
    imap.append("info", corpus.huge_attachment(mb=50))
    assert desk.ingest().outcomes == {"ticket": 1}
    [ticket] = desk.tickets()
    [att] = desk.ticket(ticket["id"])["messages"][0]["attachments"]
    assert att["sha256"] is None and "limit" in att["omitted"]
    assert att["size"] > 49 * 2**20 and att["filename"]


@pytest.mark.parametrize("build", [
    corpus.truncated_mime, corpus.garbage_headers, corpus.zip_bomb, corpus.no_body,
])
def test_odd_but_readable_mail_still_makes_a_ticket(desk: Desk, imap: Dovecot, build) -> None:  # type: ignore[no-untyped-def]
    imap.append("info", build())
    report = desk.ingest()
    assert report.total == 1 and "ticket" in report.outcomes
    assert imap.folder_uids("info") == []


@pytest.mark.parametrize("build", [
    lambda: corpus.many_parts(5000), lambda: corpus.deep_nesting(200),
    lambda: corpus.binary_junk(4096),
])
def test_hostile_mail_goes_to_quarantine_and_the_pass_goes_on(desk: Desk, imap: Dovecot,
                                                              build) -> None:  # type: ignore[no-untyped-def]
    imap.append("info", build())
    imap.append("info", sample("lang_en_plain_ascii.eml"))
    report = desk.ingest()
    assert report.outcomes == {"quarantined": 1, "ticket": 1}
    assert imap.folder_uids("info") == []
    from rnmail.ingest.quarantine import list_quarantine
    [held] = list_quarantine(desk.db)
    assert held["reason"] and held["size"] > 0


def test_quarantine_retry_after_raising_a_limit(tmp_path: Path, db_url: str,
                                                imap: Dovecot) -> None:
    from rnmail.ingest.quarantine import list_quarantine, retry_quarantined

    strict = make_config(tmp_path, db_url, imap, ingest={"max_parts": 20})
    desk = Desk(strict)
    imap.append("info", corpus.many_parts(50))
    assert desk.ingest().outcomes == {"quarantined": 1}
    [held] = list_quarantine(desk.db)
    assert retry_quarantined(desk.db, strict, held["id"]) == "quarantined"
    relaxed = make_config(tmp_path, db_url, imap, ingest={"max_parts": 500})
    assert retry_quarantined(desk.db, relaxed, held["id"]) == "ticket"
    assert list_quarantine(desk.db) == [] and count(desk, Ticket) == 1
    desk.close()


def test_processed_key_is_recorded_per_message(desk: Desk, imap: Dovecot) -> None:
    imap.append_many("info", [sample("lang_en_plain_ascii.eml"), sample("no_message_id.eml")])
    desk.ingest()
    assert count(desk, ProcessedMessage, ProcessedMessage.mailbox == "info") == 2


def test_a_reused_message_id_on_a_different_mail_is_not_lost(desk: Desk, imap: Dovecot) -> None:
    """Some gateways send every mail with the same Message-ID: each is still a mail."""
    for i in range(3):
        imap.append("info", corpus.simple(f"Fax {i}", f"Page {i} de la demande, merci.",
                                          from_addr="gateway@scanner.example",
                                          message_id="<constant@scanner.example>"))
    assert desk.ingest().outcomes == {"ticket": 3}


def test_one_batch_mixing_replies_duplicates_and_new_mail(desk: Desk, imap: Dovecot) -> None:
    """What the database holds about a batch is read once for the whole batch (one query
    per kind, 500 values at most in each): each mail still finds its own."""
    first = corpus.simple("Demande", "Bonjour, ma clé est bloquée depuis hier.",
                          from_addr="owner@citizen.example", message_id="<first@citizen.example>")
    imap.append("info", first)
    desk.ingest()
    [ticket] = desk.tickets()
    unknown = " ".join(f"<old-{i}@elsewhere.example>" for i in range(600))
    imap.append_many("info", [
        corpus.simple("Re: Demande", "Voici le complément.", from_addr="owner@citizen.example",
                      extra_headers={"References": f"<first@citizen.example> {unknown}"}),
        first,  # the same mail again
        corpus.simple("Autre chose", "Une nouvelle question, merci.",
                      from_addr="other@citizen.example"),
        corpus.simple(f"RE: [RN #{ticket['id']}] Demande", "Encore moi.",
                      from_addr="owner@citizen.example"),
        corpus.simple("RE: [RN #999999] Demande", "Un numéro qui n'existe pas.",
                      from_addr="owner@citizen.example"),
    ])
    assert desk.ingest().outcomes == {"reply": 2, "duplicate": 1, "ticket": 2}
    assert len(desk.ticket(ticket["id"])["messages"]) == 4  # request, ack, two replies
