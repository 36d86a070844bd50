"""The retention run over a generated year of tickets (issue 19), on SQLite and PostgreSQL:
``stats`` (contacts, ``times``, ``due``, every dimension) and ``report`` are the same before
and after, the blob store shrinks by what the run says, tickets on legal hold are untouched,
a dry run changes nothing and says what the run then does, a second run is a no-op, and
search no longer finds the names and numbers removed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from rnmail.models import (
    Attachment,
    AuditEvent,
    Bounce,
    Message,
    OutboxMessage,
    Participant,
    QuarantinedMessage,
    SpamMessage,
    Staff,
    Ticket,
    TicketEvent,
    utcnow,
)
from rnmail.privacy.retention import months_before
from rnmail.util.blobs import BlobStore, sha256_hex
from tests.harness.install import Installation, install
from tests.harness.privacy import blob_files, database_state, figures

PERIODS = """[privacy]
anonymise_months = 6
raw_mail_months = 2
attachment_months = 4
outbox_months = 1
audit_years = 1
"""
CHANNELS = ("mail", "mail", "phone", "fax")
KINDS = (("citizen", None), ("municipality", "Commune de Namur"), ("other", None),
         ("notary", "Étude Dupont"))
CATEGORIES = ("access-key", "certificate", "address-change", None)


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url, extra=PERIODS)
    yield site
    site.close()


def year_of_tickets(site: Installation, per_month: int = 12) -> None:
    """A ticket every few days for the last twelve months: requests with a raw mail and an
    identity card (one shared form too), answers by staff with their outgoing mail, the
    history; most closed a few days later, the last month's partly open."""
    blobs = BlobStore(site.config.helpdesk.attachments_dir)
    form = blobs.put(b"%PDF-1.4 the same form, sent by many\n")
    now = utcnow()
    with site.db.transaction() as session:
        staff = [Staff(email=f"agent{i}@example.org", name=f"Agent {i}") for i in range(3)]
        session.add_all(staff)
        session.flush()
        n = 0
        for month in range(12, 0, -1):
            for k in range(per_month):
                n += 1
                created = now - timedelta(days=30 * month - 2 * k, hours=k % 7)
                kind, org = KINDS[n % len(KINDS)]
                channel = CHANNELS[n % len(CHANNELS)]
                closed = None if month == 1 and k % 2 else created + timedelta(days=1 + k % 4)
                agent = staff[n % 3]
                name = f"Personne{n}"
                phone = f"+32475{n:06d}"
                ticket = Ticket(
                    subject=f"Clé bloquée {name}", status="closed" if closed else "open",
                    channel=channel, requester=f"p{n}@ville{n % 5}.example",
                    requester_name=f"{name} Janssens", requester_org=org, requester_type=kind,
                    category=CATEGORIES[n % len(CATEGORIES)], assignee=agent,
                    language="fr", created_at=created, updated_at=closed or created,
                    first_response_at=created + timedelta(hours=2 + k % 5) if k % 3 else None,
                    closed_at=closed,
                    resolution=("first-contact", "investigated")[n % 2] if closed else None)
                session.add(ticket)
                raw = f"From: {name} <p{n}@ville{n % 5}.example>\r\n\r\n{name} {phone}\r\n"
                request = Message(ticket=ticket, direction="in", from_addr=ticket.requester,
                                  from_name=f"{name} Janssens", subject=ticket.subject,
                                  text=f"Je suis {name}, tél {phone}",
                                  display_text=f"Je suis {name}, tél {phone}",
                                  message_id=f"<m{n}@ville.example>", date=created,
                                  created_at=created, raw_sha256=blobs.put(raw.encode()),
                                  raw_size=len(raw), to_addrs=["info@example.org"])
                card = f"identity card of {name}".encode()
                request.attachments = [
                    Attachment(filename=f"carte-{name}.pdf", content_type="application/pdf",
                               size=len(card), sha256=blobs.put(card)),
                    Attachment(filename="formulaire.pdf", content_type="application/pdf",
                               size=37, sha256=form)]
                session.add(request)
                session.add(Participant(ticket=ticket, address=ticket.requester,
                                        role="requester"))
                session.add(TicketEvent(ticket=ticket, what="opened", new=channel,
                                        actor=f"{name} Janssens", actor_email=ticket.requester,
                                        actor_kind="requester", via="mail", at=created))
                if ticket.first_response_at:
                    answered = ticket.first_response_at
                    session.add(Message(ticket=ticket, direction="out", from_name=agent.name,
                                        from_addr="info@example.org", author=agent,
                                        subject=f"Re: {ticket.subject}", date=answered,
                                        text=f"Bonjour {name}", display_text=f"Bonjour {name}",
                                        to_addrs=[ticket.requester], created_at=answered))
                    session.add(OutboxMessage(ticket=ticket, purpose="reply",
                                              message_id=f"<r{n}@example.org>",
                                              mail_from="info@example.org",
                                              to_addr=ticket.requester, subject="Re",
                                              raw=raw.encode(), state="sent",
                                              created_at=answered, sent_at=answered))
                    session.add(TicketEvent(ticket=ticket, what="reply",
                                            new=ticket.requester, actor=agent.name,
                                            actor_kind="staff", via="desk", at=answered))
                if closed:
                    session.add(TicketEvent(ticket=ticket, what="status", old="open",
                                            new="closed", actor=agent.name,
                                            actor_kind="staff", via="desk", at=closed))
        session.add(AuditEvent(actor="scheduler", action="old", at=now - timedelta(days=400)))
        long_ago = now - timedelta(days=100)
        for state, raw, came in (
                ("released", b"From: a@b.example\r\n\r\nprocessed later", long_ago),
                ("held", b"From: c@d.example\r\n\r\nstill to look at", long_ago),
                # held for over [privacy].quarantine_months (6): nobody will answer it now
                ("held", b"From: e@f.example\r\n\r\nnever looked at",
                 now - timedelta(days=200))):
            session.add(QuarantinedMessage(
                mailbox="info", reason="test", raw_sha256=blobs.put(raw), raw_size=len(raw),
                state=state, created_at=came,
                released_at=came if state == "released" else None))
        for days, state, raw in ((40, "held", b"From: s@spam.invalid\r\n\r\nold spam"),
                                 (40, "released", b"From: t@spam.invalid\r\n\r\nreleased"),
                                 (5, "held", b"From: u@spam.invalid\r\n\r\nnew spam")):
            session.add(SpamMessage(mailbox="info", reason="X-Spam-Flag: YES",
                                    raw_sha256=blobs.put(raw), raw_size=len(raw), state=state,
                                    created_at=now - timedelta(days=days)))
        report = b"Final-Recipient: rfc822; nobody@gone.example\r\n"
        session.add(Bounce(outbox_id=None, recipient="nobody@gone.example", permanent=True,
                           raw_sha256=blobs.put(report), received_at=long_ago))
    blobs.sync()
    stored_long_ago = (now - timedelta(days=300)).timestamp()
    for path in site.config.helpdesk.attachments_dir.rglob("*"):
        if path.is_file():  # as they would be: a purge spares the files stored today
            os.utime(path, (stored_long_ago, stored_long_ago))


def purge(site: Installation, *extra: str) -> dict[str, Any]:
    shown: dict[str, Any] = site.json("privacy", "purge", *extra)
    return shown


def test_a_year_purged_keeps_every_figure(site: Installation) -> None:
    year_of_tickets(site)
    with site.db.transaction() as session:
        cutoff = months_before(utcnow(), 6)
        old = session.scalars(select(Ticket.id).where(Ticket.closed_at < cutoff)
                              .order_by(Ticket.id)).all()
    held, gone = old[0], old[1]
    site.ok("ticket", "hold", str(held), "--reason", "Litige 2026/17", "--author", "DPO")
    assert site.json("ticket", "search", f"Personne{gone}")
    assert site.json("ticket", "search", f"+32475{gone:06d}")
    before, files = figures(site, report=True), blob_files(site)
    state = database_state(site)
    held_before = site.json("ticket", "show", str(held))

    dry = purge(site, "--dry-run")
    assert database_state(site) == state and blob_files(site) == files
    assert dry["dry_run"] is True and dry["held"] == 1
    assert dry["tickets_anonymised"] == len(old) - 1
    assert dry["raw_mails"] > 0 and dry["attachments"] > 0 and dry["outbox"] > 0
    assert dry["audit_entries"] >= 1 and dry["files"] > 0 and dry["bytes"] > 0
    assert dry["quarantine"] == 2 and dry["bounces"] >= 1  # released 100, held 200 days ago
    assert dry["spam"] == 2  # held and released 40 days ago ([privacy].spam_days = 30)

    done = purge(site)
    assert {k: v for k, v in done.items() if k != "dry_run"} == {
        k: v for k, v in dry.items() if k != "dry_run"}
    after = blob_files(site)
    assert sum(files.values()) - sum(after.values()) == done["bytes"] > 0
    assert len(files) - len(after) == done["files"]
    assert figures(site, report=True) == before

    # the held ticket as it was, its files on disk
    assert site.json("ticket", "show", str(held)) == held_before
    with site.db.transaction() as session:
        kept = session.scalars(select(Attachment.sha256).join(Message)
                               .where(Message.ticket_id == held)).all()
        assert kept and all(d in after for d in kept)
        # the shared form stays for the tickets that still have it
        assert session.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.anonymised_at.is_not(None))) == len(old) - 1
        assert not session.scalars(select(Participant).where(Participant.ticket_id == gone)).all()
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "old")) == 0
        # the quarantine's mail still to look at stays, with its file (the one held for
        # 200 days went, with its file); the unmatched bounce report goes
        [(state, raw)] = session.execute(select(QuarantinedMessage.state,
                                                QuarantinedMessage.raw_sha256)).all()
        assert state == "held" and raw in after
        assert sha256_hex(b"From: e@f.example\r\n\r\nnever looked at") not in after
        assert session.scalar(select(func.count()).select_from(Bounce)) == 0
        [spam_raw] = session.scalars(select(SpamMessage.raw_sha256)).all()
        assert spam_raw in after  # the recent spam and its file stay
    assert site.json("ticket", "search", f"Personne{gone}") == []
    assert site.json("ticket", "search", f"+32475{gone:06d}") == []
    assert site.json("ticket", "search", f"Personne{held}")
    shown = site.json("ticket", "show", str(gone))
    assert shown["anonymised_at"] and shown["requester_name"] is None
    assert "Janssens" not in str(shown) and f"Personne{gone}" not in str(shown)

    purged = database_state(site)
    again = purge(site)
    assert again["files"] == again["tickets_anonymised"] == again["raw_mails"] == 0
    assert not any(v for k, v in again.items() if k not in ("dry_run", "held"))
    assert blob_files(site) == after and database_state(site) == purged  # not a row changed
    assert "deleted 0 file(s)" in site.ok("privacy", "purge")


def totals(site: Installation) -> list[Any]:
    """Contacts by month and category, response times and due times met."""
    return [site.json("stats", "--by", "month", "--by", "category"),
            site.json("stats", "times"), site.json("stats", "due")]


def test_a_file_stored_again_meanwhile_is_spared(tmp_path: Path) -> None:
    """A purge found no row for a file, but a mail with the same attachment is being
    stored (``put``, not committed yet): the file stays; an old one goes."""
    blobs = BlobStore(tmp_path)
    digest = blobs.put(b"the same attachment")
    blobs.sync()
    long_ago = utcnow().timestamp() - 3 * 86400
    os.utime(blobs.path(digest), (long_ago, long_ago))
    blobs.put(b"the same attachment")  # received again: touched
    blobs.sync()
    assert blobs.remove(digest, spare_after=long_ago + 86400) is None
    assert blobs.get(digest) == b"the same attachment"
    os.utime(blobs.path(digest), (long_ago, long_ago))
    assert blobs.remove(digest, spare_after=long_ago + 86400) == 19
    assert not blobs.path(digest).exists() and not list(blobs.path(digest).parent.iterdir())
    assert blobs.remove(digest, spare_after=long_ago) is None
    blobs.put(b"the same attachment")  # and once gone, stored anew
    blobs.sync()
    assert blobs.get(digest) == b"the same attachment"


def test_the_daemon_applies_the_periods_once_a_day(site: Installation) -> None:
    """``rnmail run`` schedules the retention run every 24 hours, first a while after it
    starts; the job (what the scheduler calls) purges as ``privacy purge`` does."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from rnmail.daemon.loop import RETENTION_SECONDS, Daemon

    year_of_tickets(site, per_month=2)
    daemon = Daemon(str(site.path))
    scheduler = BackgroundScheduler()
    scheduler.add_jobstore("memory", alias="local")
    try:
        daemon.schedule_periodic_jobs(scheduler)
        job = scheduler.get_job("retention")
        assert job is not None and job.trigger.interval.total_seconds() == RETENTION_SECONDS
        daemon.retention()
        assert purge(site, "--dry-run")["tickets_anonymised"] == 0
        assert site.count(Ticket, Ticket.anonymised_at.is_not(None)) > 0
    finally:
        daemon.db.dispose()


def test_two_runs_at_once_share_the_work(site: Installation) -> None:
    """Two daemons purging at the same moment (PostgreSQL: rows locked by one are skipped
    by the other; SQLite: one writer at a time): nothing fails, every ticket is anonymised
    once, and the figures stay."""
    import threading

    from rnmail.db import Database
    from rnmail.privacy.retention import PurgeReport
    from rnmail.privacy.retention import purge as run_purge

    year_of_tickets(site, per_month=4)
    before = totals(site)  # every figure by every dimension: the year's test above
    reports: list[PurgeReport] = []
    errors: list[BaseException] = []

    def one() -> None:
        db = Database.of(site.config)
        try:
            reports.append(run_purge(db, site.config, batch=5))
        except BaseException as error:  # shown by the assertion below
            errors.append(error)
        finally:
            db.dispose()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(reports) == 2
    with site.db.transaction() as session:
        old = session.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.closed_at < months_before(utcnow(), 6)))
        done = session.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.anonymised_at.is_not(None)))
    assert old and done == old
    assert sum(r.tickets_anonymised for r in reports) == old
    assert purge(site, "--dry-run")["tickets_anonymised"] == 0
    assert totals(site) == before


def _mail(ticket: Ticket, digest: str, **more: Any) -> Message:
    return Message(ticket=ticket, direction="in", raw_sha256=digest, text="", subject="s",
                   from_addr="p@ville.example", **more)


def _aged(path: Path, days: float = 3) -> None:
    moment = utcnow().timestamp() - days * 86400
    os.utime(path, (moment, moment))


def test_files_no_row_refers_to_are_swept_and_cut_deletions_put_back(
        site: Installation) -> None:
    """The files a crash left without their row (stray files), in every shape it leaves:
    old ones go, with the leftovers of cut writes; a file stored today stays (its mail may
    be committing); a file being deleted while a row still names it is put back; the
    ingest's staging folder and names that are not the store's are not touched. A dry run
    says the same and changes nothing; a second run finds nothing."""
    blobs = BlobStore(site.config.helpdesk.attachments_dir)
    root = site.config.helpdesk.attachments_dir
    kept: list[str] = []
    strays: list[str] = []
    with site.db.transaction() as session:
        ticket = Ticket(subject="s", channel="mail", requester="p@ville.example", language="fr")
        session.add(ticket)
        for n in range(300):  # across many folders: the walk and the query meet in order
            digest = blobs.put(f"file {n}".encode())
            if n % 3:
                strays.append(digest)
                continue
            kept.append(digest)
            session.add(_mail(ticket, digest, attachments=[Attachment(
                filename="a.pdf", size=1, content_type="application/pdf", sha256=digest)]))
        named_quarantine = blobs.put(b"quarantined")
        session.add(QuarantinedMessage(mailbox="info", reason="t", raw_sha256=named_quarantine,
                                       raw_size=11))
        kept.append(named_quarantine)
    blobs.sync()
    for path in root.rglob("*"):
        if path.is_file():
            _aged(path)
    fresh = blobs.put(b"stored a moment ago, its mail not committed yet")
    blobs.sync()
    cut_write = blobs.path(strays[0]).with_name(f".{strays[0]}.123.456.tmp")
    cut_write.write_bytes(b"half a fi")
    _aged(cut_write)
    writing_now = blobs.path(strays[1]).with_name(f".{strays[1]}.123.457.tmp")
    writing_now.write_bytes(b"being written")
    wanted = kept[0]  # a deletion cut between its rename aside and its check
    cut_delete = blobs.path(wanted).with_name(f".{wanted}.123.458.del")
    os.rename(blobs.path(wanted), cut_delete)
    old_delete = blobs.path(strays[2]).with_name(f".{strays[2]}.123.459.del")
    os.rename(blobs.path(strays[2]), old_delete)
    staging = root / ".incoming"
    staging.mkdir(exist_ok=True)
    (staging / "f").write_bytes(b"the ingest's")
    foreign = blobs.path(kept[1]).parent / "README"
    foreign.write_text("not ours")
    folder_named_as_a_file = blobs.path(hashlib.sha256(b"a folder").hexdigest())
    folder_named_as_a_file.mkdir(parents=True)
    link = blobs.path(hashlib.sha256(b"a link").hexdigest())
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(foreign)
    for path in (staging / "f", foreign, folder_named_as_a_file):
        _aged(path)

    state = database_state(site)
    files = {p for p in root.rglob("*") if p.is_file()}
    dry = purge(site, "--dry-run")
    assert dry["stray_files"] == len(strays) + 1  # the cut write; the old .del is a stray
    assert database_state(site) == state and {p for p in root.rglob("*") if p.is_file()} == files

    done = purge(site)
    assert done["stray_files"] == dry["stray_files"] and done["files"] == dry["files"]
    assert done["bytes"] == dry["bytes"] > 0
    left = {p.name for p in root.rglob("*") if p.is_file()}
    assert set(kept) <= left and fresh in left and not left & set(strays)
    assert blobs.path(wanted).read_bytes() == b"file 0" and not cut_delete.exists()
    assert not cut_write.exists() and not old_delete.exists() and writing_now.exists()
    assert (staging / "f").exists() and foreign.exists()
    assert folder_named_as_a_file.is_dir() and link.is_symlink()  # not files of the store
    assert purge(site)["stray_files"] == 0
    [run] = site.audit("privacy-purge")  # the second found nothing: not on the record
    assert run["detail"]["stray_files"] == len(strays) + 1


def test_digests_read_out_of_order_never_delete_a_named_file(
        site: Installation, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk meets the database's digests in the database's order; read in another
    order (a collation that does not sort hex digits bytewise), it takes named files for
    strays, and the look-up of each before it goes keeps them: only the real strays go."""
    from sqlalchemy import literal_column

    from rnmail.privacy import strays

    blobs = BlobStore(site.config.helpdesk.attachments_dir)
    named: list[str] = []
    unnamed: list[str] = []
    with site.db.transaction() as session:
        ticket = Ticket(subject="s", channel="mail", requester="p@ville.example", language="fr")
        session.add(ticket)
        for n in range(120):
            digest = blobs.put(f"mail {n}".encode())
            (unnamed if n % 4 == 0 else named).append(digest)
            if n % 4:
                session.add(_mail(ticket, digest))
    blobs.sync()
    for path in site.config.helpdesk.attachments_dir.rglob("*"):
        if path.is_file():
            _aged(path)
    in_order = strays._referenced_in_order
    monkeypatch.setattr(strays, "_referenced_in_order", lambda session: in_order(
        session).order_by(None).order_by(literal_column("sha256").desc()))  # any other order
    assert purge(site)["stray_files"] == len(unnamed)
    left = set(blob_files(site))
    assert set(named) <= left and not left & set(unnamed)


def test_the_sweep_holds_up_no_writer(site: Installation,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A walk of a large store takes seconds: meanwhile the ingest and the desk write (on
    SQLite, a writing transaction around the walk would have made them wait for its end)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from rnmail.privacy import strays

    blobs = BlobStore(site.config.helpdesk.attachments_dir)
    blobs.put(b"a file no row refers to")
    blobs.sync()
    for path in site.config.helpdesk.attachments_dir.rglob("*"):
        _aged(path)
    url = site.config.database.url
    writer = create_engine(url, connect_args={"timeout": 1} if url.startswith("sqlite") else {})
    walk = strays._folders
    written: list[int] = []

    def folders_while_someone_writes(root: Path) -> Iterator[str]:
        for folder in walk(root):
            with Session(writer) as session, session.begin():
                session.add(AuditEvent(actor="desk", action="meanwhile"))
            written.append(1)
            yield folder

    monkeypatch.setattr(strays, "_folders", folders_while_someone_writes)
    try:
        assert purge(site)["stray_files"] == 1
    finally:
        writer.dispose()
    assert written and site.count(AuditEvent, AuditEvent.action == "meanwhile") == 1
