"""The FAQ: entries per language, from tickets, in notifications and answers, as pages."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import corpus
from tests.harness.factories import Desk, make_config
from tests.harness.install import Installation, install
from tests.harness.mail import MARIE, REQUESTER, first_request, received, reply_to
from tests.harness.servers import Dovecot, SmtpServer


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url, init=False)
    text = site.path.read_text().replace(
        'attachments_dir = "attachments"',
        'attachments_dir = "attachments"\npublic_dir = "public"\n'
        'public_url = "https://www.rn.example/helpdesk"')
    site.path.write_text(text)
    site.ok("init")
    (tmp_path / "maildir/new").mkdir(parents=True)
    yield site
    site.close()


def test_entries_languages_and_pages(desk: Installation, tmp_path: Path) -> None:
    entry = json.loads(desk.ok("faq", "add", "--lang", "fr", "--question",
                               "Comment débloquer ma clé d'accès ?", "--answer",
                               "Appelez le help desk au 02/518 21 31.", "--category", "access-key",
                               "--json"))
    eid = str(entry["id"])
    desk.ok("faq", "edit", eid, "--lang", "nl", "--question",
            "Hoe deblokkeer ik mijn toegangssleutel?", "--answer", "Bel de helpdesk.", "--publish")
    desk.ok("faq", "add", "--lang", "fr", "--question", "Brouillon <b>", "--answer", "x")
    [listed, draft] = json.loads(desk.ok("faq", "list", "--json"))
    assert set(listed["texts"]) == {"fr", "nl"} and listed["published"]
    assert not draft["published"]
    hits = json.loads(desk.ok("faq", "search", "debloquer cle", "--json"))
    assert hits[0]["id"] == entry["id"]
    pages = desk.ok("faq", "publish").split()
    assert [Path(p).name for p in pages] == ["fr.html", "nl.html", "de.html", "en.html"]
    fr = (tmp_path / "public/faq/fr.html").read_text()
    assert "Comment débloquer ma clé" in fr and "Brouillon" not in fr
    nl = (tmp_path / "public/faq/nl.html").read_text()
    assert "Hoe deblokkeer ik" in nl and "bestaat nog niet" not in nl
    de = (tmp_path / "public/faq/de.html").read_text()
    assert "gibt es noch nicht auf Deutsch" in de and 'lang="de"' in de
    code, _, err = desk.run("faq", "edit", eid, "--question", "x")
    assert code == 1 and "--lang" in err
    code, _, err = desk.run("faq", "edit", "999", "--publish")
    assert code == 1 and "no FAQ entry #999" in err


def test_from_ticket_and_reply_with_faq(desk: Installation) -> None:
    desk.deliver(corpus.simple("Certificat", "Bonjour, comment obtenir un certificat ?",
                               from_addr="jean@citizen.example"), "1.eml")
    code, _, err = desk.run("faq", "from-ticket", "1")
    assert code == 1 and "no question and answer" in err
    desk.ok("ticket", "reply", "1", "-m", "Via le guichet électronique de votre commune.")
    entry = json.loads(desk.ok("faq", "from-ticket", "1", "--json"))
    assert entry["source_tickets"] == [1] and not entry["published"]
    assert "guichet électronique" in entry["texts"]["fr"]["answer"]
    assert "comment obtenir un certificat" in entry["texts"]["fr"]["question"]
    desk.ok("faq", "edit", str(entry["id"]), "--lang", "nl", "--question", "Attest?",
            "--answer", "Via het e-loket van uw gemeente.")
    desk.deliver(corpus.simple("Attest", "Goedendag, hoe krijg ik een attest van woonst?",
                               from_addr="an@citizen.example", lang="nl"), "2.eml")
    reply = json.loads(desk.ok("ticket", "reply", "2", "--faq", str(entry["id"]), "--json"))
    assert "e-loket" in reply["text"]  # in the requester's language
    desk.ok("outbox", "send")
    ack = next(p for p in (desk.root / "outgoing").glob("*.eml")
               if b"To: an@citizen.example" in p.read_bytes() and b"auto-replied" in p.read_bytes())
    body = email.message_from_bytes(ack.read_bytes(), policy=email.policy.default)
    assert "https://www.rn.example/helpdesk/faq/nl.html" in body.get_body(
        ("plain",)).get_content()


def test_notification_suggests_faq_and_staff_answers_with_it(
        tmp_path: Path, db_url: str, imap: Dovecot, smtp_server: SmtpServer) -> None:
    from rnmail.tickets.faq import add_entry
    from rnmail.tickets.team import add_staff

    desk = Desk(make_config(tmp_path, db_url, imap, smtp_server))
    with desk.db.transaction() as session:
        add_staff(session, MARIE, "Marie Lambert", "fr")
        entry = add_entry(session, "fr", "Ma clé d'accès est bloquée, que faire ?",
                          "Nous l'avons débloquée : reconnectez-vous dans une heure.",
                          "access-key", publish=True)
        entry_id = entry.id
    notification = first_request(desk, imap, smtp_server)
    assert f"#faq {entry_id} — Ma clé d'accès est bloquée" in notification.get_content()
    imap.append("info", reply_to(notification, MARIE, f"#faq {entry_id}\n#close"))
    assert desk.ingest().outcomes == {"staff": 1}
    desk.send()
    answer = received(smtp_server, REQUESTER)[-1]
    assert "reconnectez-vous dans une heure" in answer.get_content()  # type: ignore[attr-defined]
    assert desk.ticket(1)["status"] == "closed"
    imap.append("info", reply_to(notification, MARIE, "#faq 4242"))
    desk.ingest()
    desk.send()
    assert any("#faq 4242 : aucune entrée de FAQ avec ce numéro" in m.get_content()
               for m in received(smtp_server, MARIE)
               if "refusée" in m["Subject"])  # type: ignore[attr-defined]
    desk.close()
