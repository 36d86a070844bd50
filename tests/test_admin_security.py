"""The web admin attacked over HTTP (the real listener of tests/test_admin.py, on SQLite and
PostgreSQL): sessions that outlive a credential change, codes that are not six ASCII digits,
simultaneous guesses and sign-ins, ids a handler cannot take, and the TOTP secret at rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pyotp
import pytest
from sqlalchemy import select, update

from rnmail.auth import operators
from rnmail.config import load_config
from rnmail.db import Database
from rnmail.models import AdminSession, AuditEvent, Operator
from rnmail.status.notices import publish
from tests.harness.admin import PASSWORD, Admin, install
from tests.harness.admin import admin as admin  # the fixture
from tests.harness.install import rnmail
from tests.harness.servers import SmtpServer
from tests.harness.web import Server

pytestmark = pytest.mark.slow  # argon2 per attempt, a real server per test


def fresh(admin: Admin) -> Admin:
    """Another browser on the same installation: no cookies, the same code counter."""
    other = Admin(admin.root, admin.db, admin.smtp, admin.public_port, admin.admin_port,
                  admin.secret)
    other.used = admin.used
    return other


def still_signed_in(admin: Admin) -> bool:
    reply = admin.get("/admin/")
    assert reply.status in (200, 303), reply.status
    return reply.status == 200


def cli(admin: Admin, *args: str, input: str | None = None) -> None:
    code, out, err = rnmail(admin.path, *args, input=input)
    assert code == 0, (out, err)


# --------------------------------------------------------------------- sessions end


@pytest.mark.parametrize("change", ["passwd", "totp", "disable", "disable-then-passwd"])
def test_a_credential_change_ends_every_session_of_the_operator(admin: Admin,
                                                                 change: str) -> None:
    admin.signed_in()
    second = fresh(admin)  # another browser, another session
    second.signed_in()
    admin.used = second.used
    assert still_signed_in(admin) and still_signed_in(second)
    new_password = "another horse battery staple"
    if change in ("passwd", "disable-then-passwd"):
        if change == "disable-then-passwd":
            cli(admin, "operator", "disable", "alice")
        cli(admin, "operator", "passwd", "alice", "--password-stdin",
            input=new_password + "\n")
    elif change == "totp":
        cli(admin, "operator", "totp", "alice", "--no-qr")
    else:
        cli(admin, "operator", "disable", "alice")
    assert not still_signed_in(admin)
    assert not still_signed_in(second)
    with admin.db.transaction() as session:
        assert session.scalars(select(AdminSession)).all() == []
    # The cookie of before does not come back after re-enabling either.
    if change == "disable":
        cli(admin, "operator", "passwd", "alice", "--password-stdin",
            input=new_password + "\n")
        assert not still_signed_in(admin)


def test_a_lockout_ends_the_operators_sessions(admin: Admin) -> None:
    admin.signed_in()
    attacker = fresh(admin)
    for _ in range(5):  # [operators].max_failures = 5
        assert attacker.login(password="wrong password!", code="000000").status == 401
    assert not still_signed_in(admin)


def test_another_operators_change_leaves_a_session_alone(admin: Admin) -> None:
    cli(admin, "operator", "add", "bob", "--password-stdin", input=PASSWORD + "\n")
    admin.signed_in()
    cli(admin, "operator", "passwd", "bob", "--password-stdin",
        input="bob's new password\n")
    cli(admin, "operator", "totp", "bob", "--no-qr")
    cli(admin, "operator", "disable", "bob")
    assert still_signed_in(admin)


# --------------------------------------------------------------------- the code


@pytest.mark.parametrize("code", [
    "١٢٣٤٥٦",  # Arabic-Indic digits
    "１２３４５６",  # fullwidth digits
    "۱۲۳۴۵۶",  # extended Arabic-Indic
    "𝟏𝟐𝟑𝟒𝟓𝟔",  # mathematical bold digits
    "123 456", " 123456", "123456 ", "1234567", "12345", "", "12345\n", "abcdef",
    "\x00\x00\x00\x00\x00\x00",
])
def test_a_code_that_is_not_six_ascii_digits_is_a_counted_401(admin: Admin,
                                                                code: str) -> None:
    reply = admin.login(code=code)
    assert reply.status == 401, (reply.status, reply.text)
    [failed] = admin.audit("login-failed")
    assert failed.actor == "alice" and failed.detail == {"reason": "code"}


def test_the_valid_code_with_spaces_or_other_digits_is_refused(admin: Admin) -> None:
    good = admin.code()
    arabic = good.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for variant in (f" {good}", f"{good[:3]} {good[3:]}", arabic, f"{good}\t"):
        assert admin.login(code=variant).status == 401
    assert len(admin.audit("login-failed")) == 4
    assert admin.login(code=good).status == 303  # the step was not used by a variant


# --------------------------------------------------------------------- concurrency


def together(count: int, attempt: Callable[[int], int]) -> list[int]:
    """``attempt(i)`` in ``count`` threads released at once; their HTTP statuses."""
    barrier = threading.Barrier(count)
    statuses: list[int] = [0] * count

    def run(i: int) -> None:
        barrier.wait()
        statuses[i] = attempt(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return statuses


def test_simultaneous_wrong_passwords_are_evaluated_up_to_the_limit(admin: Admin) -> None:
    clients = [fresh(admin) for _ in range(40)]
    forms = [c.get("/admin/login").csrf() for c in clients]
    statuses = together(40, lambda i: clients[i].post("/admin/login", [
        ("csrf", forms[i]), ("operator", "alice"), ("password", f"wrong password {i}"),
        ("code", "000000")]).status)
    assert statuses == [401] * 40
    assert len(admin.audit("login-failed")) == 5  # [operators].max_failures
    assert len(admin.audit("login-locked")) == 35


def test_simultaneous_guesses_from_one_address_stop_at_its_limit(admin: Admin) -> None:
    names = [f"nobody{i}" for i in range(30)]  # other names: only the address counts
    clients = [fresh(admin) for _ in names]
    forms = [c.get("/admin/login").csrf() for c in clients]
    together(30, lambda i: clients[i].post("/admin/login", [
        ("csrf", forms[i]), ("operator", names[i]), ("password", "wrong password!"),
        ("code", "000000")]).status)
    assert len(admin.audit("login-failed")) == 8  # [web].max_failures_per_address


def test_one_valid_code_signs_in_once_among_simultaneous_sign_ins(admin: Admin) -> None:
    code = admin.code()
    # Five: the four replays refused stay under [operators].max_failures (a fifth failure
    # would lock alice out and end the session just opened).
    clients = [fresh(admin) for _ in range(5)]
    forms = [c.get("/admin/login").csrf() for c in clients]
    statuses = together(5, lambda i: clients[i].post("/admin/login", [
        ("csrf", forms[i]), ("operator", "alice"), ("password", PASSWORD),
        ("code", code)]).status)
    assert sorted(statuses) == [303] + [401] * 4
    with admin.db.transaction() as session:
        assert len(session.scalars(select(AdminSession)).all()) == 1
    assert len(admin.audit("login")) == 1


# --------------------------------------------------------------------- ids and values


BAD_IDS = ["9" * 400, "9223372036854775808", "18446744073709551616", "-1", "0x10", "abc",
           "1e5", quote("٣"), quote("１"), quote("𝟏"), "%00", "1%00", "1.5", "%201", "",
           "00000000000000000000000000001"]


def test_every_admin_route_takes_any_id_cleanly(admin: Admin) -> None:
    csrf = admin.signed_in()
    for bad in BAD_IDS:
        for method, path in (("GET", f"/admin/announcements/{bad}"),
                             ("POST", f"/admin/maintenance/{bad}/cancel")):
            reply = admin.post(path, [("csrf", csrf)]) if method == "POST" \
                else admin.get(path)
            assert reply.status in (400, 404, 405), (path, reply.status, reply.text)
            assert "Traceback" not in reply.text
    for path in ("/admin/audit?action=%00&actor=%00x", "/admin/audit?actor=" + quote("é" * 500),
                 "/admin/?done=%00", "/admin/?lang=%00"):
        reply = admin.get(path)
        assert reply.status in (200, 400), (path, reply.status)
    assert still_signed_in(admin)


@pytest.mark.parametrize("name", ["alice\x00", "\x00", "a" * 5000, "ålice", "alice\r\nX: y"])
def test_a_strange_operator_name_is_a_counted_401(admin: Admin, name: str) -> None:
    reply = admin.login(name=name)
    assert reply.status == 401, (reply.status, reply.text)
    assert len(admin.audit("login-failed")) == 1


# --------------------------------------------------------------------- the secret at rest


def test_the_totp_secret_is_encrypted_and_a_clear_one_is_upgraded(
        tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> None:
    path, secret = install(tmp_path, db_url, smtp_server)
    config = load_config(path)
    db = Database(db_url)
    try:
        with db.transaction() as session:
            stored = session.scalars(select(Operator.totp_secret)).one()
            assert stored and secret not in stored  # encrypted by `operator totp`
            # What the previous version wrote: the secret in clear.
            session.execute(update(Operator).values(totp_secret=secret))
        publish(db, config)
        server = Server(config)  # the admin of this version starts
        try:
            site = Admin(tmp_path, db, smtp_server, server.port,
                         int(config.web.admin_bind.rpartition(":")[2]), secret)
            with db.transaction() as session:
                stored = session.scalars(select(Operator.totp_secret)).one()
            assert stored and secret not in stored
            assert operators.TotpCipher(config.helpdesk.secret).open(stored) == secret
            site.signed_in()  # the operator's app still works
        finally:
            server.stop()
    finally:
        db.dispose()


def test_a_clear_secret_is_sealed_at_its_next_sign_in(admin: Admin) -> None:
    with admin.db.transaction() as session:  # written in clear after the admin started
        session.execute(update(Operator).values(totp_secret=admin.secret))
    admin.signed_in()
    with admin.db.transaction() as session:
        stored = session.scalars(select(Operator.totp_secret)).one()
    assert stored and admin.secret not in stored


def test_a_secret_sealed_under_another_installation_secret_is_a_401(admin: Admin) -> None:
    other = operators.TotpCipher("another installation secret, just as long as a key")
    with admin.db.transaction() as session:
        session.execute(update(Operator).values(totp_secret=other.seal(admin.secret)))
    assert admin.login().status == 401
    with admin.db.transaction() as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "login-failed")).all()
    assert [e.detail for e in events] == [{"reason": "code"}]


def test_a_code_is_strictly_checked_by_the_core_too() -> None:
    secret = pyotp.random_base32()
    operator = Operator(name="x", password_hash="x", totp_secret=secret)
    now = time.time()
    code = pyotp.TOTP(secret).at(now)
    for variant in (code.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
                    f"{code}\n", f" {code}"):
        assert operators.matching_step(operator, variant, at=now) is None
    assert operators.matching_step(operator, code, at=now) == int(now // 30)
