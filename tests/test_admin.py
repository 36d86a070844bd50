"""The status administration (/admin), from a real server: ``rnmail.web.server.start`` with
``[web].admin_bind`` on a free loopback port, a real database (SQLite and PostgreSQL), a
real SMTP server (aiosmtpd) receiving what the admin sends, read over HTTP (http.client,
cookies kept by hand) and, for what a person does, in a real headless Chromium.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import time
from collections import Counter
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path

import pyotp
import pytest
from aiohttp import web as aioweb
from sqlalchemy import func, select, update

from rnmail.auth import operators
from rnmail.config import load_config
from rnmail.db import Database
from rnmail.dispatch.announce import announcement_status
from rnmail.errors import ConfigError
from rnmail.models import AdminSession, Announcement, utcnow
from rnmail.web.admin import AdminSite, BackgroundSender
from tests.harness.admin import PASSWORD, Admin, install, status_fields
from tests.harness.admin import admin as admin  # the fixture
from tests.harness.browser import Browser, chromium_or_fail
from tests.harness.factories import Desk, write_config
from tests.harness.install import add_members, rnmail
from tests.harness.mail import wait_for_mail
from tests.harness.mailings import import_group, people, queue_mailing
from tests.harness.servers import SmtpServer, free_port
from tests.harness.statuspage import SEEN, VERBATIM
from tests.harness.wait import until
from tests.harness.web import (
    Server,
    csp_messages,
    request,
    running_daemon,
    start_cli,
    stopped_at_the_end,
)

SCRIPT = "<script>window.pwned = 1</script> & <b>gras</b>"
COMMENTS = {"nl": "Verwachte duur: twee uur", "fr": "Durée prévue : deux heures",
            "de": "Voraussichtliche Dauer: zwei Stunden"}


# --------------------------------------------------------------------------- over HTTP


def test_sign_in_set_down_with_a_trilingual_comment_and_notify_a_group(admin: Admin) -> None:
    add_members(admin.path, "municipalities", ("bevolking@zuid.example", "nl"),
                ("population@sud.example", "fr"), ("einwohner@ost.example", "de"))
    add_members(admin.path, "police-zones", ("pz@police.example", "nl"),
                ("bevolking@zuid.example", "nl"))  # in both groups: mailed once
    csrf = admin.signed_in()
    dashboard = admin.get("/admin/").text
    assert "Signed in as alice" in dashboard
    assert re.search(r"municipalities — <span class=\"count\">3</span> recipients", dashboard)
    assert re.search(r"police-zones — <span class=\"count\">2</span> recipients", dashboard)
    fields = status_fields(csrf, "down", ("municipalities", "police-zones"), COMMENTS)

    preview = admin.post("/admin/status", fields)  # the counts before anything is sent
    assert preview.status == 200
    assert re.search(r"<strong>4</strong> recipients in municipalities, police-zones "
                     r"\(de 1, fr 1, nl 2\)", preview.text)
    assert "Confirm and send to 4" in preview.text
    assert admin.states() == {} and admin.smtp.messages == []  # nothing done yet

    done = admin.post("/admin/status", [*fields, ("confirm", "1")])
    assert done.status == 303
    location = done.header("Location")
    assert re.fullmatch(r"/admin/announcements/\d+", location)
    mails = wait_for_mail(admin.smtp, 4)  # sent by the admin itself, at once
    assert sorted(m["To"] for m in mails) == [
        "Dienst de <einwohner@ost.example>", "Dienst fr <population@sud.example>",
        "Dienst nl <bevolking@zuid.example>", "Dienst nl <pz@police.example>"]
    for mail in mails:
        language = {"ost": "de", "sud": "fr"}.get(mail["To"].split("@")[1].split(".")[0], "nl")
        text = str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        assert VERBATIM["down"][language] in text
        assert COMMENTS[language] in text

    assert set(admin.states().values()) == {"down"}
    page = admin.public()
    assert page["overall"] == "down"
    assert page["components"][0]["comments"] == COMMENTS

    progress = admin.get(location)
    assert progress.status == 200
    assert "4 of 4 delivered or ended" in progress.text and "finished" in progress.text
    assert 'http-equiv="refresh"' not in progress.text  # never reloads itself (WCAG 2.2.1)
    assert 'id="progress-refresh"' not in progress.text  # finished: nothing to refresh
    assert re.search(r'data-state="sent">4<', progress.text)

    [event] = admin.audit("status-set")
    assert event.actor == "alice" and event.client == "127.0.0.1"
    assert event.recipients == 4 and event.detail["comment"] == COMMENTS
    [login] = admin.audit("login")
    assert login.actor == "alice" and login.client == "127.0.0.1"
    log = admin.get("/admin/audit?action=status-set").text
    assert "status-set" in log and "127.0.0.1" in log and "login-failed" not in log


def test_session_cookie_is_httponly_strict_and_limited_to_the_admin(admin: Admin) -> None:
    reply = admin.login()
    cookie = SimpleCookie(reply.header("Set-Cookie"))["rnmail_admin"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/admin" and not cookie["secure"]  # secure_cookies = false here
    assert len(cookie.value) >= 40
    with admin.db.transaction() as session:  # only a hash of the token is stored
        [row] = session.scalars(select(AdminSession))
        assert row.token_hash != cookie.value and len(row.token_hash) == 64
    page = admin.get("/admin/")
    assert page.header("Cache-Control") == "no-store"
    assert "script-src" not in page.header("Content-Security-Policy")
    assert "default-src 'none'" in page.header("Content-Security-Policy")
    assert page.header("X-Frame-Options") == "DENY"


def test_the_secure_flag_is_set_unless_configured_off(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db"))
    assert config.web.secure_cookies and config.web.admin_bind == ""
    response = aioweb.Response()
    AdminSite(config, Database(config.database.url)).cookie(response, "rnmail_admin", "t",
                                                            "/admin", None)
    cookie = response.cookies["rnmail_admin"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"


def test_a_wrong_code_is_refused_and_logged(admin: Admin) -> None:
    good = pyotp.TOTP(admin.secret).now()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for code in (wrong, "", "12345", "abcdef"):
        reply = admin.login(code=code)
        assert reply.status == 401 and "rnmail_admin" not in admin.cookies
        assert "wrong operator name, password or code" in reply.text
    assert admin.get("/admin/").header("Location") == "/admin/login"
    reasons = [e.detail["reason"] for e in admin.audit("login-failed")]
    assert reasons == ["code"] * 4
    assert all(e.client == "127.0.0.1" for e in admin.audit("login-failed"))


def test_a_code_is_accepted_once(admin: Admin) -> None:
    code = admin.code()
    assert admin.login(code=code).status == 303
    admin.cookies.clear()
    reply = admin.login(code=code)  # replayed, from another browser
    assert reply.status == 401 and "rnmail_admin" not in admin.cookies


def test_an_operator_without_a_second_factor_cannot_sign_in(admin: Admin) -> None:
    with admin.db.transaction() as session:
        operators.add_operator(session, "bob", PASSWORD)
    reply = admin.login(name="bob", code="123456")
    assert reply.status == 401
    assert [e.detail["reason"] for e in admin.audit("login-failed")] == ["no second factor"]


def test_the_sixth_failed_sign_in_is_refused(admin: Admin) -> None:
    for _ in range(5):
        assert admin.login(password="wrong password!", code="000000").status == 401
    reply = admin.login()  # the right password and code: still refused
    assert reply.status == 401 and "rnmail_admin" not in admin.cookies
    assert "too many failed sign-ins for &#39;alice&#39;" in reply.text
    assert len(admin.audit("login-locked")) == 1 and admin.audit("login") == []


def test_failed_sign_ins_are_limited_per_address(admin: Admin) -> None:
    for n in range(8):  # different names: no single name is locked
        assert admin.login(name=f"guess{n}", password="wrong password!",
                           code="000000").status == 401
    reply = admin.login()
    assert reply.status == 401 and "too many failed sign-ins from 127.0.0.1" in reply.text
    assert admin.audit("login") == []


def test_forms_without_their_csrf_token_are_refused(admin: Admin) -> None:
    csrf = admin.signed_in()
    fields = status_fields(csrf, "down", comments=COMMENTS)
    missing = [f for f in fields if f[0] != "csrf"]
    for sent in (missing, [("csrf", "not-the-token"), *missing]):
        reply = admin.post("/admin/status", [*sent, ("confirm", "1")])
        assert reply.status == 403 and "CSRF" in reply.text
    assert admin.post("/admin/maintenance/1/cancel", []).status == 403
    assert admin.post("/admin/logout", []).status == 403
    assert admin.states() == {} and admin.audit("status-set") == []
    # A form posted from another site is refused even with the token.
    foreign = admin.post("/admin/status", [*fields, ("confirm", "1")],
                         Origin="http://attacker.example")
    assert foreign.status == 403 and admin.states() == {}
    # The sign-in form has its own token, bound to a cookie.
    admin.cookies.clear()
    form = admin.get("/admin/login")
    admin.cookies.pop("rnmail_login")
    reply = admin.post("/admin/login", [("csrf", form.csrf()), ("operator", "alice"),
                                        ("password", PASSWORD), ("code", admin.code())])
    assert reply.status == 403 and len(admin.audit("login")) == 1  # the first one only


@pytest.mark.slow
def test_sessions_end_when_idle_too_long_or_too_old_and_on_sign_out(admin: Admin) -> None:
    admin.signed_in()
    with admin.db.transaction() as session:
        session.execute(update(AdminSession).values(
            last_seen_at=utcnow() - timedelta(minutes=31)))
    reply = admin.get("/admin/")
    assert reply.status == 303 and reply.header("Location") == "/admin/login"
    with admin.db.transaction() as session:
        assert session.scalars(select(AdminSession)).all() == []

    admin.cookies.clear()
    admin.signed_in()
    with admin.db.transaction() as session:
        session.execute(update(AdminSession).values(expires_at=utcnow()))
    assert admin.get("/admin/").status == 303

    admin.cookies.clear()
    csrf = admin.signed_in()
    token = admin.cookies["rnmail_admin"]
    assert admin.post("/admin/logout", [("csrf", csrf)]).status == 303
    admin.cookies["rnmail_admin"] = token  # the old cookie, kept by an attacker
    assert admin.get("/admin/").status == 303
    assert [e.actor for e in admin.audit("logout")] == ["alice"]


def test_a_comment_with_markup_is_shown_as_text_everywhere(admin: Admin) -> None:
    add_members(admin.path, "ops", ("ops@ops.example", "fr"))
    csrf = admin.signed_in()
    fields = status_fields(csrf, "degraded", ("ops",), {"nl": SCRIPT, "fr": SCRIPT,
                                                        "de": SCRIPT})
    assert admin.post("/admin/status", [*fields, ("confirm", "1")]).status == 303
    [mail] = wait_for_mail(admin.smtp, 1)
    escaped = "&lt;script&gt;window.pwned = 1&lt;/script&gt; &amp; &lt;b&gt;gras&lt;/b&gt;"
    dashboard = admin.get("/admin/").text
    assert escaped in dashboard and SCRIPT not in dashboard
    log = admin.get("/admin/audit").text
    assert "&lt;script&gt;" in log and "<script>" not in log
    index = request(admin.public_port, "/").body.decode()
    assert escaped in index and "<script>" not in index
    feed = request(admin.public_port, "/feed.atom").body.decode()
    assert "<script>" not in feed and "&lt;script&gt;" in feed
    html = str(mail.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert escaped in html and "<script>" not in html
    text = str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert SCRIPT in text  # plain text: shown as written


def test_bad_input_is_refused_with_a_message_and_changes_nothing(admin: Admin) -> None:
    csrf = admin.signed_in()
    cases = [
        (status_fields(csrf, "exploded"), "choose a position"),
        (status_fields(csrf, "down", comments={"fr": "x" * 501}), "at most 500"),
        (status_fields(csrf, "down", ("nobody-group",)), "no group &#39;nobody-group&#39;"),
        ([*status_fields(csrf, "down"), ("component", "toaster")], "toaster"),
    ]
    for fields, message in cases:
        for confirm in ([], [("confirm", "1")]):
            reply = admin.post("/admin/status", [*fields, *confirm])
            assert reply.status == 400 and message in reply.text, reply.text
    # The form comes back as it was filled in.
    reply = admin.post("/admin/status", status_fields(csrf, "down", comments={"fr": "x" * 501}))
    assert 'value="down" id="state-down" required checked' in reply.text
    assert "x" * 501 in reply.text
    past = admin.post("/admin/maintenance", [("csrf", csrf), ("start", "2020-01-01T10:00"),
                                             ("duration", "2h"), ("confirm", "1")])
    assert past.status == 400 and "has passed" in past.text
    bad = admin.post("/admin/maintenance", [("csrf", csrf), ("start", "tomorrow"),
                                            ("duration", "2h")])
    assert bad.status == 400 and "YYYY-MM-DD" in bad.text
    assert admin.get("/admin/announcements/999").status == 404
    assert admin.states() == {} and admin.audit("status-set") == []
    assert admin.audit("maintenance-schedule") == []


def test_a_body_that_is_not_a_form_is_refused(admin: Admin) -> None:
    csrf = admin.signed_in()
    part = (b"--x\r\nContent-Disposition: form-data; name=csrf\r\n"
            b"Content-Type: text/plain; charset=%s\r\n\r\nabc\r\n--x--\r\n")
    for body, kind in ((b"--x\r\nbroken", "multipart/form-data; boundary=x"),
                       (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded; "
                                                "charset=utf-8"),
                       # charsets Python does not know, or knows as no text encoding
                       (b"csrf=x", "application/x-www-form-urlencoded; charset=x-no-such"),
                       (b"csrf=x", "application/x-www-form-urlencoded; charset=rot13"),
                       (part % b"x-no-such", "multipart/form-data; boundary=x"),
                       (part % b"base64", "multipart/form-data; boundary=x")):
        for path in ("/admin/login", "/admin/status"):
            reply = admin.http("POST", path, None, Content_Type=kind, body=body)
            assert reply.status == 400 and "could not be read" in reply.text, (kind, body)
    reply = admin.http("POST", "/admin/status", None,
                       Content_Type="application/x-www-form-urlencoded",
                       body=b"csrf=" + csrf.encode() + b"&state=down&x=" + b"y" * 300_000)
    assert reply.status == 413 and admin.states() == {}


def test_schedule_and_cancel_a_maintenance(admin: Admin) -> None:
    add_members(admin.path, "municipalities", ("bevolking@zuid.example", "nl"),
                ("population@sud.example", "fr"))
    csrf = admin.signed_in()
    fields = [("csrf", csrf), ("start", "2031-03-05T18:00"), ("duration", "3h"),
              ("remind", "24h"), ("group", "municipalities"), ("comment_fr", "Mise à jour"),
              ("comment_nl", "Update")]
    preview = admin.post("/admin/maintenance", fields)
    assert preview.status == 200
    assert "05/03/2031 18:00" in preview.text and "05/03/2031 21:00" in preview.text
    assert "<strong>2</strong> recipients" in preview.text
    reply = admin.post("/admin/maintenance", [*fields, ("confirm", "1")])
    assert reply.status == 303 and reply.header("Location").startswith("/admin/announcements/")
    mails = wait_for_mail(admin.smtp, 2)
    assert {m["To"].addresses[0].addr_spec for m in mails} == {  # type: ignore[attr-defined]
        "bevolking@zuid.example", "population@sud.example"}
    [event] = admin.audit("maintenance-schedule")
    assert event.client == "127.0.0.1" and event.detail["reminder"] == 86400
    maintenance_id = event.detail["maintenance"]
    assert f"cancel-{maintenance_id}" in admin.get("/admin/").text

    cancel = f"/admin/maintenance/{maintenance_id}/cancel"
    # One click (one POST without confirmation) only shows what the cancellation will do.
    preview = admin.post(cancel, [("csrf", csrf)])
    assert preview.status == 200 and admin.audit("maintenance-cancel") == []
    assert f"maintenance #{maintenance_id}, 05/03/2031 18:00" in preview.text
    assert re.search(r'<tr data-group="municipalities"><td>municipalities</td><td>2</td>'
                     r"<td>fr 1, nl 1</td></tr>", preview.text)
    assert re.search(r'data-language="fr">\[Registre national\] La maintenance prévue le '
                     r"05/03/2031 de 18:00 à 21:00 est annulée<", preview.text)
    assert re.search(r'data-language="nl">[^<]*geannuleerd', preview.text)
    assert "Cancel it and send to 2" in preview.text and 'href="/admin/" id="back"' in preview.text
    time.sleep(0.5)
    assert len(admin.smtp.messages) == 2  # the announcement only: nothing queued
    with admin.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Announcement)) == 1
    assert f"cancel-{maintenance_id}" in admin.get("/admin/").text  # still planned

    reply = admin.post(cancel, [("csrf", csrf), ("confirm", "1")])
    assert reply.status == 303
    wait_for_mail(admin.smtp, 4)
    assert [e.client for e in admin.audit("maintenance-cancel")] == ["127.0.0.1"]
    assert f"cancel-{maintenance_id}" not in admin.get("/admin/").text
    for confirm in ([], [("confirm", "1")]):  # neither previewed nor done twice
        again = admin.post(cancel, [("csrf", csrf), *confirm])
        assert again.status == 400 and "already cancelled" in again.text
    assert admin.post(cancel, [("confirm", "1")]).status == 403  # the CSRF token
    assert len(admin.audit("maintenance-cancel")) == 1


def test_a_maintenance_longer_than_the_maximum_is_said_in_the_preview(admin: Admin) -> None:
    """The admin's ``--yes``: the preview says the maintenance is unusually long, and its
    confirmation accepts it; a confirmation that skipped the preview is refused."""
    csrf = admin.signed_in()
    fields = [("csrf", csrf), ("start", "2031-03-05T18:00"), ("duration", "8d")]
    refused = admin.post("/admin/maintenance", [*fields, ("confirm", "1")])
    assert refused.status == 400 and "max_maintenance_days" in refused.text
    preview = admin.post("/admin/maintenance", fields)
    assert preview.status == 200 and 'id="long"' in preview.text
    assert "This maintenance lasts 8d, longer than the usual maximum of 7 days" in preview.text
    assert '<input type="hidden" name="long_ok" value="1">' in preview.text
    assert admin.audit("maintenance-schedule") == []
    short = admin.post("/admin/maintenance", [*fields[:2], ("duration", "7d")])
    assert short.status == 200 and 'id="long"' not in short.text
    done = admin.post("/admin/maintenance", [*fields, ("confirm", "1"), ("long_ok", "1")])
    assert done.status == 303
    [event] = admin.audit("maintenance-schedule")
    assert event.detail["ends_at"].startswith("2031-03-13T17:00")


def test_the_pages_speak_the_operators_language(admin: Admin) -> None:
    """French or Dutch from the browser's languages, or the switch (remembered)."""
    login = admin.http("GET", "/admin/login", Accept_Language="nl-BE,nl;q=0.9,en;q=0.5")
    assert '<html lang="nl">' in login.text and "Aanmelden" in login.text
    assert 'href="/admin/login?lang=fr"' in login.text  # the switch, to the same page
    assert "Se connecter" in admin.http("GET", "/admin/login", Accept_Language="fr").text
    assert "Sign in" in admin.http("GET", "/admin/login", Accept_Language="es").text \
        or "Se connecter" in admin.http("GET", "/admin/login", Accept_Language="es").text
    csrf = admin.signed_in()
    dashboard = admin.get("/admin/?lang=nl")  # the switch: remembered in a cookie
    assert admin.cookies["rnmail_lang"] == "nl"
    assert "Aangemeld als alice" in dashboard.text and "Positie wijzigen" in dashboard.text
    assert ">buiten dienst</span>" in dashboard.text  # the positions too
    again = admin.get("/admin/audit")  # Accept-Language: en, but the choice wins
    assert "Auditlogboek" in again.text
    refused = admin.post("/admin/status", status_fields("wrong", "down"))
    assert refused.status == 403 and "Dit formulier heeft geen CSRF-token" in refused.text
    preview = admin.post("/admin/status", status_fields(csrf, "down"))
    assert "Nieuwe positie" in preview.text and 'href="/admin/?lang=fr"' in preview.text
    admin.get("/admin/?lang=fr")
    french = admin.get("/admin/").text
    assert "Changer la position" in french
    assert "Registre national — administration du statut" in french
    assert admin.get("/admin/?lang=xx").status == 200 and admin.cookies["rnmail_lang"] == "fr"


def test_a_german_speaking_operator_reads_the_admin_in_german(admin: Admin) -> None:
    """German, Belgium's third official language, from the browser's languages."""
    german = {"Accept_Language": "de-BE,de;q=0.9,fr;q=0.5"}
    login = admin.http("GET", "/admin/login", **german)
    assert '<html lang="de">' in login.text and "<h1>Anmelden</h1>" in login.text
    assert "Nationalregister — Statusverwaltung" in login.text and "Kein Code?" in login.text
    assert "Rijksregister" not in login.text  # the header too is in the reader's language
    assert '<strong lang="de">Deutsch</strong>' in login.text  # the switch: four languages
    for code in ("fr", "nl", "en"):
        assert f'href="/admin/login?lang={code}"' in login.text
    reply = admin.post("/admin/login", [
        ("csrf", login.csrf()), ("operator", "alice"), ("password", PASSWORD),
        ("code", admin.code())], **german)
    assert reply.status == 303
    dashboard = admin.http("GET", "/admin/", **german)
    assert "Angemeldet als alice" in dashboard.text and "Aktueller Status:" in dashboard.text
    assert "<h2>Stellung ändern</h2>" in dashboard.text
    assert "<h3>Eine Wartung planen</h3>" in dashboard.text
    assert ">außer Betrieb</span>" in dashboard.text  # the positions too
    assert "Webdienste" in dashboard.text and "Services web" not in dashboard.text  # components
    preview = admin.post("/admin/status", status_fields(dashboard.csrf(), "down"), **german)
    assert "<h1>Bestätigen</h1>" in preview.text and "Neue Stellung" in preview.text
    assert "Webdienste" in preview.text and "Webdiensten" not in preview.text
    audit = admin.http("GET", "/admin/audit", **german)
    assert "<h1>Audit-Protokoll</h1>" in audit.text


@pytest.mark.slow
def test_stopping_the_server_mid_mailing_loses_nothing_and_sends_nothing_twice(
        tmp_path: Path, smtp_server: SmtpServer) -> None:
    """The admin's own sender (``rnmail web`` without the daemon), stopped as SIGTERM does:
    deliveries under way finish and are recorded, the rest go back to the outbox."""
    path, _secret = install(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server)
    desk = Desk(load_config(path))
    n = 1500
    import_group(desk, tmp_path, "municipalities", people(n))
    announcement = queue_mailing(desk, ["municipalities"])

    async def run_until(stop_after: int | None) -> float:
        sender = BackgroundSender(desk.db, desk.config)
        sender()
        while stop_after is None or len(smtp_server.messages) < stop_after:
            if sender.task is not None and sender.task.done():
                break
            await asyncio.sleep(0.02)
        started = time.monotonic()
        await sender.close()
        return time.monotonic() - started

    assert asyncio.run(run_until(200)) < 5  # the stop is prompt
    with desk.db.transaction() as session:
        counts = announcement_status(session, announcement)["counts"]
    assert counts["sending"] == 0 and 200 <= counts["sent"] < n
    assert counts["sent"] == len(smtp_server.messages)  # everything sent is recorded
    asyncio.run(run_until(None))  # a restart sends the rest
    received = Counter(env.rcpt_tos[0] for env in smtp_server.messages)
    assert len(received) == n and set(received.values()) == {1}
    desk.close()


def test_the_admin_is_only_on_its_own_address(admin: Admin) -> None:
    assert request(admin.public_port, "/admin/").status == 404
    assert request(admin.public_port, "/admin/login").status == 404
    assert admin.get("/index.html").status == 404
    assert admin.get("/status.json").status == 404
    assert admin.get("/").header("Location") == "/admin/"


def test_a_database_down_is_a_page_not_a_traceback(tmp_path: Path,
                                                   smtp_server: SmtpServer) -> None:
    path, _secret = install(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server)
    text = path.read_text().replace(f"sqlite:///{tmp_path}/rnmail.db",
                                    f"postgresql://rnmail@127.0.0.1:{free_port()}/rnmail")
    path.write_text(text)
    server = Server(load_config(path))
    try:
        url = server.listening.admin_url
        assert url
        port = int(url.removesuffix("/admin/").rpartition(":")[2])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/admin/", headers={"Cookie": "rnmail_admin=x",
                                                      "Accept-Language": "en"})
        response = connection.getresponse()
        body = response.read().decode()
        assert response.status == 503 and "database cannot be reached" in body
        assert "Traceback" not in body
        assert request(server.port, "/").status in (200, 404)  # the public site still up
    finally:
        server.stop()


@pytest.mark.slow
def test_the_daemon_serves_the_admin_and_sends_what_it_queues(
        tmp_path: Path, smtp_server: SmtpServer) -> None:
    """``rnmail run`` with ``in_daemon``: the admin in the daemon's loop wakes its sender
    (the send interval is long: only the wake-up can send within the test's wait)."""
    path, secret = install(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server,
                           extra="in_daemon = true\n[daemon]\npoll_seconds = 300\n"
                                 "send_seconds = 300\nstop_seconds = 10\n",
                           secure_cookies=True)  # the harness's client keeps them on HTTP
    add_members(tmp_path / "rnmail.toml", "ops", ("ops@ops.example", "fr"))
    config = load_config(path)
    db = Database(config.database.url)
    admin = Admin(tmp_path, db, smtp_server, int(config.web.bind.rpartition(":")[2]),
                  int(config.web.admin_bind.rpartition(":")[2]), secret)
    log = tmp_path / "run.log"
    try:
        with running_daemon(path, log):
            until(lambda: "status administration on" in log.read_text(), timeout=30)
            csrf = admin.signed_in()
            reply = admin.post("/admin/status", [*status_fields(csrf, "degraded", ("ops",),
                                                               {"fr": "Lenteurs"}),
                                                 ("confirm", "1")])
            assert reply.status == 303
            [mail] = wait_for_mail(admin.smtp, 1)
            assert mail["To"].addresses[0].addr_spec == "ops@ops.example"  # type: ignore[attr-defined]
    finally:
        db.dispose()
    text = log.read_text()
    assert f"status administration on {admin.base}" in text and "Traceback" not in text
    assert "rnmail run: the admin's cookies are Secure" in text  # HTTPS needed in front


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(
        tmp_path: Path, smtp_server: SmtpServer) -> None:
    """192.0.2.0/24 (TEST-NET-1, a documentation range) only appears in headers here."""
    path, secret = install(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server,
                           extra='trusted_proxies = ["127.0.0.0/8", "10.0.0.0/24"]\n')
    config = load_config(path)
    db = Database(config.database.url)
    server = Server(config)
    admin = Admin(tmp_path, db, smtp_server, server.port,
                  int(config.web.admin_bind.rpartition(":")[2]), secret)
    try:
        for forwarded, seen in (("192.0.2.7", "192.0.2.7"),
                                ("198.51.100.1, 192.0.2.8, 10.0.0.3", "192.0.2.8"),
                                ("not-an-address", "127.0.0.1"),
                                ("10.0.0.9", "127.0.0.1")):  # only proxies: the connection
            form = admin.get("/admin/login")
            admin.post("/admin/login", [("csrf", form.csrf()), ("operator", "alice"),
                                        ("password", "wrong password!"), ("code", "000000")],
                       X_Forwarded_For=forwarded)
            assert admin.audit("login-failed")[-1].client == seen, forwarded
    finally:
        server.stop()
        db.dispose()


def test_without_trusted_proxies_a_forwarded_address_is_ignored(admin: Admin) -> None:
    form = admin.get("/admin/login")
    admin.post("/admin/login", [("csrf", form.csrf()), ("operator", "alice"),
                                ("password", "wrong password!"), ("code", "000000")],
               X_Forwarded_For="192.0.2.7")
    assert [e.client for e in admin.audit("login-failed")] == ["127.0.0.1"]


def test_rnmail_web_serves_the_admin_on_admin_bind(tmp_path: Path,
                                                   smtp_server: SmtpServer) -> None:
    path, _secret = install(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server)
    port = free_port()
    proc, _line = start_cli(path, "--admin-bind", f"127.0.0.1:{port}")  # the option wins
    with stopped_at_the_end(proc):
        assert proc.stderr is not None
        assert proc.stderr.readline().decode() == (
            f"rnmail web: status administration on http://127.0.0.1:{port}/admin/\n")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/admin/login")
        response = connection.getresponse()
        assert response.status == 200 and b'id="login"' in response.read()
        connection.close()


def test_admin_bind_is_checked(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db",
                        extra='[web]\nadmin_bind = "8081"\n')
    with pytest.raises(ConfigError, match=r"\[web\].admin_bind '8081'"):
        load_config(path)
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db",
                        extra="[web]\nsession_hours = 0\n")
    with pytest.raises(ConfigError, match=r"session_hours: at least 1"):
        load_config(path)
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db",
                        extra='[web]\ntrusted_proxies = ["proxy.example"]\n')
    with pytest.raises(ConfigError, match=r"trusted_proxies: 'proxy.example' is not an IP"):
        load_config(path)
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db")
    result = rnmail(path, "web", "--admin-bind", "x")
    assert result.code == 1 and "--admin-bind 'x'" in result.output
    assert "Traceback" not in result.output


def test_doctor_checks_the_admin_can_be_used_safely(tmp_path: Path,
                                                   smtp_server: SmtpServer) -> None:
    from rnmail.ops.doctor import run_checks

    path, _secret = install(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", smtp_server)

    def check() -> tuple[bool, str]:
        [found] = [c for c in run_checks(path) if c.name == "web admin"]
        return found.ok, found.detail

    ok, detail = check()
    assert ok and "1 operator(s) with a second factor" in detail and "loopback" in detail
    db = Database(f"sqlite:///{tmp_path}/rnmail.db")
    with db.transaction() as session:
        operators.disable_operator(session, "alice")
    db.dispose()
    assert check() == (False, "no active operator has a second factor: nobody can sign in "
                              "(rnmail operator totp NAME)")
    text = path.read_text()
    path.write_text(re.sub(r'admin_bind = "127.0.0.1:(\d+)"', r'admin_bind = "0.0.0.0:\1"',
                           text))
    ok, detail = check()
    assert not ok and "cookies would travel in clear" in detail


# --------------------------------------------------------------------------- in Chromium


def fill(browser: Browser, values: dict[str, str | bool]) -> None:
    """Type into the fields (by id) as a person would; tick or untick checkboxes."""
    for field_id, value in values.items():
        target = json.dumps(field_id)
        if isinstance(value, bool):
            browser.evaluate(f"document.getElementById({target}).checked = {str(value).lower()}")
        else:
            browser.evaluate(f"document.getElementById({target}).value = {json.dumps(value)}")


def text(browser: Browser, selector: str = "main") -> str:
    found: str = browser.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText"
                                  " ?? ''")
    return found


def sign_in(browser: Browser, admin: Admin, base: str, password: str = PASSWORD,
            code: str | None = None) -> None:
    browser.navigate(f"{base}login")
    fill(browser, {"operator-name": "alice", "password": password,
                   "code": admin.code() if code is None else code})
    browser.submit("#login")


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the page, not storage
def test_in_a_browser_an_operator_sets_the_status_and_users_are_told(
        admin: Admin, artifacts: Path) -> None:
    add_members(admin.path, "municipalities", ("bevolking@zuid.example", "nl"),
                ("population@sud.example", "fr"), ("einwohner@ost.example", "de"))
    base, public = admin.base, admin.public_url
    shots = artifacts / "status-page"
    with chromium_or_fail() as browser:
        browser.navigate(public)
        browser.screenshot(shots / "operational.png")
        assert browser.evaluate(SEEN)["fr"]["banner"] == VERBATIM["operational"]["fr"]

        # A wrong key: refused, still on the sign-in page.
        good = pyotp.TOTP(admin.secret).now()
        sign_in(browser, admin, base, code=f"{(int(good) + 1) % 1_000_000:06d}")
        assert "wrong operator name, password or code" in text(browser, "#problem")
        assert browser.evaluate("location.pathname") == "/admin/login"

        # A form whose CSRF token was taken out: refused.
        browser.navigate(f"{base}login")
        browser.evaluate("document.querySelector('input[name=csrf]').remove()")
        fill(browser, {"operator-name": "alice", "password": PASSWORD, "code": admin.code()})
        browser.submit("#login")
        assert "CSRF" in text(browser, "#problem")

        # Password and key: signed in.
        sign_in(browser, admin, base)
        assert browser.evaluate("location.pathname") == "/admin/"
        assert text(browser, "#operator") == "Signed in as alice"
        assert browser.evaluate("document.cookie") == ""  # HttpOnly: not readable by scripts
        assert "municipalities — 3 recipients" in text(browser, "#status-form")
        assert csp_messages(browser) == []  # the stylesheet allowed, nothing else needed
        assert browser.evaluate(
            "getComputedStyle(document.querySelector('header')).backgroundColor"
        ) == "rgb(31, 58, 95)"

        browser.screenshot(artifacts / "admin" / "dashboard.png")
        # The switch: Dutch, then back to English (the browser's own language).
        browser.follow("#languages a[hreflang=nl]")
        assert text(browser, "#operator") == "Aangemeld als alice"
        assert "Positie wijzigen" in text(browser)
        browser.screenshot(artifacts / "admin" / "dashboard-nl.png")
        browser.navigate(f"{base}?lang=en")

        # Down, with a comment in each language, to the municipalities.
        fill(browser, {"state-down": True, "status-comment-nl": COMMENTS["nl"],
                       "status-comment-fr": COMMENTS["fr"], "status-comment-de": COMMENTS["de"],
                       "status-group-municipalities": True})
        browser.submit("#status-form")
        assert "3 recipients in municipalities" in text(browser, "#recipients")
        browser.screenshot(artifacts / "admin" / "confirm.png")
        browser.submit("#confirm-form")
        assert browser.evaluate("location.pathname").startswith("/admin/announcements/")
        mails = wait_for_mail(admin.smtp, 3)
        assert {m["To"].addresses[0].addr_spec for m in mails} == {  # type: ignore[attr-defined]
            "bevolking@zuid.example", "population@sud.example", "einwohner@ost.example"}

        # The public page says it, in each language, with the comment.
        for language in ("nl", "fr", "de"):
            browser.navigate(f"{public}{language}")
            sections = browser.evaluate(SEEN)
            shown = [lang for lang, s in sections.items() if s["shown"]]
            assert shown == [language]
            assert sections[language]["banner"] == VERBATIM["down"][language]
            assert COMMENTS[language] in sections[language]["text"]
        browser.navigate(public)
        browser.screenshot(shots / "down.png")

        # Degraded, then the page shows it; then back to operational.
        browser.navigate(f"{base}")
        fill(browser, {"state-degraded": True, "status-comment-fr": "Lenteurs"})
        browser.submit("#status-form")
        browser.submit("#confirm-form")
        assert browser.evaluate("location.search") == "?done=status"
        browser.navigate(public)
        assert browser.evaluate(SEEN)["nl"]["banner"] == VERBATIM["degraded"]["nl"]
        browser.screenshot(shots / "degraded.png")

        browser.navigate(f"{base}audit")
        log = text(browser, "#audit")
        assert "status-set" in log and "127.0.0.1" in log and "login-failed" in log
        browser.screenshot(artifacts / "admin" / "audit.png")

        # Sign out: the dashboard is closed again.
        browser.navigate(base)
        browser.submit("form.inline")
        assert browser.evaluate("location.pathname") == "/admin/login"
        browser.navigate(base)
        assert browser.evaluate("location.pathname") == "/admin/login"
    for name in ("operational", "degraded", "down"):
        assert (shots / f"{name}.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the page, not storage
def test_in_a_browser_the_sixth_failed_sign_in_is_refused(admin: Admin) -> None:
    base = admin.base
    with chromium_or_fail() as browser:
        for _ in range(5):
            sign_in(browser, admin, base, password="not the password", code="000000")
            assert "wrong operator name" in text(browser, "#problem")
        sign_in(browser, admin, base)
        assert "too many failed sign-ins for 'alice'" in text(browser, "#problem")
        assert browser.evaluate("location.pathname") == "/admin/login"


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the page, not storage
def test_in_a_browser_cancelling_a_maintenance_asks_first(admin: Admin, artifacts: Path) -> None:
    """The cancel button shows what it will do and whom it will mail; Back changes
    nothing; only the confirmation cancels and mails the groups."""
    add_members(admin.path, "municipalities", ("bevolking@zuid.example", "nl"),
                ("population@sud.example", "fr"), ("einwohner@ost.example", "de"))
    csrf = admin.signed_in()
    scheduled = admin.post("/admin/maintenance", [
        ("csrf", csrf), ("start", "2031-03-05T18:00"), ("duration", "2h"),
        ("group", "municipalities"), ("confirm", "1")])
    assert scheduled.status == 303
    wait_for_mail(admin.smtp, 3)
    [event] = admin.audit("maintenance-schedule")
    number = event.detail["maintenance"]
    form = f'form[action="/admin/maintenance/{number}/cancel"]'
    with chromium_or_fail() as browser:
        sign_in(browser, admin, admin.base)
        browser.submit(form)  # the one click
        assert browser.evaluate("location.pathname") == f"/admin/maintenance/{number}/cancel"
        assert f"maintenance #{number}" in text(browser, "#cancelled")
        assert "3 recipients in municipalities" in text(browser, "#recipients")
        assert text(browser, "#group-counts tbody") == "municipalities\t3\tde 1, fr 1, nl 1"
        subjects = text(browser, "#subjects")
        assert "La maintenance prévue le 05/03/2031 de 18:00 à 20:00 est annulée" in subjects
        assert "geannuleerd" in subjects and "abgesagt" in subjects.lower()
        browser.screenshot(artifacts / "admin" / "cancel-confirm.png")
        time.sleep(0.5)
        assert len(admin.smtp.messages) == 3 and admin.audit("maintenance-cancel") == []
        browser.follow("#back")
        assert browser.evaluate("location.pathname") == "/admin/"
        assert browser.evaluate(f"!!document.getElementById('cancel-{number}')")

        browser.submit(form)
        browser.submit("#confirm-form")
        assert browser.evaluate("location.pathname").startswith("/admin/announcements/")
        wait_for_mail(admin.smtp, 6)
        [cancelled] = admin.audit("maintenance-cancel")
        assert cancelled.actor == "alice" and cancelled.recipients == 3
        browser.navigate(admin.base)
        assert not browser.evaluate(f"!!document.getElementById('cancel-{number}')")


def test_the_confirmation_counts_the_requesters_told_when_the_incident_ends(
        admin: Admin) -> None:
    """``notify_linked`` mails requesters: the confirmation says how many, as the command
    line's preview does, and says nobody when the change ends no incident."""
    from rnmail.config import WorkflowConfig
    from rnmail.models import IncidentTicket, OutboxMessage
    from rnmail.tickets.history import Actor
    from rnmail.tickets.lifecycle import open_by_hand

    csrf = admin.signed_in()
    assert admin.post("/admin/status", [*status_fields(csrf, "down"),
                                        ("confirm", "1")]).status == 303
    with admin.db.transaction() as session:
        incident = session.scalar(select(func.max(IncidentTicket.incident_id))) or 1
        for n, requester in enumerate(("jean@example.org", "an@example.org", "+32 2 555 01 00")):
            ticket = open_by_hand(session, WorkflowConfig(), "fr", actor=Actor.system("test"),
                                  channel="phone" if requester.startswith("+") else "mail",
                                  requester=requester, subject=f"Panne {n}", note="Bonjour")
            session.flush()
            session.add(IncidentTicket(incident_id=incident, ticket_id=ticket.id))
    ending = [*status_fields(csrf, "operational"), ("notify_linked", "1")]
    page = admin.post("/admin/status", ending)
    linked = page.text[page.text.index('id="linked"'):].split("</dd>")[0]
    assert "2 told that the incident is over" in linked  # the phone ticket has no address
    partly = admin.post("/admin/status", [*status_fields(csrf, "degraded"),
                                          ("notify_linked", "1")])
    assert "nobody: this change ends no incident" in partly.text
    assert set(admin.states().values()) == {"down"}  # the previews changed nothing
    with admin.db.transaction() as session:  # the preview changed and queued nothing
        assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.purpose == "incident-solved")) == 0
    assert admin.post("/admin/status", [*ending, ("confirm", "1")]).status == 303
    with admin.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.purpose == "incident-solved")) == 2
