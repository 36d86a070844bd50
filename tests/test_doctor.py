"""`rnmail doctor` against the real servers: every check on its own line, exit 1 on a failure."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from rnmail.db import MIGRATIONS
from rnmail.ops.doctor import Check, run_checks
from tests.harness.factories import write_config
from tests.harness.install import install, rnmail
from tests.harness.servers import Dovecot, SmtpServer, TokenServer, free_port

HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()  # the newest schema


def imap_block(imap: Dovecot, password: str = "secret", user: str = "info",
               extra: str = "") -> str:
    return f"""[[mailbox]]
name = "info"
host = "{imap.host}"
port = {imap.port}
user = "{user}"
password = "{password}"
timeout = 5
{extra}"""


def smtp_block(host: str, port: int) -> str:
    return f"""[smtp]
host = "{host}"
port = {port}
timeout = 5"""


def good_config(tmp_path: Path, db_url: str, imap: Dovecot, smtp: SmtpServer,
                password: str = "secret", smtp_port: int | None = None,
                helpdesk_public: Path | None = None, extra: str = "") -> Path:
    path = write_config(
        tmp_path, db_url, mailbox=imap_block(imap, password),
        smtp=smtp_block(smtp.host, smtp_port or smtp.port),
        extra=f'[status]\npublic_dir = "{tmp_path / "status"}"\n\n{extra}')
    # [helpdesk] is written by write_config: add its public_dir there.
    public = helpdesk_public or tmp_path / "public"
    text = path.read_text().replace(
        'attachments_dir = "attachments"\n',
        f'attachments_dir = "attachments"\npublic_dir = "{public}"\n', 1)
    path.write_text(text)
    return path


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def init(config: Path) -> None:
    code, _, err = rnmail(config, "init")
    assert code == 0, err


def test_all_ok_on_a_good_config(tmp_path: Path, db_url: str, imap: Dovecot,
                                 smtp_server: SmtpServer) -> None:
    config = good_config(tmp_path, db_url, imap, smtp_server)
    init(config)
    imap.append("info", b"Subject: hello\r\n\r\nbody\r\n")
    code, out, err = rnmail(config, "doctor")
    assert code == 0, out + err
    lines = out.splitlines()
    assert all(line.startswith("ok   ") for line in lines), out
    assert lines[0].startswith("ok   config: ")
    assert f"ok   database: schema {HEAD} (newest)" in lines
    assert any(line.startswith("ok   imap info: ") and "1 message(s)" in line
               and "done folder 'Processed'" in line for line in lines), out
    assert any(line.startswith("ok   smtp: ") and "connected" in line for line in lines), out
    assert f"ok   helpdesk public_dir: {tmp_path / 'public'} writable" in lines
    assert f"ok   status public_dir: {tmp_path / 'status'} writable" in lines
    names = [line.split(":")[0][5:] for line in lines]
    for template in ("acknowledgement", "notification", "answer", "delegation",
                     "phone_message", "staff_error", "staff_unsent", "status_change",
                     "maintenance",
                     "incident_solved", "circular"):
        assert f"template {template}" in names
    assert smtp_server.count() == 0  # connected and quit, sent nothing
    assert not list((tmp_path / "public").iterdir())  # the probe is gone

    code, out, _ = rnmail(config, "doctor", "--json")
    rows = json.loads(out)
    assert code == 0 and all(set(r) == {"name", "ok", "detail"} and r["ok"] for r in rows)


def test_wrong_imap_password_fails_that_check_only(tmp_path: Path, imap: Dovecot,
                                                   smtp_server: SmtpServer) -> None:
    config = good_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", imap, smtp_server,
                         password="wrong")
    init(config)
    code, out, err = rnmail(config, "doctor")
    assert code == 1
    assert "Traceback" not in out + err
    [line] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert line.startswith("FAIL imap info: ")
    assert "login refused for user 'info'" in line
    assert "ok   smtp: " in out and "ok   database: " in out  # the others still ran
    checks = by_name(run_checks(config))
    assert not checks["imap info"].ok and checks["template circular"].ok


def test_missing_folder_and_done_folder(tmp_path: Path, imap: Dovecot,
                                        smtp_server: SmtpServer) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db",
                          mailbox=imap_block(imap, extra='done_folder = "Archive/Done"'),
                          smtp=smtp_block(smtp_server.host, smtp_server.port))
    check = by_name(run_checks(config))["imap info"]
    assert check.ok and "'Archive/Done' missing, will be created" in check.detail

    config = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db",
                          mailbox=imap_block(imap, extra='folder = "Nowhere"'),
                          smtp=smtp_block(smtp_server.host, smtp_server.port))
    check = by_name(run_checks(config))["imap info"]
    assert not check.ok and "folder 'Nowhere' does not exist" in check.detail


def test_xoauth2_login_through_the_token_command(tmp_path: Path, oauth_imap: Dovecot,
                                                 token_server: TokenServer) -> None:
    token = token_server.issue("helpdesk")
    command = shlex.join([sys.executable, "-c", f"print({token!r})"]).replace('"', '\\"')
    mailbox = f"""[[mailbox]]
name = "m365"
host = "{oauth_imap.host}"
port = {oauth_imap.port}
user = "helpdesk"
auth = "xoauth2"
token_command = "{command}"
timeout = 5"""
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", mailbox=mailbox)
    check = by_name(run_checks(config))["imap m365"]
    assert check.ok, check.detail
    assert "logged in as 'helpdesk' (xoauth2)" in check.detail

    token_server.revoke(token)
    check = by_name(run_checks(config))["imap m365"]
    assert not check.ok and "login refused for user 'helpdesk' (xoauth2)" in check.detail


def test_smtp_port_with_nothing_listening(tmp_path: Path, imap: Dovecot,
                                          smtp_server: SmtpServer) -> None:
    port = free_port()
    config = good_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", imap, smtp_server,
                         smtp_port=port)
    init(config)
    code, out, err = rnmail(config, "doctor")
    assert code == 1 and "Traceback" not in out + err
    [line] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert line.startswith(f"FAIL smtp: 127.0.0.1:{port}: cannot connect: ")
    assert "ok   imap info: " in out


def test_file_transport_and_maildir(tmp_path: Path) -> None:
    """write_config's embedded set-up: a Maildir drop folder and the file transport."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db")
    checks = by_name(run_checks(config))
    assert not checks["maildir info"].ok and "does not exist" in checks["maildir info"].detail
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "maildir" / sub).mkdir(parents=True)
    (tmp_path / "maildir/new/a.eml").write_bytes(b"Subject: x\n\nx\n")
    checks = by_name(run_checks(config))
    assert checks["maildir info"].ok and "1 message(s) waiting" in checks["maildir info"].detail
    assert checks["smtp"].ok and "file transport" in checks["smtp"].detail


def test_database_not_initialised(tmp_path: Path, db_url: str, imap: Dovecot,
                                  smtp_server: SmtpServer) -> None:
    config = good_config(tmp_path, db_url, imap, smtp_server)
    code, out, err = rnmail(config, "doctor")
    assert code == 1 and "Traceback" not in out + err
    [line] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert line.startswith("FAIL database: ")
    assert f"expected schema {HEAD}" in line and "run `rnmail init`" in line
    assert "ok   imap info: " in out and "ok   smtp: " in out


def test_database_behind_the_code(tmp_path: Path, db_url: str) -> None:
    """A schema at an older revision: say which one is there and which is expected."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from rnmail.db import MIGRATIONS, Database

    db = Database(db_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0004")
    db.dispose()
    config = write_config(tmp_path, db_url)
    check = by_name(run_checks(config))["database"]
    assert not check.ok
    assert check.detail == f"schema 0004, expected schema {HEAD}: run `rnmail init`"
    init(config)
    assert by_name(run_checks(config))["database"] == Check("database", True,
                                                            f"schema {HEAD} (newest)")


def test_unreachable_database(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, f"postgresql+psycopg://rn:pw@127.0.0.1:{port}/rn")
    check = by_name(run_checks(config))["database"]
    assert not check.ok and "cannot connect" in check.detail and "pw" not in check.detail


def test_unwritable_public_dir(tmp_path: Path, imap: Dovecot, smtp_server: SmtpServer) -> None:
    # Under a regular file: not a directory even for root (CI runs the tests as root).
    (tmp_path / "afile").write_text("not a directory\n")
    config = good_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", imap, smtp_server,
                         helpdesk_public=tmp_path / "afile" / "sub")
    init(config)
    code, out, err = rnmail(config, "doctor")
    assert code == 1 and "Traceback" not in out + err
    [line] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert line.startswith(f"FAIL helpdesk public_dir: {tmp_path / 'afile' / 'sub'}: ")
    assert f"ok   status public_dir: {tmp_path / 'status'} writable" in out


def test_broken_mailing_template(tmp_path: Path, imap: Dovecot,
                                 smtp_server: SmtpServer) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "broken.fr.j2").write_text(
        "{% block subject %}Objet{% endblock %}\n{% block text %}\n{% if x %}\n{% endblock %}\n")
    (templates / "letter.fr.j2").write_text(  # needs --var deadline: given when sending
        "{% block subject %}{{ subject }}{% endblock %}\n"
        "{% block text %}Avant le {{ deadline }}.{% endblock %}\n")
    config = good_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", imap, smtp_server,
                         extra=f'[dispatch]\ntemplates_dir = "{templates}"\n')
    init(config)
    code, out, err = rnmail(config, "doctor")
    assert code == 1 and "Traceback" not in out + err
    [line] = [line for line in out.splitlines() if line.startswith("FAIL")]
    # nl, de and en fall back to the broken French one
    assert line.startswith("FAIL template broken: fr, nl, de, en: broken.fr.j2, line 4: "
                           "syntax error: ")
    assert "ok   template letter: renders in fr, nl, de, en (fr, nl, de, en: needs --var: " \
           "'deadline' is undefined)" in out.splitlines()
    assert "ok   template circular: " in out


def test_config_error_is_the_only_check(tmp_path: Path) -> None:
    path = tmp_path / "rnmail.toml"
    path.write_text('[helpdesk]\naddress = "info@rn.example"\n')  # no secret
    code, out, err = rnmail(path, "doctor")
    assert code == 1 and "Traceback" not in out + err
    assert out == "FAIL config: [helpdesk]: missing required key 'secret'\n"
    code, out, _ = rnmail(path, "doctor", "--json")
    assert code == 1
    assert json.loads(out) == [{"name": "config", "ok": False,
                                "detail": "[helpdesk]: missing required key 'secret'"}]
    code, out, _ = rnmail(tmp_path / "missing.toml", "doctor")
    assert code == 1 and out.startswith("FAIL config: config file ") and "not found" in out


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_to_a_plain_server_fails_cleanly(tmp_path: Path, imap: Dovecot,
                                             smtp_server: SmtpServer, security: str) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db",
                          mailbox=imap_block(imap, extra=f'security = "{security}"'),
                          smtp=smtp_block(smtp_server.host, smtp_server.port)
                          + f'\nsecurity = "{security}"')
    checks = by_name(run_checks(config))
    assert not checks["imap info"].ok and not checks["smtp"].ok
    assert "\n" not in checks["imap info"].detail + checks["smtp"].detail


GATEWAY = "mx.rn.example"


def through_gateway(results: str, forged: str = "", n: int = 0) -> bytes:
    """A citizen's mail as the gateway hands it over: its ``Authentication-Results`` on
    top, then whatever the sender wrote (``forged``)."""
    lines = [results] if results else []
    lines += [f"Received: from mail.citizen.example by {GATEWAY}; Mon, 7 Dec 2026 09:00:00 +0100",
              *([forged] if forged else []),
              "From: Jean Dupont <jean.dupont@citizen.example>", "To: info@rn.example",
              f"Subject: Carte d'identite {n}",
              f"Message-ID: <gw{n}.{len(results)}@citizen.example>",
              "Date: Mon, 7 Dec 2026 09:00:00 +0100", "", "Bonjour, ma carte est bloquee.", ""]
    return "\r\n".join(lines).encode()


def gateway_check(config: Path, db_url: str, extra: str = "") -> Check:
    """The doctor's sender authentication line with ``extra`` as the [ingest] settings (the
    config rewritten in the same folder: same database and blobs)."""
    write_config(config.parent, db_url, extra=extra)
    return by_name(run_checks(config))["sender authentication"]


def test_the_gateway_setting_is_checked_against_the_mails_it_wrote(
        tmp_path: Path, db_url: str) -> None:
    """The topmost Authentication-Results of the last mails name the gateway: unset, the
    doctor names it; set to it, fine; set to another id (a typo, an old gateway), a
    failure, since then no mail gets a verdict and forged senders pass unnoticed. A header
    the sender wrote further down never counts, whatever id it claims."""
    site = install(tmp_path, db_url)
    unset = gateway_check(site.path, db_url)
    assert unset.ok
    assert unset.detail == "no mail received yet to compare with the gateway's settings"
    top = (f"Authentication-Results: {GATEWAY.upper()}; spf=pass "
           "smtp.mailfrom=citizen.example; dmarc=pass")
    site.deliver(through_gateway(top, n=1))
    site.deliver(through_gateway(top, "Authentication-Results: mx.old.example; dmarc=pass", n=2))
    # A mail the gateway passed without its header: the sender's own is the topmost there.
    site.deliver(through_gateway("", "Authentication-Results: mx.forger.test; dmarc=pass", n=3))
    unset = gateway_check(site.path, db_url)
    assert unset.ok and f'set trusted_authserv_id = "{GATEWAY}"' in unset.detail, unset.detail
    assert f"'{GATEWAY}' in 2, 'mx.forger.test' in 1" in unset.detail

    right = gateway_check(site.path, db_url, f'[ingest]\ntrusted_authserv_id = "{GATEWAY}"')
    assert right.ok and right.detail == f"'{GATEWAY}' on 2 of the last 3 mail(s)", right.detail

    for wrong in ("mx.old.example", "mx.rn.example.invalid", "rn.example"):
        check = gateway_check(site.path, db_url, f'[ingest]\ntrusted_authserv_id = "{wrong}"')
        assert not check.ok, wrong
        assert check.detail.startswith(f"[ingest] gateway '{wrong}' wrote the topmost ")
        assert "none of the last 3 mail(s)" in check.detail and "forged senders" in check.detail

    # Microsoft 365 writes no authserv-id: trusted_without_authserv_id takes those.
    site.deliver(through_gateway("Authentication-Results: spf=pass (sender IP is 192.0.2.1) "
                                 "smtp.mailfrom=citizen.example; dmarc=pass action=none", n=4))
    m365 = gateway_check(site.path, db_url, "[ingest]\ntrusted_without_authserv_id = true")
    assert m365.ok and m365.detail == "no authserv-id on 1 of the last 4 mail(s)", m365.detail
    _, out, _ = rnmail(site.path, "doctor")
    assert "ok   sender authentication: no authserv-id on 1 of the last 4 mail(s)" in out
    site.close()
