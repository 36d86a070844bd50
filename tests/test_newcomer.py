"""What a newcomer trying rnmail ran into (issue 16, F): the one-shot commands a script runs
print JSON with ``--json``, ``rnmail demo reply`` answers an outgoing mail on the
Maildir/file set-up so that the answer-by-mail workflow can be tried without a mail server,
and ``operator totp`` says what to do with its QR code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.harness import corpus
from tests.harness.install import install
from tests.harness.mail import parse
from tests.harness.repo import ROOT

REQUESTER = "jean.dupont@citizen.example"
MARIE = "marie.lambert@rn.example"


def test_the_one_shot_commands_print_json(tmp_path: Path, db_url: str) -> None:
    site = install(tmp_path, db_url)
    good = ROOT / "lists" / "notaries.csv"
    bad = tmp_path / "police-zones.csv"
    bad.write_text("email,name,language\nnot-an-address,Zone,fr\n")

    checked = site.json("lists", "validate", str(good))
    assert checked["problems"] == []
    [file] = checked["files"]
    assert file["group"] == "notaries" and file["addresses"] == 20 and file["ok"] is True
    code, out, _err = site.run("lists", "validate", str(good), str(bad), "--json")
    assert code == 1
    refused = json.loads(out)
    assert [f["ok"] for f in refused["files"]] == [True, False]
    [problem] = refused["problems"]
    assert problem["path"] == str(bad) and problem["line"] == 2

    imported = site.json("lists", "import", str(good))
    assert imported == {"groups": [{"group": "notaries", "members": 20, "added": 20,
                                    "updated": 0, "removed": 0, "created": True}],
                        "problems": []}
    code, out, _err = site.run("lists", "import", str(bad), "--json")
    assert code == 1 and json.loads(out)["groups"] == []

    site.drop(corpus.simple("Clé d'accès bloquée", "Bonjour, ma clé est bloquée.",
                            from_addr=REQUESTER))
    assert site.json("ingest", "once") == {"total": 1, "outcomes": {"ticket": 1}, "errors": []}
    assert site.json("ingest", "once") == {"total": 0, "outcomes": {}, "errors": []}
    assert site.json("outbox", "send") == {"sent": 1, "deferred": 0, "failed": 0}

    site.ok("faq", "add", "--lang", "fr", "--question", "Clé bloquée ?",
            "--answer", "Appelez-nous.", "--publish")
    pages = site.json("faq", "publish")
    assert [p["language"] for p in pages] == ["fr", "nl", "de", "en"]
    assert all(Path(p["path"]).is_file() for p in pages)


def test_demo_reply_answers_a_notification_through_the_maildir(tmp_path: Path,
                                                              db_url: str) -> None:
    site = install(tmp_path, db_url)
    site.ok("staff", "add", MARIE, "--name", "Marie Lambert", "--language", "fr")
    site.drop(corpus.simple("Clé d'accès bloquée", "Bonjour, ma clé d'accès est bloquée.",
                            from_addr=REQUESTER))
    site.ok("ingest", "once")
    site.ok("outbox", "send")
    outgoing = site.root / "outgoing"
    [notification] = outgoing.glob(f"*-{MARIE}.eml")

    said = site.ok("demo", "reply", str(notification), "--text", "#close",
                   "--text", "Bonjour, votre clé d'accès est débloquée.")
    assert f"reply from Marie Lambert <{MARIE}>" in said or f"reply from {MARIE}" in said
    assert len(list((site.root / "maildir" / "new").iterdir())) == 1
    # Read like any mail: a proven staff reply, not a new ticket.
    assert site.json("ingest", "once")["outcomes"] == {"staff": 1}
    site.ok("outbox", "send")
    [ticket] = site.json("ticket", "list", "--status", "closed")
    assert ticket["id"] == 1
    answers = [m for m in (parse(p.read_bytes()) for p in outgoing.glob(f"*-{REQUESTER}.eml"))
               if str(m["Subject"]).startswith("Re: [RN #1]")]
    assert len(answers) == 1

    assert "no Maildir mailbox named 'fax'" in site.fails(
        "demo", "reply", str(notification), "--text", "x", "--mailbox", "fax")
    assert "cannot read" in site.fails("demo", "reply", str(tmp_path / "none.eml"),
                                       "--text", "x")


def test_operator_totp_says_what_to_do_with_the_qr_code(tmp_path: Path) -> None:
    site = install(tmp_path, f"sqlite:///{tmp_path / 'rnmail.db'}",
                   extra='[web]\nadmin_bind = "127.0.0.1:8081"\n')
    site.ok("operator", "add", "alice", "--password-stdin", input="correct horse battery\n")

    out = site.ok("operator", "totp", "alice")
    uri = out.splitlines()[0]
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    assert "authenticator app" in out
    assert secret in out.split(uri, 1)[1]  # spelt out for typing in by hand
    assert "http://127.0.0.1:8081/admin/" in out
    assert "password and the 6-digit code" in out

    only = site.ok("operator", "totp", "alice", "--no-qr")
    assert only.strip().startswith("otpauth://") and len(only.strip().splitlines()) == 1


# The acknowledgement during a disturbance: what its banner says agrees with what is
# disturbed (the register's degraded banner names "access to natural persons" whatever it is).
WEB_DEGRADED = {
    "fr": "Le Registre national est opérationnel mais ces fonctionnalités sont perturbées : "
          "Services web.",
    "nl": "Het Rijksregister is operationeel maar deze functionaliteiten zijn verstoord: "
          "Webdiensten.",
    "de": "Das Nationalregister ist betriebsbereit, bei diesen Funktionen treten allerdings "
          "Störungen auf: Webdienste.",
    "en": "The National Register is operational but these functions are disrupted: "
          "Web services.",
}
NATURAL_PERSONS = {"fr": "personnes physiques", "nl": "natuurlijke personen",
                   "de": "natürlichen Personen", "en": "natural persons"}
MIXED = {
    "fr": "Ces fonctionnalités du Registre national sont momentanément hors service : "
          "Services web. Ces fonctionnalités sont perturbées : Accès aux personnes physiques.",
    "en": "These functions of the National Register are out of service: Web services. "
          "These functions are disrupted: Access to natural persons.",
}


def _acknowledgements(site: Any, tmp_path: Path, tag: str) -> dict[str, str]:
    """Drop one request per language, ingest, send: language → the acknowledgement's text."""
    bodies = {"fr": "Bonjour, le service web ne répond plus. Merci de vérifier.",
              "nl": "Goedemorgen, de webdienst antwoordt niet meer. Kunnen jullie kijken?",
              "de": "Guten Tag, der Webdienst antwortet nicht mehr. Bitte prüfen Sie das.",
              "en": "Hello, the web service does not answer any more. Could you check?"}
    for lang, body in bodies.items():
        site.drop(corpus.simple(f"Webservice {tag}", body, lang=lang,
                                from_addr=f"{tag}-{lang}@citizen.example"))
    site.ok("ingest", "once")
    site.ok("outbox", "send")
    texts = {}
    for lang in bodies:
        [path] = (tmp_path / "outgoing").glob(f"*-{tag}-{lang}@citizen.example.eml")
        texts[lang] = " ".join(parse(path.read_bytes()).get_body(("plain",))
                               .get_content().split())
    return texts


def test_the_acknowledgement_names_what_is_disturbed(tmp_path: Path, db_url: str) -> None:
    site = install(tmp_path, db_url, operator=("alice", "correct horse battery"))
    code, _out, err = site.as_operator("status", "set", "degraded", "--component",
                                       "web-services")
    assert code == 0, err
    acks = _acknowledgements(site, tmp_path, "web")
    for lang, text in acks.items():
        assert WEB_DEGRADED[lang] in text, (lang, text)
        assert NATURAL_PERSONS[lang] not in text  # not the register's degraded banner
    # Web services down, natural persons degraded: both named, out of service first.
    code, _out, err = site.as_operator("status", "set", "down", "--component", "web-services")
    assert code == 0, err
    code, _out, err = site.as_operator("status", "set", "degraded", "--component",
                                       "natural-persons")
    assert code == 0, err
    acks = _acknowledgements(site, tmp_path, "mixed")
    for lang, sentence in MIXED.items():
        assert sentence in acks[lang], (lang, acks[lang])


def test_without_a_config_in_the_repository_rnmail_names_the_example(tmp_path: Path) -> None:
    """`.venv/bin/rnmail staff add ...` from the repository's root, as the walkthrough was
    first tried: the error says which config the quick start uses."""
    env = {k: v for k, v in os.environ.items() if k != "RNMAIL_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    ran = subprocess.run([sys.executable, "-c", "from cli.main import main; main()",
                          "staff", "list"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert ran.returncode == 1
    assert ran.stderr == ("Error: config file rnmail.toml not found (use --config PATH or "
                          "RNMAIL_CONFIG; here: export RNMAIL_CONFIG=$PWD/examples/rnmail.toml)"
                          "\n")
    elsewhere = subprocess.run([sys.executable, "-c", "from cli.main import main; main()",
                                "staff", "list"], cwd=tmp_path, env=env, capture_output=True,
                               text=True)
    assert elsewhere.stderr == ("Error: config file rnmail.toml not found (use --config PATH "
                                "or RNMAIL_CONFIG)\n")
