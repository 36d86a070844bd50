"""The directory of organisations and users: a 6,000-user import, re-imports that change
nothing or exactly what changed (audited), problems reported by file and line, show, search,
export, access status, and tickets from directory users — on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from rnmail.db import Database
from rnmail.directory.import_export import EXPORT_COLUMNS
from rnmail.directory.people import find_user, user_snapshot
from rnmail.i18n.formats import text_day
from rnmail.models import AuditEvent, DirectoryUser, GroupMember, Organisation, Ticket
from rnmail.vocab import ORGANISATION_KINDS, REQUESTER_TYPE_ALIASES
from tests.harness import corpus
from tests.harness.factories import write_config
from tests.harness.install import rnmail

# Only reserved names: *.example and *.test domains, made-up people and places.
PROVINCES = (11, 12, 13, 21, 23, 24, 25, 31, 32, 33, 34, 35, 36, 37, 38, 41, 42, 43, 44, 45,
             46, 51, 52, 53, 55, 56, 57, 58, 61, 62, 63, 64, 71, 72, 73, 81, 82, 83, 84, 85,
             91, 92, 93)
PLACES = ("Bruyère", "Évêché", "Zoëlbeek", "Heide", "Mühlenbach", "Sart", "Ooster", "Fagne",
          "Brœck", "Vallée")
FIRST = ("Anne", "Séverine", "Jürgen", "Françoise", "Luc", "Zoë", "Bart", "Éloïse", "Koen",
         "Małgorzata")
LAST = ("Dupont", "Peeters", "Müller", "Lefèvre", "Janssens", "Dubois", "Maes", "Schröder",
        "Wouters", "Noël")
ROLES = ("security officer", "population", "", "IT")
LANGS = ("fr", "nl", "de")
# Enough for every organisation to get users (> 1,329) and for the new users to take more
# than one of the import's 5,000-row INSERTs (and many of its 500-id look-ups). The 20,000
# users of docs/helpdesk.md's timing proved nothing more here and took 26 s per database.
USERS = 6_000
HEADER = list(EXPORT_COLUMNS)


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    path = write_config(tmp_path, db_url)
    assert rnmail(path, "init")[0] == 0
    return path


@pytest.fixture
def db(config: Path, db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def organisations() -> list[dict[str, str]]:
    """589 municipalities with NIS-like codes, police zones, notaries (no code), public
    services (some typed with an alias), companies (no code) and others."""
    orgs: list[dict[str, str]] = []
    codes = [f"{p}{i:03d}" for i in range(1, 40) for p in PROVINCES][:589]
    for i, code in enumerate(codes):
        lang = LANGS[i % 3]
        prefix = {"fr": "Commune de", "nl": "Gemeente", "de": "Gemeinde"}[lang]
        orgs.append({"name": f"{prefix} {PLACES[i % len(PLACES)]}-{i}", "type": "municipality",
                     "code": code, "lang": lang,
                     "domain": f"nis-{code}.municipality.example"})
    for i in range(185):
        orgs.append({"name": f"Zone de police {i}", "type": "police-zone",
                     "code": f"PZ{5260 + i}", "lang": LANGS[i % 2],
                     "domain": f"pz-{5260 + i}.police.example"})
    for i in range(400):
        orgs.append({"name": f"Notaire {LAST[i % 10]} {i}", "type": "notary", "code": "",
                     "lang": LANGS[i % 2], "domain": f"notary-{i}.notary.test"})
    for i in range(25):
        orgs.append({"name": f"Service public {i}",
                     "type": "public service" if i % 2 else "public-service",
                     "code": f"SPF-{i:02d}", "lang": "fr", "domain": f"fps-{i}.service.example"})
    for i in range(120):
        orgs.append({"name": f"Société {i}", "type": "company", "code": "", "lang": "nl",
                     "domain": f"company-{i}.company.example"})
    for i in range(10):
        orgs.append({"name": f"Other {i}", "type": "other", "code": "", "lang": "en",
                     "domain": f"other-{i}.other.test"})
    return orgs


ORGS = organisations()


def status_of(n: int) -> str:
    return "revoked" if n % 211 == 1 else "blocked" if n % 97 == 1 else "active"


def user_rows() -> list[dict[str, str]]:
    """User n belongs to organisation n % len(ORGS); their line is n + 2."""
    rows = []
    for n in range(USERS):
        org = ORGS[n % len(ORGS)]
        rows.append({
            "organisation": org["name"], "organisation_type": org["type"],
            "organisation_code": org["code"],
            "name": f"{FIRST[n % 10]} {LAST[(n // 10) % 10]}",
            "email": f"user{n}@{org['domain']}", "phone": f"0470{n:06d}",
            "language": org["lang"] if n % 7 else "en", "role": ROLES[n % 4],
            "access_status": status_of(n), "organisation_language": org["lang"],
            "organisation_address": f"Rue de la Station {n % len(ORGS)}, 1000 Ville",
            "organisation_contacts": f"info@{org['domain']}",
            "key_sent": f"2025-{n % 12 + 1:02d}-{n % 28 + 1:02d}" if n % 3 else "",
        })
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns or HEADER, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _pairs(result: Any) -> dict[Any, Any]:
    return {key: value for key, value in result}


def audit_counts(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        return _pairs(session.execute(select(AuditEvent.action, func.count())
                                    .group_by(AuditEvent.action)))


def audits(db: Database, action: str) -> list[AuditEvent]:
    with db.transaction() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.id)))


def import_json(config: Path, path: Path, *more: str) -> dict[str, Any]:
    code, out, err = rnmail(config, "directory", "import", str(path), "--json", *more)
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def counts(report: dict[str, Any]) -> tuple[int, ...]:
    return (report["organisations_created"], report["organisations_updated"],
            report["users_created"], report["users_updated"], report["users_unchanged"],
            report["status_changes"])


# --------------------------------------------------------------------------- 6,000 users


@pytest.mark.slow
def test_import_six_thousand_users_then_reimport_with_changes(
        config: Path, db: Database, tmp_path: Path) -> None:
    rows = user_rows()
    path = write_csv(tmp_path / "directory.csv", rows)
    report = import_json(config, path)
    assert report["rows"] == USERS and not report["dry_run"]
    assert counts(report) == (len(ORGS), 0, USERS, 0, 0, 0)
    with db.transaction() as session:
        kinds = _pairs(session.execute(select(Organisation.kind, func.count())
                                     .group_by(Organisation.kind)))
        assert kinds == {"municipality": 589, "police": 185, "notary": 400,
                         "public-service": 25, "company": 120, "other": 10}
        states = _pairs(session.execute(select(DirectoryUser.access_status, func.count())
                                      .group_by(DirectoryUser.access_status)))
        assert states == {s: sum(1 for n in range(USERS) if status_of(n) == s)
                          for s in ("active", "blocked", "revoked")}
        user = find_user(session, rows[13]["email"].upper())
        assert (user.phone, user.organisation.code, user.role, user.language) == (
            "+32470000013", ORGS[13]["code"], "population", ORGS[13]["lang"])
        assert user.key_sent_at == datetime(2025, 2, 14, tzinfo=UTC)
        notary = find_user(session, f"user{589 + 185 + 3}@notary-3.notary.test")
        assert notary.organisation.code is None and notary.organisation.kind == "notary"
        assert notary.organisation.contact_emails == ["info@notary-3.notary.test"]
        stamp = session.scalar(select(func.max(DirectoryUser.updated_at)))
    added = audit_counts(db)
    assert added == {"directory-add": USERS, "directory-org-add": len(ORGS)}
    [first] = [e for e in audits(db, "directory-add") if e.detail["email"] == rows[0]["email"]]
    assert first.detail["source"] == f"{path}:2"
    assert first.detail["after"]["organisation_code"] == ORGS[0]["code"]

    # The same file again: nothing written, nothing audited.
    report = import_json(config, path)
    assert counts(report) == (0, 0, 0, 0, USERS, 0)
    assert audit_counts(db) == added
    with db.transaction() as session:
        assert session.scalar(select(func.max(DirectoryUser.updated_at))) == stamp

    # Some names, phones and states change, and a municipality is renamed.
    changed = [dict(r) for r in rows]
    for n in (5, 500, 5000, 9):
        changed[n]["name"] += " Jr"
    for n in (6, 600):
        changed[n]["phone"] = f"02/518.{n:04d}"
    changed[7]["access_status"] = "revoked"   # active -> revoked; in a user group
    changed[8]["access_status"] = "blocked"   # active -> blocked
    changed[98]["access_status"] = "active"   # blocked -> active
    changed[9]["access_status"] = "blocked"   # and a new name
    renamed = ORGS[3]
    for r in changed:
        if r["organisation_code"] == renamed["code"]:
            r["organisation"] = renamed["name"] + " (fusion)"
    assert rnmail(config, "lists", "add", "municipalities", rows[7]["email"], "--name", "U7",
                  "--language", "fr", "--create")[0] == 0
    path2 = write_csv(tmp_path / "directory-2.csv", changed)

    report = import_json(config, path2, "--dry-run")
    assert report["dry_run"] and counts(report) == (0, 1, 0, 9, USERS - 9, 4)
    assert audit_counts(db) == added  # a dry run writes nothing

    code, out, _ = rnmail(config, "directory", "import", str(path2), "--by", "carine")
    assert code == 0
    assert out.strip() == (f"{path2}: {USERS} user(s); organisations: 0 created, 1 updated; "
                           f"users: 0 created, 9 updated, {USERS - 9} unchanged; "
                           f"4 access status change(s)")
    updates = audits(db, "directory-update")
    assert sorted(e.detail["email"] for e in updates) == sorted(
        rows[n]["email"] for n in (5, 500, 5000, 9, 6, 600))
    for event in updates:
        n = int(event.detail["email"].split("@")[0][4:])
        before, after = event.detail["before"], event.detail["after"]
        assert event.actor == "carine" and event.detail["source"] == f"{path2}:{n + 2}"
        diff = {k for k in before if before[k] != after[k]}
        assert diff == ({"name"} if n in (5, 500, 5000, 9) else {"phone"})
        if n == 6:
            assert (before["phone"], after["phone"]) == ("+32470000006", "+3225180006")
    statuses = {e.detail["email"]: e for e in audits(db, "directory-status")}
    assert set(statuses) == {rows[n]["email"] for n in (7, 8, 98, 9)}
    seven = statuses[rows[7]["email"]].detail
    assert seven["reason"] == f"import {path2}:9" and seven["groups_left"] == 1
    assert (seven["before"]["access_status"], seven["after"]["access_status"]) == (
        "active", "revoked")
    [org_event] = audits(db, "directory-org-update")
    assert org_event.detail["before"]["name"] == renamed["name"]
    assert org_event.detail["after"]["name"] == renamed["name"] + " (fusion)"
    with db.transaction() as session:
        assert session.scalars(select(GroupMember).where(
            GroupMember.email == rows[7]["email"])).all() == []
        nine = find_user(session, rows[9]["email"])
        assert (nine.name, nine.access_status) == (rows[9]["name"] + " Jr", "blocked")
    after_changes = audit_counts(db)
    assert after_changes == {**added, "directory-update": 6, "directory-status": 4,
                             "directory-org-update": 1}

    # Export, and import the export: nothing changes.
    exported = tmp_path / "export.csv"
    assert rnmail(config, "directory", "export", "--out", str(exported))[0] == 0
    text = exported.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    assert len(text.splitlines()) == USERS + 1
    assert counts(import_json(config, exported)) == (0, 0, 0, 0, USERS, 0)
    assert counts(import_json(config, path2)) == (0, 0, 0, 0, USERS, 0)
    assert audit_counts(db) == after_changes
    assert rnmail(config, "directory", "export")[1] == text


# --------------------------------------------------------------------------- small files

SMALL = (
    "\ufeffOrganisation;Organisation_Type;Organisation_Code;Name;Email;Phone;Language;Role;"
    "Access_Status;Organisation_Language;Organisation_Address;Organisation_Contacts;Key_Sent\r\n"
    "Commune de Bruyère-Évêché;commune;62999;Séverine Lefèvre;"
    "Severine.Lefevre@nis-62999.municipality.example;04/221.84.11;FR;population;active;fr;"
    "\"Place du Marché 2; 4000 Bruyère\";"
    "population@nis-62999.municipality.example info@nis-62999.municipality.example;"
    "2025-02-03\r\n"
    "Commune de Bruyère-Évêché;municipality;62999;Jürgen Noël;"
    "jurgen@nis-62999.municipality.example;;de;;blocked;;;;\r\n"
    "\r\n"
    "Politiezone Oosterheide;police-zone;PZ5999;Koen Maes;koen@pz-5999.police.example;"
    "09 266 61 11;nl;IT;active;nl;;;\r\n"
    "Notariaat Wouters;notary;;An Wouters;an@notary-1.notary.test;+32 2 518 21 31;nl;;"
    "revoked;nl;;;\r\n"
    "Notariaat Wouters;company;;Bart Wouters;bart@company-1.company.example;;nl;;active;;;;\r\n"
)
SEVERINE = "severine.lefevre@nis-62999.municipality.example"


@pytest.fixture
def small(config: Path, tmp_path: Path) -> Path:
    path = tmp_path / "small.csv"
    path.write_bytes(SMALL.encode("utf-8"))
    report = import_json(config, path)
    assert counts(report) == (4, 0, 5, 0, 0, 0)
    return path


def test_problems_are_reported_with_file_and_line_and_nothing_is_written(
        config: Path, db: Database, small: Path, tmp_path: Path) -> None:
    before = audit_counts(db)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "organisation,organisation_type,organisation_code,name,email,phone,language,role,"
        "access_status,key_sent\n"
        f"Commune de Bruyère-Évêché,municipality,62999,Changed Name,{SEVERINE},,fr,,active,\n"
        "Commune A,municipality,11001,Bob,bob@nis-11001.municipality.example,,fr,,active,\n"
        "Commune A,municipality,11001,Bert,not an address,,fr,,active,\n"
        f"Commune A,municipality,11001,Twice,{SEVERINE.upper()},,fr,,active,\n"
        "Commune B,municipality,11001,Carl,carl@nis-11001.municipality.example,,fr,,active,\n"
        "Zone X,fire brigade,,Dirk,dirk@zone-x.police.example,,nl,,active,\n"
        "Zone Y,police,,Els,els@zone-y.police.example,,es,,active,\n"
        "Zone Y,police,,Fien,fien@zone-y.police.example,,nl,,suspended,\n"
        "Zone Y,police,,Guy,guy@zone-y.police.example,12,nl,,active,\n"
        "Zone Y,police,,Hans,hans@zone-y.police.example,,nl,,active,2025-13-45\n"
        "Zone Y,police,,,ines@zone-y.police.example,,nl,,active,\n",
        encoding="utf-8")
    code, out, err = rnmail(config, "directory", "import", str(bad))
    assert code == 1 and out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert lines[-1] == "Error: nothing imported: 9 problem(s) in 1 of 1 file(s)"
    problems = lines[:-1]
    assert problems[0].startswith(f"{bad}:4: invalid address 'not an address': ")
    assert problems[1:] == [
        f"{bad}:5: duplicate address {SEVERINE} (first on line 2)",
        f"{bad}:6: organisation code 11001 is used for two organisations: 'Commune A' "
        "(line 3) and 'Commune B'",
        f"{bad}:7: unknown organisation type 'fire brigade': use one of municipality, police, "
        "notary, public-service, company, other",
        f"{bad}:8: unknown language 'es' (fr, nl, de or en)",
        f"{bad}:9: unknown access_status 'suspended' (active, blocked, revoked)",
        f"{bad}:10: phone '12' is not a phone number",
        f"{bad}:11: key_sent '2025-13-45' is not a date (YYYY-MM-DD)",
        f"{bad}:12: missing name",
    ]
    assert audit_counts(db) == before
    with db.transaction() as session:
        assert find_user(session, SEVERINE).name == "Séverine Lefèvre"
        assert session.scalar(select(func.count()).select_from(DirectoryUser)) == 5

    no_state = tmp_path / "no-state.csv"
    no_state.write_text("organisation,organisation_type,organisation_code,name,email,phone,"
                        "language,role\n", encoding="utf-8")
    code, _, err = rnmail(config, "directory", "import", str(no_state), "--dry-run")
    assert code == 1
    assert err.splitlines()[0].startswith(f"{no_state}:1: no 'access_status' column")


def test_organisation_type_takes_every_requester_type_and_alias_but_citizen(
        config: Path, tmp_path: Path) -> None:
    """The same words as ``ticket set --type`` (tests/test_workflow.py), in any case, but
    ``citizen``: a person is no organisation."""
    words = {**{t.value: t.value for t in ORGANISATION_KINDS},
             **{alias: kind.value for alias, kind in REQUESTER_TYPE_ALIASES.items()},
             "Gemeente": "municipality", "COMMUNE": "municipality"}
    assert {"gemeente", "commune", "police-zone", "public service"} <= set(words)
    rows = [{"organisation": f"Org {n}", "organisation_type": word,
             "organisation_code": f"T{n}", "name": f"User {n}",
             "email": f"user{n}@org-{n}.example", "language": "nl", "access_status": "active"}
            for n, word in enumerate(words)]
    report = import_json(config, write_csv(tmp_path / "types.csv", rows))
    assert report["organisations_created"] == len(words)
    for n, stored in enumerate(words.values()):
        code, out, err = rnmail(config, "directory", "show", f"T{n}", "--json")
        assert code == 0 and json.loads(out)["type"] == stored, (n, stored, err)
    citizen = [{**rows[0], "organisation_code": "C1", "organisation_type": "citizen"}]
    code, _, err = rnmail(config, "directory", "import",
                          str(write_csv(tmp_path / "citizen.csv", citizen)))
    assert code == 1 and "unknown organisation type 'citizen': use one of municipality, " \
        "police, notary, public-service, company, other" in err


def test_show_search_and_export_round_trip(config: Path, db: Database, small: Path,
                                           tmp_path: Path) -> None:
    code, out, _ = rnmail(config, "directory", "show", SEVERINE.upper(), "--json")
    user = json.loads(out)
    assert code == 0 and user["entry"] == "user"
    assert {k: user[k] for k in ("name", "phone", "language", "role", "access_status",
                                 "organisation", "organisation_code", "organisation_type")} == {
        "name": "Séverine Lefèvre", "phone": "+3242218411", "language": "fr",
        "role": "population", "access_status": "active",
        "organisation": "Commune de Bruyère-Évêché", "organisation_code": "62999",
        "organisation_type": "municipality"}
    assert user["key_sent_at"].startswith("2025-02-03") and user["open_tickets"] == []
    code, out, _ = rnmail(config, "directory", "show", SEVERINE)
    assert code == 0 and out.startswith(f"Séverine Lefèvre <{SEVERINE}>\n")
    assert "  access: active since " in out and "key sent: 2025-02-03" in out

    for key in ("62999", "commune de bruyère-évêché", "COMMUNE DE BRUYÈRE-ÉVÊCHÉ"):
        code, out, _ = rnmail(config, "directory", "show", key, "--json")
        org = json.loads(out)
        assert code == 0 and org["entry"] == "organisation" and org["code"] == "62999"
    assert org["address"] == "Place du Marché 2; 4000 Bruyère"
    assert org["contact_emails"] == ["population@nis-62999.municipality.example",
                                     "info@nis-62999.municipality.example"]
    assert [u["email"] for u in org["users"]] == ["jurgen@nis-62999.municipality.example",
                                                  SEVERINE]
    code, out, _ = rnmail(config, "directory", "show", "PZ5999")
    assert code == 0 and out.startswith("Politiezone Oosterheide (police, code PZ5999, "
                                        "language nl)\n")
    assert "1 user(s)" in out and "koen@pz-5999.police.example" in out

    code, out, err = rnmail(config, "directory", "show", "notariaat wouters")
    assert code == 1 and out == ""
    assert err.strip() == ("Error: 2 organisations are named 'notariaat wouters': "
                           "Notariaat Wouters (notary, code none); Notariaat Wouters (company, "
                           "code none); give the code")
    code, _, err = rnmail(config, "directory", "show", "Nowhere")
    assert code == 1 and err.strip().startswith("Error: no organisation or user 'Nowhere'")

    def search(query: str) -> list[tuple[str, str]]:
        code, out, _ = rnmail(config, "directory", "search", query, "--json")
        assert code == 0
        return [(r["entry"], r.get("email") or r["name"]) for r in json.loads(out)]

    assert search("eveche") == [("organisation", "Commune de Bruyère-Évêché")]
    assert search("LEFEVRE") == [("user", SEVERINE)]
    assert search("séverine.lef") == [("user", SEVERINE)]
    assert search("5999") == [("organisation", "Politiezone Oosterheide"),
                              ("user", "koen@pz-5999.police.example")]
    assert search("wouters") == [("organisation", "Notariaat Wouters")] * 2 + [
        ("user", "an@notary-1.notary.test"), ("user", "bart@company-1.company.example")]
    assert search("100%_") == []
    # Users by phone: any notation of the whole number, or its last four digits or more.
    [user] = [u for u in json.loads(rnmail(config, "directory", "search", "Lefèvre",
                                           "--json")[1]) if u["entry"] == "user"]
    assert user["phone"] and user["phone"].startswith("+32")
    national = "0" + user["phone"][3:]
    for number in (user["phone"], national, f"{national[:4]}/{national[4:6]}.{national[6:]}",
                   user["phone"][-6:]):
        assert ("user", SEVERINE) in search(number), number
    assert ("user", SEVERINE) not in search(user["phone"][:-1] + "0" if user["phone"][-1] != "0"
                                            else user["phone"][:-1] + "1")
    code, out, _ = rnmail(config, "directory", "search", "noel")
    assert code == 0 and "Jürgen Noël" in out and out.strip().endswith("1 found")
    code, _, err = rnmail(config, "directory", "search", "  ")
    assert code == 1 and err.strip() == "Error: give something to search for"

    code, text, _ = rnmail(config, "directory", "export")
    assert code == 0
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == 5
    row = next(r for r in exported if r["email"] == SEVERINE)
    assert row["organisation_contacts"] == ("population@nis-62999.municipality.example "
                                            "info@nis-62999.municipality.example")
    assert (row["phone"], row["key_sent"], row["organisation_language"]) == (
        "'+3242218411", "2025-02-03", "fr")  # neutralised for spreadsheets, read back
    again = tmp_path / "again.csv"
    again.write_text(text, encoding="utf-8")
    before = audit_counts(db)
    assert counts(import_json(config, again)) == (0, 0, 0, 0, 5, 0)
    assert counts(import_json(config, small)) == (0, 0, 0, 0, 5, 0)
    assert audit_counts(db) == before
    assert rnmail(config, "directory", "export")[1] == text


def test_set_status_is_audited_and_revoked_users_leave_their_groups(
        config: Path, db: Database, small: Path) -> None:
    jurgen = "jurgen@nis-62999.municipality.example"
    for group in ("municipalities", "internal"):
        assert rnmail(config, "lists", "add", group, jurgen, "--name", "J", "--language", "de",
                      "--create")[0] == 0
    code, out, err = rnmail(config, "directory", "set-status", jurgen.upper(), "revoked",
                            "--reason", "left the municipality", "--by", "alice")
    assert code == 0, err
    assert out.strip() == f"{jurgen}: blocked -> revoked; left 2 user group(s)"
    [event] = audits(db, "directory-status")
    assert event.actor == "alice" and event.detail["reason"] == "left the municipality"
    assert event.detail["before"]["access_status"] == "blocked"
    assert event.detail["after"]["access_status"] == "revoked"
    assert event.detail["groups_left"] == 2
    with db.transaction() as session:
        assert session.scalars(select(GroupMember).where(GroupMember.email == jurgen)).all() == []
        assert user_snapshot(find_user(session, jurgen))["access_status"] == "revoked"
    code, out, _ = rnmail(config, "directory", "set-status", jurgen, "revoked", "--reason", "x")
    assert code == 0 and out.strip() == f"{jurgen} is already revoked: nothing changed"
    code, out, _ = rnmail(config, "directory", "set-status", SEVERINE, "blocked",
                          "--reason", "three wrong PINs")
    assert code == 0 and out.strip() == f"{SEVERINE}: active -> blocked"
    assert len(audits(db, "directory-status")) == 2

    for args, message in (
        (("set-status", SEVERINE, "suspended", "--reason", "r"),
         "Error: unknown access state 'suspended': use one of active, blocked, revoked"),
        (("set-status", "nobody@nowhere.example", "active", "--reason", "r"),
         "Error: no user 'nobody@nowhere.example' in the directory"),
        (("set-status", SEVERINE, "active", "--reason", " "),
         "Error: give the reason for the change (--reason)"),
        (("show", "nobody@nowhere.example"),
         "Error: no user 'nobody@nowhere.example' in the directory"),
        (("import", "/nonexistent/directory.csv"), "Error: no file /nonexistent/directory.csv"),
    ):
        code, out, err = rnmail(config, "directory", *args)
        assert (code, out, err.strip()) == (1, "", message)
    code, _, err = rnmail(config, "directory", "set-status", SEVERINE, "active")
    assert code == 2 and "--reason" in err and "Traceback" not in err
    assert len(audits(db, "directory-status")) == 2


def test_tickets_from_directory_users_get_their_organisation(
        config: Path, db: Database, small: Path, tmp_path: Path) -> None:
    new = tmp_path / "maildir" / "new"
    new.mkdir(parents=True)
    new.joinpath("known.eml").write_bytes(corpus.simple(
        "Clé d'accès", "Bonjour, ma clé d'accès ne fonctionne plus.",
        from_addr=f"Séverine Lefèvre <{SEVERINE}>"))
    new.joinpath("stranger.eml").write_bytes(corpus.simple(
        "Question", "Bonjour, une question.", from_addr="someone@citizen.example"))
    code, out, _ = rnmail(config, "ingest", "once")
    assert code == 0 and "2 ticket" in out
    tickets = {t["requester"]: t for t in json.loads(rnmail(config, "ticket", "list",
                                                            "--json")[1])}
    known, stranger = tickets[SEVERINE], tickets["someone@citizen.example"]
    assert (known["requester_org"], known["requester_type"]) == (
        "Commune de Bruyère-Évêché", "municipality")
    assert (stranger["requester_org"], stranger["requester_type"]) == (None, "other")

    today = text_day(datetime.now(UTC))  # in Brussels: after 23:00 UTC it is tomorrow
    code, out, _ = rnmail(config, "ticket", "show", str(known["id"]))
    assert code == 0
    assert (f"Directory: Commune de Bruyère-Évêché (municipality), access active since "
            f"{today}\n") in out
    detail = json.loads(rnmail(config, "ticket", "show", str(known["id"]), "--json")[1])
    assert detail["directory"]["email"] == SEVERINE
    assert text_day(detail["directory"]["last_contact_at"]) == today
    code, out, _ = rnmail(config, "ticket", "show", str(stranger["id"]))
    assert code == 0 and "Directory:" not in out
    assert json.loads(rnmail(config, "ticket", "show", str(stranger["id"]),
                             "--json")[1])["directory"] is None

    user = json.loads(rnmail(config, "directory", "show", SEVERINE, "--json")[1])
    assert [t["id"] for t in user["open_tickets"]] == [known["id"]]
    assert rnmail(config, "ticket", "close", str(known["id"]))[0] == 0
    user = json.loads(rnmail(config, "directory", "show", SEVERINE, "--json")[1])
    assert user["open_tickets"] == []

    # Tickets opened by hand: by address, and a phone call by the user's number.
    for requester, org, kind in (
        ("koen@pz-5999.police.example", "Politiezone Oosterheide", "police"),
        ("09/266.61.11", "Politiezone Oosterheide", "police"),
        ("+32 2 518 21 31", "Notariaat Wouters", "notary"),
        ("02/511.11.11", None, "other"),
    ):
        code, out, err = rnmail(config, "ticket", "new", "--requester", requester,
                                "--subject", "Call", "--json")
        assert code == 0, err
        made = json.loads(out)
        assert (made["requester_org"], made["requester_type"]) == (org, kind)
        if org == "Politiezone Oosterheide":  # the user's own name and language (config: fr)
            assert (made["requester_name"], made["language"]) == ("Koen Maes", "nl")
    code, out, _ = rnmail(config, "ticket", "new", "--requester", "koen@pz-5999.police.example",
                          "--subject", "Call", "--org", "Other office", "--requester-type",
                          "citizen", "--json")
    made = json.loads(out)
    assert (made["requester_org"], made["requester_type"]) == ("Other office", "citizen")
    with db.transaction() as session:
        koen = find_user(session, "koen@pz-5999.police.example")
        assert koen.last_contact_at is not None
        assert session.scalar(select(func.count()).select_from(Ticket)) == 7
