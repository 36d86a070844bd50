"""The desk's directory (``/desk/directory/``) over HTTP: search, the blocked users, an
organisation's card, a user's card (organisation, type, access since when, key sent, the
history of the access status, their tickets) and setting the status with a reason —
``change_access`` as ``rnmail directory set-status``, audited with the member and the
client's address, refused in the member's language; CSRF, ids out of range, hostile names.
One served installation (SQLite) for the module; the history's query on PostgreSQL too;
the two pages (search and the directory) in Chromium at 1280 and 390 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from rnmail.db import Database
from rnmail.directory.cards import user_card
from rnmail.directory.import_export import import_directory
from rnmail.directory.people import change_access, find_user
from rnmail.models import AuditEvent
from tests.harness.admin import PASSWORD
from tests.harness.browser import chromium_or_fail
from tests.harness.desk import (
    AGENT,
    DESKTOP,
    DIRECTORY_COLUMNS,
    HOSTILE,
    PHONE,
    Desk,
    add_directory,
    desk_served_apart,
    desk_signed_in,
    fill,
    open_ticket,
    usable,
)
from tests.harness.servers import database

SEVERINE = "severine.lefevre@nis-63012.municipality.example"
PAUL = "paul.dubois@nis-63012.municipality.example"
EVIL = "evil@company-9.company.example"
PEOPLE = [
    ("Commune de Bruyère-Évêché", "commune", "63012", "Séverine Lefèvre", SEVERINE,
     "087/59.11.11", "fr", "population", "blocked", "2024-03-01"),
    ("Commune de Bruyère-Évêché", "commune", "63012", "Paul Dubois", PAUL, "", "fr",
     "état civil", "active", ""),
    (f"Firma {HOSTILE}", "company", "", HOSTILE, EVIL, "", "nl", "", "active", ""),
]


@dataclass
class Found:
    desk: Desk
    csrf: str
    ticket: int  # Séverine's mail


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Found]:
    with desk_served_apart(tmp_path_factory.mktemp("directory")) as desk:
        add_directory(desk.admin, PEOPLE)
        ticket = open_ticket(desk.admin, "Clé bloquée", "Ma clé ne fonctionne plus.",
                             channel="mail", requester=SEVERINE,
                             requester_name="Séverine Lefèvre",
                             requester_org="Commune de Bruyère-Évêché")
        yield Found(desk, desk_signed_in(desk.agent), ticket)


def page(found: Found, path: str, status: int = 200) -> str:
    reply = found.desk.agent.get(path)
    assert reply.status == status, (path, reply.status, reply.text)
    return reply.text


def link(html: str, kind: str, name: str) -> str:
    """The address of the card named ``name`` (escaped as the page writes it)."""
    match = re.search(rf'<a href="(/desk/directory/{kind}/\d+)">{re.escape(name)}</a>', html)
    assert match, (name, html)
    return match[1]


def user_path(found: Found, name: str) -> str:
    return link(page(found, f"/desk/directory/?q={quote(name)}"), "users", name)


def audit(found: Found, action: str) -> list[AuditEvent]:
    return found.desk.admin.audit(action)


def test_search_and_the_blocked_users(found: Found) -> None:
    html = page(found, "/desk/directory/")
    assert 'id="blocked"' in html and "Séverine Lefèvre" in html  # blocked: listed
    assert "Paul Dubois" not in html
    html = page(found, "/desk/directory/?q=bruyere+eveche")
    org = link(html, "organisations", "Commune de Bruyère-Évêché")
    assert re.search(r"<td>63012</td>\s*<td>2</td>", html)  # code, users
    html = page(found, "/desk/directory/?q=LEFEVRE")
    assert 'id="users"' in html and SEVERINE in html and "bloqué" in html  # Marie's French
    assert 'id="organisations"' not in html
    # A caller's number, as the phone shows it or as they say it, or its last digits.
    for number in ("087/59.11.11", "+32 87 59 11 11", "0032875911 11", "591111"):
        html = page(found, f"/desk/directory/?q={quote(number)}")
        assert 'id="users"' in html and SEVERINE in html and PAUL not in html, number
        assert "<td>+3287591111</td>" in html
    for other in ("087/59.11.12", "1111 2", "111"):  # another number; too few digits
        assert SEVERINE not in page(found, f"/desk/directory/?q={quote(other)}"), other
    html = page(found, "/desk/directory/?q=introuvable")
    assert 'id="no-entry"' in html
    assert 'id="blocked"' in page(found, "/desk/directory/?q=%20%20")  # blank: first page
    card = page(found, org)
    assert "Commune de Bruyère-Évêché" in card and "63012" in card
    for email, state in ((SEVERINE, "bloqué"), (PAUL, "actif")):
        row = re.search(rf"<tr id=\"user-\d+\"(?:(?!</tr>).)*{re.escape(email)}.*?</tr>",
                        card, re.S)
        assert row and state in row[0], email
    assert f'href="/desk/tickets/{found.ticket}"' in card  # its users' tickets


def test_a_users_card(found: Found) -> None:
    card = page(found, user_path(found, "Séverine Lefèvre"))
    assert re.search(r'<dd id="organisation"><a href="/desk/directory/organisations/\d+">'
                     r"Commune de Bruyère-Évêché</a>", card)
    assert '<dd id="type">commune</dd>' in card
    access = re.search(r'<dd id="access">(.*?)</dd>', card, re.S)
    assert access and "bloqué" in access[1] and re.search(r"\d{2}:\d{2}", access[1])
    key = re.search(r'<dd id="key-sent">(.*?)</dd>', card)
    assert key and key[1] == "01/03/2024"
    assert f'<tr id="ticket-{found.ticket}">' in card and "Clé bloquée" in card
    assert '<option value="active">actif</option>' in card
    assert '<option value="blocked" selected>bloqué</option>' in card


def test_set_the_status_with_a_reason(found: Found) -> None:
    path = user_path(found, "Paul Dubois")
    reason = f"Ne travaille plus au service {HOSTILE}"
    reply = found.desk.agent.post(f"{path}/status", [
        ("csrf", found.csrf), ("state", "blocked"), ("reason", reason)])
    assert reply.status == 303 and reply.header("Location") == f"{path}?done=status-set"
    card = page(found, f"{path}?done=status-set")
    assert 'id="notice"' in card
    access = re.search(r'<dd id="access">(.*?)</dd>', card, re.S)
    assert access and "bloqué" in access[1]
    history = card.split('id="history"', 1)[1].split("</table>", 1)[0]
    assert "actif → bloqué" in history and AGENT in history and "127.0.0.1" in history
    assert "Ne travaille plus au service &lt;script&gt;" in history and HOSTILE not in card
    # Audited as the command line does it, with the member and the client's address.
    [change] = [e for e in audit(found, "directory-status") if e.detail["email"] == PAUL]
    assert (change.actor, change.client, change.detail["reason"]) == (AGENT, "127.0.0.1", reason)
    assert change.detail["before"]["access_status"] == "active"
    assert change.detail["after"]["access_status"] == "blocked"
    desk_event = audit(found, "desk-directory-status")[0]
    assert (desk_event.actor, desk_event.client) == (AGENT, "127.0.0.1")
    assert desk_event.detail["state"] == "blocked" and desk_event.detail["reason"] == reason
    # The same state again: nothing changed, said.
    again = found.desk.agent.post(f"{path}/status", [
        ("csrf", found.csrf), ("state", "blocked"), ("reason", "encore")])
    assert again.header("Location") == f"{path}?done=status-unchanged"
    assert len([e for e in audit(found, "directory-status") if e.detail["email"] == PAUL]) == 1


def test_refusals_in_the_members_language(found: Found) -> None:
    path = user_path(found, "Séverine Lefèvre")
    before = len(audit(found, "directory-status"))
    for fields, said in (
            ([("state", "suspended"), ("reason", "test")],
             "état d'accès inconnu 'suspended' : choisissez parmi active, blocked, revoked"),
            ([("state", "active"), ("reason", "   ")],
             "indiquez la raison du changement (--reason)")):
        reply = found.desk.agent.post(f"{path}/status", [("csrf", found.csrf), *fields])
        assert reply.status == 400 and '<html lang="fr">' in reply.text
        problem = re.search(r'<p class="error" id="problem">(.*?)</p>', reply.text, re.S)
        assert problem and problem[1] == said.replace("'", "&#39;"), reply.text
    # Without the CSRF token, or with another: refused, nothing changed.
    for fields in ([], [("csrf", "forged")]):
        reply = found.desk.agent.post(f"{path}/status", [
            *fields, ("state", "active"), ("reason", "sans jeton")])
        assert reply.status == 403
    assert len(audit(found, "directory-status")) == before
    assert "bloqué" in page(found, path).split('id="access"', 1)[1].split("</dd>", 1)[0]


def test_bad_ids_and_strangers(found: Found) -> None:
    for path in ("/desk/directory/users/999999", "/desk/directory/organisations/999999",
                 "/desk/directory/users/99999999999999999999",
                 "/desk/directory/organisations/%D9%A1%D9%A2"):
        assert found.desk.agent.get(path).status == 404, path
    reply = found.desk.agent.post("/desk/directory/users/999999/status", [
        ("csrf", found.csrf), ("state", "active"), ("reason", "x")])
    assert reply.status == 404
    assert found.desk.agent.get("/desk/directory/users/abc").status == 404
    # Not signed in to the desk (alice is an operator): to the sign-in page, nothing done.
    path = user_path(found, "Séverine Lefèvre")
    for reply in (found.desk.admin.get(path),
                  found.desk.admin.post(f"{path}/status", [("csrf", found.csrf),
                                                           ("state", "active"),
                                                           ("reason", "x")])):
        assert reply.status == 303 and reply.header("Location") == "/desk/login"


def test_hostile_names_are_text(found: Found) -> None:
    html = page(found, "/desk/directory/?q=firma")
    assert HOSTILE not in html and "Firma &lt;script&gt;alert(1)&lt;/script&gt;" in html
    org = re.search(r'<a href="(/desk/directory/organisations/\d+)">Firma &lt;script', html)
    assert org
    card = page(found, org[1])
    assert HOSTILE not in card and "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in card
    html = page(found, "/desk/directory/?q=evil")
    user = re.search(r'<a href="(/desk/directory/users/\d+)">&lt;script&gt;', html)
    assert user and HOSTILE not in html
    assert HOSTILE not in page(found, user[1])
    assert HOSTILE not in page(found, f"/desk/directory/?q={quote(HOSTILE)}")


def test_the_history_on_postgresql(tmp_path: Path) -> None:
    """The card reads the history from the audit's JSON: the same on PostgreSQL."""
    with database("postgresql", tmp_path) as url:
        db = Database(url)
        try:
            db.upgrade()
            sheet = tmp_path / "people.csv"
            sheet.write_text(",".join(DIRECTORY_COLUMNS) + "\nGemeente Zuidhoven,gemeente,,"
                             "Jan Peeters,jan@zuidhoven.example,,nl,,active,\n",
                             encoding="utf-8")
            with db.transaction() as session:
                import_directory(session, sheet, "test")
                change_access(session, "jan@zuidhoven.example", "blocked", "trop d'essais",
                              AGENT)
                change_access(session, "jan@zuidhoven.example", "active", "rappelé", AGENT)
                card = user_card(session, find_user(session, "jan@zuidhoven.example").id)
                count = session.scalar(select(func.count()).select_from(AuditEvent))
        finally:
            db.dispose()
    assert [(h.before, h.after, h.reason) for h in card.history] == [
        ("blocked", "active", "rappelé"), ("active", "blocked", "trop d'essais")]
    assert count and count >= 2


@pytest.mark.slow
def test_in_a_browser_search_and_directory(found: Found, artifacts: Path) -> None:
    shots = artifacts / "desk"
    agent = found.desk.agent
    with chromium_or_fail() as browser:
        browser.call("Emulation.setDeviceMetricsOverride", DESKTOP)
        browser.navigate(f"{found.desk.base}login")
        fill(browser, {"email": AGENT, "password": PASSWORD, "code": agent.code()})
        browser.submit("#login")
        assert browser.evaluate("location.pathname") == "/desk/"
        # The box in the header: a phone number in another notation finds the call.
        browser.evaluate("document.getElementById('quick-q').value = '02/555.01.23'")
        browser.submit("#quick-search")
        assert browser.evaluate("location.pathname") == "/desk/search"
        assert browser.evaluate(f"!!document.getElementById('ticket-{found.desk.ticket_id}')")
        assert browser.evaluate("document.scripts.length") == 0
        usable(browser, "search", 1280, shots)
        # A user found by name, their card.
        browser.navigate(f"{found.desk.base}search?q=lefevre")
        browser.follow("#directory-results a")
        assert browser.evaluate("location.pathname").startswith("/desk/directory/users/")
        assert "Séverine Lefèvre" in browser.evaluate("document.querySelector('h1').innerText")
        usable(browser, "directory-user", 1280, shots)
        browser.call("Emulation.setDeviceMetricsOverride", PHONE)
        usable(browser, "directory-user-phone", 390, shots)
        browser.navigate(f"{found.desk.base}search?q={quote('clé bloquée')}")
        assert browser.evaluate(f"!!document.getElementById('ticket-{found.ticket}')")
        usable(browser, "search-phone", 390, shots)
        browser.navigate(f"{found.desk.base}directory/")
        usable(browser, "directory-phone", 390, shots)
