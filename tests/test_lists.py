"""User groups: CSV lists checked and imported whole, members, export, recipients, and
bounces that end in suppression — on SQLite and PostgreSQL, through the CLI and the core."""

from __future__ import annotations

import csv
import json
import runpy
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.config import parse_config
from rnmail.db import Database
from rnmail.directory.groups import import_lists, recipients
from rnmail.directory.sheets import ListProblems
from rnmail.dispatch.suppression import suppressed_addresses
from rnmail.errors import NotFound
from rnmail.models import Bounce, GroupMember, OutboxMessage, Suppression, UserGroup
from tests.harness import corpus
from tests.harness.factories import TEST_SECRET, write_config
from tests.harness.install import rnmail

DATA = Path(__file__).parent / "data"
SHIPPED = Path(__file__).parent.parent / "lists"
GROUPS = ("internal", "municipalities", "notaries", "police-zones", "public-services")
HEADER = "email,name,language,organisation,code\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    """An initialised installation whose lists_dir is the shipped lists/ folder."""
    path = write_config(tmp_path, db_url, extra=f'[dispatch]\nlists_dir = "{SHIPPED}"\n')
    assert rnmail(path, "init")[0] == 0
    return path


@pytest.fixture
def db(config: Path, db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def members(db: Database, group: str) -> dict[str, tuple[str, str, str | None, str | None]]:
    with db.transaction() as session:
        rows = session.execute(
            select(GroupMember.email, GroupMember.name, GroupMember.language,
                   GroupMember.organisation, GroupMember.code)
            .join(UserGroup).where(UserGroup.name == group))
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def group_names(db: Database) -> list[str]:
    with db.transaction() as session:
        return list(session.scalars(select(UserGroup.name).order_by(UserGroup.name)))


# --------------------------------------------------------------------------- shipped lists


def test_shipped_lists_are_valid_and_on_reserved_domains(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/db.sqlite",
                          extra=f'[dispatch]\nlists_dir = "{SHIPPED}"\n')
    code, out, err = rnmail(config, "lists", "validate")
    assert code == 0, out + err
    assert sorted(p.stem for p in SHIPPED.glob("*.csv")) == list(GROUPS)
    assert "municipalities, 589 address(es), ok" in out
    for path in SHIPPED.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                domain = row["email"].rsplit("@", 1)[1]
                assert domain == "example.org" or domain.endswith(
                    (".example", ".test")), (path.name, row["email"])


def test_municipalities_mix_languages_with_unique_codes() -> None:
    with (SHIPPED / "municipalities.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 589
    languages = [r["language"] for r in rows]
    assert (languages.count("nl"), languages.count("fr"), languages.count("de")) == (300, 262, 27)
    codes = [r["code"] for r in rows]
    assert len(set(codes)) == 589 and all(len(c) == 5 and c.isdigit() for c in codes)
    assert len({r["email"] for r in rows}) == 589
    organisations = {r["language"]: r["organisation"].split()[0] for r in rows}
    assert organisations == {"nl": "Gemeente", "fr": "Commune", "de": "Gemeinde"}


def test_the_generator_writes_the_shipped_lists(tmp_path: Path) -> None:
    for path in SHIPPED.glob("*.py"):
        shutil.copy(path, tmp_path / path.name)
    runpy.run_path(str(tmp_path / "generate.py"), run_name="__main__")
    for path in SHIPPED.glob("*.csv"):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_import_the_shipped_lists(config: Path, db: Database) -> None:
    code, out, err = rnmail(config, "lists", "import")
    assert code == 0, err
    assert "municipalities: 589 member(s) (589 added, 0 updated, 0 removed) — new group" in out
    assert group_names(db) == list(GROUPS)  # named after the files

    code, out, _ = rnmail(config, "lists", "list", "--json")
    groups = {g["name"]: g for g in json.loads(out)}
    assert groups["municipalities"]["members"] == 589
    assert groups["municipalities"]["languages"] == {"fr": 262, "nl": 300, "de": 27}
    assert groups["police-zones"]["members"] == 30
    code, out, _ = rnmail(config, "lists", "list")
    assert code == 0 and "municipalities" in out and "589" in out and "nl 300" in out

    code, out, _ = rnmail(config, "lists", "show", "municipalities", "--json")
    shown = json.loads(out)
    assert isinstance(shown, list) and len(shown) == 589
    assert all({"email", "name", "language"} <= set(m) for m in shown)
    assert {m["language"] for m in shown} == {"fr", "nl", "de"}
    assert [m["email"] for m in shown] == sorted(m["email"] for m in shown)

    code, out, _ = rnmail(config, "lists", "show", "internal")
    assert code == 0 and "helpdesk-lead@rn.example" in out and "5 member(s)" in out

    code, out, _ = rnmail(config, "lists", "import")  # again: nothing changes
    assert "municipalities: 589 member(s) (0 added, 0 updated, 0 removed)" in out
    assert "new group" not in out


def test_lists_dir_defaults_to_lists_next_to_the_config(tmp_path: Path) -> None:
    raw = {"helpdesk": {"address": "info@rn.example", "secret": TEST_SECRET}}
    assert parse_config(raw, tmp_path / "rnmail.toml").dispatch.lists_dir == tmp_path / "lists"
    raw["dispatch"] = {"lists_dir": "/srv/lists"}
    assert parse_config(raw, tmp_path / "rnmail.toml").dispatch.lists_dir == Path("/srv/lists")


def test_import_without_files_and_without_lists_dir_is_one_line(tmp_path: Path,
                                                                db_url: str) -> None:
    config = write_config(tmp_path, db_url)
    rnmail(config, "init")
    code, _, err = rnmail(config, "lists", "import")
    assert code == 1
    assert err.strip() == f"Error: lists directory {tmp_path / 'lists'} does not exist"


# --------------------------------------------------------------------------- import


def test_reimport_replaces_the_members(config: Path, db: Database, tmp_path: Path) -> None:
    path = write(tmp_path / "in" / "team.csv", HEADER
                 + "a@rn.example,Anne,fr,,\n"
                 + "b@rn.example,Bart,nl,IT,7\n"
                 + "c@rn.example,Carl,de,,\n")
    code, out, _ = rnmail(config, "lists", "import", str(path))
    assert code == 0
    assert out.strip() == "team: 3 member(s) (3 added, 0 updated, 0 removed) — new group"

    write(path, HEADER
          + "a@rn.example,Anne,fr,,\n"          # unchanged
          + "b@rn.example,Bart,en,Ops,7\n"      # language and organisation changed
          + "d@rn.example,Dirk,nl,,12345\n")    # new; c@ is gone
    code, out, _ = rnmail(config, "lists", "import", str(path))
    assert code == 0 and out.strip() == "team: 3 member(s) (1 added, 1 updated, 1 removed)"
    assert members(db, "team") == {
        "a@rn.example": ("Anne", "fr", None, None),
        "b@rn.example": ("Bart", "en", "Ops", "7"),
        "d@rn.example": ("Dirk", "nl", None, "12345"),
    }


def test_excel_semicolons_bom_header_case_and_extra_columns(config: Path, db: Database,
                                                             tmp_path: Path) -> None:
    path = write(tmp_path / "in" / "police-zones.csv",
                 "\ufeffE-mail fixe;EMAIL;Name;LANGUAGE;Organisation;Remark\r\n"
                 "x;Zone.Nord@Police.Example;Secrétariat;FR;Zone de police Nord;ignored\r\n"
                 "\r\n"
                 "x;noord@police.example;Secretariaat;nl;\"Politiezone Noord; Oost\";\r\n")
    code, _, err = rnmail(config, "lists", "import", str(path))
    assert code == 0, err
    assert members(db, "police-zones") == {
        "zone.nord@police.example": ("Secrétariat", "fr", "Zone de police Nord", None),
        "noord@police.example": ("Secretariaat", "nl", "Politiezone Noord; Oost", None),
    }


def test_validate_reports_every_problem_with_file_and_line(config: Path, db: Database,
                                                           tmp_path: Path) -> None:
    bad = write(tmp_path / "in" / "notaries.csv",
                "\ufeffemail;name;language\n"
                "ok@notaries.example;Ok;fr\n"
                "not an address;Broken;nl\n"
                "OK@Notaries.example;Twice;nl\n"
                "nolang@notaries.example;No language;\n"
                "es@notaries.example;Spanish;es\n"
                "dots..x@notaries.example;Dots;de\n")
    no_email = write(tmp_path / "in" / "internal.csv", "mail,name,language\nx@rn.example,X,fr\n")
    badname = write(tmp_path / "in" / "Police_Zones.csv", HEADER + "p@police.example,P,fr,,\n")
    code, out, err = rnmail(config, "lists", "validate", str(bad), str(no_email), str(badname))
    assert code == 1 and "Traceback" not in out + err
    lines = out.splitlines()
    assert f"{bad}:3: invalid address 'not an address': " in "\n".join(lines)
    assert f"{bad}:4: duplicate address ok@notaries.example (first on line 2)" in lines
    assert f"{bad}:5: missing language (fr, nl, de or en)" in lines
    assert f"{bad}:6: unknown language 'es' (fr, nl, de or en)" in lines
    assert any(line.startswith(f"{bad}:7: invalid address 'dots..x@") for line in lines)
    assert any(line.startswith(f"{no_email}:1: no 'email' column") for line in lines)
    assert any(line.startswith(f"{badname}: group name 'Police_Zones'") for line in lines)
    assert len(lines) == 7
    assert err.strip() == "Error: 7 problem(s) in 3 of 3 file(s)"
    assert group_names(db) == []


def test_nothing_is_imported_when_one_file_is_bad(config: Path, db: Database,
                                                  tmp_path: Path) -> None:
    team = write(tmp_path / "in" / "team.csv", HEADER + "a@rn.example,Anne,fr,,\n")
    assert rnmail(config, "lists", "import", str(team))[0] == 0

    write(team, HEADER + "b@rn.example,Bart,nl,,\n")  # would replace a@ by b@
    good = write(tmp_path / "in" / "notaries.csv", HEADER + "n@notaries.example,N,fr,,\n")
    bad = write(tmp_path / "in" / "police.csv", HEADER + "p@police.example,P,xx,,\n")
    code, out, err = rnmail(config, "lists", "import", str(team), str(good), str(bad))
    assert code == 1 and out == ""
    assert f"{bad}:2: unknown language 'xx'" in err
    assert "Error: nothing imported: 1 problem(s) in 1 of 3 file(s)" in err
    assert group_names(db) == ["team"]
    assert list(members(db, "team")) == ["a@rn.example"]

    with pytest.raises(ListProblems) as caught:
        import_lists(db, [good, bad])
    assert [str(p) for p in caught.value.problems] == [
        f"{bad}:2: unknown language 'xx' (fr, nl, de or en)"]
    assert group_names(db) == ["team"]


def test_files_that_are_not_lists(config: Path, db: Database, tmp_path: Path) -> None:
    latin1 = write(tmp_path / "in" / "latin.csv", HEADER + "a@x.example,Gérard,fr,,\n",
                   encoding="latin-1")
    empty = write(tmp_path / "in" / "empty.csv", "\n\n")
    twice = write(tmp_path / "in" / "twice.csv", "email,name,language,Email\n")
    code, out, _ = rnmail(config, "lists", "validate", str(latin1), str(empty), str(twice))
    assert code == 1
    assert f"{latin1}:2: not UTF-8 text" in out
    assert f"{empty}: empty file" in out
    assert f"{twice}:1: column(s) given twice: email" in out


# --------------------------------------------------------------------------- members


def test_add_remove_export_round_trip(config: Path, db: Database, tmp_path: Path) -> None:
    assert rnmail(config, "lists", "import")[0] == 0
    code, out, _ = rnmail(config, "lists", "add", "internal", "New.Person@RN.example",
                          "--name", "Nieuwe Persoon", "--language", "nl",
                          "--organisation", "Registre national, IT", "--code", "42")
    assert code == 0 and out.strip() == "new.person@rn.example (nl) added to internal"
    code, _, err = rnmail(config, "lists", "add", "internal", "new.person@rn.example",
                          "--name", "Again", "--language", "fr")
    assert code == 1
    assert err.strip() == "Error: new.person@rn.example is already in group 'internal'"

    code, text, _ = rnmail(config, "lists", "export", "internal")
    assert code == 0 and text.startswith(HEADER)
    assert "new.person@rn.example,Nieuwe Persoon,nl,\"Registre national, IT\",42\n" in text
    assert len(text.splitlines()) == 7

    out_file = tmp_path / "backup" / "internal.csv"
    out_file.parent.mkdir()
    assert rnmail(config, "lists", "export", "internal", "--out", str(out_file))[0] == 0
    assert out_file.read_text(encoding="utf-8") == text

    code, out, _ = rnmail(config, "lists", "remove", "internal", "NEW.PERSON@rn.example")
    assert code == 0 and out.strip() == "new.person@rn.example removed from internal"
    assert "new.person@rn.example" not in members(db, "internal")
    code, _, err = rnmail(config, "lists", "remove", "internal", "new.person@rn.example")
    assert code == 1 and err.strip() == "Error: new.person@rn.example is not in group 'internal'"

    code, out, _ = rnmail(config, "lists", "import", str(out_file))  # the export, read back
    assert code == 0 and out.strip() == "internal: 6 member(s) (1 added, 0 updated, 0 removed)"
    assert members(db, "internal")["new.person@rn.example"] == (
        "Nieuwe Persoon", "nl", "Registre national, IT", "42")
    assert rnmail(config, "lists", "export", "internal")[1] == text

    shipped = rnmail(config, "lists", "export", "municipalities")[1]  # same rows as shipped
    with (SHIPPED / "municipalities.csv").open(encoding="utf-8", newline="") as f:
        rows = sorted(csv.reader(f))
    assert sorted(csv.reader(shipped.splitlines())) == rows


def test_unknown_group_and_wrong_arguments(config: Path, db: Database) -> None:
    assert rnmail(config, "lists", "import")[0] == 0
    known = "known: internal, municipalities, notaries, police-zones, public-services"
    for args in (("show", "nosuch"), ("export", "nosuch"), ("remove", "nosuch", "a@x.example")):
        code, out, err = rnmail(config, "lists", *args)
        assert code == 1 and out == "" and err.strip() == f"Error: no group 'nosuch' ({known})"
    code, _, err = rnmail(config, "lists", "add", "nosuch", "a@x.example", "--name", "A",
                          "--language", "fr")
    assert code == 1 and err.strip() == f"Error: no group 'nosuch' ({known}); --create makes it"
    code, out, _ = rnmail(config, "lists", "add", "new-group", "a@x.example", "--name", "A",
                          "--language", "fr", "--create")
    assert code == 0 and "new-group" in group_names(db)
    code, _, err = rnmail(config, "lists", "add", "Bad Name", "a@x.example", "--name", "A",
                          "--language", "fr", "--create")
    assert code == 1 and "group name 'Bad Name' must be lower-case" in err
    code, _, err = rnmail(config, "lists", "add", "internal", "not-an-address", "--name", "A",
                          "--language", "fr")
    assert code == 1 and err.startswith("Error: 'not-an-address' is not a valid mail address")
    assert len(err.strip().splitlines()) == 1
    for args in (("add", "internal", "a@x.example", "--name", "A", "--language", "es"),
                 ("add", "internal", "a@x.example", "--language", "fr"),
                 ("show",), ("export", "internal", "--out"), ("nosuch",)):
        code, _, err = rnmail(config, "lists", *args)
        assert code == 2 and "Error" in err and "Traceback" not in err
    code, _, err = rnmail(config, "lists", "import", "/nonexistent/x.csv")
    assert code == 2 and "does not exist" in err


def test_recipients_dedupe_across_groups_in_the_order_given(config: Path, db: Database,
                                                            tmp_path: Path) -> None:
    first = write(tmp_path / "in" / "first.csv", HEADER
                  + "b@x.example,B one,fr,,\n" + "a@x.example,A one,fr,Org,1\n")
    second = write(tmp_path / "in" / "second.csv", HEADER
                   + "c@x.example,C two,de,,\n" + "A@X.example,A two,nl,,\n")
    import_lists(db, [first, second])
    with db.transaction() as session:
        got = recipients(session, ["second", "first"])
        assert [(r.email, r.group, r.language) for r in got] == [
            ("a@x.example", "second", "nl"), ("c@x.example", "second", "de"),
            ("b@x.example", "first", "fr")]
        got = recipients(session, ["first", "second", "first"])
        assert [(r.email, r.group, r.name) for r in got] == [
            ("a@x.example", "first", "A one"), ("b@x.example", "first", "B one"),
            ("c@x.example", "second", "C two")]
        assert got[0].organisation == "Org" and got[0].code == "1"
        assert recipients(session, []) == []
        with pytest.raises(NotFound, match=r"no group 'nope' \(known: first, second\)"):
            recipients(session, ["first", "nope"])
        session.add(Suppression(email="b@x.example", reason="test", hard_bounces=3))
        session.flush()
        assert suppressed_addresses(session, ["B@x.example", "a@x.example"]) == {"b@x.example"}
        # more suppressions than addresses asked about: looked up, not all read
        session.add_all(Suppression(email=f"s{i}@x.example", reason="test", hard_bounces=3)
                        for i in range(3))
        session.flush()
        assert suppressed_addresses(session, ["S1@x.example"]) == {"s1@x.example"}
        assert suppressed_addresses(session, ["c@x.example"]) == set()


# --------------------------------------------------------------------------- bounces


def _request(maildir: Path, address: str, n: int) -> None:
    (maildir / "new").mkdir(parents=True, exist_ok=True)
    (maildir / "new" / f"request-{n}.eml").write_bytes(corpus.simple(
        f"Question {n} sur le registre", "Bonjour, nous avons une question sur un dossier.",
        from_addr=address))


def _dsn(maildir: Path, address: str, message_id: str, n: int) -> None:
    raw = (DATA / "bounce_dsn_permanent_5_1_1.eml").read_bytes()
    raw = raw.replace(b"unknown-user@municipality.example", address.encode())
    raw = raw.replace(b"<out-placeholder@rn.example>", message_id.encode())
    raw = raw.replace(b"<20250303091501.7D1E2F3A4B@", f"<report-{n}@".encode())
    (maildir / "new" / f"dsn-{n}.eml").write_bytes(raw)


def _outbox(db: Database, address: str) -> list[tuple[int, str, str]]:
    with db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == address)
                               .order_by(OutboxMessage.id))
        return [(r.id, r.message_id, r.state) for r in rows]


def test_hard_bounces_mark_the_mail_bounced_then_suppress_the_address(
        config: Path, db: Database, tmp_path: Path) -> None:
    assert rnmail(config, "lists", "import")[0] == 0
    with (SHIPPED / "municipalities.csv").open(encoding="utf-8", newline="") as f:
        address = next(csv.DictReader(f))["email"]
    maildir = tmp_path / "maildir"
    for n in range(3):
        _request(maildir, address, n)
    assert "3 ticket" in rnmail(config, "ingest", "once")[1]
    assert rnmail(config, "outbox", "send")[1].startswith("3 sent")
    acks = _outbox(db, address)
    assert [state for _, _, state in acks] == ["sent"] * 3

    _dsn(maildir, address, acks[0][1], 1)
    assert "1 bounce" in rnmail(config, "ingest", "once")[1]
    assert [state for _, _, state in _outbox(db, address)] == ["bounced", "sent", "sent"]
    code, out, _ = rnmail(config, "outbox", "list", "--json")
    assert {r["id"]: r["bounced"] for r in json.loads(out)}[acks[0][0]] is True
    _dsn(maildir, address, acks[0][1], 2)  # a second report about the same mail
    _dsn(maildir, address, acks[1][1], 3)
    assert "2 bounce" in rnmail(config, "ingest", "once")[1]
    with db.transaction() as session:
        assert session.get(Suppression, address) is None  # two mails bounced, not three
        assert len(session.scalars(select(Bounce).where(Bounce.permanent)).all()) == 3
    assert rnmail(config, "lists", "bounced")[1].strip() == "0 suppressed address(es)"

    _dsn(maildir, address, acks[2][1], 4)
    assert "1 bounce" in rnmail(config, "ingest", "once")[1]
    assert [state for _, _, state in _outbox(db, address)] == ["bounced"] * 3
    code, out, _ = rnmail(config, "lists", "bounced", "--json")
    [row] = json.loads(out)
    assert row["email"] == address and row["hard_bounces"] == 3
    assert row["groups"] == ["municipalities"]
    assert row["reason"].startswith("3 hard bounce(s), last: smtp; 550 5.1.1")
    assert row["suppressed_at"]
    code, out, _ = rnmail(config, "lists", "bounced")
    assert code == 0 and address in out and "[municipalities]" in out
    assert out.strip().endswith("1 suppressed address(es)")
    with db.transaction() as session:
        assert suppressed_addresses(session, [address.upper()]) == {address}

    code, out, _ = rnmail(config, "lists", "unsuppress", address.upper())
    assert code == 0 and out.strip() == f"{address} is no longer suppressed"
    assert json.loads(rnmail(config, "lists", "bounced", "--json")[1]) == []
    code, _, err = rnmail(config, "lists", "unsuppress", address)
    assert code == 1 and err.strip() == f"Error: {address} is not suppressed"
    assert address in members(db, "municipalities")  # suppression never edits the lists


def test_suppression_threshold_is_configurable_and_counts_within_one_batch(
        tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url, extra="[dispatch]\nsuppress_after_bounces = 2\n")
    assert rnmail(config, "init")[0] == 0
    address = "bevolking@voorbeeld.example"
    maildir = tmp_path / "maildir"
    for n in range(3):
        _request(maildir, address, n)
    rnmail(config, "ingest", "once")
    rnmail(config, "outbox", "send")
    db = Database(str(db_url))
    try:
        acks = _outbox(db, address)
        _dsn(maildir, address, acks[0][1], 1)
        _dsn(maildir, address, acks[1][1], 2)
        _dsn(maildir, address, acks[2][1], 3)  # the same batch: one suppression row, updated
        assert "3 bounce" in rnmail(config, "ingest", "once")[1]
        with db.transaction() as session:
            suppression = session.get(Suppression, address)
            assert suppression is not None and suppression.hard_bounces == 3
        [row] = json.loads(rnmail(config, "lists", "bounced", "--json")[1])
        assert row["groups"] == [] and row["reason"].startswith("3 hard bounce(s)")
    finally:
        db.dispose()
