"""Announcements (document mailings to user groups) and their templates — through the real
CLI and a real SMTP server (aiosmtpd on loopback), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rnmail.i18n.banners import BANNER_LANGUAGES, banner
from rnmail.models import Announcement, AuditEvent, OutboxBody, OutboxMessage
from tests.harness.install import Installation, add_members, install
from tests.harness.mail import html_of, text_of
from tests.harness.servers import SmtpServer
from tests.harness.statuspage import EXTRA, PASSWORD, REFUSED, WRONG

# The register's banners, read through the catalogue API (rnmail.i18n.banners).
BANNERS = {state: {lang: banner(state, lang) for lang in BANNER_LANGUAGES}
           for state in ("operational", "degraded", "down")}

SHIPPED = Path(__file__).parent.parent / "lists"
GREETING = {"nl": "Geachte mevrouw, geachte heer,", "fr": "Madame, Monsieur,",
            "de": "Sehr geehrte Damen und Herren,", "en": "Dear Sir or Madam,"}
MEMBERS = {"bevolking@zuid.example": "nl", "population@rochebois.example": "fr",
           "bevoelkerung@muehl.example": "de", "identity@office.example": "en"}
DEFAULT_SUBJECT = {"nl": "Mededeling van het Rijksregister",
                   "fr": "Communication du Registre national",
                   "de": "Mitteilung des Nationalregisters",
                   "en": "Communication from the National Register"}
# A custom mailing template, in [dispatch].templates_dir, only in fr and nl.
CUSTOM = """{% block subject %}Échéance {{ deadline }}{% endblock %}
{% block text %}
Rappel ({{ language }}) : répondre avant le {{ deadline }}.
{% endblock %}
{% block html %}{% autoescape true %}<p>Rappel : avant le {{ deadline }}.</p>{% endautoescape %}
{% endblock %}
"""


@pytest.fixture
def site(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Installation]:
    templates = tmp_path / "templates"
    templates.mkdir()
    for lang in ("fr", "nl"):
        (templates / f"deadline.{lang}.j2").write_text(CUSTOM)
    extra = EXTRA + '\n[dispatch]\ntemplates_dir = "templates"\n'
    site = install(tmp_path, db_url, smtp_server, extra=extra, operator=("alice", PASSWORD))
    yield site
    site.close()


def announce(site: Installation, *args: str, password: str = PASSWORD) -> tuple[int, str, str]:
    return site.as_operator("announce", "--yes", *args, password=password)


def rows_written(site: Installation) -> tuple[int, int, int, int]:
    return (site.count(Announcement), site.count(OutboxMessage), site.count(OutboxBody),
            site.count(AuditEvent))


def test_mailing_reaches_each_member_in_their_language_with_intact_attachments(
        site: Installation) -> None:
    add_members(site.path, "ops", *MEMBERS.items(), ("reject-me@ops.example", "fr"))
    pdf = site.root / "omzendbrief.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 400 + b"\r\n%%EOF\n")
    table = site.root / "tarifs-2026 é.csv"
    table.write_bytes("code;libellé\r\n1;clé d'accès\r\n".encode("cp1252"))
    body = 'Nouvelle procédure.\n\nVoir <script>alert("x")</script> & annexes.'
    code, out, err = announce(site, "--template", "circular", "--groups", "ops",
                              "--attach", str(pdf), "--attach", str(table),
                              "--var", "subject=Circulaire 2026/07", "--var", "reference=RN-7",
                              "--var", f"body={body}")
    assert code == 0, err
    assert "announcement #1: 5 recipient(s) queued" in out
    assert "4 sent, 0 deferred, 1 failed" in err  # the sink refuses reject-me (550)

    mails = {m["To"].addresses[0].addr_spec: m for m in site.mails()}
    assert set(mails) == set(MEMBERS)
    assert all(len(m.rcpt_tos) == 1 for m in site.smtp.messages)
    assert len({m["Message-ID"] for m in mails.values()}) == 4
    for address, lang in MEMBERS.items():
        mail = mails[address]
        assert mail["Content-Language"] == lang
        assert mail["Subject"] == "Circulaire 2026/07"
        assert mail["List-Id"] == "<ops.rn.example>"
        assert mail["Auto-Submitted"] == "auto-generated"
        assert mail["List-Unsubscribe"] is None and mail["Precedence"] == "bulk"
        assert mail.get_content_type() == "multipart/mixed"
        text, html = text_of(mail), html_of(mail)
        assert GREETING[lang] in text and GREETING[lang] in html
        assert "RN-7" in text
        assert '<script>alert("x")</script> & annexes.' in text  # plain text as written
        assert "<script>" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; annexes." in html
        files = {part.get_filename(): part for part in mail.iter_attachments()}
        assert set(files) == {"omzendbrief.pdf", "tarifs-2026 é.csv"}
        assert files["omzendbrief.pdf"].get_content_type() == "application/pdf"
        assert files["omzendbrief.pdf"].get_payload(decode=True) == pdf.read_bytes()
        assert files["tarifs-2026 é.csv"].get_payload(decode=True) == table.read_bytes()

    # The shared part is stored once per language, not once per recipient.
    with site.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxBody)) == 4
        personal = list(session.scalars(select(func.length(OutboxMessage.raw))))
    assert len(personal) == 5 and max(personal) < 2000 < len(pdf.read_bytes())

    status = site.json("announce", "status", "1")
    assert (status["kind"], status["template"], status["groups"], status["operator"]) == (
        "mailing", "circular", ["ops"], "alice")
    assert status["recipients"] == 5 and status["finished"] is True
    assert status["counts"] == {"queued": 0, "sending": 0, "sent": 4, "failed": 1,
                                "bounced": 0, "suppressed": 0}
    line = site.ok("announce", "status", "1")
    assert "finished" in line and "4 sent" in line and "1 failed" in line
    [listed] = site.json("announce", "list")
    assert (listed["id"], listed["recipients"], listed["groups"]) == (1, 5, ["ops"])
    assert "circular" in site.ok("announce", "list")
    [event] = site.audit("announce")
    assert (event["actor"], event["recipients"]) == ("alice", 5)
    assert event["detail"] == {"announcement": 1, "template": "circular", "groups": ["ops"],
                               "attachments": ["omzendbrief.pdf", "tarifs-2026 é.csv"]}
    code, _, err = site.run("announce", "status", "99")
    assert code == 1 and "no announcement #99" in err


def test_dry_run_and_queue_to_the_shipped_municipalities(site: Installation) -> None:
    assert "municipalities: 589 member(s)" in site.ok(
        "lists", "import", str(SHIPPED / "municipalities.csv"))
    letter = site.root / "brief.pdf"
    letter.write_bytes(bytes(range(256)) * 1024)  # 256 KiB
    args = ("--template", "circular", "--groups", "municipalities", "--attach", str(letter),
            "--var", "subject=Adreswijziging", "--var", "body=Zie bijlage.")
    before = rows_written(site)
    # --dry-run needs no password: the summary first (counts per language, subjects),
    # then one sample per language; the 589 addresses only on request.
    out = site.ok("announce", *args, "--dry-run")
    summary = out.split("\n-- sample", 1)[0].splitlines()
    assert summary == [
        "mailing: template circular, 1 attachment(s): brief.pdf",
        "mail: 589 recipient(s) in municipalities (de 27, fr 262, nl 300)",
        "subjects:", "  de: Adreswijziging", "  fr: Adreswijziging", "  nl: Adreswijziging"]
    assert out.count("-- sample for ") == 3
    for lang in ("nl", "fr", "de"):
        assert f"-- sample for {lang} --" in out and GREETING[lang] in out
    assert out.count("Subject: Adreswijziging") == 3
    assert "bevolking@zuiddonkode.example" not in out and len(out.splitlines()) < 100
    listed = site.ok("announce", *args, "--dry-run", "--recipients")
    assert listed.startswith(out)
    assert "bevolking@zuiddonkode.example  nl" in listed and "[municipalities]" in listed
    assert len(listed.splitlines()) > 589
    assert rows_written(site) == before and site.smtp.messages == []

    code, out, err = announce(site, *args, "--queue-only")
    assert code == 0, err
    assert "589 recipient(s) queued" in out and site.smtp.messages == []
    with site.db.transaction() as session:
        bodies = list(session.scalars(select(func.length(OutboxBody.data))))
        raw = session.scalar(select(func.sum(func.length(OutboxMessage.raw))))
    assert len(bodies) == 3 and all(size > 256 * 1024 for size in bodies)
    assert raw is not None and raw < 589 * 2000  # no copy of the PDF per recipient
    status = site.json("announce", "status", "1")
    assert status["counts"]["queued"] == 589 and status["finished"] is False
    assert site.count(OutboxMessage, OutboxMessage.announcement_id == 1) == 589


def test_test_to_sends_one_sample_per_language_to_that_address_only(site: Installation) -> None:
    add_members(site.path, "ops", *MEMBERS.items())
    code, out, err = announce(site, "--template", "circular", "--groups", "ops",
                              "--var", "body=Essai", "--test-to", "Proef@RN.example")
    assert code == 0, err
    assert "4 recipient(s) queued" in out
    # The domain is normalised (email-validator), the local part kept as written.
    assert all(m.rcpt_tos == ["Proef@rn.example"] for m in site.smtp.messages)
    mails = site.mails()
    assert sorted(m["Content-Language"] for m in mails) == ["de", "en", "fr", "nl"]
    for mail in mails:
        assert GREETING[mail["Content-Language"]] in text_of(mail)
        # a test is marked as one: nobody takes it for the mailing itself
        assert mail["Subject"] == "[TEST] " + DEFAULT_SUBJECT[mail["Content-Language"]]
    [event] = site.audit("announce-test")
    assert event["recipients"] == 4 and event["detail"]["to"] == "Proef@rn.example"
    assert site.json("announce", "status", "1")["kind"] == "test"
    code, _, err = announce(site, "--template", "circular", "--groups", "ops",
                            "--var", "body=Essai", "--test-to", "not an address")
    assert code == 1 and "--test-to 'not an address' is not a valid address" in err
    assert len(site.smtp.messages) == 4 and site.count(Announcement) == 1


def test_announcement_errors_are_clear_and_change_nothing(site: Installation) -> None:
    add_members(site.path, "ops", *MEMBERS.items())
    dry = ("--groups", "ops", "--dry-run")
    code, _, err = site.run("announce", "--template", "circular", *dry)
    assert code == 1 and err.strip() == (
        "Error: template 'circular': 'body' is undefined; give it with --var NAME=VALUE")
    code, _, err = site.run("announce", "--template", "deadline", *dry)
    assert code == 1 and "'deadline' is undefined" in err
    code, _, err = site.run("announce", "--template", "nope", "--var", "body=x", *dry)
    assert code == 1 and err.strip() == "Error: no template 'nope' (see `rnmail template list`)"
    code, _, err = site.run("announce", "--template", "circular", "--var", "body=x",
                            "--groups", "ops,nobody", "--dry-run")
    assert code == 1 and err.strip() == "Error: no group 'nobody' (known: ops)"
    code, _, err = site.run("announce", "--template", "circular", "--var", "body", *dry)
    assert code == 2 and "use NAME=VALUE" in err
    code, _, err = site.run("announce", "--template", "circular", "--groups", "ops",
                            "--var", "body=x")
    assert code == 2 and "sending needs --operator" in err
    # The same mistakes when sending: refused after the password, nothing queued or sent.
    code, _, err = announce(site, "--template", "circular", "--groups", "ops")
    assert code == 1 and "'body' is undefined" in err
    code, _, err = announce(site, "--template", "circular", "--groups", "nobody",
                            "--var", "body=x")
    assert code == 1 and "no group 'nobody'" in err
    code, _, err = announce(site, "--template", "circular", "--groups", "ops",
                            "--var", "body=x", password=WRONG)
    assert code == 1 and err.strip() == REFUSED
    assert site.count(Announcement) == 0 and site.count(OutboxMessage) == 0
    assert site.smtp.messages == []
    assert {e["action"] for e in site.audit()} == {"operator-add", "login-failed"}


def test_custom_template_with_its_variable_and_language_fallback(site: Installation) -> None:
    add_members(site.path, "ops", ("bevolking@zuid.example", "nl"),
                ("bevoelkerung@muehl.example", "de"))
    code, _, err = announce(site, "--template", "deadline", "--groups", "ops",
                              "--var", "deadline=30/06/2026")
    assert code == 0, err
    mails = {m["To"].addresses[0].addr_spec: m for m in site.mails()}
    assert mails["bevolking@zuid.example"]["Content-Language"] == "nl"
    # No German version: the default language's (fr) is sent, labelled as such.
    assert mails["bevoelkerung@muehl.example"]["Content-Language"] == "fr"
    for mail in mails.values():
        assert mail["Subject"] == "Échéance 30/06/2026"
        assert "répondre avant le 30/06/2026" in text_of(mail)
        assert mail["List-Id"] == "<ops.rn.example>"


def test_template_list_and_preview(site: Installation) -> None:
    rows = {row["name"]: row for row in site.json("template", "list")}
    assert rows["circular"]["kind"] == "mailing"
    assert sorted(rows["circular"]["languages"]) == ["de", "en", "fr", "nl"]
    assert rows["deadline"]["kind"] == "mailing"
    assert sorted(rows["deadline"]["languages"]) == ["fr", "nl"]
    assert rows["deadline"]["directory"] == str(site.root / "templates")
    for name in ("status_change", "maintenance", "incident_solved"):
        assert rows[name]["kind"] == "notice"
        assert sorted(rows[name]["languages"]) == ["de", "en", "fr", "nl"]
    assert {"acknowledgement", "notification"}.isdisjoint(rows)
    listed = site.ok("template", "list")
    assert "circular" in listed and "deadline" in listed

    out = site.ok("template", "preview", "circular", "--lang", "nl",
                  "--var", "body=Beste <b>collega</b>", "--var", "subject=Omzendbrief")
    assert out.startswith("Subject: Omzendbrief\nContent-Language: nl\n")
    assert GREETING["nl"] in out and "Beste <b>collega</b>" in out
    html = site.ok("template", "preview", "circular", "--lang", "nl", "--html",
                   "--var", "body=Beste <b>collega</b>")
    assert "Beste &lt;b&gt;collega&lt;/b&gt;" in html and "<b>" not in html
    assert '<div lang="nl"' in html
    out = site.ok("template", "preview", "status_change", "--lang", "de")
    assert "Content-Language: de" in out and BANNERS["degraded"]["de"] in out
    out = site.ok("template", "preview", "incident_solved", "--lang", "fr")
    assert "Résolu" in out and "#1234" in out
    out = site.ok("template", "preview", "deadline", "--lang", "de", "--var", "deadline=1/7")
    assert "Content-Language: fr" in out and "Échéance 1/7" in out
    code, _, err = site.run("template", "preview", "circular", "--lang", "fr")
    assert code == 1 and "'body' is undefined" in err
    code, _, err = site.run("template", "preview", "nope", "--lang", "fr")
    assert code == 1 and "no template 'nope'" in err
    code, _, err = site.run("template", "preview", "circular", "--lang", "xx")
    assert code == 2


def test_queued_announcement_is_in_progress_until_the_outbox_is_sent(site: Installation) -> None:
    add_members(site.path, "ops", ("bevolking@zuid.example", "nl"))
    code, _, err = announce(site, "--template", "circular", "--groups", "ops",
                            "--var", "body=x", "--queue-only")
    assert code == 0, err
    status = json.loads(site.ok("announce", "status", "1", "--json"))
    assert status["counts"]["queued"] == 1 and status["finished"] is False
    assert "in progress" in site.ok("announce", "status", "1")
    site.ok("outbox", "send")
    assert site.json("announce", "status", "1")["finished"] is True
    [mail] = site.mails()
    assert mail["Content-Language"] == "nl"


# --------------------------------------------------------------------------- issue 16 A5


def test_an_unknown_variable_is_refused_with_the_templates_variables(
        site: Installation) -> None:
    """``--var subjet=...`` was dropped silently and the default subject sent."""
    add_members(site.path, "ops", *MEMBERS.items())
    refused = ("Error: template 'circular' has no variable 'subjet': its variables are "
               "body, reference, subject (each also per language, e.g. body.nl=...)")
    code, _, err = site.run("announce", "--template", "circular", "--groups", "ops",
                            "--var", "subjet=Circulaire 7", "--var", "body=x", "--dry-run")
    assert code == 1 and err.strip() == refused
    code, _, err = announce(site, "--template", "circular", "--groups", "ops",
                            "--var", "subjet=Circulaire 7", "--var", "body=x")
    assert code == 1 and err.strip() == refused
    code, _, err = announce(site, "--template", "deadline", "--groups", "ops",
                            "--var", "dealine=30/06")
    assert code == 1 and "its variables are deadline " in err
    code, _, err = announce(site, "--template", "circular", "--groups", "ops",
                            "--var", "body.xx=x")
    assert code == 1 and "--var body.xx: no language 'xx'" in err
    code, _, err = site.run("template", "preview", "circular", "--lang", "fr",
                            "--var", "subjet=x", "--var", "body=x")
    assert code == 1 and "has no variable 'subjet'" in err
    assert site.count(Announcement) == 0 and site.smtp.messages == []


def test_a_circular_per_language_falls_back_visibly(site: Installation) -> None:
    """The 27 German-speaking municipalities got a German greeting and a French body: now
    each language has its own subject and body, and one without gets another's, saying so."""
    add_members(site.path, "ops", *MEMBERS.items())
    german = site.root / "rundschreiben.txt"
    german.write_text("Das neue Verfahren gilt ab dem 1. Juli.\n", encoding="utf-8")
    args = ("--template", "circular", "--groups", "ops",
            "--var", "subject.fr=Circulaire 7", "--var", "subject.nl=Omzendbrief 7",
            "--var", "subject.de=Rundschreiben 7",
            "--var", "body.fr=La nouvelle procédure s'applique au 1er juillet.",
            "--var", "body.nl=De nieuwe procedure geldt vanaf 1 juli.",
            "--var-file", f"body.de={german}")
    out = site.ok("announce", *args, "--dry-run")
    assert "falls back: en (1): body in French, subject in French" in out.splitlines()
    assert "falls back: de" not in out
    code, _, err = announce(site, *args)
    assert code == 0, err
    mails = {m["Content-Language"]: m for m in site.mails()}
    assert {lang: str(m["Subject"]) for lang, m in mails.items()} == {
        "fr": "Circulaire 7", "nl": "Omzendbrief 7", "de": "Rundschreiben 7",
        "en": "Circulaire 7"}
    text = {lang: text_of(m) for lang, m in mails.items()}
    assert "Das neue Verfahren gilt ab dem 1. Juli." in text["de"]
    assert GREETING["de"] in text["de"] and "nur auf" not in text["de"]
    assert "De nieuwe procedure geldt vanaf 1 juli." in text["nl"]
    assert "beschikbaar" not in text["nl"]
    assert (f"{GREETING['en']}\n\nThe text of this letter is only available in French.\n\n"
            "La nouvelle procédure s'applique au 1er juillet.") in text["en"]
    html = html_of(mails["en"])
    assert "<em>The text of this letter is only available in French.</em>" in html
    assert '<p lang="fr">La nouvelle procédure' in html

    # --var-file LANG=FILE is short for the body in that language; a missing file is named
    nl = site.root / "nl.txt"
    nl.write_text("Zie bijlage.", encoding="utf-8")
    out = site.ok("announce", "--template", "circular", "--groups", "ops",
                  "--var", "body.fr=Voir l'annexe.", "--var-file", f"nl={nl}", "--dry-run")
    assert "falls back: de (1): body in French" in out.splitlines()
    assert "Zie bijlage." in out
    code, _, err = site.run("announce", "--template", "circular", "--groups", "ops",
                            "--var-file", "body.fr=/nonexistent/fr.txt", "--dry-run")
    assert code == 2 and "body.fr=/nonexistent/fr.txt" in err and "Traceback" not in err
