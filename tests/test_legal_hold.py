"""A ticket's legal hold (issue 19): put and lifted on the command line and on the desk,
in the history and the audit log, shown by ``ticket show``; refused without a reason, twice,
on an anonymised ticket, without the desk's CSRF token. (That a held ticket is exempt from
every purge: tests/test_retention.py.)"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.models import Ticket
from rnmail.privacy.anonymise import anonymise_ticket
from tests.harness.desk import AGENT, Desk, desk_served_apart, desk_signed_in
from tests.harness.install import Installation, install, rnmail


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url)
    site.ok("ticket", "new", "--phone", "0475 12 34 56", "--name", "Jan Janssens",
            "--subject", "Clé", "--note", "bloquée", "--close", "--author", "Accueil")
    site.ok("ticket", "new", "--email", "els@citizen.example", "--subject", "Adresse",
            "--note", "déménagement", "--author", "Accueil")
    yield site
    site.close()


def test_hold_and_unhold_on_the_command_line(site: Installation) -> None:
    shown = site.json("ticket", "hold", "1", "--reason", "  Litige\n 2026/17 ", "--author",
                      "DPO")
    hold = shown["legal_hold"]
    assert (hold["reason"], hold["by"]) == ("Litige 2026/17", "DPO") and hold["at"]
    assert shown["history"][-1]["what"] == "legal-hold"
    assert shown["history"][-1]["new"] == "Litige 2026/17"
    assert "LEGAL HOLD since" in site.ok("ticket", "show", "1")
    [event] = site.audit("ticket-hold")
    assert event["detail"]["ticket"] == 1 and event["actor"] == "DPO"

    assert "on legal hold already: Litige 2026/17" in site.fails("ticket", "hold", "1",
                                                                  "--reason", "again")
    assert "needs a reason" in site.fails("ticket", "hold", "2", "--reason", "  ")
    assert "not on legal hold" in site.fails("ticket", "unhold", "2")
    assert "no ticket #9" in site.fails("ticket", "hold", "9", "--reason", "x")
    assert site.json("ticket", "show", "2")["legal_hold"] is None

    assert site.ok("ticket", "unhold", "1", "--author", "DPO") == "ticket #1: legal hold lifted\n"
    shown = site.json("ticket", "show", "1")
    assert shown["legal_hold"] is None and shown["history"][-1]["what"] == "hold-lifted"
    assert [e["detail"]["reason"] for e in site.audit("ticket-unhold")] == ["Litige 2026/17"]

    with site.db.transaction() as session:
        anonymise_ticket(session, session.scalars(select(Ticket).where(Ticket.id == 1)).one())
    assert "was anonymised" in site.fails("ticket", "hold", "1", "--reason", "late")
    assert "anonymised" in site.ok("ticket", "show", "1")


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with desk_served_apart(tmp_path_factory.mktemp("desk-hold")) as served:
        yield served


def held(desk: Desk) -> tuple[str | None, str | None] | None:
    with desk.admin.db.transaction() as session:
        ticket = session.get(Ticket, desk.ticket_id)
        assert ticket is not None
        return (ticket.hold_reason, ticket.hold_by) if ticket.hold_at else None


def test_the_desk_button_puts_and_lifts_the_hold(desk: Desk) -> None:
    csrf = desk_signed_in(desk.agent)
    at = f"/desk/tickets/{desk.ticket_id}"
    page = desk.agent.get(at)
    assert 'id="hold-form"' in page.text and 'id="unhold-form"' not in page.text

    refused = desk.agent.post(f"{at}/hold", [("csrf", "wrong"), ("reason", "x")])
    assert refused.status in (400, 403)
    assert held(desk) is None

    empty = desk.agent.post(f"{at}/hold", [("csrf", csrf), ("reason", " ")])
    assert empty.status == 409  # in the member's language (French)
    assert "demande un motif" in html.unescape(empty.text)

    done = desk.agent.post(f"{at}/hold", [("csrf", csrf), ("reason", "<b>Plainte</b> APD")])
    assert done.status in (200, 303), done.text
    page = desk.agent.get(at)
    assert "&lt;b&gt;Plainte&lt;/b&gt; APD" in page.text
    assert held(desk) == ("<b>Plainte</b> APD", "Marie Lambert")
    [event] = desk.admin.audit("ticket-hold")
    assert event.actor == "Marie Lambert" and event.client == "127.0.0.1"

    # Any member puts a hold; lifting it is a privacy officer's decision.
    assert 'id="unhold-form"' not in page.text and 'id="unhold-officer"' in page.text
    refused = desk.agent.post(f"{at}/unhold", [("csrf", csrf)])
    assert refused.status == 403 and "responsable de la protection" in html.unescape(
        refused.text)
    assert held(desk) == ("<b>Plainte</b> APD", "Marie Lambert")
    assert rnmail(desk.admin.path, "staff", "privacy", AGENT, "--grant").code == 0
    assert 'id="unhold-form"' in desk.agent.get(at).text
    desk.agent.post(f"{at}/unhold", [("csrf", csrf)])
    page = desk.agent.get(at)
    assert 'id="hold-form"' in page.text and held(desk) is None
    assert [e.detail["reason"] for e in desk.admin.audit("ticket-unhold")] == [
        "<b>Plainte</b> APD"]
