"""``rnmail spam`` and ``rnmail block`` on the command line (issue 19), both databases: a
Maildir drop with a flagged mail and a blocked sender; list, release once, delete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import corpus
from tests.harness.factories import write_config
from tests.harness.install import rnmail


@pytest.fixture
def drop(tmp_path: Path, db_url: str) -> Path:
    config = write_config(tmp_path, db_url)
    assert rnmail(config, "init")[0] == 0
    (tmp_path / "maildir" / "new").mkdir(parents=True, exist_ok=True)
    return config


def test_spam_and_block_commands(drop: Path, tmp_path: Path) -> None:
    code, out, _ = rnmail(drop, "block", "add", "Promo.Example", "--reason", "campagne",
                          "--by", "marie")
    assert code == 0 and out.strip() == "promo.example blocked (domain)"
    code, _, err = rnmail(drop, "block", "add", "not a domain")
    assert code == 1 and "neither an address" in err
    [entry] = json.loads(rnmail(drop, "block", "list", "--json")[1])
    assert (entry["pattern"], entry["kind"], entry["by"], entry["reason"]) == (
        "promo.example", "domain", "marie", "campagne")

    new = tmp_path / "maildir" / "new"
    (new / "a.eml").write_bytes(corpus.simple("Soldes", "Tout à -50 %",
                                              from_addr="news@mail.PROMO.example"))
    (new / "b.eml").write_bytes(corpus.simple("Gagnant", "Vous avez gagné",
                                              from_addr="x@lottery.example",
                                              extra_headers={"X-Spam-Flag": "yes"}))
    code, out, _ = rnmail(drop, "ingest", "once")
    assert code == 0 and "2 message(s): 2 spam" in out
    assert json.loads(rnmail(drop, "ticket", "list", "--json")[1]) == []
    rows = json.loads(rnmail(drop, "spam", "list", "--json")[1])
    assert [(r["subject"], r["reason"]) for r in rows] == [
        ("Gagnant", "spam flag (yes)"), ("Soldes", "blocklist: promo.example")]

    code, out, _ = rnmail(drop, "spam", "release", str(rows[1]["id"]), "--by", "marie")
    assert code == 0 and out.strip() == f"spam #{rows[1]['id']} released: ticket"
    code, _, err = rnmail(drop, "spam", "release", str(rows[1]["id"]))
    assert code == 1 and "already released" in err
    assert [t["subject"] for t in json.loads(rnmail(drop, "ticket", "list", "--json")[1])] == [
        "Soldes"]
    code, out, _ = rnmail(drop, "spam", "delete", str(rows[0]["id"]))
    assert code == 0 and out.strip() == f"spam #{rows[0]['id']} deleted"
    assert "0 message(s)" in rnmail(drop, "spam", "list")[1]
    states = {r["id"]: r["state"] for r in json.loads(rnmail(drop, "spam", "list", "--all",
                                                             "--json")[1])}
    assert states == {rows[0]["id"]: "deleted", rows[1]["id"]: "released"}
    code, out, _ = rnmail(drop, "block", "remove", "promo.example")
    assert code == 0 and "no longer blocked" in out
    assert "0 entries" in rnmail(drop, "block", "list")[1]
