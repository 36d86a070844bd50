"""A large mailing's members queued a chunk at a time, by the senders as they claim
(``rnmail.dispatch.expand``): everyone once, in the groups' order, whatever the number of
senders, a failed claim or a group that changed; both databases, real aiosmtpd.

The chunk and claim sizes are made small here so that a mailing of a few hundred goes
through many chunks, group boundaries and claims, and SQLite queues from the cursor too
(it queues every member at once otherwise: ``test_sqlite_queues_every_member_at_once``).
"""

from __future__ import annotations

import email
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from rnmail.dispatch import expand, send
from rnmail.dispatch.announce import announcement_status
from rnmail.dispatch.expand import claim_or_expand
from rnmail.models import (
    Announcement,
    GroupMember,
    OutboxBody,
    OutboxMessage,
    Suppression,
    UserGroup,
    utcnow,
)
from rnmail.privacy.retention import purge
from rnmail.util.tokens import verify_message_id
from tests.harness.factories import Desk, write_config
from tests.harness.mailings import import_group, people, queue_mailing
from tests.harness.servers import SmtpServer

CHUNK = 40


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expand, "FIRST_CHUNK", CHUNK)
    monkeypatch.setattr(expand, "ALL_AT_ONCE_ON_SQLITE", False)  # the cursor on both
    monkeypatch.setattr(send, "FIRST_CLAIM", 7)
    monkeypatch.setattr(send, "CLAIM_BATCH", 25)


def desk_for(tmp_path: Path, db_url: str, port: int) -> Desk:
    from rnmail.config import load_config

    config = write_config(tmp_path, db_url, smtp=f'[smtp]\nhost = "127.0.0.1"\nport = {port}',
                          extra="[outbox]\nconnections = 3")
    return Desk(load_config(config))


def status(desk: Desk, announcement_id: int) -> dict[str, Any]:
    with desk.db.transaction() as session:
        return dict(announcement_status(session, announcement_id))


def received(smtp_server: SmtpServer) -> Counter[str]:
    return Counter(e.rcpt_tos[0] for e in smtp_server.messages)


def list_ids(smtp_server: SmtpServer) -> dict[str, str]:
    return {e.rcpt_tos[0]: str(email.message_from_bytes(e.content)["List-Id"])
            for e in smtp_server.messages}


@pytest.mark.usefixtures("small_chunks")
def test_a_mailing_larger_than_the_first_chunk_reaches_everyone_once(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    desk = desk_for(tmp_path, db_url, smtp_server.port)
    members = people(7 * CHUNK + 3)
    import_group(desk, tmp_path, "communes", members)
    announcement = queue_mailing(desk, ["communes"])

    state = status(desk, announcement)
    assert state["recipients"] == len(members)
    assert state["counts"]["queued"] == CHUNK
    assert state["unqueued"] == len(members) - CHUNK and state["finished"] is False

    report = desk.send()
    assert report.sent == len(members)
    state = status(desk, announcement)
    assert state["counts"]["sent"] == len(members) and state["unqueued"] == 0
    assert state["finished"] is True
    with desk.db.transaction() as session:
        assert session.scalar(select(Announcement.queue)) is None
        ids = list(session.scalars(select(OutboxMessage.message_id)))
    assert received(smtp_server) == Counter(m[0] for m in members)  # each once
    assert len(set(ids)) == len(members)
    secret = desk.config.helpdesk.secret
    assert all(verify_message_id(secret, i) == (f"a{announcement}", 0) for i in ids)
    # each member in their language: the shared part of that language
    languages = {address: language for address, _, language in members}
    subjects = {e.rcpt_tos[0]: str(email.message_from_bytes(e.content)["Content-Language"])
                for e in smtp_server.messages}
    assert subjects == languages
    desk.close()


@pytest.mark.usefixtures("small_chunks")
def test_several_groups_each_address_once_with_its_first_groups_list_id(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    desk = desk_for(tmp_path, db_url, smtp_server.port)
    first = people(3 * CHUNK, "a.example")
    shared = people(CHUNK + 5, "b.example")
    import_group(desk, tmp_path, "police", shared + people(CHUNK, "c.example"))
    import_group(desk, tmp_path, "communes", first + shared)
    import_group(desk, tmp_path, "notaires", first)  # nobody new
    announcement = queue_mailing(desk, ["police", "communes", "notaires"])
    everyone = {m[0] for m in first + shared + people(CHUNK, "c.example")}
    assert status(desk, announcement)["recipients"] == len(everyone)

    desk.send()
    assert received(smtp_server) == Counter(everyone)
    found = list_ids(smtp_server)
    assert {found[m[0]] for m in shared} == {f"<police.{desk.config.dispatch.list_domain}>"}
    assert {found[m[0]] for m in first} == {f"<communes.{desk.config.dispatch.list_domain}>"}
    assert status(desk, announcement)["finished"] is True
    desk.close()


@pytest.mark.usefixtures("small_chunks")
def test_suppressed_and_unusable_members_past_the_first_chunk(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    desk = desk_for(tmp_path, db_url, smtp_server.port)
    members = people(4 * CHUNK)
    import_group(desk, tmp_path, "communes", members)
    gone, broken = members[3 * CHUNK][0], members[3 * CHUNK + 1][0]
    with desk.db.transaction() as session:
        session.add(Suppression(email=gone, reason="test", hard_bounces=3,
                                suppressed_at=utcnow()))
        # as an old import could have left it, written straight into the table
        session.execute(update(GroupMember).where(GroupMember.email == broken)
                        .values(name="Service\r\nBcc: x@example.org"))
    announcement = queue_mailing(desk, ["communes"])
    desk.send()
    with desk.db.transaction() as session:
        states = dict(session.execute(select(OutboxMessage.to_addr, OutboxMessage.state)).all())
        reason = session.scalar(select(OutboxMessage.last_reply)
                                .where(OutboxMessage.to_addr == broken))
    assert states[gone] == "suppressed" and states[broken] == "failed"
    assert reason is not None and "control character" in reason
    assert set(received(smtp_server)) == {m[0] for m in members} - {gone, broken}
    state = status(desk, announcement)
    assert state["counts"]["sent"] == len(members) - 2 and state["finished"] is True
    desk.close()


@pytest.mark.usefixtures("small_chunks")
def test_concurrent_claims_queue_every_member_once(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    """Four threads claiming at once, each in its own transaction and connection: the lock of
    the announcement's row keeps two of them from queueing the same members."""
    desk = desk_for(tmp_path, db_url, smtp_server.port)
    members = people(12 * CHUNK)
    import_group(desk, tmp_path, "communes", members)
    queue_mailing(desk, ["communes"])
    start = threading.Barrier(4)
    taken: list[list[str]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def claimer(mine: list[str]) -> None:
        try:
            start.wait()
            while True:
                with desk.db.transaction() as session:
                    leased = claim_or_expand(session, desk.config, 9, timedelta(minutes=5))
                if not leased:
                    return
                mine.extend(item.to_addr for item in leased)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    everything = [address for mine in taken for address in mine]
    assert Counter(everything) == Counter(m[0] for m in members)
    assert sum(1 for mine in taken if mine) >= 2  # they did claim side by side
    desk.close()


@pytest.mark.usefixtures("small_chunks")
def test_a_claim_rolled_back_leaves_the_cursor_for_the_next(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    """A sender that dies in its claim (here: an error before the commit) queued nothing:
    the next claim queues the same members, and the mailing ends complete."""
    desk = desk_for(tmp_path, db_url, smtp_server.port)
    members = people(3 * CHUNK)
    import_group(desk, tmp_path, "communes", members)
    announcement = queue_mailing(desk, ["communes"])
    with desk.db.transaction() as session:
        before = session.scalar(select(Announcement.queue))

    class Died(Exception):
        pass

    with pytest.raises(Died), desk.db.transaction() as session:
        leased = claim_or_expand(session, desk.config, 2 * CHUNK, timedelta(minutes=5))
        assert len(leased) == 2 * CHUNK  # the first chunk, and a chunk queued by the claim
        raise Died
    with desk.db.transaction() as session:
        assert session.scalar(select(Announcement.queue)) == before
        assert session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.state != "queued")) is None
    desk.send()
    assert received(smtp_server) == Counter(m[0] for m in members)
    assert status(desk, announcement)["finished"] is True
    desk.close()


@pytest.mark.usefixtures("small_chunks")
def test_members_who_changed_while_their_mailing_was_queued(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    """A group deleted mid-way is passed over; a member now in a language nobody had when the
    notice was rendered gets the help desk's default language."""
    desk = desk_for(tmp_path, db_url, smtp_server.port)
    communes = [(a, n, "nl") for a, n, _ in people(2 * CHUNK)]
    import_group(desk, tmp_path, "communes", communes)
    import_group(desk, tmp_path, "police",
                 [(a, n, "fr") for a, n, _ in people(2 * CHUNK, "police.example")])
    announcement = queue_mailing(desk, ["communes", "police"])
    late = communes[-1][0]
    with desk.db.transaction() as session:
        session.execute(update(GroupMember).where(GroupMember.email == late)
                        .values(language="de"))
        session.execute(delete(GroupMember).where(
            GroupMember.group_id == select(UserGroup.id).where(UserGroup.name == "police")
            .scalar_subquery()))
        session.execute(delete(UserGroup).where(UserGroup.name == "police"))
    desk.send()
    assert received(smtp_server) == Counter(m[0] for m in communes)
    language = {e.rcpt_tos[0]: str(email.message_from_bytes(e.content)["Content-Language"])
                for e in smtp_server.messages}
    assert language[late] == desk.config.helpdesk.default_language != "de"
    state = status(desk, announcement)
    assert state["finished"] is True and state["counts"]["sent"] == len(communes)
    desk.close()


@pytest.mark.usefixtures("small_chunks")
def test_the_purge_keeps_the_body_of_a_mailing_still_being_queued(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    desk = desk_for(tmp_path, db_url, smtp_server.port)
    members = people(3 * CHUNK, "p.example")
    members = [(a, n, "fr") for a, n, _ in members]
    import_group(desk, tmp_path, "communes", members)
    announcement = queue_mailing(desk, ["communes"])
    with desk.db.transaction() as session:  # the first chunk sent long ago
        session.execute(update(OutboxMessage).values(state="sent", sent_at=utcnow()))
    report = purge(desk.db, desk.config, now=utcnow() + timedelta(days=3650))
    assert report.outbox == CHUNK
    with desk.db.transaction() as session:
        assert session.scalar(select(OutboxBody.id)) is not None
    desk.send()
    assert set(received(smtp_server)) == {m[0] for m in members[CHUNK:]}
    assert status(desk, announcement)["finished"] is True
    desk.close()


def test_sqlite_queues_every_member_at_once(tmp_path: Path, db_url: str,
                                            smtp_server: SmtpServer) -> None:
    desk = desk_for(tmp_path, db_url, smtp_server.port)
    members = people(expand.FIRST_CHUNK + 10)
    import_group(desk, tmp_path, "communes", members)
    announcement = queue_mailing(desk, ["communes"])
    state = status(desk, announcement)
    queued = len(members) if desk.db.is_sqlite else expand.FIRST_CHUNK
    assert state["counts"]["queued"] == queued
    assert state["unqueued"] == len(members) - queued
    desk.send()
    assert received(smtp_server) == Counter(m[0] for m in members)
    desk.close()
