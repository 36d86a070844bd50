"""XOAUTH2 mailboxes (Microsoft 365 style) end to end against a real Dovecot.

The Dovecot from the `oauth_dovecot` fixture checks bearer tokens with a real
introspection endpoint (tests.harness.servers.TokenServer), so the token rnmail gets
from `token_command` really travels: token_command -> rnmail -> IMAP
AUTHENTICATE XOAUTH2 -> Dovecot -> HTTP introspection.  No mocks.

SQLite only: storage is covered on both engines by test_ingest.
"""

from __future__ import annotations

import imaplib
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted
from imap_tools.errors import MailboxLoginError

from rnmail.config import Config
from rnmail.ingest.runner import IngestReport, run_ingest
from tests.harness.factories import Desk, make_config
from tests.harness.servers import Dovecot, TokenServer

RAW = (Path(__file__).parent / "data" / "lang_fr_citizen_cle_bloquee.eml").read_bytes()
USER = "helpdesk"


def python_command(code: str) -> str:
    """A token_command running this interpreter on `code` (shlex-safe)."""
    return shlex.join([sys.executable, "-c", code])


def printing(token: str) -> str:
    return python_command(f"print({token!r})")


def oauth_box(imap: Dovecot, token_command: str, **extra: object) -> dict[str, object]:
    return {
        "name": "m365", "kind": "info", "host": imap.host, "port": imap.port,
        "security": "none", "user": USER, "auth": "xoauth2", "token_command": token_command,
        "folder": "INBOX", "done_folder": "Processed", "timeout": 10, **extra,
    }


def password_box(imap: Dovecot) -> dict[str, object]:
    return {
        "name": "shared", "kind": "info", "host": imap.host, "port": imap.port,
        "security": "none", "user": "fax", "password": "secret",
        "folder": "INBOX", "done_folder": "Processed",
    }


@pytest.fixture
def desk_for(tmp_path: Path) -> Iterator:
    """desk_for(*mailboxes) -> a Desk on a fresh SQLite file (closed afterwards)."""
    desks: list[Desk] = []

    def make(*boxes: dict[str, object]) -> Desk:
        config: Config = make_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db",
                                     mailbox=list(boxes))
        desks.append(Desk(config))
        return desks[-1]

    yield make
    for desk in desks:
        desk.close()


def ingest(desk: Desk) -> IngestReport:
    """run_ingest without Desk.ingest's assert-no-errors."""
    return run_ingest(desk.db, desk.config)


# --------------------------------------------------------------------------- the harness

def test_harness_dovecot_accepts_issued_tokens_only(oauth_imap: Dovecot,
                                                    token_server: TokenServer) -> None:
    """The server side alone, with imap-tools: so a failure below is rnmail's, not ours."""
    token = token_server.issue(USER)
    with MailBoxUnencrypted(oauth_imap.host, oauth_imap.port, timeout=10).xoauth2(
            USER, token) as mb:
        assert mb.uids() == []
    assert token_server.requests[-1] == token  # Dovecot really asked

    refused = {
        "unknown token": (USER, "not-a-token"),
        "token of another user": ("fax", token),  # username in the reply must match
    }
    for why, (user, bad) in refused.items():
        box = MailBoxUnencrypted(oauth_imap.host, oauth_imap.port, timeout=10)
        # imaplib raises before imap-tools can turn the NO into MailboxLoginError.
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            box.xoauth2(user, bad)
        box.client.shutdown()
        assert token_server.requests[-1] == bad, why

    # Password logins are untouched (the helpers rely on them), still fail properly,
    # and never reach the introspection endpoint.
    asked_before = len(token_server.requests)
    with oauth_imap.mailbox(USER) as mb:
        assert mb.uids() == []
    with pytest.raises(MailboxLoginError):
        oauth_imap.mailbox(USER, "wrong")
    assert len(token_server.requests) == asked_before


def test_harness_revoked_token_is_refused(oauth_imap: Dovecot, token_server: TokenServer) -> None:
    token = token_server.issue(USER)
    token_server.revoke(token)
    box = MailBoxUnencrypted(oauth_imap.host, oauth_imap.port, timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        box.xoauth2(USER, token)
    box.client.shutdown()


# --------------------------------------------------------------------------- rnmail

def test_xoauth2_mailbox_ingests_and_moves(oauth_imap: Dovecot, token_server: TokenServer,
                                           desk_for) -> None:
    token = token_server.issue(USER)
    desk = desk_for(oauth_box(oauth_imap, printing(token)))
    oauth_imap.append(USER, RAW)
    asked_before = len(token_server.requests)

    report = desk.ingest()

    assert report.outcomes == {"ticket": 1}
    assert token_server.requests[asked_before:] == [token]  # logged in with *that* token
    assert oauth_imap.folder_uids(USER) == []
    [moved] = oauth_imap.fetch_raw(USER, "Processed")
    assert moved.replace(b"\r\n", b"\n") == RAW.replace(b"\r\n", b"\n")
    [ticket] = desk.tickets()
    assert ticket["channel"] == "mail"

    # A second pass with a fresh token (as an MSAL helper would print) finds nothing new.
    assert desk.ingest().outcomes == {}


def test_token_command_from_a_script_file(oauth_imap: Dovecot, token_server: TokenServer,
                                          desk_for, tmp_path: Path) -> None:
    """The usual deployment: a helper script, path with a space, token plus a trailing newline."""
    token = token_server.issue(USER)
    script = tmp_path / "get token.py"
    script.write_text(f"import sys\nsys.stdout.write({token!r} + '\\n')\n")
    desk = desk_for(oauth_box(oauth_imap, shlex.join([sys.executable, str(script)])))
    oauth_imap.append(USER, RAW)

    assert desk.ingest().outcomes == {"ticket": 1}
    assert oauth_imap.folder_uids(USER) == []


def refused_token(kind: str, token_server: TokenServer) -> str:
    if kind == "unknown":
        return "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.invalid"
    if kind == "revoked":
        token = token_server.issue(USER)
        token_server.revoke(token)
        return token
    return token_server.issue("fax")  # valid, but for another user


@pytest.mark.parametrize("kind", ["unknown", "revoked", "another user's"])
def test_refused_token_is_a_one_line_error_and_other_mailboxes_go_on(
        kind: str, oauth_imap: Dovecot, token_server: TokenServer, desk_for) -> None:
    token = refused_token(kind, token_server)
    desk = desk_for(oauth_box(oauth_imap, printing(token)), password_box(oauth_imap))
    oauth_imap.append(USER, RAW)
    oauth_imap.append("fax", RAW)

    report = ingest(desk)

    [error] = report.errors
    assert "\n" not in error
    assert "m365" in error and USER in error
    assert "refused" in error.lower() or "failed" in error.lower()
    assert token not in error  # never log the bearer token
    assert report.outcomes == {"ticket": 1}  # the password mailbox was still read
    assert len(oauth_imap.folder_uids(USER)) == 1  # nothing lost: still to do
    assert oauth_imap.folder_uids("fax") == []


BROKEN_COMMANDS = {
    "exits 1": (python_command("import sys; print('AADSTS700082: expired', file=sys.stderr); "
                               "sys.exit(1)"),
                "token_command exited with status 1: AADSTS700082: expired"),
    "prints nothing": (python_command("pass"), "printed no token"),
    "prints blanks": (python_command("print('  ')"), "printed no token"),
    "not found": ("/nonexistent/get-m365-token --tenant example", "token_command cannot run"),
}


@pytest.mark.parametrize("kind", list(BROKEN_COMMANDS))
def test_broken_token_command_is_a_one_line_error(kind: str, oauth_imap: Dovecot,
                                                  token_server: TokenServer, desk_for) -> None:
    command, expected = BROKEN_COMMANDS[kind]
    desk = desk_for(oauth_box(oauth_imap, command), password_box(oauth_imap))
    oauth_imap.append(USER, RAW)
    oauth_imap.append("fax", RAW)
    asked_before = len(token_server.requests)

    report = ingest(desk)

    [error] = report.errors
    assert "\n" not in error
    assert error.startswith("IMAP m365: ") and expected in error
    assert token_server.requests[asked_before:] == []  # Dovecot was never asked
    assert report.outcomes == {"ticket": 1}  # the password mailbox was still read
    assert len(oauth_imap.folder_uids(USER)) == 1
    assert desk.tickets()[0]["channel"] == "mail"
