"""The ticket life cycle from the CLI and from requesters' mail, on both databases."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from rnmail.db import Database
from rnmail.models import Ticket, utcnow
from rnmail.vocab import REQUESTER_TYPE_ALIASES, RequesterType
from tests.harness import corpus
from tests.harness.install import Installation, install

RULES = """[workflow]
reopen_days = 7
[workflow.requester_types]
"*@*.police.example" = "police"
"bevolking@*" = "municipality"
"""


def opened(out: str) -> str:
    """The number in ``ticket new``'s "ticket #N opened"."""
    match = re.fullmatch(r"ticket #(\d+) opened\n", out)
    assert match, out
    return match.group(1)


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url, extra=RULES)
    (tmp_path / "maildir/new").mkdir(parents=True)
    yield site
    site.close()


def test_staff_and_services(desk: Installation) -> None:
    desk.ok("staff", "add", "Marie.Lambert@rn.example", "--name", "Marie Lambert")
    desk.ok("staff", "add", "jan.peeters@rn.example", "--name", "Jan Peeters", "--language", "nl")
    staff = json.loads(desk.ok("staff", "list", "--json"))
    assert [(s["email"], s["language"]) for s in staff] == [
        ("jan.peeters@rn.example", "nl"), ("marie.lambert@rn.example", "fr")]
    code, _, err = desk.run("staff", "add", "marie.lambert@rn.example", "--name", "M")
    assert code == 1 and "already on the staff" in err
    code, _, err = desk.run("staff", "add", "not-an-address", "--name", "X")
    assert code == 1 and "not a valid mail address" in err
    desk.ok("staff", "remove", "jan.peeters@rn.example")
    assert len(json.loads(desk.ok("staff", "list", "--json"))) == 1
    code, _, err = desk.run("staff", "remove", "nobody@rn.example")
    assert code == 1 and "no staff member" in err

    desk.ok("service", "add", "population-registers", "--email", "pop@second.example",
            "--description", "Registers of the population services")
    [svc] = json.loads(desk.ok("service", "list", "--json"))
    assert svc["name"] == "population-registers" and svc["email"] == "pop@second.example"
    assert svc["language"] is None  # the help desk's default language
    code, _, err = desk.run("service", "add", "population-registers", "--email", "x@y.example")
    assert code == 1 and "already a service" in err
    desk.ok("service", "add", "bevolkingsregisters", "--email", "bev@second.example",
            "--language", "nl")
    code, _, err = desk.run("service", "add", "registres", "--email", "r@second.example",
                            "--language", "it")
    assert code == 2 and "'it' is not one of" in err
    out = desk.ok("service", "edit", "population-registers", "--email", "pop2@second.example",
                  "--language", "fr", "--description", "")
    assert out == "service population-registers <pop2@second.example> (fr) changed\n"
    assert [(s["name"], s["email"], s["language"], s["description"])
            for s in json.loads(desk.ok("service", "list", "--json"))] == [
        ("bevolkingsregisters", "bev@second.example", "nl", None),
        ("population-registers", "pop2@second.example", "fr", None)]
    code, _, err = desk.run("service", "edit", "nobody", "--language", "nl")
    assert code == 1 and "no service named 'nobody'" in err
    code, _, err = desk.run("service", "edit", "population-registers", "--email", "not-an-address")
    assert code == 1 and "not a valid mail address" in err

    # A service that no longer exists is removed: off the choices, never deleted.
    first, second = (desk.json("ticket", "new", "--requester", "02/518.21.31", "--subject",
                               subject)["id"] for subject in ("Registre", "Registre bis"))
    desk.ok("ticket", "delegate", str(first), "bevolkingsregisters")
    assert desk.ok("service", "remove", "bevolkingsregisters") == (
        "service bevolkingsregisters removed; 1 ticket(s) still delegated to it stay so\n")
    code, _, err = desk.run("service", "remove", "bevolkingsregisters")
    assert code == 1 and "was removed already" in err
    assert [s["name"] for s in desk.json("service", "list", "--json")] == ["population-registers"]
    assert [(s["name"], s["active"]) for s in desk.json("service", "list", "--all", "--json")] == [
        ("bevolkingsregisters", False), ("population-registers", True)]
    assert "bev@second.example" in desk.ok("service", "list", "--all").split("\n")[0]
    assert desk.ok("service", "list", "--all").split("\n")[0].endswith(" (removed)")
    code, _, err = desk.run("ticket", "delegate", str(second), "bevolkingsregisters")
    assert code == 1 and "the service 'bevolkingsregisters' was removed" in err
    assert desk.json("ticket", "show", str(first))["service"] == "bevolkingsregisters"
    code, _, err = desk.run("service", "add", "population-registers", "--email", "x@y.example")
    assert code == 1 and "already a service" in err  # an active one
    desk.ok("service", "add", "bevolkingsregisters", "--email", "bev2@second.example")  # back
    desk.ok("ticket", "delegate", str(second), "bevolkingsregisters")
    back = desk.json("service", "list", "--json")[0]
    assert (back["name"], back["email"], back["active"], back["language"]) == (
        "bevolkingsregisters", "bev2@second.example", True, None)


def test_phone_call_closed_at_first_contact(desk: Installation) -> None:
    out = desk.ok("ticket", "new", "--requester", "02/518.21.31", "--subject",
                  "Toegangssleutel geblokkeerd", "--note", "Sleutel gedeblokkeerd.",
                  "--category", "access-key", "--requester-type", "municipality", "--close",
                  "--language", "nl", "--name", "An Peeters", "--org", "Gemeente Voorbeeld")
    assert out == "ticket #1 opened and closed (first contact)\n"
    ticket_id = 1
    detail = json.loads(desk.ok("ticket", "show", str(ticket_id), "--json"))
    assert detail["channel"] == "phone" and detail["requester"] == "+3225182131"
    assert (detail["status"], detail["resolution"]) == ("closed", "first-contact")
    assert (detail["category"], detail["requester_type"]) == ("access-key", "municipality")
    assert detail["messages"][0]["text"] == "Sleutel gedeblokkeerd."
    assert (detail["requester_name"], detail["requester_org"]) == (
        "An Peeters", "Gemeente Voorbeeld")
    assert detail["closed_at"] is not None


def test_ticket_new_json_and_bad_values(desk: Installation) -> None:
    detail = json.loads(desk.ok("ticket", "new", "--requester", "agent@zone.police.example",
                                "--subject", "Accès", "--json"))
    assert detail["requester_type"] == "police" and detail["status"] == "open"
    for args, message in [
        (("--requester", "x@y.example", "--subject", "s", "--category", "cooking"),
         "unknown category 'cooking'"),
        (("--requester", "x@y.example", "--subject", "s", "--requester-type", "alien"),
         "unknown requester type 'alien'"),
        (("--requester", "bad@@address", "--subject", "s"), "is not a valid mail address"),
    ]:
        code, _, err = desk.run("ticket", "new", *args)
        assert code == 1 and message in err, err


def test_life_cycle_commands(desk: Installation) -> None:
    desk.ok("staff", "add", "marie@rn.example", "--name", "Marie")
    tid = opened(desk.ok("ticket", "new", "--requester", "jean@citizen.example", "--subject",
                  "Certificat"))
    assert "pending" in desk.ok("ticket", "pending", tid)
    detail = json.loads(desk.ok("ticket", "assign", tid, "marie@rn.example", "--json"))
    assert detail["assignee"] == "marie@rn.example"
    detail = json.loads(desk.ok("ticket", "set", tid, "--category", "certificate",
                                "--type", "citizen", "--json"))
    assert (detail["category"], detail["requester_type"]) == ("certificate", "citizen")
    desk.ok("ticket", "comment", tid, "-m", "Vérifié au registre.", "--author", "marie")
    detail = json.loads(desk.ok("ticket", "close", tid, "--json"))
    assert (detail["status"], detail["resolution"]) == ("closed", "investigated")
    code, _, err = desk.run("ticket", "close", tid)
    assert code == 1 and err.strip() == f"Error: ticket #{tid} is already closed"
    code, _, err = desk.run("ticket", "pending", tid)
    assert code == 1 and "closed; reopen it first" in err
    assert "reopened: open" in desk.ok("ticket", "reopen", tid)
    messages = json.loads(desk.ok("ticket", "show", tid, "--json"))["messages"]
    assert [m["kind"] for m in messages] == ["correspondence", "comment"]  # the call, the note
    for args in (("close", "999"), ("assign", tid, "ghost@rn.example")):
        code, _, err = desk.run("ticket", *args)
        assert code == 1 and ("no ticket #999" in err or "no staff member" in err)


def test_ticket_set_type_takes_every_requester_type_and_alias(desk: Installation) -> None:
    """The same words as a directory CSV's organisation_type (tests/test_directory.py),
    in any case, plus ``citizen``: one vocabulary, rnmail.vocab."""
    tid = opened(desk.ok("ticket", "new", "--requester", "jean@citizen.example", "--subject",
                  "Type"))
    words = {**{t.value: t.value for t in RequesterType},
             **{alias: kind.value for alias, kind in REQUESTER_TYPE_ALIASES.items()},
             "Gemeente": "municipality", " Police-Zone ": "police"}
    assert {"gemeente", "commune", "police-zone", "public service"} <= set(words)
    for word, stored in words.items():
        detail = desk.json("ticket", "set", tid, "--type", word)
        assert detail["requester_type"] == stored, word
    assert desk.fails("ticket", "set", tid, "--type", "bakery") == (
        "Error: unknown requester type 'bakery' (citizen, municipality, police, notary, "
        "public-service, company, other)")


def test_requester_type_from_rules_on_ingest(desk: Installation) -> None:
    desk.deliver(corpus.simple("Vraag", "Goedendag, een vraag over de toegangssleutel.",
                               from_addr="bevolking@gemeente.example"), "a.eml")
    [ticket] = json.loads(desk.ok("ticket", "list", "--json"))
    assert ticket["requester_type"] == "municipality"


def test_reply_reopens_recently_closed_and_links_old_ones(desk: Installation, db_url: str) -> None:
    first = corpus.simple("Certificat", "Bonjour, il me faut un certificat de résidence.",
                          from_addr="jean@citizen.example", message_id="<c1@citizen.example>")
    desk.deliver(first, "1.eml")
    desk.ok("ticket", "close", "1")
    reply = corpus.simple("RE: [RN #1] Certificat", "Merci, mais il manque la date.",
                          from_addr="jean@citizen.example",
                          extra_headers={"In-Reply-To": "<c1@citizen.example>"})
    assert "1 reply" in desk.deliver(reply, "2.eml")
    detail = json.loads(desk.ok("ticket", "show", "1", "--json"))
    assert detail["status"] == "open" and detail["resolution"] is None

    desk.ok("ticket", "close", "1")
    db = Database(db_url)
    with db.transaction() as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None
        ticket.closed_at = utcnow() - timedelta(days=30)
    db.dispose()
    late = corpus.simple("RE: [RN #1] Certificat", "Encore une question sur ce certificat.",
                         from_addr="jean@citizen.example",
                         extra_headers={"In-Reply-To": "<c1@citizen.example>"})
    assert "1 ticket" in desk.deliver(late, "3.eml")
    tickets = json.loads(desk.ok("ticket", "list", "--json"))
    assert tickets[0]["linked_ticket_id"] == 1 and tickets[1]["status"] == "closed"


def test_requester_reply_ends_pending_but_an_out_of_office_does_not(desk: Installation) -> None:
    desk.deliver(corpus.simple("Adresse", "Bonjour, mon changement d'adresse n'apparaît pas.",
                               from_addr="ann@citizen.example",
                               message_id="<p1@citizen.example>"), "1.eml")
    desk.ok("ticket", "pending", "1")
    ooo = corpus.simple("Absent", "Je suis absente.", from_addr="ann@citizen.example",
                        extra_headers={"In-Reply-To": "<p1@citizen.example>",
                                       "Auto-Submitted": "auto-replied"})
    desk.deliver(ooo, "2.eml")
    assert json.loads(desk.ok("ticket", "show", "1", "--json"))["status"] == "pending"
    shutil.rmtree(desk.root / "outgoing", ignore_errors=True)
    answer = corpus.simple("RE: Adresse", "Voici mon nouveau numéro de rue : 12.",
                           from_addr="ann@citizen.example",
                           extra_headers={"In-Reply-To": "<p1@citizen.example>"})
    desk.deliver(answer, "3.eml")
    assert json.loads(desk.ok("ticket", "show", "1", "--json"))["status"] == "open"


def outgoing(desk: Installation) -> list[bytes]:
    return [p.read_bytes() for p in sorted((desk.root / "outgoing").glob("*.eml"),
                                           key=lambda p: p.stat().st_mtime_ns)]


def test_reply_delegate_and_phone_message_from_the_cli(desk: Installation, tmp_path: Path) -> None:
    import email
    import email.policy

    desk.deliver(corpus.simple("Certificat", "Bonjour, il me faut un certificat.",
                               from_addr="jean@citizen.example",
                               message_id="<c9@citizen.example>"), "1.eml")
    form = tmp_path / "formulaire.pdf"
    form.write_bytes(b"%PDF-1.4 test")
    detail = json.loads(desk.ok("ticket", "reply", "1", "-m", "Voici le formulaire.",
                                "--attach", str(form), "--author", "Marie", "--json"))
    assert detail["kind"] == "correspondence" and detail["to"] == ["jean@citizen.example"]
    desk.ok("service", "add", "legal", "--email", "legal@second.example")
    assert "delegated to legal" in desk.ok("ticket", "delegate", "1", "legal",
                                           "--note", "Question juridique")
    desk.ok("staff", "add", "marie@rn.example", "--name", "Marie")
    desk.ok("message", "take", "--for", "marie@rn.example", "--caller", "Luc Martin",
            "--phone", "0470/12.34.56", "--text", "Merci de rappeler avant 16h.")
    desk.ok("outbox", "send")
    mails = [email.message_from_bytes(raw, policy=email.policy.default) for raw in outgoing(desk)]
    by_to = {str(m["To"]): m for m in mails if m["Auto-Submitted"] != "auto-replied"}
    answer = by_to["jean@citizen.example"]
    assert "Voici le formulaire." in answer.get_body(("plain",)).get_content()
    assert [a.get_filename() for a in answer.iter_attachments()] == ["formulaire.pdf"]
    assert answer["In-Reply-To"] == "<c9@citizen.example>"
    handover = by_to["legal@second.example"].get_content()
    assert "Question juridique" in handover and "il me faut un certificat" in handover
    phone = by_to["marie@rn.example"]
    assert "Luc Martin" in phone["Subject"] and "+32470123456" in phone.get_content()


def test_reply_refusals(desk: Installation) -> None:
    tid = opened(desk.ok("ticket", "new", "--requester", "02/518.21.31", "--subject", "Appel"))
    code, _, err = desk.run("ticket", "reply", tid, "-m", "x")
    assert code == 1 and "cannot be reached by mail" in err
    code, _, err = desk.run("ticket", "reply", tid)
    assert code == 2 and "one of -m TEXT, --file F, --faq ID" in err
    code, _, err = desk.run("ticket", "delegate", tid, "nowhere")
    assert code == 1 and "no service named 'nowhere'" in err
    code, _, err = desk.run("message", "take", "--for", "ghost@rn.example", "--caller", "X",
                            "--phone", "02/518.21.31", "--text", "t")
    assert code == 1 and "no staff member" in err


def test_search_folds_accents_and_finds_phone_tickets(desk: Installation) -> None:
    desk.deliver(corpus.simple("Clé d'accès", "Pouvez-vous débloquer ma clé d'accès ?",
                               from_addr="jean@citizen.example"), "1.eml")
    desk.deliver(corpus.simple("Adreswijziging", "Mijn adres is niet gewijzigd in het register.",
                               from_addr="an@citizen.example"), "2.eml")
    desk.ok("ticket", "new", "--requester", "02/518.21.31", "--subject",
            "Zugangsschlüssel gesperrt")
    for query, expected in [("debloquer", [1]), ("DÉBLOQUER clé", [1]), ("adres", [2]),
                            ("zugangsschlussel", [3]), ("débloq", [1]), ("absent", [])]:
        rows = json.loads(desk.ok("ticket", "search", query, "--json"))
        assert [r["id"] for r in rows] == expected, query
    code, _, err = desk.run("ticket", "search", "  ?! ")
    assert code == 1 and "at least one word" in err


def test_search_reads_what_mails_say_not_our_signature(desk: Installation) -> None:
    """Every mail rnmail writes ends with a signature and the help desk's contact block (its
    name, phone and fax numbers, hours): a search for those finds where someone wrote them,
    not every ticket acknowledged or answered. The desk still shows the whole mail."""
    desk.deliver(corpus.simple("Clé d'accès", "Ma clé d'accès est bloquée.",
                               from_addr="jean@citizen.example"), "1.eml")
    desk.deliver(corpus.simple("Formulaire", "Je vous ai faxé le formulaire au 02/210.10.31.",
                               from_addr="an@citizen.example"), "2.eml")
    desk.ok("ticket", "reply", "1", "-m", "Votre clé est débloquée, essayez à nouveau.",
            "--author", "Marie Lambert")
    desk.ok("outbox", "send")  # two acknowledgements and an answer, each with the block
    for query, expected in [("02 518 21 31", []), ("+3225182131", []), ("02/210 10 31", [2]),
                            ("téléphone", []), ("debloquee essayez", [1])]:
        rows = json.loads(desk.ok("ticket", "search", query, "--json"))
        assert [r["id"] for r in rows] == expected, query
    [*_, answer] = json.loads(desk.ok("ticket", "show", "1", "--json"))["messages"]
    assert answer["text"] == "Votre clé est débloquée, essayez à nouveau."


def test_export_and_archive(desk: Installation, tmp_path: Path) -> None:
    import mailbox

    raw = corpus.simple("Certificat", "Bonjour, un certificat de résidence svp.",
                        from_addr="jean@citizen.example", message_id="<ex1@citizen.example>")
    desk.deliver(raw, "1.eml")
    desk.ok("ticket", "comment", "1", "-m", "Envoyé par courrier.")
    desk.ok("outbox", "send")
    files = desk.ok("ticket", "export", "1", "--format", "eml", "--out",
                    str(tmp_path / "eml")).split()
    assert len(files) == 3  # request, acknowledgement, note
    assert Path(files[0]).read_bytes() == raw  # byte for byte as received
    assert b"Auto-Submitted: auto-replied" in Path(files[1]).read_bytes()
    assert b"X-RN-Kind: comment" in Path(files[2]).read_bytes()
    desk.ok("ticket", "export", "1", "--format", "mbox", "--out", str(tmp_path / "t.mbox"))
    assert len(mailbox.mbox(str(tmp_path / "t.mbox"))) == 3
    exported = json.loads(desk.ok("ticket", "export", "1", "--format", "json"))
    assert exported["id"] == 1 and len(exported["messages"]) == 3

    desk.ok("ticket", "new", "--requester", "02/518.21.31", "--subject", "Appel", "--close")
    desk.ok("ticket", "close", "1")
    index = json.loads(desk.ok("archive", "export", "--before", "2999-01-01", "--out",
                               str(tmp_path / "archive"), "--json"))
    assert [e["id"] for e in index] == [1, 2]
    assert len(mailbox.mbox(str(tmp_path / "archive" / "ticket-1.mbox"))) == 3
    assert json.loads((tmp_path / "archive/index.json").read_text())[0]["mbox"] == "ticket-1.mbox"
    assert json.loads(desk.ok("ticket", "search", "certificat", "--json"))[0]["id"] == 1
    assert json.loads(desk.ok("archive", "export", "--before", "2000-01-01", "--out",
                              str(tmp_path / "none"), "--json")) == []
    code, _, err = desk.run("ticket", "export", "1", "--format", "eml")
    assert code == 1 and "needs --out DIR" in err


def test_search_folds_central_european_letters(desk: Installation) -> None:
    desk.ok("ticket", "new", "--requester", "x@citizen.example", "--subject",
            "Dvořák Łukasz Ștefan Őry")
    for query in ("dvorak", "lukasz", "stefan", "ory"):
        assert [r["id"] for r in json.loads(desk.ok("ticket", "search", query, "--json"))] == [
            1], query


def test_a_pending_delegated_ticket_goes_back_to_the_second_line(desk: Installation) -> None:
    desk.deliver(corpus.simple("Question", "Bonjour, une question juridique précise.",
                               from_addr="ann@citizen.example",
                               message_id="<d1@citizen.example>"), "1.eml")
    desk.ok("service", "add", "legal", "--email", "legal@second.example")
    desk.ok("ticket", "delegate", "1", "legal")
    desk.ok("ticket", "pending", "1")
    desk.deliver(corpus.simple("RE: Question", "Voici la précision demandée.",
                               from_addr="ann@citizen.example",
                               extra_headers={"In-Reply-To": "<d1@citizen.example>"}), "2.eml")
    detail = json.loads(desk.ok("ticket", "show", "1", "--json"))
    assert (detail["status"], detail["service"]) == ("delegated", "legal")


def test_search_reads_on_until_enough_distinct_tickets(desk: Installation, db_url: str) -> None:
    from rnmail.tickets.search import search_tickets

    desk.deliver(corpus.simple("Attestation", "Bonjour, une attestation svp.",
                               from_addr="old@citizen.example"), "0.eml")
    desk.deliver(corpus.simple("Attestation", "Bonjour, encore une attestation.",
                               from_addr="new@citizen.example", message_id="<n0@citizen.example>"),
           "1.eml")
    for i in range(5):  # the newer ticket matches five times over
        reply = corpus.simple("RE: [RN #2] Attestation", f"Relance {i} pour l'attestation.",
                              from_addr="new@citizen.example",
                              extra_headers={"In-Reply-To": "<n0@citizen.example>"})
        desk.deliver(reply, f"r{i}.eml")
    db = Database(db_url)
    with db.transaction() as session:
        found = search_tickets(session, "attestation", limit=2, page_size=2)
    db.dispose()
    assert [t["id"] for t in found] == [2, 1]
