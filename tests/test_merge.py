"""Merge and split through the real command line and the real mail pipeline (Maildir in,
aiosmtpd out), on SQLite and PostgreSQL: everything of the source moves, its later mail
lands in the target, the figures count the request once; a message becomes a ticket of its
own; ``#merge N`` by mail; the refusals."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from rnmail.models import Attachment, Message, Participant, TicketEvent
from tests.harness import corpus
from tests.harness.install import Installation, install
from tests.harness.mail import MARIE, REQUESTER, reply_to
from tests.harness.servers import SmtpServer

OTHER = "anne.martin@citizen.example"


@pytest.fixture
def site(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Installation]:
    site = install(tmp_path, db_url, smtp_server)
    site.ok("staff", "add", MARIE, "--name", "Marie Lambert")
    yield site
    site.close()


def with_file(subject: str, body: str, sender: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "info@rn.example", subject
    mail["Message-ID"] = make_msgid(domain="citizen.example")
    mail.set_content(body)
    mail.add_attachment(b"%PDF-1.4 scan", maintype="application", subtype="pdf",
                        filename="carte.pdf")
    return mail.as_bytes()


def counts(site: Installation, ticket_id: int) -> dict[str, int]:
    with site.db.transaction() as session:
        return {
            "messages": session.scalar(select(func.count()).select_from(Message)
                                       .where(Message.ticket_id == ticket_id)) or 0,
            "attachments": session.scalar(select(func.count()).select_from(Attachment).join(
                Message, Message.id == Attachment.message_id)
                .where(Message.ticket_id == ticket_id)) or 0,
            "participants": session.scalar(select(func.count()).select_from(Participant)
                                           .where(Participant.ticket_id == ticket_id)) or 0,
            "events": session.scalar(select(func.count()).select_from(TicketEvent)
                                     .where(TicketEvent.ticket_id == ticket_id)) or 0,
        }


def two_requests(site: Installation) -> None:
    """The same request twice: by REQUESTER (#1), then with a file by OTHER (#2), a note."""
    site.deliver(corpus.simple("Clé d'accès bloquée", "Ma clé est bloquée.",
                               from_addr=REQUESTER, message_id="<a1@citizen.example>"))
    site.deliver(with_file("Clé bloquée (bis)", "Voici ma carte.", OTHER))
    site.ok("ticket", "comment", "2", "-m", "Même demande que #1.", "--author", MARIE)
    site.ok("outbox", "send")


def stats_json(site: Installation) -> Any:
    return site.json("stats", "--by", "channel", "--format", "json")


def test_a_merge_moves_everything_and_later_mail_lands_in_the_target(
        site: Installation) -> None:
    two_requests(site)
    before = {n: counts(site, n) for n in (1, 2)}
    assert before[2]["attachments"] == 1 and before[2]["messages"] >= 3
    assert stats_json(site)["totals"]["tickets"] == 2

    out = site.ok("ticket", "merge", "2", "into", "1", "--author", "Marie Lambert")
    assert "ticket #2 merged into #1" in out

    after = {n: counts(site, n) for n in (1, 2)}
    assert after[2] == {"messages": 0, "attachments": 0, "participants": 0, "events": 3}
    assert after[1]["messages"] == before[1]["messages"] + before[2]["messages"]
    assert after[1]["attachments"] == 1
    assert after[1]["participants"] == 2  # the other requester may write to it now
    assert after[1]["events"] == before[1]["events"] + before[2]["events"] + 1
    source = site.json("ticket", "show", "2")
    assert (source["status"], source["resolution"], source["merged_into_id"]) == (
        "closed", "merged", 1)
    assert [(e["what"], e["new"], e["actor"]) for e in source["history"]][:2] == [
        ("merged-into", "#1", "Marie Lambert"), ("resolution", "merged", "Marie Lambert")]
    assert "merged into #1" in site.ok("ticket", "show", "2")
    target = site.json("ticket", "show", "1")
    assert ("merged-from", "#2") in [(e["what"], e["new"]) for e in target["history"]]
    [audit] = [e for e in site.json("audit") if e["action"] == "ticket-merge"]
    assert audit["detail"]["source"] == 2 and audit["detail"]["target"] == 1

    # the month counts the request once, and says one was merged
    figures = stats_json(site)
    assert figures["totals"]["tickets"] == 1 and figures["merged"] == 1
    assert "1 tickets fusionnés non comptés" in site.ok("stats", "--by", "channel")

    # a late reply of the source's requester, by its subject tag: into the target
    site.deliver(corpus.simple("RE: [RN #2] Clé bloquée (bis)", "Toujours bloquée.",
                               from_addr=OTHER))
    late = counts(site, 1)["messages"]
    assert late > after[1]["messages"]
    assert counts(site, 2)["messages"] == 0
    assert [t["id"] for t in site.json("ticket", "list", "--json")] == [2, 1]

    # a reply to the acknowledgement we sent for #2 (our signed Message-ID): the target too
    [ack] = [m for m in site.mails(OTHER)]
    site.deliver(reply_to(ack, OTHER, "Et encore une fois."))
    assert counts(site, 1)["messages"] > late and counts(site, 2)["messages"] == 0
    assert len(site.json("ticket", "list", "--json")) == 2


def test_merges_that_cannot_be_are_refused(site: Installation) -> None:
    two_requests(site)
    site.deliver(corpus.simple("Troisième", "Encore.", from_addr=REQUESTER))
    assert "cannot be merged into itself" in site.fails("ticket", "merge", "1", "into", "1")
    assert "no ticket #9" in site.fails("ticket", "merge", "1", "into", "9")
    site.ok("ticket", "merge", "2", "into", "1")
    assert "already merged into #1" in site.fails("ticket", "merge", "2", "into", "3")
    assert "merge into #1 instead" in site.fails("ticket", "merge", "3", "into", "2")
    assert "other tickets were merged into #1" in site.fails("ticket", "merge", "1", "into",
                                                             "3")
    code, _, err = site.run("ticket", "close", "3", "--resolution", "merged")
    assert code == 2 and "'merged' is not one of" in err  # only a merge sets it
    assert site.json("ticket", "show", "3")["status"] == "open"


def test_a_split_makes_one_request_a_ticket_linked_to_the_first(site: Installation) -> None:
    site.deliver(corpus.simple("Clé bloquée", "Ma clé est bloquée.", from_addr=REQUESTER,
                               message_id="<s1@citizen.example>"))
    site.deliver(corpus.simple("RE: [RN #1] Clé bloquée", "Autre chose : mon adresse a "
                               "changé.", from_addr=REQUESTER,
                               extra_headers={"In-Reply-To": "<s1@citizen.example>"}))
    requests = [m for m in site.json("ticket", "show", "1")["messages"]
                if m["role"] == "request"]
    assert len(requests) == 2
    answer = [m for m in site.json("ticket", "show", "1")["messages"] if m["role"] != "request"]
    if answer:
        assert "only a request received" in site.fails("ticket", "split", "1", "--message",
                                                      str(answer[0]["id"]))
    new = site.json("ticket", "split", "1", "--message", str(requests[1]["id"]), "--json",
                    "--author", "Marie Lambert")
    assert new["id"] == 2 and new["linked_ticket_id"] == 1 and new["status"] == "open"
    assert [m["id"] for m in new["messages"]] == [requests[1]["id"]]
    assert new["requester"] == REQUESTER
    old = site.json("ticket", "show", "1")
    assert [m["id"] for m in old["messages"] if m["role"] == "request"] == [requests[0]["id"]]
    assert ("split-to", "#2", "Marie Lambert") in [(e["what"], e["new"], e["actor"])
                                                    for e in old["history"]]
    assert "only request" in site.fails("ticket", "split", "1", "--message",
                                        str(requests[0]["id"]))
    assert "has no message" in site.fails("ticket", "split", "1", "--message",
                                          str(requests[1]["id"]))
    # the requester's next reply to the split mail goes to the new ticket
    site.deliver(corpus.simple("RE: Autre chose", "Voici la nouvelle adresse.",
                               from_addr=REQUESTER,
                               extra_headers={"In-Reply-To": requests[1]["message_id"]}))
    assert len(site.json("ticket", "show", "2")["messages"]) >= 2


def test_merge_by_mail_command(site: Installation) -> None:
    two_requests(site)
    notifications = site.mails(MARIE)
    second = next(m for m in notifications if "#2]" in m["Subject"])
    site.deliver(reply_to(second, MARIE, "#merge 2\n"))  # into itself: refused
    assert site.json("ticket", "show", "2")["status"] == "open"
    site.ok("outbox", "send")
    [refusal] = [m for m in site.mails(MARIE) if "Commande refusée" in m["Subject"]]
    assert "#merge 2 : un ticket ne peut pas être fusionné avec lui-même" in str(
        refusal.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    site.deliver(reply_to(second, MARIE, "#merge #1\n"))
    source = site.json("ticket", "show", "2")
    assert (source["resolution"], source["merged_into_id"]) == ("merged", 1)
    merged = [e for e in source["history"] if e["what"] == "merged-into"]
    assert [(e["actor"], e["via"]) for e in merged] == [("Marie Lambert", "mail")]
    assert counts(site, 2)["messages"] == 0
