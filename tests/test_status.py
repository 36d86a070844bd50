"""Operators, the audit log, the system status, incidents and what they tell users — through
the real CLI, a real SMTP server (aiosmtpd on loopback) and real Maildir ingest, on SQLite
and PostgreSQL.

Every authenticated command costs one argon2id check (a few hundred ms on a busy machine),
so each test uses as few of them as it can.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cli.app import TWO_PROCESSES_FROM
from rnmail.auth import operators
from rnmail.i18n.banners import BANNER_LANGUAGES, banner
from rnmail.models import (
    Announcement,
    AuditEvent,
    Incident,
    IncidentTicket,
    Maintenance,
    Operator,
    OutboxMessage,
    utcnow,
)
from tests.harness.install import Installation, add_members, install
from tests.harness.mail import html_of, text_of
from tests.harness.servers import SmtpServer
from tests.harness.statuspage import EXTRA, PASSWORD, REFUSED, WRONG

# The register's banners, read through the catalogue API (rnmail.i18n.banners).
BANNERS = {state: {lang: banner(state, lang) for lang in BANNER_LANGUAGES}
           for state in ("operational", "degraded", "down")}

DATA = Path(__file__).parent / "data"
# Three requests from the corpus, one per language of the status page.
REQUESTS = {
    "nl": ("lang_nl_gemeente_toegangssleutel.eml", "bevolking@gemeente.example",
           "<a8f3c2e1-77d0-4c2b-9e55-0b1c2d3e4f50@gemeente.example>"),
    "fr": ("lang_fr_citizen_cle_bloquee.eml", "jean.dupont@citizen.example",
           "<20250303091231.4711@citizen.example>"),
    "de": ("lang_de_gemeinde_zugangsschluessel.eml", "einwohnermeldeamt@gemeinde.example",
           "<3b9d77a0e1f2@gemeinde.example>"),
}


@pytest.fixture
def site(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Installation]:
    site = install(tmp_path, db_url, smtp_server, extra=EXTRA, operator=("alice", PASSWORD))
    yield site
    site.close()


def published(site: Installation) -> dict[str, Any]:
    """The status page's status.json as published."""
    data: dict[str, Any] = json.loads((site.root / "public" / "status.json").read_text())
    return data


# --------------------------------------------------------------------------- operators


def test_operators_are_stored_as_argon2id_hashes_and_listed(site: Installation) -> None:
    # By prompt (asked twice), as a person would.
    code, out, _ = site.run("operator", "add", "bob", input=f"{PASSWORD}2\n{PASSWORD}2\n")
    assert code == 0 and "operator bob added" in out
    # A confirmation that differs is asked again; at the end of input nothing is created.
    code, out, _ = site.run("operator", "add", "carol", input=f"{PASSWORD}\nsomething else!\n")
    assert code != 0 and "do not match" in out
    code, _, err = site.run("operator", "add", "dave", "--password-stdin", input="short\n")
    assert code == 1 and "at least 10 characters" in err
    code, _, err = site.run("operator", "add", "alice", "--password-stdin",
                            input=PASSWORD + "\n")
    assert code == 1 and "already exists" in err

    listed = site.json("operator", "list")
    assert [(o["name"], o["active"]) for o in listed] == [("alice", True), ("bob", True)]
    assert "alice" in site.ok("operator", "list") and "active" in site.ok("operator", "list")
    with site.db.transaction() as session:
        hashes = {o.name: o.password_hash for o in session.scalars(select(Operator))}
    assert set(hashes) == {"alice", "bob"}
    for stored in hashes.values():
        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored
    assert hashes["alice"] != hashes["bob"]
    # The passwords are nowhere in the audit log either.
    log = site.ok("audit", "--json")
    assert PASSWORD not in log and "operator-add" in log

    # passwd: the new password works, the old one is refused.
    before = hashes["alice"]
    new = "a brand new passphrase"
    code, out, _ = site.run("operator", "passwd", "alice", "--password-stdin", input=new + "\n")
    assert code == 0 and "password of alice changed" in out
    with site.db.transaction() as session:
        after = session.scalars(select(Operator.password_hash)
                                .where(Operator.name == "alice")).one()
    assert after != before and after.startswith("$argon2id$") and new not in after
    code, _, err = site.as_operator("status", "set", "degraded")
    assert code == 1 and err.strip() == REFUSED
    code, _, _ = site.as_operator("status", "set", "degraded", password=new)
    assert code == 0
    code, _, err = site.run("operator", "passwd", "nobody", "--password-stdin",
                            input=new + "\n")
    assert code == 1 and "no operator 'nobody'" in err


def test_the_second_factor_is_a_totp_each_code_accepted_once(site: Installation) -> None:
    import pyotp

    out = site.ok("operator", "totp", "alice")
    uri = out.splitlines()[0]
    assert uri.startswith("otpauth://totp/rnmail:alice?secret=") and "issuer=rnmail" in uri
    assert "█" in out or "▀" in out or "▄" in out  # the QR code, drawn in the terminal
    assert site.audit("operator-totp")[0]["detail"] == {"operator": "alice"}
    secret = pyotp.parse_uri(uri).secret
    now = 1_800_000_000.0
    totp = pyotp.TOTP(secret)
    with site.db.transaction() as session:
        alice = operators.get_operator(session, "alice")
        key = operators.TotpCipher(site.config.helpdesk.secret)
        assert alice.totp_secret and key.open(alice.totp_secret) == secret
        assert secret not in alice.totp_secret  # stored encrypted
        assert not operators.check_totp(alice, "000000" if totp.at(now) != "000000"
                                        else "111111", at=now, cipher=key)
        assert not operators.check_totp(alice, "12345", at=now, cipher=key)  # not six digits
        assert operators.check_totp(alice, totp.at(now - 30), at=now, cipher=key)  # drift
        assert operators.check_totp(alice, totp.at(now), at=now, cipher=key)
        assert not operators.check_totp(alice, totp.at(now), at=now, cipher=key)  # replayed
        assert not operators.check_totp(alice, totp.at(now - 30), at=now + 1,
                                        cipher=key)  # older step
        assert not operators.check_totp(alice, totp.at(now - 90), at=now,
                                        cipher=key)  # too old
    new_uri = site.ok("operator", "totp", "alice", "--no-qr").strip()
    assert new_uri != uri and pyotp.parse_uri(new_uri).secret != secret  # a new device
    with site.db.transaction() as session:
        alice = operators.get_operator(session, "alice")
        assert not operators.check_totp(alice, totp.at(now + 30), at=now + 30,
                                        cipher=key)  # old device
        assert alice.totp_secret
        new_secret = key.open(alice.totp_secret)
        assert new_secret
        assert operators.check_totp(alice, pyotp.TOTP(new_secret).at(now + 30),
                                    at=now + 30, cipher=key)
    code, _, err = site.run("operator", "totp", "nobody")
    assert code == 1 and "no operator 'nobody'" in err


def test_a_wrong_password_is_refused_for_every_protected_command(site: Installation) -> None:
    add_members(site.path, "ops", ("ops-nl@ops.example", "nl"), ("ops-fr@ops.example", "fr"))
    with site.db.transaction() as session:  # a maintenance to try to cancel
        session.add(Maintenance(starts_at=utcnow() + timedelta(days=30),
                                ends_at=utcnow() + timedelta(days=30, hours=2),
                                components=["natural-persons"], groups=["ops"], comment={},
                                created_by="alice"))
    site.ok("status", "publish")
    page = (site.root / "public" / "status.json").read_bytes()
    shown = site.json("status", "show")
    commands = [
        ("status", "set", "--yes", "down", "--comment", "Panne", "--notify", "ops"),
        ("maintenance", "schedule", "--yes", "--start", "2099-06-01 18:00", "--duration", "2h",
         "--groups", "ops"),
        ("maintenance", "cancel", "--yes", "1"),
        ("announce", "--yes", "--template", "circular", "--groups", "ops", "--var", "body=Bonjour"),
    ]
    for command in commands:
        code, out, err = site.as_operator(*command, password=WRONG)
        assert code == 1, command
        assert err.strip() == REFUSED and "\n" not in err.strip(), command
        assert "announcement" not in out
    # Nothing changed, nothing was queued or sent, the page was not rewritten.
    assert (site.root / "public" / "status.json").read_bytes() == page
    assert site.json("status", "show")["components"] == shown["components"]
    assert site.count(OutboxMessage) == 0 and site.count(Announcement) == 0
    assert site.count(Incident) == 0 and site.count(Maintenance) == 1
    assert [m["state"] for m in site.json("maintenance", "list", "--all")] == ["scheduled"]
    assert site.smtp.messages == []
    failures = site.audit("login-failed")
    assert len(failures) == 4
    assert all(e["actor"] == "alice" and e["success"] is False for e in failures)
    assert {e["action"] for e in site.audit()} == {"operator-add", "login-failed"}
    assert "REFUSED" in site.ok("audit", "--action", "login-failed")


def test_unknown_and_disabled_operators_are_refused_the_same_way(site: Installation) -> None:
    code, _, err = site.as_operator("status", "set", "down", name="mallory")
    assert code == 1 and err.strip() == REFUSED
    site.ok("operator", "disable", "alice")
    assert site.json("operator", "list")[0]["active"] is False
    code, _, err = site.as_operator("status", "set", "down")  # the right password
    assert code == 1 and err.strip() == REFUSED
    assert site.json("status", "show")["overall"] == "operational"
    assert [(e["actor"], e["success"]) for e in site.audit("login-failed")] == [
        ("alice", False), ("mallory", False)]
    # passwd enables the operator again.
    site.ok("operator", "passwd", "alice", "--password-stdin", input=PASSWORD + "\n")
    code, _, _ = site.as_operator("status", "set", "down")
    assert code == 0 and site.json("status", "show")["overall"] == "down"
    # Without --operator (and without $RNMAIL_OPERATOR) the command does not run.
    code, _, err = site.run("status", "set", "operational")
    assert code == 2 and "--operator" in err


def test_repeated_failures_lock_the_name_out_for_the_configured_time(site: Installation) -> None:
    site.ok("operator", "add", "bob", "--password-stdin", input=PASSWORD + "\n")
    for _ in range(4):  # [operators] max_failures = 4
        code, _, err = site.as_operator("status", "set", "down", password=WRONG)
        assert code == 1 and err.strip() == REFUSED
    code, _, err = site.as_operator("status", "set", "down")  # right password, locked name
    assert code == 1
    [line] = err.strip().splitlines()
    assert "too many failed passwords for 'alice'" in line and "10 minutes" in line
    assert site.json("status", "show")["overall"] == "operational"
    assert [e["success"] for e in site.audit("login-locked")] == [False]
    # The lock is the name's: another operator is not locked out.
    code, _, _ = site.as_operator("status", "set", "degraded", name="bob")
    assert code == 0
    # Once the failures are older than lockout_minutes, the right password works again.
    with site.db.transaction() as session:
        for event in session.scalars(select(AuditEvent).where(
                AuditEvent.action == "login-failed")):
            event.at = event.at - timedelta(minutes=11)
    code, _, _ = site.as_operator("status", "set", "down")
    assert code == 0 and site.json("status", "show")["overall"] == "down"
    assert [e["actor"] for e in site.audit("status-set")] == ["alice", "bob"]


def test_operator_unlock_and_passwd_let_a_locked_operator_in_at_once(
        site: Installation) -> None:
    """During an outage the lockout cannot be waited out: ``operator unlock`` (audited) or a
    new password lets the name in again; later failures count afresh."""
    def lock_out() -> None:
        for _ in range(4):  # [operators] max_failures = 4
            assert site.as_operator("status", "set", "down", password=WRONG)[0] == 1
        code, _, err = site.as_operator("status", "set", "down")
        assert code == 1 and "too many failed passwords for 'alice'" in err

    lock_out()
    out = site.ok("operator", "unlock", "alice", "--by", "ops.night")
    assert "operator alice unlocked" in out and "4 failed attempt(s)" in out
    [event] = site.audit("operator-unlock")
    assert event["detail"] == {"operator": "alice", "by": "ops.night"}
    code, _, _ = site.as_operator("status", "set", "degraded")
    assert code == 0 and site.json("status", "show")["overall"] == "degraded"
    lock_out()  # the failures after the unlock count again, from zero
    site.ok("operator", "passwd", "alice", "--password-stdin", input=PASSWORD + "\n")
    code, _, _ = site.as_operator("status", "set", "operational")
    assert code == 0 and site.json("status", "show")["overall"] == "operational"
    assert "no operator 'mallory'" in site.fails("operator", "unlock", "mallory")


def test_password_prompt_in_a_real_process(site: Installation) -> None:
    """Without --password-stdin the password is asked for (no terminal: read from stdin)."""
    env = {**os.environ, "RNMAIL_OPERATOR": "alice"}
    rnmail = [sys.executable, "-c", "from cli.main import main; main()", "--config",
              str(site.path)]
    cwd = Path(__file__).parent.parent

    def call(password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*rnmail, "status", "set", "degraded", "--comment", "Lent"],
                              input=password + "\n", capture_output=True, text=True, env=env,
                              cwd=cwd, timeout=60, start_new_session=True)

    refused = call(WRONG)
    assert refused.returncode == 1 and REFUSED in refused.stderr
    assert "Traceback" not in refused.stderr
    accepted = call(PASSWORD)
    assert accepted.returncode == 0, accepted.stderr
    assert "status: degraded" in accepted.stdout
    assert published(site)["overall"] == "degraded"
    [event] = site.audit("status-set")
    assert event["actor"] == "alice"


# --------------------------------------------------------------------------- status


def test_status_show_and_status_json_have_the_same_shape(site: Installation) -> None:
    code, out, _ = site.as_operator(
        "status", "set", "degraded", "--component", "natural-persons",
        "--comment", "Lenteur", "--comment-nl", "Traag tot 14u", "--comment-de", "Langsam")
    assert code == 0 and "status: degraded" in out
    shown = site.json("status", "show")
    assert shown["overall"] == "degraded" and shown["updated_at"]
    assert [(c["name"], c["state"]) for c in shown["components"]] == [
        ("natural-persons", "degraded"), ("web-services", "operational")]
    first = shown["components"][0]
    assert first["comment"] == "Traag tot 14u"
    assert first["comments"] == {"nl": "Traag tot 14u", "fr": "Lenteur", "de": "Langsam"}
    assert shown["components"][1]["comment"] == ""
    page = published(site)
    assert set(page) == set(shown)
    assert {k: v for k, v in page.items() if k != "generated_at"} == {
        k: v for k, v in shown.items() if k != "generated_at"}
    text = site.ok("status", "show")
    assert "overall: degraded" in text and "natural-persons" in text

    # Overall is the worst component.
    code, _, _ = site.as_operator("status", "set", "down", "--component", "web-services")
    assert code == 0
    assert site.json("status", "show")["overall"] == "down" == published(site)["overall"]

    # publish regenerates the files.
    for name in ("status.json", "index.html", "feed.atom"):
        (site.root / "public" / name).unlink()
    assert "published" in site.ok("status", "publish")
    assert published(site)["overall"] == "down"
    assert (site.root / "public" / "index.html").exists()

    # Unknown component or state: a clear error, nothing changed.
    before = published(site)
    code, _, err = site.as_operator("status", "set", "operational", "--component", "mainframe")
    assert code == 1
    assert err.strip() == ("Error: unknown component 'mainframe' "
                           "(known: natural-persons, web-services)")
    code, _, err = site.run("status", "set", "broken", "--operator", "alice")
    assert code == 2 and "'broken' is not one of 'operational', 'degraded', 'down'" in err
    assert published(site) == before
    assert site.json("status", "show")["overall"] == "down"
    assert len(site.audit("status-set")) == 2


def test_incident_opens_records_updates_and_resolves(site: Installation) -> None:
    def incidents() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = site.json("status", "show")["incidents"]
        return found

    site.as_operator("status", "set", "operational")  # nothing wrong: no incident
    assert incidents() == [] and site.count(Incident) == 0
    steps = [("degraded", "natural-persons", "Traag"), ("down", "web-services", "Plat"),
             ("operational", "natural-persons", ""), ("operational", "web-services", "")]
    for number, (state, component, comment) in enumerate(steps, 1):
        args = ["status", "set", state, "--component", component]
        if comment:
            args += ["--comment", comment]
        code, out, err = site.as_operator(*args, "--json")
        assert code == 0, err
        result = json.loads(out)
        assert result["incident_id"] == 1
        assert result["resolved"] is (number == 4)
        [incident] = incidents()
        assert incident["id"] == 1 and len(incident["updates"]) == number
        assert (incident["resolved_at"] is None) is (number < 4)
        newest = incident["updates"][0]  # newest first
        assert (newest["state"], newest["components"]) == (state, [component])
    assert [u["state"] for u in reversed(incidents()[0]["updates"])] == [
        "degraded", "down", "operational", "operational"]
    assert published(site)["incidents"] == incidents()

    # Leaving operational again opens a new incident.
    site.as_operator("status", "set", "degraded")
    assert [(i["id"], i["resolved_at"] is None) for i in incidents()] == [(2, True), (1, False)]

    # Every change is in the audit log: who, what, which incident, how many recipients.
    events = list(reversed(site.audit("status-set")))
    assert len(events) == 6
    assert all(e["actor"] == "alice" and e["recipients"] == 0 and e["at"] for e in events)
    assert [e["detail"]["state"] for e in events] == [
        "operational", "degraded", "down", "operational", "operational", "degraded"]
    assert [e["detail"]["incident"] for e in events] == [None, 1, 1, 1, 1, 2]
    assert [e["detail"]["resolved"] for e in events] == [False] * 4 + [True, False]
    assert events[1]["detail"]["comment"] == {"nl": "Traag", "fr": "Traag", "de": "Traag"}
    assert events[5]["detail"]["components"] == ["natural-persons", "web-services"]


def test_a_large_notice_is_sent_by_two_processes_each_mail_once(site: Installation) -> None:
    """From TWO_PROCESSES_FROM mails the foreground send forks a second sender (on
    PostgreSQL; one sender on SQLite): every member gets the notice exactly once, and the
    report counts both processes' replies."""
    n = TWO_PROCESSES_FROM + 10
    members = [f"population{i:04d}@municipality{i % 40}.example" for i in range(n - 2)]
    members += ["reject@refused.example", "tempfail@later.example"]  # see SmtpServer
    sheet = site.root / "lists" / "everyone.csv"
    sheet.parent.mkdir(exist_ok=True)
    sheet.write_text("email,name,language\n" + "".join(f"{m},Service,fr\n" for m in members))
    site.ok("lists", "import", str(sheet))
    code, _, err = site.as_operator("status", "set", "down", "--comment", "panne",
                                      "--notify", "everyone", "--yes")
    assert code == 0, err
    assert f"{n - 2} sent, 1 deferred, 1 failed" in err
    delivered = [to for envelope in site.smtp.messages for to in envelope.rcpt_tos]
    assert sorted(delivered) == sorted(members[:-2])
    with site.db.transaction() as session:
        states = dict(session.execute(select(OutboxMessage.state, func.count())
                                      .group_by(OutboxMessage.state)).all())
    assert states == {"sent": n - 2, "queued": 1, "failed": 1}


def test_outage_notice_reaches_every_member_in_their_language(site: Installation) -> None:
    add_members(site.path, "municipalities", ("bevolking@zuid.example", "nl"),
                ("population@rochebois.example", "fr"), ("bevoelkerung@muehl.example", "de"))
    add_members(site.path, "police-zones", ("pz@police.example", "nl"),
                ("population@rochebois.example", "fr"))  # in both groups: mailed once
    code, out, err = site.as_operator(
        "status", "set", "down", "--component", "natural-persons", "--comment", "ca. 14:00",
        "--comment-nl", "Terug rond 14u", "--comment-fr", "Retour vers 14h",
        "--notify", "municipalities,police-zones", "--yes")
    assert code == 0, err
    assert "announcement #1 queued" in out and "4 sent, 0 deferred, 0 failed" in err
    # Done when the command returns: the page is down and every mail has been delivered.
    assert published(site)["overall"] == "down"
    mails = site.mails()
    assert sorted(m["To"].addresses[0].addr_spec for m in mails) == [
        "bevoelkerung@muehl.example", "bevolking@zuid.example", "population@rochebois.example",
        "pz@police.example"]
    assert all(len(m.rcpt_tos) == 1 for m in site.smtp.messages)
    comments = {"nl": "Terug rond 14u", "fr": "Retour vers 14h", "de": "ca. 14:00"}
    words = {"nl": "Toegang tot de natuurlijke personen", "fr": "Accès aux personnes physiques",
             "de": "Zugang zu natürlichen Personen"}
    for mail in mails:
        to = mail["To"].addresses[0].addr_spec
        lang = {"bevolking@zuid.example": "nl", "pz@police.example": "nl",
                "population@rochebois.example": "fr", "bevoelkerung@muehl.example": "de"}[to]
        assert mail["Content-Language"] == lang
        assert mail["Subject"] == {
            "nl": "[Rijksregister] Onderbreking van de dienstverlening",
            "fr": "[Registre national] Interruption du service",
            "de": "[Nationalregister] Unterbrechung des Dienstes"}[lang]
        assert mail.get_content_type() == "multipart/alternative"
        # One function out of service, not the whole register: the banner says which.
        down = {"nl": "Deze functionaliteiten van het Rijksregister zijn momenteel buiten "
                      "dienst: Toegang tot de natuurlijke personen.",
                "fr": "Ces fonctionnalités du Registre national sont momentanément hors "
                      "service : Accès aux personnes physiques.",
                "de": "Diese Funktionen des Nationalregisters sind momentan außer Betrieb: "
                      "Zugang zu natürlichen Personen."}
        for body in (text_of(mail), html_of(mail)):
            assert down[lang] in body and BANNERS["down"][lang] not in body
            assert comments[lang] in body and words[lang] in body
        for other in {"nl", "fr", "de"} - {lang}:
            assert BANNERS["down"][other] not in text_of(mail)
        group = "police-zones" if to == "pz@police.example" else "municipalities"
        assert mail["List-Id"] == f"<{group}.rn.example>"
        assert mail["Auto-Submitted"] == "auto-generated"
        assert mail["List-Unsubscribe"] is None
        assert mail["From"].addresses[0].addr_spec == "info@rn.example"

    [event] = site.audit("status-set")
    assert event["recipients"] == 4 and event["actor"] == "alice"
    assert event["detail"]["groups"] == ["municipalities", "police-zones"]
    assert event["detail"]["announcement"] == 1
    status = site.json("announce", "status", "1")
    assert status["kind"] == "outage" and status["incident_id"] == 1
    assert status["counts"]["sent"] == 4 and status["finished"] is True

    # The end of the outage, told to the same groups, in their languages.
    site.smtp.clear()
    code, _, _ = site.as_operator("status", "set", "--yes", "operational",
                                  "--notify", "municipalities,police-zones")
    assert code == 0 and published(site)["overall"] == "operational"
    back = {m["Content-Language"]: m for m in site.mails()}
    assert set(back) == {"nl", "fr", "de"} and len(site.mails()) == 4
    for lang, mail in back.items():
        assert BANNERS["operational"][lang] in text_of(mail)


# --------------------------------------------------------------------------- tickets


def test_acknowledgements_mention_the_disturbance_and_requesters_hear_it_is_over(
        site: Installation) -> None:
    code, _, _ = site.as_operator(
        "status", "set", "degraded", "--component", "natural-persons",
        "--comment-nl", "Trage antwoorden", "--comment-fr", "Réponses lentes",
        "--comment-de", "Langsame Antworten")
    assert code == 0
    site.drop(*((DATA / name).read_bytes() for name, _, _ in REQUESTS.values()))
    assert "3 ticket" in site.ok("ingest", "once")
    tickets = {t["requester"]: t for t in site.json("ticket", "list")}
    ids = {lang: tickets[address]["id"] for lang, (_, address, _) in REQUESTS.items()}
    assert {lang: tickets[a]["language"] for lang, (_, a, _) in REQUESTS.items()} == {
        "nl": "nl", "fr": "fr", "de": "de"}
    site.ok("outbox", "send")
    acks = {m["In-Reply-To"]: m for m in site.mails()}
    comments = {"nl": "Trage antwoorden", "fr": "Réponses lentes", "de": "Langsame Antworten"}
    for lang, (_, address, message_id) in REQUESTS.items():
        ack = acks[message_id]
        assert ack["To"].addresses[0].addr_spec == address
        assert ack["Auto-Submitted"] == "auto-replied"
        assert f"[RN #{ids[lang]}]" in ack["Subject"]
        degraded = {
            "nl": "Het Rijksregister is operationeel maar deze functionaliteiten zijn verstoord: "
                  "Toegang tot de natuurlijke personen.",
            "fr": "Le Registre national est opérationnel mais ces fonctionnalités sont "
                  "perturbées : Accès aux personnes physiques.",
            "de": "Das Nationalregister ist betriebsbereit, bei diesen Funktionen treten "
                  "allerdings Störungen auf: Zugang zu natürlichen Personen."}
        for body in (text_of(ack), html_of(ack)):
            assert degraded[lang] in body
            assert comments[lang] in body
    with site.db.transaction() as session:
        links = {(row.incident_id, row.ticket_id, row.notified_at)
                 for row in session.scalars(select(IncidentTicket))}
    assert links == {(1, ticket_id, None) for ticket_id in ids.values()}

    # The French requester writes again during the incident: same ticket, not a new link.
    followup = EmailMessage()
    followup["From"] = "Jean Dupont <jean.dupont@citizen.example>"
    followup["To"] = "info@rn.example"
    followup["Subject"] = f"Re: [RN #{ids['fr']}] Clé d'accès bloquée"
    followup["Date"] = "Tue, 04 Mar 2025 10:00:00 +0100"
    followup["Message-ID"] = "<relance-1@citizen.example>"
    followup["In-Reply-To"] = REQUESTS["fr"][2]
    followup["References"] = REQUESTS["fr"][2]
    followup.set_content("Bonjour, ma clé d'accès est toujours bloquée ce matin. Merci.")
    site.drop(followup.as_bytes())
    assert "1 message(s): 1 reply" in site.ok("ingest", "once")
    assert len(site.json("ticket", "list")) == 3 and site.count(IncidentTicket) == 3

    # The end of the incident: each requester is told in their thread and language. First
    # what it would do: three requesters mailed, so asked for as any mass mail.
    site.smtp.clear()
    code, out, err = site.as_operator("status", "set", "operational", "--notify-linked",
                                      "--dry-run")
    assert code == 0, err
    assert "requesters told the incident is over: 3" in out and "mail: nobody" in out
    code, out, _ = site.as_operator("status", "set", "operational", "--notify-linked",
                                    "--dry-run", "--json")
    planned = json.loads(out)
    assert planned["linked_requesters"] == 3 and planned["preview"]["recipients"] == 0
    code, out, err = site.as_operator("status", "set", "operational", "--notify-linked")
    assert code == 1 and "this mails 3 recipient(s) and there is no terminal" in err
    assert site.json("status", "show")["overall"] == "degraded"  # nothing changed
    assert site.count(OutboxMessage, OutboxMessage.purpose == "incident-solved") == 0
    code, out, err = site.as_operator("status", "set", "operational", "--notify-linked",
                                      "--yes")
    assert code == 0, err
    assert "3 requester(s) told the incident is over" in out
    solved = {m["To"].addresses[0].addr_spec: m for m in site.mails()}
    assert len(site.mails()) == 3
    expected_parent = {**{lang: mid for lang, (_, _, mid) in REQUESTS.items()},
                       "fr": "<relance-1@citizen.example>"}
    for lang, (_, address, first_id) in REQUESTS.items():
        mail = solved[address]
        assert mail["In-Reply-To"] == expected_parent[lang]
        assert first_id in mail["References"]
        assert f"[RN #{ids[lang]}]" in mail["Subject"]
        assert mail["Content-Language"] == lang
        assert {"nl": "Opgelost", "fr": "Résolu", "de": "Behoben"}[lang] in mail["Subject"]
        history = site.json("ticket", "show", str(ids[lang]))["messages"]
        out_mails = [m for m in history if m["direction"] == "out"
                     and m["message_id"] == mail["Message-ID"]]
        assert len(out_mails) == 1 and out_mails[0]["subject"] == mail["Subject"]
    with site.db.transaction() as session:
        assert all(row.notified_at is not None
                   for row in session.scalars(select(IncidentTicket)))
    [event] = [e for e in site.audit("status-set") if e["detail"]["resolved"]]
    assert event["detail"]["linked_notified"] == 3 and event["recipients"] == 3

    # A rerun does not tell anyone again (and mails nobody: nothing to ask).
    site.smtp.clear()
    code, out, _ = site.as_operator("status", "set", "operational", "--notify-linked")
    assert code == 0 and "requester(s) told" not in out
    assert site.mails() == [] and site.count(OutboxMessage, OutboxMessage.state == "queued") == 0

    # A request after the incident: a plain acknowledgement, no link.
    later = EmailMessage()
    later["From"] = "Marie Martin <marie.martin@citizen.example>"
    later["To"] = "info@rn.example"
    later["Subject"] = "Certificat de résidence"
    later["Date"] = "Wed, 05 Mar 2025 09:00:00 +0100"
    later["Message-ID"] = "<apres@citizen.example>"
    later.set_content("Bonjour, comment obtenir un certificat de résidence pour ma fille ? "
                      "Je vous remercie d'avance pour votre réponse.")
    site.drop(later.as_bytes())
    site.ok("ingest", "once")
    site.ok("outbox", "send")
    [ack] = site.mails()
    assert ack["In-Reply-To"] == "<apres@citizen.example>"
    for state in ("degraded", "down"):
        assert BANNERS[state]["fr"] not in text_of(ack)
    assert site.count(IncidentTicket) == 3

    # A second incident ends: only its own tickets' requesters are told, once.
    site.as_operator("status", "set", "down", "--component", "web-services")
    site.drop((DATA / "lang_en_plain_ascii.eml").read_bytes())
    site.ok("ingest", "once")
    site.ok("outbox", "send")
    site.smtp.clear()
    code, out, _ = site.as_operator("status", "set", "operational", "--notify-linked",
                                    "--yes")
    assert code == 0 and "1 requester(s) told" in out
    [told] = site.mails()
    assert told["To"].addresses[0].addr_spec == "j.smith@expat.example"
    assert told["In-Reply-To"] == "<CAE+example-12345@mail.expat.example>"


def test_linked_requesters_are_told_even_when_the_notified_group_is_empty(
        site: Installation) -> None:
    add_members(site.path, "empty", ("gone@ops.example", "nl"))
    site.ok("lists", "remove", "empty", "gone@ops.example")
    site.as_operator("status", "set", "down")
    site.drop((DATA / REQUESTS["nl"][0]).read_bytes())
    site.ok("ingest", "once")
    site.ok("outbox", "send")
    site.smtp.clear()
    code, out, err = site.as_operator("status", "set", "operational", "--notify", "empty",
                                      "--notify-linked", "--yes")
    assert code == 0, err
    assert "1 requester(s) told" in out
    [mail] = site.mails()  # sent before the command returned, like every other notice
    assert mail["In-Reply-To"] == REQUESTS["nl"][2]
    assert site.count(OutboxMessage, OutboxMessage.state == "queued") == 0


def test_a_forgotten_notify_linked_can_be_given_with_the_next_operational(
        site: Installation) -> None:
    site.as_operator("status", "set", "down")
    site.drop((DATA / REQUESTS["nl"][0]).read_bytes())
    site.ok("ingest", "once")
    site.ok("outbox", "send")
    site.smtp.clear()
    site.as_operator("status", "set", "operational")  # the incident ends; nobody told
    assert site.mails() == []
    code, out, err = site.as_operator("status", "set", "operational", "--notify-linked",
                                      "--dry-run")
    assert "requesters told the incident is over: 1" in out  # the incident ended before
    code, out, err = site.as_operator("status", "set", "operational", "--notify-linked",
                                      "--yes")
    assert code == 0, err
    assert "1 requester(s) told" in out
    [mail] = site.mails()
    assert mail["In-Reply-To"] == REQUESTS["nl"][2]
    code, out, _ = site.as_operator("status", "set", "operational", "--notify-linked")
    assert code == 0 and "requester(s) told" not in out  # each ticket once


# --------------------------------------------------------------------------- maintenance


def test_maintenance_schedule_and_cancel_are_audited_with_their_recipients(
        site: Installation) -> None:
    add_members(site.path, "ops", ("ops-nl@ops.example", "nl"), ("ops-de@ops.example", "de"))
    code, out, err = site.as_operator(
        "maintenance", "schedule", "--yes", "--start", "2099-06-01 18:00", "--duration", "3h",
        "--component", "web-services", "--groups", "ops", "--comment", "Upgrade")
    assert code == 0, err
    assert "maintenance #1 scheduled; 2 recipient(s) notified" in out
    assert {m["Content-Language"] for m in site.mails()} == {"nl", "de"}
    code, out, err = site.as_operator("maintenance", "cancel", "--yes", "1")
    assert code == 0, err
    assert "2 recipient(s) notified" in out
    assert len(site.mails()) == 4
    cancel, schedule = site.audit("maintenance-cancel") + site.audit("maintenance-schedule")
    assert (schedule["actor"], schedule["recipients"]) == ("alice", 2)
    assert schedule["detail"]["components"] == ["web-services"]
    assert schedule["detail"]["groups"] == ["ops"]
    assert (cancel["actor"], cancel["recipients"], cancel["detail"]) == (
        "alice", 2, {"maintenance": 1})
    assert [m["state"] for m in site.json("maintenance", "list", "--all")] == ["cancelled"]
