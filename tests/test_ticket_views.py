"""Reading and finding tickets as an agent does (issue 16 D1, D2 and F), on both databases:
``ticket show`` prints each real mail once with its author and folds the staff notifications,
``ticket list`` filters and marks what waits on an answer, search finds numbers in any
notation and ticket numbers, and ticket numbers are taken as ``#8``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import JSON, column, table

from rnmail.db import Database
from rnmail.models import utcnow
from rnmail.tickets.search import search_tickets
from tests.harness import corpus
from tests.harness.install import Installation, install
from tests.harness.mail import parse
from tests.harness.maildir import plain

REQUESTER = "jean.dupont@citizen.example"
STAFF = [(f"agent{n}@rn.example", f"Agent {n}") for n in range(1, 7)]
MARIE = "marie.lambert@rn.example"
RULES = """[workflow]
[workflow.requester_types]
"*@citizen.example" = "citizen"
"""


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url, extra=RULES)
    (tmp_path / "maildir/new").mkdir(parents=True)
    yield site
    site.close()


def sent(desk: Installation, seen: set[Path]) -> list[EmailMessage]:
    """Send the outbox; the mails written since the last call."""
    desk.ok("outbox", "send")
    new = sorted((p for p in (desk.root / "outgoing").glob("*.eml") if p not in seen),
                 key=lambda p: p.stat().st_mtime_ns)
    seen.update(new)
    return [parse(p.read_bytes()) for p in new]


def opened(out: str) -> int:
    """The number in ``ticket new``'s "ticket #N opened" (the bare number it printed)."""
    match = re.fullmatch(r"ticket #(\d+) opened( and closed \(first contact\))?\n", out)
    assert match, out
    return int(match.group(1))


def test_ticket_show_folds_notifications_and_names_authors(desk: Installation) -> None:
    """Ticket #9 of the trial: 7 staff, so 7 notification copies per incoming mail, and
    answers shown as from info@rn.example. Now: each real mail once, one line per
    notification, the staff member who answered, and the ticket's header."""
    desk.ok("staff", "add", MARIE, "--name", "Marie Lambert")
    for address, name in STAFF:
        desk.ok("staff", "add", address, "--name", name)
    desk.ok("service", "add", "population-registers", "--email", "pop@second.example")
    seen: set[Path] = set()
    desk.deliver(corpus.simple("Clé d'accès bloquée", "Bonjour, ma clé est bloquée.",
                               from_addr=f"Jean Dupont <{REQUESTER}>"))
    [notification] = [m for m in sent(desk, seen) if MARIE in str(m["To"])]
    # Marie answers by mail, sets the category and assigns herself
    desk.deliver(plain(notification, MARIE, f"#category access-key\n#assign {MARIE}\n"
                       "Bonjour, votre clé est débloquée."))
    sent(desk, seen)
    desk.deliver(corpus.simple("Re: [RN #1] Clé d'accès bloquée", "Merci, mais encore "
                               "bloquée.", from_addr=f"Jean Dupont <{REQUESTER}>"))
    sent(desk, seen)
    # an answer from the command line, by a staff member named by address, then a delegation
    desk.ok("ticket", "reply", "#1", "-m", "Nous transmettons.", "--author", "agent3@rn.example")
    desk.ok("ticket", "comment", "#1", "-m", "Voir registre.", "--author", "Marie Lambert")
    desk.ok("ticket", "delegate", "#1", "population-registers")

    out = desk.ok("ticket", "show", "#1")
    lines = out.splitlines()
    assert lines[0] == "#1 [delegated] Clé d'accès bloquée"
    assert f"Jean Dupont <{REQUESTER}> (citizen)" in lines[1]
    assert "category:   access-key" in out and f"assignee: Marie Lambert <{MARIE}>" in out
    assert "resolution: -" in out and "service: population-registers (delegated " in out
    assert out.count("notified 7 staff") == 2  # the ticket, the requester's reply
    assert out.count("Nouveau ticket") == 0 and out.count("acknowledgement sent to") == 1
    assert out.count("ma clé est bloquée") == 1 and out.count("encore bloquée") == 1
    assert f"answer by Marie Lambert <{MARIE}> to {REQUESTER}" in out
    assert f"answer by Agent 3 <agent3@rn.example> to {REQUESTER}" in out
    assert f"note by Marie Lambert <{MARIE}>" in out
    assert "delegated: the ticket sent to pop@second.example" in out
    heads = [line for line in lines if line[:3] in ("<- ", "-> ", "== ")]
    assert len(heads) == 6 and not any("info@rn.example" in line for line in heads), heads
    assert "Téléphone" not in out  # the answers' contact block: the same in every answer

    detail = desk.json("ticket", "show", "1")  # JSON keeps every copy, with role and author
    roles = [m["role"] for m in detail["messages"]]
    assert roles.count("notification") == 14 and roles.count("request") == 2
    assert roles.count("answer") == 2 and "delegation" in roles and "acknowledgement" in roles
    answers = [m for m in detail["messages"] if m["role"] == "answer"]
    assert [(m["author"], m["author_email"], m["from"]) for m in answers] == [
        ("Marie Lambert", MARIE, "info@rn.example"),
        ("Agent 3", "agent3@rn.example", "info@rn.example")]
    assert detail["assignee_name"] == "Marie Lambert"


def test_ticket_list_filters_marks_and_names(desk: Installation) -> None:
    desk.ok("staff", "add", MARIE, "--name", "Marie Lambert")
    desk.deliver(corpus.simple("Attestation", "Bonjour, une attestation svp.",
                               from_addr=REQUESTER))
    long_address = "service.population.etat-civil.accueil@gemeente-oosterheide.example"
    desk.deliver(corpus.simple("Toegangssleutel", "Onze sleutel is geblokkeerd.",
                               from_addr=long_address, lang="nl"))
    call = opened(desk.ok("ticket", "new", "--requester", "02/518.21.31", "--name",
                          "An Peeters", "--subject", "Appel", "--category", "access-key",
                          "--requester-type", "gemeente"))
    earlier = opened(desk.ok("ticket", "new", "--requester", "09/266.61.11", "--subject",
                             "Appel", "--close"))  # the caller joins the directory later
    (desk.root / "directory.csv").write_text(
        "organisation,organisation_type,organisation_code,name,email,phone,language,role,"
        "access_status\nPolitiezone Oosterheide,police-zone,5999,Koen Maes,"
        "koen@pz-5999.police.example,09/266.61.11,nl,,active\n", encoding="utf-8")
    desk.ok("directory", "import", str(desk.root / "directory.csv"))
    desk.ok("ticket", "assign", str(call), MARIE)
    desk.ok("ticket", "reply", "1", "-m", "Voici votre attestation.", "--author", MARIE)
    desk.ok("service", "add", "population-registers", "--email", "pop@second.example")
    desk.ok("ticket", "delegate", "2", "population-registers")

    out = desk.ok("ticket", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["#", "status", "channel", "lang", "requester", "assignee",
                                "subject"]
    rows = {int(line.split()[0][1:]): line for line in lines[1:] if line.startswith("#")}
    assert long_address in rows[2] and "An Peeters" in rows[call]
    assert "+3225182131" not in out and "+3292666111" not in out
    assert "Koen Maes" in rows[earlier] and not re.match(rf"#{earlier}\s+\*", rows[earlier])
    assert "Marie Lambert" in rows[call]
    # the columns line up although "delegated" is the longest status
    assert len({line.index("requester") if i == 0 else None for i, line in enumerate(lines)
                if i == 0}) == 1
    starts = {len(re.match(r"(#\d+\s+\*?\s*\S+\s+)", row).group(1)) for row in rows.values()}
    assert len(starts) == 1, out
    # unanswered: ticket 2 (delegated, no answer) and the call; ticket 1 was answered
    assert re.match(r"#2\s+\*", rows[2]) and re.match(rf"#{call}\s+\*", rows[call])
    assert not re.match(r"#1\s+\*", rows[1])
    assert "* the requester's last mail is not answered yet" in out

    def ids(*args: str) -> list[int]:
        return [row["id"] for row in desk.json("ticket", "list", *args)]

    # ticket 1 is Marie's since she answered it first (issue 17: two agents, one ticket)
    assert ids("--assignee", MARIE) == [call, 1] == ids("--assignee", "marie lambert")
    assert ids("--assignee", "none") == [earlier, 2]
    assert ids("--category", "access-key") == [call]
    assert ids("--type", "municipality") == [call] == ids("--type", "gemeente")
    assert ids("--type", "citizen") == [1]
    assert ids("--channel", "phone") == [earlier, call] and ids("--channel", "mail") == [2, 1]
    assert ids("--unanswered") == [call, 2]
    assert desk.ok("ticket", "list", "--channel", "fax") == "no ticket matches these filters\n"
    assert "no staff member ghost@rn.example" in desk.fails("ticket", "list", "--assignee",
                                                            "ghost@rn.example")
    [known, row] = desk.json("ticket", "list", "--channel", "phone")
    assert row["caller_name"] == "An Peeters" and row["unanswered"] is True
    assert (known["caller_name"], known["requester_name"]) == ("Koen Maes", None)


def test_search_numbers_in_any_notation_and_ticket_numbers(desk: Installation) -> None:
    """A fax from 087/59.11.11 and a mail giving +32 87 59 11 11: every notation finds
    both; a ticket number finds that ticket first; nothing found says so."""
    desk.deliver(corpus.simple("Demande", "Rappelez-moi au +32 87 59 11 11 svp.",
                               from_addr=REQUESTER))
    desk.deliver(corpus.simple("Attestation", "Sans numéro.", from_addr="x@citizen.example"))
    fax = opened(desk.ok("ticket", "new", "--channel", "fax", "--requester", "087/59.11.11",
                         "--subject", "Fax reçu"))
    call = opened(desk.ok("ticket", "new", "--requester", "0470 12 34 56", "--subject",
                          "Appel", "--note", "Rappeler le 09/266.61.11 (bureau)."))
    for query in ("+3287591111", "087/59.11.11", "087 59 11 11", "0032 87 59 11 11",
                  "087591111", "+32 (0)87 59 11 11"):
        found = [row["id"] for row in desk.json("ticket", "search", query)]
        assert found == [fax, 1], (query, found)
    assert [r["id"] for r in desk.json("ticket", "search", "rappelez 087 59 11 11")] == [1]
    for query in ("0470/12.34.56", "+32470123456", "09 266 61 11", "bureau 092666111"):
        assert [r["id"] for r in desk.json("ticket", "search", query)] == [call], query

    for query in ("2", "#2"):
        found = [row["id"] for row in desk.json("ticket", "search", query)]
        assert found[0] == 2, (query, found)
    assert desk.ok("ticket", "search", "introuvable") == "no ticket matches 'introuvable'\n"
    assert desk.json("ticket", "search", "introuvable") == []
    assert desk.ok("ticket", "search", "#99") == "no ticket matches '#99'\n"


def test_ticket_numbers_as_people_write_them(desk: Installation) -> None:
    """``ticket show "#8"`` was refused: every ticket argument takes 8 and #8."""
    tid = opened(desk.ok("ticket", "new", "--requester", "jean@citizen.example", "--subject",
                         "Certificat"))
    assert desk.ok("ticket", "show", f"#{tid}").startswith(f"#{tid} [open] Certificat")
    assert desk.json("ticket", "show", f"[RN #{tid}]")["id"] == tid
    assert "pending" in desk.ok("ticket", "pending", f"#{tid}")
    note = desk.json("ticket", "comment", f"#{tid}", "-m", "Vu.")
    assert (note["role"], note["author"], note["text"]) == ("note", "help desk", "Vu.")
    code, _, err = desk.run("ticket", "show", "#abc")
    assert code == 2 and "'#abc' is not a ticket number (e.g. 8 or #8)" in err
    assert desk.json("ticket", "new", "--requester", "x@citizen.example",
                     "--subject", "s")["id"] == tid + 1


def test_message_take_json(desk: Installation) -> None:
    desk.ok("staff", "add", MARIE, "--name", "Marie Lambert")
    taken = desk.json("message", "take", "--for", MARIE, "--caller", "Luc Martin",
                      "--phone", "0470/12.34.56", "--text", "Rappeler avant 16h.")
    assert (taken["to"], taken["staff"], taken["phone"]) == (MARIE, "Marie Lambert",
                                                             "+32470123456")
    assert taken["message_id"].startswith("<") and isinstance(taken["outbox_id"], int)
    [row] = json.loads(desk.ok("outbox", "list", "--json"))
    assert row["id"] == taken["outbox_id"]


def test_empty_results_say_so(desk: Installation) -> None:
    """An empty result was an empty output: one line says so, exit status 0."""
    assert desk.ok("ticket", "list") == "no ticket yet\n"
    assert desk.ok("faq", "list") == ("no FAQ entry yet (`rnmail faq add` or `faq from-ticket` "
                                      "makes one)\n")
    assert desk.ok("faq", "search", "clé bloquée") == "no FAQ entry matches 'clé bloquée'\n"
    desk.ok("faq", "add", "--lang", "fr", "--question", "Comment débloquer ma clé d'accès ?",
            "--answer", "Appelez-nous.")
    assert desk.ok("faq", "search", "attestation domicile") == (
        "no FAQ entry matches 'attestation domicile'\n")
    assert desk.json("faq", "search", "attestation domicile") == []
    assert "débloquer" in desk.ok("faq", "search", "debloquer")


def test_upgrade_indexes_the_numbers_of_stored_messages(db_url: str) -> None:
    """Tickets stored before migration 0012 are found by number after the upgrade."""
    db = Database(db_url)
    assert db.upgrade("0011") == "0011"
    ticket = table("ticket", column("id"), column("subject"), column("status"),
                   column("channel"), column("requester"), column("requester_type"),
                   column("language"), column("created_at"), column("updated_at"))
    message = table("message", column("ticket_id"), column("direction"), column("kind"),
                    column("from_addr"), column("to_addrs", JSON), column("cc_addrs", JSON),
                    column("subject"), column("text"), column("display_text"),
                    column("created_at"))
    now = utcnow().replace(tzinfo=None)
    with db.engine.begin() as connection:
        for tid, requester, text in ((1, "+3287591111", "Fax"),
                                     (2, "a@citizen.example", "Mon numéro: 0470/12.34.56")):
            connection.execute(ticket.insert().values(
                id=tid, subject="Demande", status="open", channel="fax", requester=requester,
                requester_type="other", language="fr", created_at=now, updated_at=now))
            connection.execute(message.insert().values(
                ticket_id=tid, direction="in", kind="correspondence", from_addr=requester,
                to_addrs=[], cc_addrs=[], subject="Demande", text=text, display_text=text,
                created_at=now))
    db.upgrade()
    with db.transaction() as session:
        assert [t["id"] for t in search_tickets(session, "087 59 11 11")] == [1]
        assert [t["id"] for t in search_tickets(session, "+32 470 12 34 56")] == [2]
        assert [t["id"] for t in search_tickets(session, "demande")] == [2, 1]
    db.dispose()
