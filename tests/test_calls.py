"""Logging a call and finding the caller (issue 17): ``rnmail/tickets/calls.py`` behind
``ticket new`` and the desk's call form, ``rnmail/directory/lookup.py`` behind ``directory
lookup``; on both databases, the delegation mail on a real SMTP server."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import JSON, column, table

from rnmail.db import Database
from rnmail.directory.lookup import lookup_caller
from rnmail.errors import RnmailError
from rnmail.models import OutboxMessage, Ticket, utcnow
from rnmail.tickets.calls import CallForm, log_call, take_message
from rnmail.tickets.history import Actor
from rnmail.vocab import ActorKind, Via
from tests.harness.install import Installation, install
from tests.harness.mail import text_of
from tests.harness.servers import SmtpServer

HELP_DESK = Actor(name="help desk", kind=ActorKind.USER, via=Via.CLI)  # not a staff member
SEVERINE = "severine.lefevre@nis-63012.municipality.example"
KOEN = "koen.maes@pz-5999.police.example"
COLUMNS = ["organisation", "organisation_type", "organisation_code", "name", "email", "phone",
           "language", "role", "access_status"]
PEOPLE = [
    ["Commune de Bruyère-Évêché", "commune", "63012", "Séverine Lefèvre", SEVERINE,
     "087/59.11.11", "fr", "population", "blocked"],
    ["Commune de Bruyère-Évêché", "commune", "63012", "Paul Dubois",
     "paul.dubois@nis-63012.municipality.example", "", "fr", "état civil", "active"],
    ["Politiezone Oosterheide", "police-zone", "PZ5999", "Koen Maes", KOEN, "09/266.61.11",
     "nl", "", "active"],
]


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url)
    sheet = tmp_path / "directory.csv"
    with sheet.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows(PEOPLE)
    site.ok("directory", "import", str(sheet))
    site.ok("staff", "add", "marie.lambert@rn.example", "--name", "Marie Lambert")
    yield site
    site.close()


def test_lookup_by_number_name_address_and_organisation(desk: Installation) -> None:
    # Séverine has an open ticket; a citizen not in the directory called twice before.
    mine = desk.json("ticket", "new", "--requester", SEVERINE, "--subject", "Clé bloquée")
    desk.ok("ticket", "new", "--phone", "0470 12 34 56", "--name", "Jérôme Dubois",
            "--language", "nl", "--subject", "Attestation", "--close")
    later = desk.json("ticket", "new", "--phone", "+32 470 12 34 56", "--name",
                      "Jérôme Dubois", "--language", "de", "--subject", "Adresse")
    for query in ("+3287591111", "087/59.11.11", "087 59 11 11", "0032 87 59 11 11",
                  "lefevre", "LEFÈVRE", "séverine", SEVERINE, "severine.lefevre@"):
        [first, *_] = desk.json("directory", "lookup", query)
        assert (first["entry"], first["email"], first["name"]) == (
            "user", SEVERINE, "Séverine Lefèvre"), query
    [found] = desk.json("directory", "lookup", "087/59.11.11")
    assert found == {
        "entry": "user", "name": "Séverine Lefèvre", "email": SEVERINE,
        "organisation": "Commune de Bruyère-Évêché", "organisation_code": "63012",
        "requester_type": "municipality", "language": "fr", "phone": "+3287591111",
        "access_status": "blocked", "status_since": found["status_since"],
        "last_ticket_id": None,
        "open_tickets": [{"id": mine["id"], "subject": "Clé bloquée", "status": "open",
                          "created_at": mine["created_at"]}]}
    # An organisation by a part of its name, accents ignored: it and its people.
    rows = desk.json("directory", "lookup", "bruyere-eveche")
    assert [(r["entry"], r["name"]) for r in rows] == [
        ("user", "Paul Dubois"), ("user", "Séverine Lefèvre"), ("organisation", None)]
    assert [t["id"] for t in rows[2]["open_tickets"]] == [mine["id"]]
    assert desk.json("directory", "lookup", "PZ5999")[-1]["organisation"] == (
        "Politiezone Oosterheide")
    # The citizen who called before: from their latest ticket, with it open.
    for query in ("0470/12.34.56", "jerome dubois"):
        rows = desk.json("directory", "lookup", query)
        callers = [r for r in rows if r["entry"] == "caller"]
        assert [(c["name"], c["phone"], c["language"], c["last_ticket_id"]) for c in callers] \
            == [("Jérôme Dubois", "+32470123456", "de", later["id"])], query
        assert [t["id"] for t in callers[0]["open_tickets"]] == [later["id"]]
    out = desk.ok("directory", "lookup", "087/59.11.11")
    assert out.splitlines()[0].split() == [
        "user", "Séverine", "Lefèvre", SEVERINE, "+3287591111", "fr", "Commune", "de",
        "Bruyère-Évêché", "(municipality)", "[blocked]"]
    assert f"#{mine['id']} [open] Clé bloquée" in out and out.endswith("1 found\n")
    assert desk.ok("directory", "lookup", "nobody at all") == "0 found\n"
    assert desk.fails("directory", "lookup", "  ") == (
        "Error: give a phone number, a name, a mail address or an organisation")


def test_a_call_answered_at_once(desk: Installation) -> None:
    out = desk.ok("ticket", "new", "--phone", "087 59 11 11", "--subject", "Clé d'accès",
                  "--note", "Clé débloquée au téléphone.", "--category", "access-key",
                  "--outcome", "close", "--author", "marie.lambert@rn.example")
    assert out == "ticket #1 opened and closed (first contact)\n"
    ticket = desk.json("ticket", "show", "1")
    assert (ticket["status"], ticket["resolution"], ticket["channel"]) == (
        "closed", "first-contact", "phone")
    assert (ticket["requester"], ticket["requester_name"], ticket["requester_org"],
            ticket["requester_type"]) == ("+3287591111", "Séverine Lefèvre",
                                          "Commune de Bruyère-Évêché", "municipality")
    assert ticket["assignee"] == "marie.lambert@rn.example"
    [call] = ticket["messages"]
    assert (call["role"], call["from"], call["text"]) == (
        "request", "+3287591111", "Clé débloquée au téléphone.")
    assert desk.count(OutboxMessage) == 0  # no acknowledgement, no notification


def test_a_call_with_address_and_number_is_found_by_both(desk: Installation) -> None:
    form = CallForm(phone="02/518.21.31", caller="An  Peeters", email="An@Citizen.example",
                    language="nl", subject="Adreswijziging", text="Nog niet verwerkt.",
                    requester_type="citizen")
    with desk.db.transaction() as session:
        done = log_call(session, desk.config, form, HELP_DESK)
    assert (done.linked, done.outcome, done.status, done.resolution) == (
        False, "open", "open", None)
    ticket = desk.json("ticket", "show", str(done.ticket_id))
    assert (ticket["requester"], ticket["requester_name"], ticket["language"],
            ticket["assignee"]) == ("an@citizen.example", "An Peeters", "nl", None)
    assert ticket["messages"][0]["from"] == "+3225182131"
    for query in ("02 518 21 31", "+3225182131", "verwerkt"):
        assert [r["id"] for r in desk.json("ticket", "search", query)] == [done.ticket_id]


def test_a_call_delegated_mails_the_service(tmp_path: Path, db_url: str,
                                            smtp_server: SmtpServer) -> None:
    desk = install(tmp_path, db_url, smtp_server)
    try:
        desk.ok("service", "add", "legal", "--email", "legal@second.example")
        out = desk.ok("ticket", "new", "--phone", "0470/12.34.56", "--name", "Luc Martin",
                      "--subject", "Question juridique", "--note",
                      "Peut-on rectifier un acte de naissance étranger ?",
                      "--outcome", "delegate", "--service", "legal")
        assert out == "ticket #1 opened and delegated to legal\n"
        ticket = desk.json("ticket", "show", "1")
        assert (ticket["status"], ticket["service"]) == ("delegated", "legal")
        assert [m["role"] for m in ticket["messages"]] == ["request", "delegation"]
        desk.ok("outbox", "send")
        [mail] = desk.mails("legal@second.example")
        assert "[RN #1]" in mail["Subject"]
        assert "acte de naissance étranger" in text_of(mail)
        assert len(desk.mails()) == 1  # nothing to the caller, no one else

        # A service that no longer exists: the call is refused, not mailed to it.
        desk.ok("service", "remove", "legal")
        code, _, err = desk.run("ticket", "new", "--phone", "0470/12.34.56", "--subject",
                                "Autre question", "--outcome", "delegate", "--service", "legal")
        assert code == 1 and "the service 'legal' was removed" in err
        assert desk.json("ticket", "show", "1")["service"] == "legal"  # its tickets keep it
    finally:
        desk.close()


def test_a_call_linked_to_the_callers_ticket(desk: Installation) -> None:
    first = desk.json("ticket", "new", "--phone", "09/266.61.11", "--subject",
                      "Toegangssleutel", "--note", "Sleutel werkt niet.", "--close")
    other = desk.json("ticket", "new", "--phone", "02/518.21.31", "--subject", "Ander")
    out = desk.ok("ticket", "new", "--phone", "+32 9 266 61 11", "--link", str(first["id"]),
                  "--note", "Belt terug: werkt nog steeds niet.", "--author", "Marie Lambert")
    assert out == f"call added to ticket #{first['id']}\n"
    ticket = desk.json("ticket", "show", str(first["id"]))
    assert (ticket["status"], ticket["resolution"]) == ("open", None)  # reopened
    assert ticket["assignee"] == "marie.lambert@rn.example"
    assert [(m["role"], m["from"], m["subject"], m["text"]) for m in ticket["messages"]] == [
        ("request", "+3292666111", "Toegangssleutel", "Sleutel werkt niet."),
        ("request", "+3292666111", "Toegangssleutel", "Belt terug: werkt nog steeds niet.")]
    assert desk.count(Ticket) == 2  # no new ticket
    out = desk.ok("ticket", "new", "--phone", "092666111", "--link", str(first["id"]),
                  "--note", "Opgelost.", "--outcome", "close")
    assert out == f"call added to ticket #{first['id']} and closed (investigated)\n"
    assert desk.fails("ticket", "new", "--phone", "09/266.61.11", "--link",
                      str(other["id"])) == (
        f"Error: ticket #{other['id']} is not a ticket of this caller (its requester is "
        "+3225182131)")
    assert desk.fails("ticket", "new", "--phone", "09/266.61.11", "--link", "99") == (
        "Error: no ticket #99")


@pytest.mark.parametrize("form, english", [
    (CallForm(subject="s"), "who called? Give a phone number, a mail address or a name"),
    (CallForm(phone="12345", subject="s"), "'12345' is not a phone number"),
    (CallForm(email="jean@@x", subject="s"), "'jean@@x' is not a valid mail address"),
    (CallForm(phone="087591111"), "a call needs a subject"),
    (CallForm(phone="087591111", subject="s", outcome="later"),
     "unknown outcome 'later' (close, open, delegate)"),
    (CallForm(phone="087591111", subject="s", language="es"),
     "unknown language 'es' (fr, nl, de, en)"),
    (CallForm(phone="087591111", subject="s", category="cooking"),
     "unknown category 'cooking' (access-key, certificate, address-change, data-correction, "
     "legal, web-services, other)"),
    (CallForm(phone="087591111", subject="s", requester_type="alien"),
     "unknown requester type 'alien' (citizen, municipality, police, notary, "
     "public-service, company, other)"),
    (CallForm(phone="087591111", subject="s", outcome="delegate"),
     "a call delegated needs a service"),
    (CallForm(phone="087591111", subject="s", outcome="delegate", service="nowhere"),
     "no service named 'nowhere'"),
    (CallForm(phone="087591111", subject="s", service="legal"),
     "a service is given only when the call is delegated"),
    (CallForm(phone="087591111", link=42), "no ticket #42"),
])
def test_refusals_are_translated(desk: Installation, form: CallForm, english: str) -> None:
    with pytest.raises(RnmailError) as refused, desk.db.transaction() as session:
        log_call(session, desk.config, form, HELP_DESK)
    assert str(refused.value) == english
    for language in ("fr", "nl"):
        said = refused.value.translated(language)
        assert said != english and said, (language, said)
    assert desk.count(Ticket) == 0


def test_a_message_for_an_absent_colleague_from_the_call_form(desk: Installation) -> None:
    form = CallForm(phone="0470/12.34.56", caller="Luc Martin", text="Merci de rappeler.")
    with desk.db.transaction() as session:
        taken = take_message(session, desk.config, form, "Marie.Lambert@rn.example")
    assert (taken["to"], taken["caller"], taken["phone"]) == (
        "marie.lambert@rn.example", "Luc Martin", "+32470123456")
    for refused_form, for_staff, english in [
        (form, "ghost@rn.example", "no staff member ghost@rn.example"),
        (CallForm(phone="12", caller="X", text="t"), "marie.lambert@rn.example",
         "'12' is not a phone number"),
        (CallForm(phone="0470123456", caller="X"), "marie.lambert@rn.example",
         "the message is empty"),
    ]:
        with pytest.raises(RnmailError) as refused, desk.db.transaction() as session:
            take_message(session, desk.config, refused_form, for_staff)
        assert str(refused.value) == english
        assert refused.value.translated("nl") != english


def test_a_renamed_user_is_found_by_the_new_name(desk: Installation, tmp_path: Path) -> None:
    sheet = tmp_path / "renamed.csv"
    with sheet.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerow([*PEOPLE[0][:3], "Séverine Lefèvre-Ørsted", *PEOPLE[0][4:]])
    desk.ok("directory", "import", str(sheet))
    [found] = desk.json("directory", "lookup", "lefevre-orsted")
    assert found["name"] == "Séverine Lefèvre-Ørsted"
    tid = desk.json("ticket", "new", "--phone", "0470 12 34 56", "--subject", "s")["id"]
    assert desk.json("directory", "lookup", "zoe nunez") == []
    desk.ok("ticket", "new", "--phone", "0470 12 34 56", "--name", "Zoë  Ñúñez", "--link",
            str(tid))  # the caller's name, unknown so far, is the ticket's now
    assert desk.json("ticket", "show", str(tid))["requester_name"] == "Zoë Ñúñez"
    assert [c["last_ticket_id"] for c in desk.json("directory", "lookup", "zoe nunez")] == [
        tid]


def test_upgrade_folds_the_names_already_stored(db_url: str) -> None:
    """Users and tickets stored before migration 0015 are found by name after it."""
    db = Database(db_url)
    assert db.upgrade("0014") == "0014"
    now = utcnow().replace(tzinfo=None)
    org = table("organisation", column("id"), column("name"), column("kind"),
                column("language"), column("contact_emails", JSON), column("created_at"),
                column("updated_at"))
    user = table("directory_user", column("organisation_id"), column("email"),
                 column("name"), column("phone"), column("language"),
                 column("access_status"), column("status_since"), column("created_at"),
                 column("updated_at"))
    ticket = table("ticket", column("id"), column("subject"), column("status"),
                   column("channel"), column("requester"), column("requester_name"),
                   column("requester_type"), column("language"), column("created_at"),
                   column("updated_at"))
    with db.engine.begin() as connection:
        connection.execute(org.insert().values(
            id=1, name="Gemeente Voorbeeld", kind="municipality", language="nl",
            contact_emails=[], created_at=now, updated_at=now))
        connection.execute(user.insert().values(
            organisation_id=1, email="an@gemeente.example", name="Ån Pëeters",
            phone="+3292666111", language="nl", access_status="active", status_since=now,
            created_at=now, updated_at=now))
        connection.execute(ticket.insert().values(
            id=1, subject="Vraag", status="open", channel="phone", requester="+32470123456",
            requester_name="Jérôme Dubois", requester_type="citizen", language="fr",
            created_at=now, updated_at=now))
    db.upgrade()
    with db.transaction() as session:
        assert [(c["entry"], c["name"]) for c in lookup_caller(session, "an peeters")] == [
            ("user", "Ån Pëeters")]
        [caller] = lookup_caller(session, "jerome")
        assert (caller["entry"], caller["phone"], caller["last_ticket_id"]) == (
            "caller", "+32470123456", 1)
        assert [t["id"] for t in caller["open_tickets"]] == [1]
        assert lookup_caller(session, "+32 9 266 61 11")[0]["email"] == "an@gemeente.example"
    db.dispose()


def test_requesters_of_mail_tickets_are_earlier_callers(desk: Installation) -> None:
    """The names of tickets made by the ingest (several in one batch) are folded too."""
    from tests.harness import corpus

    desk.drop(*(corpus.simple("Question", "Bonjour, une question.",
                              from_addr=f"{name} <{address}>")
                for name, address in (("Émile Verhaegen", "emile@citizen.example"),
                                      ("Ørjan Ødegård", "orjan@citizen.example"),
                                      ("Zoë Claes", "zoe@citizen.example"))))
    desk.ok("ingest", "once")
    for query, address in (("verhaegen", "emile@citizen.example"),
                           ("orjan odegard", "orjan@citizen.example"),
                           ("ZOE", "zoe@citizen.example")):
        [caller] = desk.json("directory", "lookup", query)
        assert (caller["entry"], caller["email"], caller["language"]) == (
            "caller", address, "fr"), query
        assert len(caller["open_tickets"]) == 1
