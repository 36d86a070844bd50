"""Tests of the test harness itself: the real servers behave as the suite expects."""
from __future__ import annotations

import asyncio
import email.message

import aiosmtplib
import pytest
import sqlalchemy as sa

from tests.harness.servers import Dovecot, SmtpServer


def make_raw(subject: str, to: str = "info@example.org") -> bytes:
    msg = email.message.EmailMessage()
    msg["From"] = "customer@example.org"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@example.org>"
    msg.set_content("Hello,\nmy printer is on fire.\n")
    return msg.as_bytes().replace(b"\n", b"\r\n")


# --------------------------------------------------------------------------- IMAP

def test_append_and_read_back_by_uid(imap: Dovecot) -> None:
    raw = make_raw("first ticket")
    uid = imap.append("info", raw)

    assert imap.folder_uids("info") == [uid]
    assert imap.fetch_raw("info") == [raw]
    with imap.mailbox("info") as mb:
        [msg] = list(mb.fetch(mark_seen=False))
    assert (msg.uid, msg.subject, msg.from_) == (uid, "first ticket", "customer@example.org")
    assert imap.folder_uids("fax") == []  # users are separate


def test_append_many_folders_and_clear(imap: Dovecot) -> None:
    imap.create_folder("info", "Archive/2024.done")
    uids = imap.append_many("info", [make_raw(f"msg {i}") for i in range(3)], "Archive/2024.done")
    imap.append("info", make_raw("inbox"))

    assert uids == imap.folder_uids("info", "Archive/2024.done")
    assert len(set(uids)) == 3
    assert "Archive/2024.done" in imap.folders("info")

    imap.clear("info")
    assert imap.folders("info") == ["INBOX"]
    assert imap.folder_uids("info") == []


def test_server_has_idle_move_uidplus(imap: Dovecot) -> None:
    with imap.mailbox("info") as mb:
        caps = mb.client.capability()[1][0].split()
        assert {b"IDLE", b"MOVE", b"UIDPLUS"} <= set(caps)

        mb.idle.start()
        imap.append("info", make_raw("wake up"))  # from another connection
        responses = mb.idle.poll(timeout=5)
        mb.idle.stop()
    assert any(b"EXISTS" in r for r in responses)


def test_add_user_works_without_restart(dovecot: Dovecot) -> None:
    dovecot.add_user("newcomer", "s3cret")
    with dovecot.mailbox("newcomer", "s3cret") as mb:
        assert mb.uids() == []


# --------------------------------------------------------------------------- SMTP

async def send(server: SmtpServer, recipients: list[str]) -> tuple[dict, str]:
    return await aiosmtplib.send(
        make_raw("outgoing"), sender="rnmail@example.org", recipients=recipients,
        hostname=server.host, port=server.port, timeout=10,
    )


def test_smtp_server_records_envelopes(smtp_server: SmtpServer) -> None:
    errors, _ = asyncio.run(send(smtp_server, ["alice@example.org", "bob@example.org"]))

    assert errors == {}
    [env] = smtp_server.wait_for(1)
    assert env.mail_from == "rnmail@example.org"
    assert env.rcpt_tos == ["alice@example.org", "bob@example.org"]
    assert b"Subject: outgoing" in env.content
    smtp_server.clear()
    assert smtp_server.messages == []


@pytest.mark.parametrize(("rcpt", "code"), [("reject@example.org", 550),
                                            ("tempfail@example.org", 451)])
def test_smtp_server_refuses_chosen_recipients(
    smtp_server: SmtpServer, rcpt: str, code: int
) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
        asyncio.run(send(smtp_server, [rcpt]))

    [refused] = info.value.recipients
    assert (refused.recipient, refused.code) == (rcpt, code)
    assert smtp_server.messages == []


def test_smtp_server_partial_refusal_and_custom_failure(smtp_server: SmtpServer) -> None:
    smtp_server.failures["full@example.org"] = "452 4.2.2 mailbox full"
    errors, _ = asyncio.run(send(smtp_server, ["ok@example.org", "reject@example.org",
                                               "full@example.org"]))

    assert {r: e.code for r, e in errors.items()} == {"reject@example.org": 550,
                                                      "full@example.org": 452}
    [env] = smtp_server.wait_for(1)
    assert env.rcpt_tos == ["ok@example.org"]


def test_wait_for_times_out(smtp_server: SmtpServer) -> None:
    with pytest.raises(AssertionError, match="expected 1 messages"):
        smtp_server.wait_for(1, timeout=0.2)


# --------------------------------------------------------------------------- databases

def test_db_url_is_an_empty_working_database(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        table = sa.Table("tickets", sa.MetaData(),
                         sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("subject", sa.Text))
        table.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"subject": "a"}, {"subject": "b"}])
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 2
            if engine.dialect.name == "postgresql":
                schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
                assert schema.startswith("t_")
                where = conn.execute(sa.text(
                    "SELECT table_schema FROM information_schema.tables "
                    "WHERE table_name = 'tickets'")).scalars().all()
                assert where == [schema]  # landed in the isolated schema only
    finally:
        engine.dispose()
