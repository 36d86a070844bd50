"""The desk's call form (``/desk/calls/new``) and a message for an absent colleague
(``/desk/calls/message``) over HTTP, on one served installation for the module: the
screen-pop's prefill, the caller lookup (JSON for the script, the form's Look up button
without it), each outcome (the delegation and the message reach their recipients on a
real SMTP server, sent by ``rnmail outbox send``), a call added to the caller's ticket,
refusals in the agent's language with the values kept, CSRF, signed-out requests, hostile
names; and in Chromium, the script's lookup under the desk's CSP."""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select, update

from rnmail.auth.sessions import open_session
from rnmail.config import load_config
from rnmail.models import AdminSession, Ticket
from rnmail.tickets.team import add_service
from tests.harness.admin import Admin, Page
from tests.harness.browser import chromium_or_fail
from tests.harness.desk import (
    ACCESSIBILITY,
    AGENT,
    HOSTILE,
    Desk,
    add_agent,
    all_sent,
    desk_served,
    desk_signed_in,
)
from tests.harness.install import rnmail
from tests.harness.mail import received, text_of
from tests.harness.servers import SmtpServer
from tests.harness.web import csp_messages

SEVERINE = "severine.lefevre@nis-63012.municipality.example"
JAN = "jan.peeters@rn.example"
LEGAL = "legal@second.example"
DIRECTORY = [
    ["organisation", "organisation_type", "organisation_code", "name", "email", "phone",
     "language", "role", "access_status"],
    ["Commune de Bruyère-Évêché", "commune", "63012", "Séverine Lefèvre", SEVERINE,
     "087/59.11.11", "fr", "population", "blocked"],
    ["Politiezone Oosterheide", "police-zone", "PZ5999", "Koen Maes",
     "koen.maes@pz-5999.police.example", "09/266.61.11", "nl", "", "active"],
]


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """One installation for the module: Marie (fr) signed in, Jan (nl) on the staff,
    the directory, a service ``legal``."""
    root = tmp_path_factory.mktemp("calls")
    with SmtpServer() as smtp, desk_served(root, f"sqlite:///{root}/rnmail.db", smtp) as d:
        sheet = root / "directory.csv"
        with sheet.open("w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows(DIRECTORY)
        assert rnmail(d.admin.path, "directory", "import", str(sheet)).code == 0
        add_agent(d.admin, JAN, "Jan Peeters", "nl")
        with d.admin.db.transaction() as session:
            add_service(session, "legal", LEGAL, "Legal questions")
        desk_signed_in(d.agent)
        yield d


def csrf(desk: Desk) -> str:
    return desk.agent.get("/desk/calls/new").csrf()


def post(desk: Desk, **fields: str) -> Page:
    return desk.agent.post("/desk/calls/new", [("csrf", csrf(desk)), *fields.items()])


def ticket(desk: Desk, ticket_id: int) -> dict[str, Any]:
    ran = rnmail(desk.admin.path, "ticket", "show", str(ticket_id), "--json")
    assert ran.code == 0, ran
    found: dict[str, Any] = json.loads(ran.out)
    return found


def send_outbox(desk: Desk) -> None:
    assert rnmail(desk.admin.path, "outbox", "send").code == 0
    all_sent(desk.admin)


def logged(reply: Page) -> int:
    """The ticket of a call just logged: the fresh form's notice links to it."""
    assert reply.status == 303, reply.text
    location = reply.header("Location")
    assert location.startswith("/desk/calls/new?done=call-"), location
    return int(location.rpartition("ticket=")[2])


def value_of(page: Page, field: str) -> str:
    match = re.search(rf'id="{field}" name="{field}"[^>]* value="([^"]*)"', page.text)
    assert match, (field, page.text)
    return match.group(1)


def test_the_screen_pop_prefills_the_number_in_any_notation(desk: Desk) -> None:
    for notation in ("0032 2 555 01 23", "02/555.01.23", "+3225550123", "025550123"):
        page = desk.agent.get(f"/desk/calls/new?phone={quote(notation)}&lang=nl")
        assert page.status == 200
        assert value_of(page, "phone") == "+3225550123"
        assert '<option value="nl" selected>' in page.text  # the caller's language...
        assert '<html lang="fr">' in page.text  # ... not the page's (Marie's)
        # The number is looked up at once: Jean Dupont (the harness's ticket) called from it.
        assert "Jean Dupont" in page.text and 'id="use-0"' in page.text
        assert 'id="use-0" formnovalidate autofocus' in page.text
    # Bad values are left out; the first field has the focus.
    page = desk.agent.get("/desk/calls/new?phone=12345&lang=xx&email=not-one")
    assert value_of(page, "phone") == "" and value_of(page, "email") == ""
    assert 'selected>' not in page.text.split('id="language"')[1].split("</select>")[0]
    assert 'id="phone" name="phone" autofocus' in page.text
    # The switch keeps working on the form, by its own parameter, the screen-pop's kept.
    assert 'href="/desk/calls/new?phone=12345&amp;lang=xx&amp;email=not-one&amp;ui=nl"' in (
        page.text)
    assert '<html lang="de">' in desk.agent.get("/desk/calls/new?ui=de").text
    assert '<html lang="fr">' in desk.agent.get("/desk/calls/new?ui=fr").text
    # The desk's policy allows its own script, nothing inline; the admin's none.
    policy = page.header("Content-Security-Policy")
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert '<script src="/desk/desk.js" defer></script>' in page.text
    assert "<script>" not in page.text and " onclick=" not in page.text
    admin = desk.admin.get("/admin/login").header("Content-Security-Policy")
    assert "script-src" not in admin and "connect-src" not in admin
    script = desk.agent.get("/desk/desk.js")
    assert script.status == 200 and script.header("Content-Type").startswith("text/javascript")
    assert "/desk/calls/lookup" in script.text and "innerHTML" not in script.text


@pytest.mark.parametrize("query, name", [
    ("087 59 11 11", "Séverine Lefèvre"), ("+3287591111", "Séverine Lefèvre"),
    ("severine", "Séverine Lefèvre"), ("LEFEVRE", "Séverine Lefèvre"),
    (SEVERINE, "Séverine Lefèvre"), ("Oosterheide", "Koen Maes"),
    ("Dupont", "Jean Dupont"),
])
def test_the_lookup_finds_the_caller_as_json(desk: Desk, query: str, name: str) -> None:
    reply = desk.agent.get(f"/desk/calls/lookup?q={quote(query)}")
    assert reply.status == 200 and reply.header("Content-Type").startswith("application/json")
    found = json.loads(reply.body)
    assert found["query"] == query
    [candidate] = [c for c in found["candidates"] if c["title"] == name]
    if name == "Séverine Lefèvre":
        assert candidate["fill"] == {
            "organisation": "Commune de Bruyère-Évêché", "requester_type": "municipality",
            "language": "fr", "caller": "Séverine Lefèvre", "phone": "+3287591111",
            "email": SEVERINE}
        assert candidate["blocked"] and "accès bloqué" in candidate["details"]  # Marie's fr
        assert "commune" in candidate["details"]


def test_the_lookup_needs_a_session_and_leaks_nothing(desk: Desk) -> None:
    stranger = Admin(desk.admin.root, desk.admin.db, desk.admin.smtp, desk.admin.public_port,
                     desk.admin.admin_port, desk.agent.secret)
    reply = stranger.get("/desk/calls/lookup?q=severine")
    assert reply.status == 401 and b"Lef" not in reply.body and b"@" not in reply.body
    # An operator's session is not a staff member's.
    desk.admin.signed_in()
    reply = desk.admin.get("/desk/calls/lookup?q=severine")
    assert reply.status == 401 and b"Lef" not in reply.body
    for path in ("/desk/calls/new?phone=087591111", "/desk/calls/message"):
        page = stranger.get(path)
        assert page.status == 303 and page.header("Location") == "/desk/login"
        assert "Lef" not in page.text
    # Too short a query: nothing asked.
    short = json.loads(desk.agent.get("/desk/calls/lookup?q=%20ab%20").body)
    assert short == {"query": "ab", "candidates": []}


def test_look_up_and_use_a_candidate_without_javascript(desk: Desk) -> None:
    page = post(desk, do="lookup", phone="", caller="", email="", organisation="Oosterheide",
                subject="Toegang", text="Kan niet aanmelden")
    assert page.status == 200 and "Koen Maes" in page.text
    assert value_of(page, "subject") == "Toegang"  # what was typed stays
    pick = next(line for line in page.text.splitlines() if 'id="use-0"' in line)
    assert 'name="pick"' in pick and "&#34;" in pick
    fill = html.unescape(pick.split('value="')[1].split('"')[0])
    page = post(desk, pick=fill, phone="0470 12 34 56", organisation="Oosterheide",
                subject="Toegang")
    assert value_of(page, "caller") == "Koen Maes"
    assert value_of(page, "phone") == "0470 12 34 56"  # the number the call came from stays
    assert value_of(page, "email") == "koen.maes@pz-5999.police.example"
    assert '<option value="police" selected>' in page.text
    assert '<option value="nl" selected>' in page.text
    assert 'id="subject" name="subject" autofocus' in page.text
    # A name typed into the number's field: the candidate's number replaces it (kept, it
    # was refused as "not a phone number" when the call was logged).
    page = post(desk, do="lookup", phone="Lefèvre", subject="Certificat")
    pick = next(line for line in page.text.splitlines() if 'id="use-0"' in line)
    fill = html.unescape(pick.split('value="')[1].split('"')[0])
    page = post(desk, pick=fill, phone="Lefèvre", email="séverine@", subject="Certificat")
    assert value_of(page, "caller") == "Séverine Lefèvre"
    assert value_of(page, "phone") not in ("Lefèvre", "")
    assert value_of(page, "email") == SEVERINE  # a half-typed address is replaced too
    # A refused call (Enter pressed before the subject) keeps the caller's candidates.
    page = post(desk, phone="087 59 11 11", subject="")
    assert page.status == 400 and 'id="subject-error"' in page.text
    assert 'id="use-0"' in page.text and "Séverine Lefèvre" in page.text
    # A name far too long to be one: nobody found, no failure.
    page = post(desk, do="lookup", caller="Zyxwvut" * 40)
    assert page.status == 200 and 'id="use-0"' not in page.text
    # Nobody found: said.
    page = post(desk, do="lookup", caller="Zyxwvut")
    assert "Aucun appelant trouvé pour « Zyxwvut »." in page.text  # in Marie's French


def test_a_call_answered_at_once_is_closed_first_contact(desk: Desk) -> None:
    reply = post(desk, phone="02/518.21.31", caller="An Peeters", email="", language="nl",
                 subject="Attestation de composition de ménage", text="Expliqué la démarche.",
                 category="certificate", requester_type="citizen", outcome="close")
    number = logged(reply)
    t = ticket(desk, number)
    assert (t["status"], t["resolution"], t["channel"]) == ("closed", "first-contact", "phone")
    assert (t["requester"], t["requester_name"], t["language"], t["category"],
            t["requester_type"]) == ("+3225182131", "An Peeters", "nl", "certificate",
                                     "citizen")
    assert t["assignee"] == AGENT
    fresh = desk.agent.get(reply.header("Location"))
    assert f"Appel enregistré sous le n° {number} : répondu directement, clôturé." \
        in fresh.text
    assert f'href="/desk/tickets/{number}" id="logged-ticket"' in fresh.text
    assert value_of(fresh, "phone") == "" and 'id="phone" name="phone" autofocus' in fresh.text
    event = desk.admin.audit("desk-log-call")[-1]
    assert (event.actor, event.client) == (AGENT, "127.0.0.1")
    assert event.detail["ticket"] == number and event.detail["outcome"] == "close"


def test_a_call_kept_open(desk: Desk) -> None:
    number = logged(post(desk, phone="+32 470 11 22 33", subject="Adresse erronée",
                         text="À vérifier", outcome="open"))
    t = ticket(desk, number)
    assert (t["status"], t["resolution"], t["service"]) == ("open", None, None)


def test_a_call_delegated_reaches_the_service(desk: Desk) -> None:
    number = logged(post(desk, phone="0470/12.34.56", caller="Luc Martin",
                         subject="Question juridique", outcome="delegate", service="legal",
                         text="Peut-on rectifier un acte de naissance étranger ?"))
    assert ticket(desk, number)["status"] == "delegated"
    send_outbox(desk)
    [mail] = received(desk.admin.smtp, LEGAL)
    assert f"[RN #{number}]" in mail["Subject"]
    assert "acte de naissance étranger" in text_of(mail)


def test_a_call_added_to_the_callers_ticket(desk: Desk) -> None:
    # Séverine's open ticket is offered with her; the call is added to it.
    first = logged(post(desk, email=SEVERINE, subject="Clé bloquée", outcome="open"))
    page = post(desk, do="lookup", phone="087591111")
    assert f'id="link-{first}" value="{first}"' in page.text
    reply = post(desk, phone="087/59.11.11", email=SEVERINE, link=str(first),
                 text="Rappelle : toujours bloquée.", outcome="open")
    assert logged(reply) == first
    assert "call-added" in reply.header("Location")
    t = ticket(desk, first)
    assert [m["text"] for m in t["messages"] if m["role"] == "request"][-1] == \
        "Rappelle : toujours bloquée."
    # Another caller's ticket is refused, next to the field, in French, values kept.
    page = post(desk, phone="0470 99 88 77", subject="Autre", link_number=str(first))
    assert page.status == 400
    error = page.text.split('id="link-error">')[1].split("</p>")[0]
    assert f"le ticket n° {first} n&#39;est pas un ticket de cet appelant" in error.lower() \
        or f"#{first}" in error, error
    assert value_of(page, "subject") == "Autre"


@pytest.mark.parametrize("fields, where, words", [
    ({"phone": "087591111", "subject": ""}, "subject", "objet"),
    ({"phone": "12345", "subject": "s"}, "phone", "12345"),
    ({"email": "jean@@x", "subject": "s"}, "email", "jean@@x"),
    ({"subject": "s", "caller": ""}, "phone", "?"),
    ({"phone": "087591111", "subject": "s", "outcome": "delegate"}, "service", "service"),
    ({"phone": "087591111", "subject": "s", "outcome": "delegate", "service": "nowhere"},
     "service", "nowhere"),
    # a service chosen, the outcome left at "to investigate" or set to close: refused, not
    # logged open with the service forgotten
    ({"phone": "087591111", "subject": "s", "outcome": "open", "service": "legal"},
     "service", "délégué"),
    ({"phone": "087591111", "subject": "s", "outcome": "close", "service": "legal"},
     "service", "délégué"),
    ({"phone": "087591111", "subject": "s", "link_number": "abc"}, "link", "abc"),
    ({"phone": "087591111", "subject": "s", "link_number": "99999999999"}, "link", "99999999999"),
])
def test_refusals_keep_the_values_next_to_the_field(desk: Desk, fields: dict[str, str],
                                                      where: str, words: str) -> None:
    page = post(desk, **{"caller": HOSTILE, "text": "Gardé tel quel", **fields})
    assert page.status == 400
    error = page.text.split(f'id="{where}-error">')[1].split("</p>")[0]
    assert words.replace("'", "&#39;") in error, error
    assert f'aria-describedby="{where}-error"' in page.text
    if "link_number" in fields:  # the field typed into is marked, not only its fieldset
        marked = page.text.split('id="link_number"')[1].split(">")[0]
        assert 'aria-invalid="true"' in marked, marked
    assert HOSTILE not in page.text
    if "caller" not in fields:
        assert html.unescape(value_of(page, "caller")) == HOSTILE
    assert "Gardé tel quel</textarea>" in page.text


def test_csrf_and_hostile_names(desk: Desk) -> None:
    before = len(desk.admin.audit("desk-log-call"))
    for token in ("", "forged"):
        reply = desk.agent.post("/desk/calls/new", [("csrf", token), ("phone", "087591111"),
                                                    ("subject", "x")])
        assert reply.status == 403
    reply = desk.agent.post("/desk/calls/message", [("for", JAN), ("phone", "087591111"),
                                                    ("text", "x")])
    assert reply.status == 403
    assert len(desk.admin.audit("desk-log-call")) == before
    # A hostile caller's name is text on the form, in the lookup and on the ticket.
    number = logged(post(desk, phone="0475 00 00 01", caller=HOSTILE, subject=HOSTILE))
    page = post(desk, do="lookup", phone="0475000001")
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text
    found = json.loads(desk.agent.get("/desk/calls/lookup?q=0475000001").body)
    assert found["candidates"][0]["title"] == HOSTILE  # JSON; the script uses textContent
    shown = desk.agent.get(f"/desk/tickets/{number}")
    assert HOSTILE not in shown.text


def test_a_message_for_an_absent_colleague(desk: Desk) -> None:
    # From the call form: the caller, number and text carried to the message form.
    page = post(desk, do="message", caller="Koen Maes", phone="09/266.61.11",
                text="Graag terugbellen over de sleutel.")
    assert page.status == 200 and 'id="message-form"' in page.text
    assert value_of(page, "caller") == "Koen Maes"
    assert f'<option value="{JAN}">' in page.text and f'value="{AGENT}"' not in page.text
    form = page.csrf()
    refused = desk.agent.post("/desk/calls/message", [
        ("csrf", form), ("for", JAN), ("caller", "Koen Maes"), ("phone", "09/266.61.11"),
        ("text", "  ")])
    assert refused.status == 400 and 'id="text-error"' in refused.text
    assert value_of(refused, "caller") == "Koen Maes"
    refused = desk.agent.post("/desk/calls/message", [
        ("csrf", form), ("for", "nobody@rn.example"), ("phone", "09/266.61.11"),
        ("text", "x")])
    assert refused.status == 400 and 'id="for-error"' in refused.text
    for nobody in ("", "   "):  # no colleague chosen: said so, not "'' is no staff member"
        refused = desk.agent.post("/desk/calls/message", [
            ("csrf", form), ("for", nobody), ("phone", "09/266.61.11"), ("text", "x")])
        error = refused.text.split('id="for-error">')[1].split("</p>")[0]
        assert refused.status == 400 and "choisissez le ou la collègue" in error, error
    reply = desk.agent.post("/desk/calls/message", [
        ("csrf", form), ("for", JAN), ("caller", "Koen Maes"), ("phone", "09/266.61.11"),
        ("text", "Graag terugbellen over de sleutel.")])
    assert reply.status == 303
    back = desk.agent.get(reply.header("Location"))
    assert "Jan Peeters" in back.text.split('id="logged"')[1].split("</p>")[0]
    send_outbox(desk)
    [mail] = received(desk.admin.smtp, JAN)
    assert "Koen Maes" in mail["Subject"] and "+3292666111" in mail["Subject"]
    assert "Graag terugbellen over de sleutel." in text_of(mail)
    event = desk.admin.audit("desk-take-message")[-1]
    assert (event.actor, event.detail) == (AGENT, {"for": JAN})


@pytest.mark.slow
def test_in_a_browser_the_lookup_fills_the_form_under_the_csp(desk: Desk,
                                                              artifacts: Path) -> None:
    shots = artifacts / "desk"
    with chromium_or_fail() as browser:
        browser.call("Emulation.setDeviceMetricsOverride", {
            "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        browser.call("Network.enable")
        browser.call("Network.setCookie", {
            "name": "rnmail_desk", "value": desk.agent.cookies["rnmail_desk"],
            "url": desk.base})
        earlier = logged(post(desk, email=SEVERINE, subject="Certificat", outcome="open"))
        browser.navigate(desk.base + "calls/new")
        assert browser.evaluate("location.pathname") == "/desk/calls/new"
        assert browser.evaluate("document.activeElement.id") == "phone"
        # Typing a number: the script asks, shows Séverine, "Use" fills the form.
        browser.evaluate("""(() => {
          const f = document.getElementById('phone');
          f.value = '087 59 11 11';
          f.dispatchEvent(new Event('input', {bubbles: true}));
        })()""")
        waited = browser.evaluate("""new Promise(done => {
          const t0 = Date.now();
          const look = () => document.getElementById('use-0') ? done(true)
            : Date.now() - t0 > 5000 ? done(false) : setTimeout(look, 50);
          look();
        })""")
        assert waited, browser.evaluate("document.getElementById('candidates').innerText")
        assert "Séverine Lefèvre" in browser.evaluate(
            "document.getElementById('candidates').innerText")
        browser.evaluate("document.getElementById('use-0').click()")
        values = browser.evaluate("""['caller', 'organisation', 'requester_type', 'language',
            'phone', 'email'].map(n => document.getElementById(n).value)""")
        assert values == ["Séverine Lefèvre", "Commune de Bruyère-Évêché", "municipality",
                          "fr", "087 59 11 11", SEVERINE]
        assert browser.evaluate("document.activeElement.id") == "subject"
        # Her open ticket is offered to add the call to (a new ticket stays chosen).
        assert browser.evaluate(f"document.getElementById('link-{earlier}').checked") is False
        assert browser.evaluate("document.getElementById('link-none').checked") is True
        # Choosing a service makes the outcome "delegate"; the agent can still change it.
        assert browser.evaluate("""(() => {
          const s = document.getElementById('service');
          s.value = s.options[1].value;
          s.dispatchEvent(new Event('change', {bubbles: true}));
          return document.getElementById('outcome-delegate').checked;
        })()""") is True
        browser.evaluate("document.getElementById('service').value = ''")
        assert csp_messages(browser) == []
        for width, name in ((1280, "call-form"), (390, "call-form-phone")):
            if width == 390:
                browser.call("Emulation.setDeviceMetricsOverride", {
                    "width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True})
            browser.screenshot(shots / f"{name}.png")
            seen = browser.evaluate(ACCESSIBILITY)
            assert seen["width"] <= width, (name, seen["width"])
            assert seen["low"] == [] and seen["unlabelled"] == [], (name, seen)
        # Enter in the subject logs the call (the default button), answered at once.
        browser.evaluate("""(() => {
          document.getElementById('outcome-close').checked = true;
          document.getElementById('subject').value = 'Clé bloquée';
          document.getElementById('subject').focus();
        })()""")
        browser._events.clear()
        for kind in ("keyDown", "keyUp"):
            browser.call("Input.dispatchKeyEvent", {
                "type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13,
                **({"text": "\r"} if kind == "keyDown" else {})})
        browser.wait_event("Page.loadEventFired")
        assert browser.evaluate("location.pathname") == "/desk/calls/new"
        number = int(browser.evaluate("document.getElementById('logged-ticket').href")
                     .rpartition("/")[2])
        assert csp_messages(browser) == []
    t = ticket(desk, number)
    assert (t["status"], t["resolution"], t["requester"]) == ("closed", "first-contact",
                                                              SEVERINE)


@pytest.mark.slow
def test_in_a_browser_a_call_typed_as_the_session_ended_is_not_lost(desk: Desk) -> None:
    """The session ends while the caller talks (idle too long, the server restarted): the
    form's POST meets the sign-in page. Signed in again, the call form is filled again
    with what was typed, and says so; logged, the draft is gone; signing out forgets it."""
    web = load_config(desk.admin.path).web

    def signed_in(browser: Any) -> str:
        token, _ = open_session(desk.admin.db, web, AGENT, kind="staff")
        for name, value in (("rnmail_desk", token), ("rnmail_desk_lang", "fr")):
            browser.call("Network.setCookie", {"name": name, "value": value,
                                               "url": desk.base})
        return token

    typed = {"phone": "0475 11 22 33", "caller": "Koen Maes", "subject": "Sleutel kwijt",
             "text": "Belt over zijn sleutel; terugbellen na 14 uur."}
    script = ";".join(
        f"(f => {{ f.value = {json.dumps(v)}; f.dispatchEvent(new Event('input', "
        f"{{bubbles: true}})); }})(document.getElementById({json.dumps(k)}))"
        for k, v in typed.items())
    values = "[" + ", ".join(f"document.getElementById({json.dumps(k)}).value"
                             for k in typed) + "]"
    with chromium_or_fail() as browser:
        browser.call("Network.enable")
        first = signed_in(browser)
        browser.navigate(desk.base + "calls/new")
        browser.evaluate(script)
        with desk.admin.db.transaction() as session:  # this session of hers ends now
            session.execute(update(AdminSession).where(
                AdminSession.token_hash == hashlib.sha256(first.encode()).hexdigest())
                .values(expires_at=AdminSession.created_at))
        browser._events.clear()
        browser.evaluate("document.getElementById('log').click()")
        browser.wait_event("Page.loadEventFired")
        assert browser.evaluate("location.pathname") == "/desk/login"
        signed_in(browser)
        browser.navigate(desk.base + "calls/new")
        assert browser.evaluate(values) == list(typed.values())
        notice = browser.evaluate(
            "document.getElementById('draft-restored-call-form').innerText")
        assert "n'a pas été envoyé" in notice and "L'abandonner" in notice
        assert csp_messages(browser) == []
        browser._events.clear()
        browser.evaluate("document.getElementById('log').click()")
        browser.wait_event("Page.loadEventFired")
        assert browser.evaluate("!!document.getElementById('logged')") is True
        assert browser.evaluate("sessionStorage.getItem('rnmail-draft:call')") is None
        browser.navigate(desk.base + "calls/new")
        assert browser.evaluate(values) == ["", "", "", ""]
        assert browser.evaluate("!!document.getElementById('draft-restored-call-form')") \
            is False
        # Discard: the form emptied, the draft forgotten.
        browser.evaluate(script)
        browser.navigate(desk.base)
        browser.navigate(desk.base + "calls/new")
        browser.evaluate("document.getElementById('draft-discard-call-form').click()")
        assert browser.evaluate(values) == ["", "", "", ""]
        assert browser.evaluate("sessionStorage.getItem('rnmail-draft:call')") is None
        # Signing out forgets every draft of the tab.
        browser.evaluate(script)
        assert browser.evaluate("sessionStorage.getItem('rnmail-draft:call')") is not None
        browser._events.clear()
        browser.evaluate("document.getElementById('logout').click()")
        browser.wait_event("Page.loadEventFired")
        assert browser.evaluate("sessionStorage.getItem('rnmail-draft:call')") is None
    with desk.admin.db.transaction() as session:
        logged = session.scalars(select(Ticket).where(Ticket.subject == "Sleutel kwijt")).all()
        assert len(logged) == 1  # the call, once


@pytest.mark.slow
def test_in_a_browser_a_name_typed_in_the_number_field_gives_way_to_the_number(
        desk: Desk) -> None:
    """The number field has the focus: a call taker types the caller's name there. The
    lookup finds her all the same, and "Use" puts her number in place of the name."""
    with chromium_or_fail() as browser:
        browser.call("Network.enable")
        browser.call("Network.setCookie", {
            "name": "rnmail_desk", "value": desk.agent.cookies["rnmail_desk"],
            "url": desk.base})
        browser.navigate(desk.base + "calls/new")
        browser.evaluate("""(() => {
          const f = document.getElementById('phone');
          f.value = 'Lefèvre';
          f.dispatchEvent(new Event('input', {bubbles: true}));
        })()""")
        found = browser.evaluate("""new Promise(done => {
          const t0 = Date.now();
          const look = () => document.getElementById('use-0') ? done(true)
            : Date.now() - t0 > 5000 ? done(false) : setTimeout(look, 50);
          look();
        })""")
        assert found
        browser.evaluate("document.getElementById('use-0').click()")
        phone = browser.evaluate("document.getElementById('phone').value")
        assert phone != "Lefèvre" and sum(c.isdigit() for c in phone) >= 8, phone
        assert browser.evaluate("document.getElementById('caller').value") == (
            "Séverine Lefèvre")
        assert csp_messages(browser) == []
