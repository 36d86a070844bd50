"""Parse ahead: the batches after the first are parsed in a second process, with the same
outcomes as when the ingest parses them itself, and a dead child loses nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from rnmail.ingest.parse import Limits, ParsedMail, parse_message
from rnmail.ingest.parse_ahead import ParseAhead, Parsed, discard_staged
from rnmail.ingest.quarantine import list_quarantine
from rnmail.models import Attachment, Message
from rnmail.util.blobs import STAGING, BlobStore
from tests.harness import corpus
from tests.harness.factories import Desk, make_config
from tests.harness.servers import Dovecot

LIMITS = Limits(max_attachment_bytes=2**24, max_parts=20, max_depth=20)


def test_batches_parsed_ahead_give_the_same_outcomes(tmp_path: Path, db_url: str,
                                                     imap: Dovecot) -> None:
    """Batches of two: a reply in a later batch threads into a ticket of an earlier one,
    a copy is a duplicate, and what the child finds unfit is quarantined for its reason."""
    desk = Desk(make_config(tmp_path, db_url, imap, ingest={"batch_size": 2, "max_parts": 20}))
    first = corpus.simple("Demande de certificat", "Bonjour, je voudrais un certificat.",
                          from_addr="owner@citizen.example", message_id="<first@citizen.example>")
    imap.append_many("info", [
        first,
        corpus.simple("Autre question", "Une autre question, merci.",
                      from_addr="other@citizen.example"),
        corpus.simple("Re: Demande de certificat", "Voici le complément.",
                      from_addr="owner@citizen.example",
                      extra_headers={"In-Reply-To": "<first@citizen.example>"}),
        corpus.many_parts(50),
        first,
        corpus.simple("Vraag", "Goedendag, ik heb een vraag over mijn adres.",
                      from_addr="third@citizen.example"),
    ])
    report = desk.ingest()
    assert report.outcomes == {"ticket": 3, "reply": 1, "duplicate": 1, "quarantined": 1}
    assert imap.folder_uids("info") == []
    [held] = list_quarantine(desk.db)
    assert "too many MIME parts" in held["reason"]
    languages = sorted(t["language"] for t in desk.tickets())
    assert languages == ["fr", "fr", "nl"]
    owner = [t for t in desk.tickets() if t["requester"] == "owner@citizen.example"]
    assert len(owner) == 1 and len(desk.ticket(owner[0]["id"])["messages"]) >= 2
    desk.close()


def parsed_by_the_child(ahead: ParseAhead, raws: list[bytes]) -> list[Parsed]:
    """``raws`` parsed, all of them by the child: the parent asks for them only once the
    child has taken the last one."""
    future = ahead.submit(raws)
    deadline = time.monotonic() + 60
    while ahead._bounds[0] < len(raws) and time.monotonic() < deadline:
        time.sleep(0.01)
    return ahead.results(future, raws)


def test_the_child_gives_what_the_parent_would(tmp_path: Path) -> None:
    raws = [*corpus.mixed_batch(30, seed=5), corpus.many_parts(50), b"   "]
    with ParseAhead(LIMITS, 2**20, tmp_path) as ahead:
        parsed = parsed_by_the_child(ahead, raws)
    for raw, got in zip(raws[:30], parsed[:30], strict=True):
        assert isinstance(got, ParsedMail)
        here = parse_message(raw, LIMITS)
        assert got.raw == raw
        assert (got.subject, got.from_addr, got.text, got.display_text, got.dedupe_key) == (
            here.subject, here.from_addr, here.text, here.display_text, here.dedupe_key)
        assert got.attachments == here.attachments
    assert isinstance(parsed[30], str) and "too many MIME parts" in parsed[30]
    assert parsed[31] == "empty message"
    assert all(m.staged_raw is not None for m in parsed[:30] if isinstance(m, ParsedMail))
    discard_staged(parsed)


def test_a_killed_child_leaves_the_parsing_to_the_parent(tmp_path: Path) -> None:
    raws = corpus.mixed_batch(300, seed=6)
    with ParseAhead(LIMITS, 2**20, tmp_path) as ahead:
        future = ahead.submit(raws)
        assert future is not None
        pool = ahead._pool
        assert pool is not None
        for pid in list(pool._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        parsed = ahead.results(future, raws)
        assert ahead.submit(raws[:1]) is None  # not asked again
    # What it had not reached was parsed here; the rest is left to the parse stage.
    assert len(parsed) == len(raws)
    for raw, got in zip(raws, parsed, strict=True):
        assert got is None or (isinstance(got, ParsedMail) and got.raw == raw
                               and got.staged_raw is None)


def _with_attachment(subject: str, sender: str, data: bytes, trace: str = "") -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "info@helpdesk.example", subject
    mail["Message-ID"] = f"<{subject.replace(' ', '-')}@citizen.example>"
    mail["Date"] = "Mon, 07 Dec 2026 09:00:00 +0100"
    if trace:
        mail["Received"] = trace
    mail.set_content("Bonjour, voici le document.")
    mail.add_attachment(data, maintype="application", subtype="pdf", filename="doc.pdf")
    return mail.as_bytes()


def _store_files(root: Path) -> set[str]:
    return {p.name for p in root.rglob("*") if p.is_file() and STAGING not in p.parts}


def test_the_store_holds_the_files_of_stored_mails_and_no_others(
        tmp_path: Path, db_url: str, imap: Dovecot) -> None:
    """The child stages every parsed mail's files; those of the mails stored are put in
    place, those of a duplicate (another copy of a mail, with a different attachment) and
    of a repeated mail are deleted: the store holds exactly what rows refer to, each file
    under its content's sha256, and nothing is left staged."""
    desk = Desk(make_config(tmp_path, db_url, imap, ingest={"batch_size": 2}))
    first = _with_attachment("Acte de naissance", "owner@citizen.example", b"%PDF-1 first")
    imap.append_many("info", [
        corpus.simple("Question", "Une question.", from_addr="other@citizen.example"),
        corpus.simple("Vraag", "Een vraag.", from_addr="third@citizen.example"),
        first,
        _with_attachment("Extrait", "fourth@citizen.example", b"%PDF-1 second"),
        # the same mail again through another relay, and a copy carrying another file
        _with_attachment("Acte de naissance", "owner@citizen.example", b"%PDF-1 first",
                         trace="from relay.example by mx.example"),
        _with_attachment("Acte de naissance", "owner@citizen.example", b"%PDF-1 other"),
        _with_attachment("Extrait", "fourth@citizen.example", b"%PDF-1 second"),
    ])
    report = desk.ingest()
    assert report.outcomes == {"ticket": 4, "duplicate": 3}
    root = desk.config.helpdesk.attachments_dir
    with desk.db.transaction() as session:
        referred = set(session.scalars(select(Message.raw_sha256))) | set(
            session.scalars(select(Attachment.sha256)))
    referred.discard(None)
    assert _store_files(root) == referred
    assert hashlib.sha256(b"%PDF-1 other").hexdigest() not in referred
    for name in referred:
        assert hashlib.sha256(BlobStore(root).path(name).read_bytes()).hexdigest() == name
    assert not any((root / STAGING).iterdir())
    desk.close()


def test_staged_files_are_put_in_place_or_discarded(tmp_path: Path) -> None:
    raws = [_with_attachment(f"Demande {n}", f"n{n}@citizen.example", b"%%PDF-1 %d" % n)
            for n in range(3)]
    store = BlobStore(tmp_path)
    with ParseAhead(LIMITS, 2**20, tmp_path) as ahead:
        parsed = parsed_by_the_child(ahead, raws)
    mails = [m for m in parsed if isinstance(m, ParsedMail)]
    assert len(mails) == 3 and len(list((tmp_path / STAGING).iterdir())) == 6
    assert _store_files(tmp_path) == set()  # nothing in the store before it is put there
    kept = mails[0]
    assert kept.staged_raw is not None
    assert store.put(kept.raw, kept.staged_raw) == hashlib.sha256(raws[0]).hexdigest()
    store.sync()
    assert store.path(kept.staged_raw.sha256).read_bytes() == raws[0]
    discard_staged(parsed)
    assert _store_files(tmp_path) == {kept.staged_raw.sha256}
    assert list((tmp_path / STAGING).iterdir()) == []


def test_a_staged_file_swept_before_it_is_put_is_written_again(tmp_path: Path) -> None:
    """A staged file deleted by a sweep (an old one, as a killed pass leaves) is no loss:
    ``put`` writes the data itself. A fresh one is not swept."""
    store = BlobStore(tmp_path)
    old, fresh = store.stage(b"old mail"), store.stage(b"fresh mail")
    assert old.tmp is not None and fresh.tmp is not None
    os.utime(old.tmp, (time.time() - 2 * 3600,) * 2)
    assert store.sweep_staging() == 1
    assert Path(fresh.tmp).exists()
    assert store.put(b"old mail", old) == hashlib.sha256(b"old mail").hexdigest()
    store.put(b"fresh mail", fresh)
    store.sync()
    assert store.path(old.sha256).read_bytes() == b"old mail"
    assert store.path(fresh.sha256).read_bytes() == b"fresh mail"
    assert list((tmp_path / STAGING).iterdir()) == []


def test_a_file_the_store_has_is_not_staged_again(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = store.put(b"same attachment")
    store.sync()
    before = store.path(digest).stat().st_mtime_ns
    staged = store.stage(b"same attachment")
    assert staged.tmp is None and not (tmp_path / STAGING).exists()
    time.sleep(0.01)
    assert store.put(b"same attachment", staged) == digest
    store.sync()  # stored again: its time says it is in use (a purge spares it)
    assert store.path(digest).stat().st_mtime_ns > before


def test_the_child_takes_the_front_and_the_parent_the_back_once_each(tmp_path: Path) -> None:
    """The parent, done with its own batch, parses from the back what the child has not
    reached: every mail once in the result, each staged file a mail of the child's, nothing
    parsed here staged; and with the child still starting, the parent parses the batch."""
    raws = corpus.mixed_batch(300, seed=7)
    with ParseAhead(LIMITS, 2**20, tmp_path) as ahead:
        first = ahead.results(ahead.submit(raws[:40]), raws[:40])  # the child is starting
        parsed = ahead.results(ahead.submit(raws), raws)
    assert all(isinstance(m, ParsedMail) for m in first + parsed)
    assert [m.raw for m in parsed if isinstance(m, ParsedMail)] == raws
    theirs = [m for m in parsed if isinstance(m, ParsedMail) and m.staged_raw is not None]
    mine = [m for m in parsed if isinstance(m, ParsedMail) and m.staged_raw is None]
    assert theirs and mine, "both sides parsed part of the batch"
    assert parsed.index(mine[0]) > parsed.index(theirs[-1])  # the child the front, here the back
    files = {Path(blob.tmp).name for m in theirs
             for blob in (m.staged_raw, *(a.staged for a in m.attachments))
             if blob is not None and blob.tmp is not None}
    # none for a mail parsed here, none of a mail parsed on both sides
    assert {p.name for p in (tmp_path / STAGING).iterdir()} == files
    discard_staged(parsed + first)
    assert not list((tmp_path / STAGING).iterdir())
