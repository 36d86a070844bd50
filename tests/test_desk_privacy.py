"""The desk's privacy page (``/desk/privacy``, ``rnmail/web/desk/privacy.py``) over HTTP on
SQLite and PostgreSQL: only privacy officers (``rnmail staff privacy --grant``) see and use
it, others get a 403 whatever they send; the export is a zip download, the erasure takes a
confirmation step; both audited under a hash, with CSRF as the other forms; and one
Chromium visit at 1280 and 390 px."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.auth.staff import set_privacy_officer
from rnmail.models import AuditEvent, Ticket
from tests.harness.admin import PASSWORD, Admin
from tests.harness.browser import chromium_or_fail
from tests.harness.desk import (
    DESKTOP,
    PHONE,
    Desk,
    add_agent,
    desk_served,
    desk_signed_in,
    fill,
    open_ticket,
    usable,
)
from tests.harness.servers import SmtpServer, fresh_postgres_schema, postgres_problem

DPO = "dpo@rn.example"
ELS = "els.wouters@example.org"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Desk, Admin, str]]:
    """The desk, Marie (not an officer, signed in) and the officer's client and token."""
    root = tmp_path_factory.mktemp("privacy")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{root}/rnmail.db"
        else:
            problem = postgres_problem()
            if problem:
                pytest.fail(problem, pytrace=False)
            url = stack.enter_context(fresh_postgres_schema())
        smtp = stack.enter_context(SmtpServer())
        desk = stack.enter_context(desk_served(root, url, smtp))
        officer = add_agent(desk.admin, DPO, "Data Officer", language="nl")
        with desk.admin.db.transaction() as session:
            set_privacy_officer(session, DPO, True, "test")
        desk_signed_in(desk.agent)
        yield desk, officer, desk_signed_in(officer, DPO)


def els_ticket(desk: Desk) -> int:
    return open_ticket(desk.admin, subject="Attest gezinssamenstelling", channel="mail",
                       requester=ELS, requester_name="Els Wouters", requester_org=None,
                       requester_type="citizen", note="Graag een attest voor mijn dossier.")


def test_staff_who_are_not_officers_get_a_403_and_no_link(
        site: tuple[Desk, Admin, str]) -> None:
    desk, _officer, _token = site
    page = desk.agent.get("/desk/privacy")
    assert page.status == 403 and "rnmail staff privacy" in page.text
    queue = desk.agent.get("/desk/")
    assert 'id="nav-privacy"' not in queue.text
    token = queue.csrf()
    ticket = els_ticket(desk)
    for path in ("/desk/privacy/export", "/desk/privacy/erase"):
        reply = desk.agent.post(path, [("csrf", token), ("email", ELS), ("reason", "x"),
                                       ("confirm", "yes")])
        assert reply.status == 403, path
    with desk.admin.db.transaction() as session:
        found = session.get(Ticket, ticket)
        assert found is not None and found.requester == ELS
        assert session.scalars(select(AuditEvent).where(
            AuditEvent.action.like("%privacy%"), AuditEvent.action != "staff-privacy-grant")
        ).all() == []


def test_the_officer_exports_a_zip_and_erases_after_confirming(
        site: tuple[Desk, Admin, str]) -> None:
    desk, officer, token = site
    ticket = els_ticket(desk)
    page = officer.get("/desk/")
    assert 'id="nav-privacy"' in page.text
    page = officer.get("/desk/privacy")
    assert page.status == 200 and 'lang="nl"' in page.text and "privacy-erase" in page.text
    # a forged token is refused, as on every desk form
    assert officer.post("/desk/privacy/export", [("csrf", "forged"), ("email", ELS)]
                        ).status == 403
    reply = officer.post("/desk/privacy/export", [("csrf", token), ("email", ELS),
                                                  ("phone", "")])
    assert reply.status == 200 and reply.header("Content-Type") == "application/zip"
    assert reply.header("Content-Disposition").startswith(
        'attachment; filename="personal-data-')
    with zipfile.ZipFile(io.BytesIO(reply.body)) as archive:
        names = archive.namelist()
        person = json.loads(archive.read("person.json"))
    assert "index.html" in names and ticket in [t["id"] for t in person["tickets"]]
    # the erasure: first what was found and the confirmation, nothing changed yet
    asked = [("csrf", token), ("email", ELS), ("phone", ""), ("reason", "verzoek 2026-3")]
    confirm = officer.post("/desk/privacy/erase", asked)
    assert confirm.status == 200 and 'id="privacy-confirm"' in confirm.text
    assert 'name="confirm" value="yes"' in confirm.text
    with desk.admin.db.transaction() as session:
        found = session.get(Ticket, ticket)
        assert found is not None and found.requester == ELS
    assert officer.post("/desk/privacy/erase", [("csrf", token), ("email", ELS),
                                                ("reason", "")]).status == 400
    done = officer.post("/desk/privacy/erase", [*asked, ("confirm", "yes")])
    assert done.status == 303
    assert done.header("Location") == "/desk/privacy?done=privacy-erased"
    with desk.admin.db.transaction() as session:
        found = session.get(Ticket, ticket)
        assert found is not None and found.requester == "(anonymised)"
        events = list(session.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(("desk-privacy-export", "desk-privacy-erase",
                                   "privacy-erase"))).order_by(AuditEvent.id)))
    assert [e.action for e in events] == ["desk-privacy-export", "privacy-erase",
                                          "desk-privacy-erase"]
    assert len({e.detail["subject"] for e in events}) == 1
    assert all(ELS not in json.dumps(e.detail) for e in events)
    assert events[0].actor == DPO and events[0].client is not None
    again = officer.post("/desk/privacy/erase", [*asked, ("confirm", "yes")])
    assert again.header("Location") == "/desk/privacy?done=privacy-nothing"


@pytest.mark.slow
@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_in_a_browser_the_privacy_page(site: tuple[Desk, Admin, str], artifacts: Path) -> None:
    desk, officer, _token = site
    shots = artifacts / "desk"
    els_ticket(desk)
    with chromium_or_fail() as browser:
        browser.call("Emulation.setDeviceMetricsOverride", DESKTOP)
        browser.navigate(f"{desk.base}login")
        fill(browser, {"email": DPO, "password": PASSWORD, "code": officer.code()})
        browser.submit("#login")
        assert browser.evaluate("location.pathname") == "/desk/"
        browser.follow("#nav-privacy")
        assert browser.evaluate("location.pathname") == "/desk/privacy"
        usable(browser, "privacy", 1280, shots)
        fill(browser, {"erase-email": ELS, "erase-reason": "verzoek 2026-4"})
        browser.submit("#privacy-erase")
        assert browser.evaluate("!!document.getElementById('privacy-confirm')")
        usable(browser, "privacy-confirm", 1280, shots)
        browser.call("Emulation.setDeviceMetricsOverride", PHONE)
        usable(browser, "phone-privacy-confirm", 390, shots)
        browser.navigate(f"{desk.base}privacy")
        usable(browser, "phone-privacy", 390, shots)
