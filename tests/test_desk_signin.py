"""Staff members sign in to the desk (``/desk/``) over HTTP: password and second factor,
the admin's CSRF, limits, lockout and audit (one shared piece), sessions that end when the
member is removed or gets a new password, single sign-on through a trusted proxy only, the
desk only on the internal listener, and admin and desk sessions kept apart. Both
databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from rnmail.auth import staff as desk_staff
from rnmail.tickets.team import remove_staff
from tests.harness.admin import PASSWORD, Admin, install
from tests.harness.desk import (
    AGENT,
    AGENT_NAME,
    HOSTILE,
    Desk,
    add_agent,
    desk_login,
    desk_served,
    desk_signed_in,
)
from tests.harness.servers import SmtpServer, free_port
from tests.harness.wait import until
from tests.harness.web import request, running_daemon, start_cli, stopped_at_the_end


@pytest.fixture
def desk(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Desk]:
    with desk_served(tmp_path, db_url, smtp_server) as found:
        yield found


def test_an_agent_signs_in_sees_the_queue_and_opens_a_ticket(desk: Desk) -> None:
    agent = desk.agent
    assert agent.get("/desk/").header("Location") == "/desk/login"  # not signed in yet
    reply = desk_login(agent)
    assert reply.status == 303 and reply.header("Location") == "/desk/"
    cookie = next(line for line in reply.headers.get_all("Set-Cookie") or []
                  if line.startswith("rnmail_desk="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/desk" in cookie
    queue = agent.get("/desk/")
    # Marie's language is French: the desk speaks it from the sign-in on.
    assert queue.status == 200 and '<html lang="fr">' in queue.text
    assert f"Connecté : {AGENT_NAME}" in queue.text and "Se déconnecter" in queue.text
    assert f'href="/desk/tickets/{desk.ticket_id}"' in queue.text
    assert "Jean Dupont" in queue.text and "Commune de Sud" in queue.text
    policy = queue.header("Content-Security-Policy")
    # The desk's own script file only (the call form's lookup), nothing inline.
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert queue.header("Cache-Control") == "no-store"
    for path in ("/desk/", "/desk/calls/new", "/desk/search", "/desk/directory/",
                 "/desk/faq/", "/desk/figures"):
        assert f'href="{path}"' in queue.text
    page = agent.get(f"/desk/tickets/{desk.ticket_id}")
    assert page.status == 200
    assert "ma clé ne marche plus" in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert agent.get("/desk/tickets/999999").status == 404
    assert agent.get("/desk/tickets/99999999999999999999").status == 404
    # Audited with the member and the client's address.
    login = desk.admin.audit("login")[-1]
    assert (login.actor, login.client, login.detail) == (AGENT, "127.0.0.1", {"site": "desk"})
    csrf = page.csrf()
    out = agent.post("/desk/logout", [("csrf", csrf)])
    assert out.status == 303 and out.header("Location") == "/desk/login"
    assert agent.get("/desk/").header("Location") == "/desk/login"
    assert desk.admin.audit("logout")[-1].actor == AGENT


def test_the_language_switch_and_the_members_language(desk: Desk) -> None:
    desk_signed_in(desk.agent)
    nl = desk.agent.get("/desk/?lang=nl")
    assert '<html lang="nl">' in nl.text and "Wachtrij" in nl.text
    assert '<html lang="nl">' in desk.agent.get("/desk/").text  # remembered
    de = desk.agent.get(f"/desk/tickets/{desk.ticket_id}?lang=de")
    assert '<html lang="de">' in de.text and "Warteschlange" in de.text
    en = desk.agent.get("/desk/?lang=en")
    assert "Queue" in en.text and "Sign out" in en.text


def test_forms_without_their_csrf_token_are_refused(desk: Desk) -> None:
    agent = desk.agent
    form = agent.get("/desk/login")
    assert form.status == 200
    refused = agent.post("/desk/login", [("csrf", "forged"), ("email", AGENT),
                                         ("password", PASSWORD), ("code", agent.code())])
    assert refused.status == 403 and "CSRF" in refused.text
    csrf = desk_signed_in(agent)
    assert agent.post("/desk/logout", [("csrf", "forged")]).status == 403
    assert agent.post("/desk/logout", [("csrf", csrf)], Origin="https://evil.example"
                      ).status == 403
    assert agent.get("/desk/").status == 200  # still signed in


def test_failed_sign_ins_lock_the_name_and_the_address(desk: Desk) -> None:
    agent = desk.agent
    for _ in range(5):  # [operators].max_failures = 5
        assert desk_login(agent, password="wrong password!", code="000000").status == 401
    locked = desk_login(agent)  # the right password and code, but locked
    assert locked.status == 401 and "too many failed sign-ins for" in locked.text, locked.text
    assert desk.admin.audit("login-locked")[-1].actor == AGENT
    # The address: 8 failures in all (max_failures_per_address), the other names too.
    other = add_agent(desk.admin, "luc.peeters@rn.example", "Luc Peeters", "nl")
    for n in range(3):
        assert desk_login(other, f"nobody{n}@rn.example", code="000000").status == 401
    refused = desk_login(other, "luc.peeters@rn.example")
    assert refused.status == 401 and "127.0.0.1" in refused.text
    failures = desk.admin.audit("login-failed")
    assert all(f.client == "127.0.0.1" and f.detail.get("site") == "desk" for f in failures)


def test_a_removed_member_or_a_new_password_ends_the_sessions_at_once(desk: Desk) -> None:
    agent = desk.agent
    desk_signed_in(agent)
    with desk.admin.db.transaction() as session:
        desk_staff.set_password(session, AGENT, "another long password")
    assert agent.get("/desk/").header("Location") == "/desk/login"
    assert desk_login(agent, password="another long password").status == 303
    assert agent.get("/desk/").status == 200
    with desk.admin.db.transaction() as session:
        remove_staff(session, AGENT)
    assert agent.get("/desk/").header("Location") == "/desk/login"
    assert desk_login(agent, password="another long password", code="000000"
                      ).status == 401  # removed: refused


def test_the_admin_and_desk_sessions_are_not_interchangeable(desk: Desk) -> None:
    admin, agent = desk.admin, desk.agent
    admin.signed_in()
    desk_signed_in(agent)
    operator_token, staff_token = admin.cookies["rnmail_admin"], agent.cookies["rnmail_desk"]
    admin.cookies["rnmail_desk"] = operator_token
    assert admin.get("/desk/").header("Location") == "/desk/login"
    agent.cookies["rnmail_admin"] = staff_token
    assert agent.get("/admin/").header("Location") == "/admin/login"
    # An operator's name and password do not open the desk, nor a member's the admin.
    assert desk_login(admin, "alice", code=admin.code()).status == 401
    assert admin.get("/admin/").status == 200 and agent.get("/desk/").status == 200
    assert agent.login(name=AGENT).status == 401


def test_the_desk_is_not_on_the_public_listener(desk: Desk) -> None:
    for path in ("/desk/", "/desk/login", "/desk", f"/desk/tickets/{desk.ticket_id}"):
        assert request(desk.admin.public_port, path).status == 404, path
    assert desk.agent.get("/desk").header("Location") == "/desk/"


def test_staff_passwd_and_totp_from_the_command_line(desk: Desk) -> None:
    runner = CliRunner()
    base = ["--config", str(desk.admin.path)]
    added = runner.invoke(main, [*base, "staff", "add", "anna@rn.example", "--name", "Anna",
                                 "--language", "nl"])
    assert added.exit_code == 0, added.output
    set_password = runner.invoke(main, [*base, "staff", "passwd", "anna@rn.example",
                                        "--password-stdin"], input="a good long password\n")
    assert set_password.exit_code == 0 and "anna@rn.example" in set_password.output
    totp = runner.invoke(main, [*base, "staff", "totp", "anna@rn.example", "--no-qr"])
    assert totp.exit_code == 0 and totp.output.startswith("otpauth://totp/"), totp.output
    secret = totp.output.split("secret=")[1].split("&")[0].strip()
    anna = Admin(desk.admin.root, desk.admin.db, desk.admin.smtp, desk.admin.public_port,
                 desk.admin.admin_port, secret)
    assert desk_login(anna, "Anna@rn.example", "a good long password").status == 303
    assert '<html lang="nl">' in anna.get("/desk/").text
    unknown = runner.invoke(main, [*base, "staff", "passwd", "nobody@rn.example",
                                   "--password-stdin"], input="a good long password\n")
    assert unknown.exit_code == 1
    removed = runner.invoke(main, [*base, "staff", "remove", "anna@rn.example"])
    assert removed.exit_code == 0
    assert anna.get("/desk/").header("Location") == "/desk/login"


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "spoofed"])
def test_the_remote_user_header_only_from_trusted_proxies(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer, trusted: bool) -> None:
    proxies = '["127.0.0.1"]' if trusted else '["10.9.9.9"]'
    extra = f'remote_user_header = "X-Remote-User"\ntrusted_proxies = {proxies}'
    with desk_served(tmp_path, db_url, smtp_server, extra) as desk:
        client = desk.agent
        page = client.http("GET", "/desk/login", X_Remote_User=AGENT)
        if not trusted:  # from a non-trusted address the header is ignored
            assert page.status == 200 and 'name="password"' in page.text
            assert "rnmail_desk" not in client.cookies
            assert client.http("GET", "/desk/", X_Remote_User=AGENT).status == 303
            assert not [e for e in desk.admin.audit("login") if e.actor == AGENT]
            return
        assert page.status == 303 and page.header("Location") == "/desk/"
        queue = client.http("GET", "/desk/", X_Remote_User=AGENT)
        assert queue.status == 200 and AGENT_NAME in queue.text
        login = desk.admin.audit("login")[-1]
        assert login.actor == AGENT and login.detail == {"site": "desk",
                                                         "via": "remote-user"}
        # The proxy now names someone else: Marie's session is not theirs.
        other = client.http("GET", "/desk/", X_Remote_User="nobody@rn.example")
        assert other.header("Location") == "/desk/login"
        refused = client.http("GET", "/desk/login", X_Remote_User="nobody@rn.example")
        assert refused.status == 200 and "nobody@rn.example" in refused.text


@pytest.mark.slow
def test_rnmail_web_and_the_daemon_serve_the_desk_beside_the_admin(
        tmp_path: Path, smtp_server: SmtpServer) -> None:
    """``rnmail web --admin-bind`` and ``rnmail run`` with ``in_daemon``: ``/desk/`` on
    the internal listener, not on the public one."""
    path, _secret = install(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server,
                            extra="in_daemon = true\n[daemon]\npoll_seconds = 300\n"
                                  "stop_seconds = 10\n")
    port = free_port()
    proc, line = start_cli(path, "--admin-bind", f"127.0.0.1:{port}")
    with stopped_at_the_end(proc):
        public = int(line.split(":")[-1].split("/")[0])
        assert request(port, "/desk/login").status == 200
        assert request(public, "/desk/login").status == 404
    assert f"the help desk's desk on http://127.0.0.1:{port}/desk/" in (
        proc.stderr.read().decode() if proc.stderr else "")
    log = tmp_path / "run.log"
    with running_daemon(path, log):
        until(lambda: "the help desk's desk on" in log.read_text(), timeout=30)
        admin_port = int(log.read_text().split("desk on http://127.0.0.1:")[1].split("/")[0])
        page = request(admin_port, "/desk/login", Accept_Language="nl")
        assert page.status == 200 and b"Aanmelden bij de helpdesk" in page.body


def test_passwords_are_hashed_at_the_shipped_cost() -> None:
    """The cost the tests lower in their own process (conftest): a fresh process hashes
    with argon2id at argon2-cffi's defaults, RFC 9106's low-memory profile."""
    import subprocess
    import sys

    from argon2 import Type, extract_parameters, profiles

    shown = subprocess.run(
        [sys.executable, "-c", "from rnmail.auth.signin import hashed_password; "
                               "print(hashed_password('a long enough password'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    used = extract_parameters(shown)
    wanted = profiles.RFC_9106_LOW_MEMORY
    assert used.type is Type.ID and (used.time_cost, used.memory_cost, used.parallelism) == (
        wanted.time_cost, wanted.memory_cost, wanted.parallelism)
