"""The desk's ticket page (``/desk/tickets/{id}``): the whole thread in order with each
message's role and author (a hostile HTML mail harmless in Chromium), the files as
downloads, the requester card from the directory, the history with who and through what,
who else has the ticket open; what a visitor who is not signed in, or asks for a ticket or
file that is not there, gets. One served installation (SQLite) for the page; the storage
(presence upsert, the card's queries) on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rnmail.config import WorkflowConfig
from rnmail.db import Database
from rnmail.models import Attachment, Message, Staff, Ticket, TicketView, utcnow
from rnmail.tickets.card import requester_card
from rnmail.tickets.history import Actor, change
from rnmail.tickets.lifecycle import open_by_hand, update_ticket
from rnmail.tickets.presence import (
    LEFT_GRACE,
    REFRESH,
    leave,
    other_viewers,
    record_view,
    view,
)
from rnmail.tickets.team import add_staff
from rnmail.util.blobs import BlobStore
from rnmail.vocab import ActorKind, Via
from rnmail.web.desk.base import desk_actor
from tests.harness.admin import Admin, Page
from tests.harness.browser import Browser, chromium_or_fail
from tests.harness.corpus import simple
from tests.harness.desk import (
    ACCESSIBILITY,
    AGENT,
    AGENT_NAME,
    Desk,
    add_agent,
    desk_served,
    desk_signed_in,
)
from tests.harness.hostile_html import CASES, JS
from tests.harness.install import Installation
from tests.harness.servers import SmtpServer
from tests.harness.web import csp_messages

T = TypeVar("T")

PAUL = "paul.janssens@rn.example"
PAUL_NAME = "Paul Janssens"
ANNE = "anne.martin@nord.example"
LUC = "luc.petit@nord.example"
SERVICE = "legal@rn.example"
DIRECTORY = "\n".join((
    "organisation,organisation_type,organisation_code,name,email,phone,language,role,"
    "access_status,key_sent",
    f"Commune de Nord,municipality,NIS-99001,Anne Martin,{ANNE},02 555 77 01,fr,population,"
    "blocked,2026-03-02",
    f"Commune de Nord,municipality,NIS-99001,Luc Petit,{LUC},,fr,population,active,", ""))
PDF = b"%PDF-1.4 decompte"
HOSTILE_FILE = f"<html><title>x</title><script>{JS}</script></html>".encode()


@dataclass
class Served:
    desk: Desk
    site: Installation
    paul: Admin
    mail_ticket: int  # Anne's hostile mail, worked on (note, answer, held, delegation...)
    other_anne: int  # Anne's second ticket
    luc_ticket: int  # her colleague's
    files_message: int  # the message of mail_ticket with the two files


def hostile_mail(subject: str, sender: str, html: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "info@rn.example", subject
    mail["Message-ID"] = make_msgid(domain="nord.example")
    mail.set_content("Bonjour, voir la version HTML.")
    mail.add_alternative(html, subtype="html")
    mail.add_attachment(PDF, "application", "pdf", filename="décompte.pdf")
    mail.add_attachment(HOSTILE_FILE, "text", "html", filename="page.html")
    return mail.as_bytes()


def found(value: T | None) -> T:
    assert value is not None
    return value


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("desk-ticket")
    smtp = SmtpServer().start()
    try:
        with desk_served(root, f"sqlite:///{root}/rnmail.db", smtp) as desk:
            paul = add_agent(desk.admin, PAUL, PAUL_NAME, "nl")
            site = Installation(desk.admin.path, smtp)
            (root / "directory.csv").write_text(DIRECTORY, encoding="utf-8")
            site.ok("directory", "import", str(root / "directory.csv"))
            site.ok("service", "add", "juridique", "--email", SERVICE)
            html = "".join(f"<div>{case.html}</div>" for case in CASES)
            site.drop(hostile_mail("Ma clé est bloquée", ANNE, html))
            site.ok("ingest", "once")
            site.drop(simple("Deuxième question", "Et mon certificat ?", from_addr=ANNE),
                      simple("Question de Luc", "Bonjour.", from_addr=LUC))
            site.ok("ingest", "once")
            with desk.admin.db.transaction() as session:
                first, second, luc = (found(session.scalar(select(Ticket.id).where(
                    Ticket.subject == s))) for s in (
                    "Ma clé est bloquée", "Deuxième question", "Question de Luc"))
                files = found(session.scalar(select(Message.id).where(
                    Message.ticket_id == first, Message.direction == "in")))
            site.ok("ticket", "comment", str(first), "-m", "Appeler la commune d'abord.",
                    "--author", AGENT)
            site.ok("ticket", "reply", str(first), "-m", "Votre clé sera débloquée.",
                    "--author", AGENT)
            held = site.run("ticket", "reply", str(first), "-m", "Uw sleutel is vervallen.",
                            "--author", PAUL)
            assert held.code == 1, held
            site.ok("ticket", "set", str(first), "--category", "legal", "--author",
                    "Gérard (stagiaire)")
            site.ok("ticket", "delegate", str(first), "juridique", "--author", AGENT)
            with desk.admin.db.transaction() as session:
                delegation = session.scalars(select(Message).where(
                    Message.ticket_id == first, Message.to_addrs.is_not(None),
                    Message.kind == "notification").order_by(Message.id.desc())).first()
                assert delegation is not None and delegation.to_addrs == [SERVICE]
                token = delegation.message_id or ""
            site.drop(simple("RE: délégation", "La clé peut être débloquée.",
                             from_addr=SERVICE,
                             extra_headers={"In-Reply-To": token, "References": token}))
            site.ok("ingest", "once")
            # a change made on the desk, and one by an operator
            update_ticket(desk.admin.db, first, lambda s, t, a: change(
                t, "requester_type", "police", a), lambda s: desk_actor(s, PAUL))
            update_ticket(desk.admin.db, first, lambda s, t, a: change(
                t, "requester_type", "municipality", a),
                Actor("alice", ActorKind.OPERATOR, Via.ADMIN))
            desk_signed_in(desk.agent)
            desk_signed_in(paul, PAUL)
            yield Served(desk, site, paul, first, second, luc, files)
            site.close()
    finally:
        smtp.stop()


def roles(page: Page) -> list[str]:
    return re.findall(r'<li class="message ([a-z-]+)" id="message-\d+">', page.text)


def section(page: Page, element_id: str, end: str = "</ol>") -> str:
    start = page.text.index(f'id="{element_id}"')
    return page.text[start:page.text.index(end, start)]


# ----------------------------------------------------------------------- the thread


def served_answer_id(served: Served) -> int:
    """The id of the answer ``ticket reply`` wrote to the mail ticket."""
    with served.desk.admin.db.transaction() as session:
        return found(session.scalar(select(Message.id).where(
            Message.ticket_id == served.mail_ticket, Message.kind == "correspondence",
            Message.direction == "out").order_by(Message.id)))


def test_the_thread_once_in_order_with_roles_and_authors(served: Served) -> None:
    page = served.desk.agent.get(f"/desk/tickets/{served.mail_ticket}?lang=en")
    assert page.status == 200
    shown = roles(page)
    # the request, its acknowledgement and the two notifications folded into one, the
    # note, the answer, the held one, the delegation, the service's answer (and its
    # notification, folded)
    assert shown[0] == "request"
    assert [r for r in shown if r not in ("acknowledgement", "notification")] == [
        "request", "note", "answer", "held", "delegation", "service-answer"]
    assert shown.count("notification") == 2  # each group of copies once
    text = page.text
    assert f"Staff notified</span> — {AGENT}, {PAUL}" in text
    assert '<span class="author">Marie Lambert</span>' in text
    assert '<span class="author">Paul Janssens</span>' in text
    assert "Answer held, not sent" in text and "It was not sent to the requester" in text
    assert "Second-line answer" in text and "La clé peut être débloquée." in text
    assert "<details>" in text  # the notifications are collapsed
    # The answer as written, its signature and the contact block folded under their name.
    answer = section(page, f"message-{served_answer_id(served)}", "</li>")
    assert "Votre clé sera débloquée." in answer
    assert answer.index("Votre clé sera débloquée.") < answer.index(
        "<summary>Signature and contact details</summary>")
    assert "Quoted history" not in answer
    # once each
    assert text.count("Appeler la commune d&#39;abord.") == 1
    # the phone ticket of the harness starts with the call
    call = served.desk.agent.get(f"/desk/tickets/{served.desk.ticket_id}?lang=en")
    assert roles(call)[0] == "call" and "Call</span>" in call.text


def test_hostile_html_is_sanitized_in_the_page(served: Served) -> None:
    page = served.desk.agent.get(f"/desk/tickets/{served.mail_ticket}")
    body = page.text[page.text.index('id="messages"'):]
    body = body[:body.index('id="actions"')]  # the thread, before the desk's own forms
    assert "Bonjour script" in body and "Bonjour img-onerror" in body
    for active in ("<script", "onerror=", "javascript:", "<style", "<iframe", "<img",
                   "<svg", "<form", "<base", "<meta http-equiv", "style="):
        assert active not in body.lower(), active


def test_attachments_are_listed_and_downloaded_as_files(served: Served) -> None:
    agent, ticket, message = served.desk.agent, served.mail_ticket, served.files_message
    page = agent.get(f"/desk/tickets/{ticket}?lang=en")
    base = f"/desk/tickets/{ticket}/messages/{message}"
    assert f'href="{base}/1" download>décompte.pdf</a>' in page.text
    assert f'href="{base}/2" download>page.html</a>' in page.text
    assert "17 byte" in page.text  # the size
    pdf = agent.get(f"{base}/1")
    assert pdf.status == 200 and pdf.body == PDF
    assert pdf.header("Content-Type") == "application/pdf"
    assert pdf.header("Content-Disposition").startswith("attachment; ")
    assert pdf.header("X-Content-Type-Options") == "nosniff"
    assert pdf.header("Content-Security-Policy").startswith("sandbox")
    html = agent.get(f"{base}/2")
    assert html.status == 200 and html.header("Content-Type") == "application/octet-stream"
    # another ticket's message, an index out of range, a message that is not there
    for wrong in (f"/desk/tickets/{served.other_anne}/messages/{message}/1", f"{base}/0",
                  f"{base}/3", f"/desk/tickets/{ticket}/messages/99999999/1",
                  f"{base}/99999999999999999999"):
        reply = agent.get(wrong)
        assert reply.status == 404 and PDF not in reply.body, wrong
        assert "There is no such file" in reply.text, wrong  # a page of the desk, in English
    # a file purged since the page was shown (retention, erasure): the same page
    with served.desk.admin.db.transaction() as session:
        digest = found(session.scalar(select(Attachment.sha256).where(
            Attachment.message_id == message, Attachment.filename == "décompte.pdf")))
    stored = BlobStore(served.desk.admin.root / "attachments").path(digest)
    aside = stored.rename(stored.with_name(f"{digest}.aside"))
    try:
        reply = agent.get(f"{base}/1")
        assert reply.status == 404 and PDF not in reply.body
        assert "it is not kept any more" in reply.text and 'href="/desk/' in reply.text
    finally:
        aside.rename(stored)
    assert agent.get(f"{base}/1").body == PDF


def test_not_signed_in_is_sent_to_sign_in(served: Served, tmp_path: Path) -> None:
    admin = served.desk.admin
    stranger = Admin(admin.root, admin.db, admin.smtp, admin.public_port, admin.admin_port,
                     admin.secret)
    for path in (f"/desk/tickets/{served.mail_ticket}",
                 f"/desk/tickets/{served.mail_ticket}/messages/{served.files_message}/1"):
        reply = stranger.get(path)
        assert reply.status == 303 and reply.header("Location") == "/desk/login", path
        assert PDF not in reply.body
    # an operator's admin session does not open the desk
    admin.signed_in()
    reply = admin.get(f"/desk/tickets/{served.mail_ticket}/messages/{served.files_message}/1")
    assert reply.status == 303 and reply.header("Location") == "/desk/login"


def test_a_missing_ticket_is_a_404(served: Served) -> None:
    for path in ("/desk/tickets/999999", "/desk/tickets/99999999999999999999",
                 "/desk/tickets/0"):
        reply = served.desk.agent.get(path + "?lang=en")
        assert reply.status == 404 and "There is no such" in reply.text, path


# ------------------------------------------------------------------ the requester card


def test_the_requester_card_from_the_directory(served: Served) -> None:
    page = served.desk.agent.get(f"/desk/tickets/{served.mail_ticket}?lang=en")
    card = page.text[page.text.index('id="requester-card"'):]
    assert '<dd id="card-name">Anne Martin</dd>' in card
    assert '<dd id="card-organisation">Commune de Nord</dd>' in card
    assert '<dd id="card-type">municipality</dd>' in card
    assert re.search(r'id="card-access" class="access blocked">blocked, since \d\d/\d\d/2026<',
                     card)
    assert '<dd id="card-key">02/03/2026</dd>' in card
    assert "From the directory." in card
    own = section(page, "own-tickets", "</ul>")
    assert f'href="/desk/tickets/{served.other_anne}"' in own and "Deuxième question" in own
    assert f'href="/desk/tickets/{served.mail_ticket}"' not in own
    organisation = card[card.index('id="organisation-tickets"'):]
    assert f'href="/desk/tickets/{served.luc_ticket}"' in organisation
    assert f'href="/desk/tickets/{served.other_anne}"' not in organisation.split("</ul>")[0]
    # in French
    fr = served.desk.agent.get(f"/desk/tickets/{served.mail_ticket}?lang=fr")
    assert "bloqué" in fr.text and "Clé d&#39;accès envoyée" in fr.text


def test_a_requester_outside_the_directory(served: Served) -> None:
    page = served.desk.agent.get(f"/desk/tickets/{served.desk.ticket_id}?lang=en")
    card = page.text[page.text.index('id="requester-card"'):]
    assert '<dd id="card-name">Jean Dupont</dd>' in card
    assert '<dd id="card-organisation">Commune de Sud</dd>' in card
    assert "Not in the directory" in card and 'id="card-access"' not in card


# ------------------------------------------------------------------------ the history


def test_the_history_names_who_and_through_what(served: Served) -> None:
    page = served.desk.agent.get(f"/desk/tickets/{served.mail_ticket}?lang=en")
    history = section(page, "history")
    events = re.findall(r'<li class="event ([a-z-]+)">(.*?)</li>', history, re.S)
    seen = [(what, " ".join(re.sub(r"<[^>]+>", " ", text).split())) for what, text in events]
    whats = [what for what, _ in seen]
    assert whats[0] == "opened" and {"note", "reply", "category", "service",
                                     "service-answer", "requester-type"} <= set(whats)
    line = dict(seen)
    assert "Anne Martin" in line["opened"] or ANNE in line["opened"]
    assert "(requester, by mail)" in line["opened"]
    assert f"Marie Lambert &lt;{AGENT}&gt; (staff member, on the command line" in line["note"]
    assert "Category: — → legal" in line["category"]
    assert "Gérard (stagiaire) (command-line user, on the command line" in line["category"]
    assert "juridique" in line["service"] and "(staff member, on the command line" in \
        line["service"]
    assert "(second line, by mail)" in line["service-answer"]
    changes = [text for what, text in seen if what == "requester-type"]
    assert any("Paul Janssens" in t and "(staff member, via the desk)" in t and
               "municipality → police" in t for t in changes), changes
    assert any("alice (operator, in the administration)" in t for t in changes), changes
    # the times in Brussels, said once
    assert re.search(r'<span class="when">\d\d/\d\d/\d{4} \d\d:\d\d</span>', history)
    assert "Times in Brussels time." in page.text
    nl = served.desk.agent.get(f"/desk/tickets/{served.mail_ticket}?lang=nl")
    assert "Geschiedenis" in nl.text and "via de desk" in nl.text


def test_ticket_show_prints_the_history(served: Served) -> None:
    out = served.site.ok("ticket", "show", str(served.mail_ticket))
    history = out[out.index("\nHistory\n"):]
    assert "category: - -> legal" in history and "(Gérard (stagiaire), user via cli" in history
    assert "staff via desk" in history and "operator via admin" in history


# -------------------------------------------------------------------- who has it open


def test_presence_is_shown_to_the_other_member_not_to_oneself(served: Served) -> None:
    ticket = served.luc_ticket
    first = served.desk.agent.get(f"/desk/tickets/{ticket}?lang=en")
    assert 'id="presence"' not in first.text  # nobody else; not herself
    second = served.paul.get(f"/desk/tickets/{ticket}?lang=en")
    presence = second.text[second.text.index('id="presence"'):].split("</p>")[0]
    assert f"Also open by <strong>{AGENT_NAME}</strong> (1 minute ago)" in presence
    assert PAUL_NAME not in presence
    again = served.desk.agent.get(f"/desk/tickets/{ticket}?lang=fr")
    presence = again.text[again.text.index('id="presence"'):].split("</p>")[0]
    assert f"<strong>{PAUL_NAME}</strong> (il y a 1 minute)" in presence
    assert AGENT_NAME not in presence
    with served.desk.admin.db.transaction() as session:  # one row per member and ticket
        assert session.scalar(select(func.count()).select_from(TicketView).where(
            TicketView.ticket_id == ticket)) == 2


def test_a_view_is_written_again_only_after_the_refresh(served: Served) -> None:
    """A page seen again within ``presence.REFRESH`` takes no write (no write lock); after
    it, the view moves on."""
    ticket, db = served.luc_ticket, served.desk.admin.db
    served.desk.agent.get(f"/desk/tickets/{ticket}")

    def seen_at(shift: timedelta | None = None) -> datetime:
        with db.transaction() as session:
            row = session.scalars(select(TicketView).join(Staff).where(
                TicketView.ticket_id == ticket, Staff.email == AGENT)).one()
            if shift is not None:
                row.seen_at = row.seen_at - shift
            return row.seen_at

    recent = seen_at(REFRESH - timedelta(seconds=10))  # seen 20 s ago
    served.desk.agent.get(f"/desk/tickets/{ticket}")
    assert seen_at() == recent  # not written again
    older = seen_at(timedelta(seconds=20))  # 40 s ago
    served.desk.agent.get(f"/desk/tickets/{ticket}")
    assert seen_at() > older + timedelta(seconds=30)  # written: now


def shift_view(db: Database, ticket: int, member: str, back: timedelta) -> datetime:
    """Move ``member``'s view of ``ticket`` back by ``back``; returns its time after."""
    with db.transaction() as session:
        row = session.scalars(select(TicketView).join(Staff).where(
            TicketView.ticket_id == ticket, Staff.email == member)).one()
        row.seen_at = row.seen_at - back
        return row.seen_at


def presence_line(page: Page) -> str:
    return page.text[page.text.index('id="presence"'):].split("</p>")[0] if (
        'id="presence"' in page.text) else ""


def test_the_page_says_it_is_still_open_so_a_long_answer_keeps_its_writer_named(
        served: Served) -> None:
    """Writing an answer for longer than ``presence_minutes`` (5): the page's script says
    every minute that it is still open, and the colleague goes on seeing who has it."""
    ticket, agent, db = served.other_anne, served.desk.agent, served.desk.admin.db
    page = agent.get(f"/desk/tickets/{ticket}?lang=en")
    assert '<script src="/desk/desk.js" defer></script>' in page.text
    mark = re.search(r'<span hidden id="presence-mark" data-url="([^"]+)" '
                     r'data-left="[^"]+" data-csrf="([^"]+)" data-seconds="(\d+)">', page.text)
    assert mark and mark[1] == f"/desk/tickets/{ticket}/presence" and mark[3] == "60"
    shift_view(db, ticket, AGENT, timedelta(minutes=6))  # writing for six minutes
    assert AGENT_NAME not in presence_line(served.paul.get(f"/desk/tickets/{ticket}"))
    # without its session's token: refused, nothing written
    assert agent.post(mark[1], [("csrf", "forged")]).status == 403
    assert AGENT_NAME not in presence_line(served.paul.get(f"/desk/tickets/{ticket}"))
    still = agent.post(mark[1], [("csrf", mark[2])])
    assert still.status == 204 and still.body == b""
    assert f"<strong>{AGENT_NAME}</strong>" in presence_line(
        served.paul.get(f"/desk/tickets/{ticket}?lang=en"))
    # not signed in: the sign-in page; a ticket that is not there: 404, nothing written
    stranger = Admin(agent.root, agent.db, agent.smtp, agent.public_port, agent.admin_port,
                     agent.secret)
    assert stranger.post(mark[1], [("csrf", mark[2])]).status == 303
    for wrong in ("99999999", "99999999999999999999", "\u0661\u0662"):  # none, too big, Arabic
        reply = agent.post(f"/desk/tickets/{quote(wrong)}/presence", [("csrf", mark[2])])
        assert reply.status == 404 and "Traceback" not in reply.text, wrong
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(TicketView).where(
            TicketView.ticket_id == 99999999)) == 0


def test_a_page_left_stops_naming_its_reader_after_a_short_grace(served: Served) -> None:
    """The page's script says when the page goes (another page, the tab closed): the
    colleague's page names the member ``LEFT_GRACE`` more, not the whole window."""
    ticket, agent, db = served.other_anne, served.desk.agent, served.desk.admin.db
    page = agent.get(f"/desk/tickets/{ticket}?lang=en")
    left = re.search(r'data-left="([^"]+)" data-csrf="([^"]+)"', page.text)
    assert left and left[1] == f"/desk/tickets/{ticket}/presence/left"
    url, token = left[1], left[2]
    assert agent.post(url, [("csrf", "forged")]).status == 403
    seen = shift_view(db, ticket, AGENT, timedelta(0))
    assert seen > utcnow() - timedelta(seconds=30)  # not moved by the forged one
    gone = agent.post(url, [("csrf", token)])
    assert gone.status == 204 and gone.body == b""
    ends = shift_view(db, ticket, AGENT, timedelta(0)) + timedelta(minutes=5)
    assert abs((ends - utcnow()) - LEFT_GRACE) < timedelta(seconds=15)
    assert f"<strong>{AGENT_NAME}</strong>" in presence_line(  # within the grace: named
        served.paul.get(f"/desk/tickets/{ticket}?lang=en"))
    shift_view(db, ticket, AGENT, LEFT_GRACE)  # the grace passed
    assert AGENT_NAME not in presence_line(served.paul.get(f"/desk/tickets/{ticket}"))
    # back on the page: named again at once (a view older than REFRESH is written)
    agent.get(f"/desk/tickets/{ticket}")
    assert f"<strong>{AGENT_NAME}</strong>" in presence_line(
        served.paul.get(f"/desk/tickets/{ticket}?lang=en"))
    for wrong in ("99999999", "99999999999999999999"):
        reply = agent.post(f"/desk/tickets/{wrong}/presence/left", [("csrf", token)])
        assert reply.status == 404 and "Traceback" not in reply.text, wrong


def test_a_page_that_is_not_there_is_a_page_in_the_readers_language(served: Served) -> None:
    """A mistyped address of the desk (a ticket number with a letter, a path that is no
    page, a GET where only a POST goes) is the desk's refusal page, not aiohttp's bare
    English "404: Not Found"."""
    agent = served.desk.agent
    for path, status in (("/desk/tickets/abc?lang=fr", 404), ("/desk/nowhere", 404),
                         ("/desk/tickets/1/presence/left", 405)):
        page = agent.get(path)
        assert page.status == status, (path, page.status)
        assert '<html lang="fr">' in page.text and "Cette page n&#39;existe pas." in page.text
        assert "Not Found" not in page.text and "Method Not Allowed" not in page.text
    stranger = agent.http("GET", "/admin/nowhere", Accept_Language="nl")
    assert stranger.status == 404 and "Deze pagina bestaat niet." in stranger.text


# ------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_or_fail() as chromium:
        yield chromium


@pytest.mark.slow
def test_in_chromium_the_hostile_mail_is_harmless_and_the_page_fits(
        served: Served, browser: Browser, artifacts: Path) -> None:
    port = served.desk.admin.admin_port
    browser.call("Network.enable", page=True)
    browser.call("Network.setCookie", {
        "name": "rnmail_desk", "value": served.desk.agent.cookies["rnmail_desk"],
        "url": f"http://127.0.0.1:{port}/desk/", "path": "/desk", "httpOnly": True})
    shots = artifacts / "desk"
    for name, metrics, width in (
            ("ticket-thread", {"width": 1280, "height": 900, "deviceScaleFactor": 1,
                               "mobile": False}, 1280),
            ("phone-ticket-thread", {"width": 390, "height": 844, "deviceScaleFactor": 2,
                                     "mobile": True}, 390)):
        browser.call("Emulation.setDeviceMetricsOverride", metrics)
        browser.navigate(f"http://127.0.0.1:{port}/desk/tickets/{served.mail_ticket}")
        seen = browser.evaluate("""new Promise(done => setTimeout(() => done({
          title: document.title, pwned: typeof window.pwned,
          scripts: [...document.scripts].map(s => new URL(s.src).pathname),
          active: document.querySelectorAll('#messages :is(script, iframe, object, embed, '
            + 'svg, math, form, img, style, link, base, input, button, frame)').length,
          handlers: [...document.querySelectorAll('#messages *')].filter(
            e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
          hrefs: [...document.querySelectorAll('#messages a[href]')].map(a => a.href)
            .filter(h => !/^(https?:|mailto:)/.test(h)),
          remote: performance.getEntriesByType('resource').map(e => e.name)
            .filter(n => !n.startsWith(location.origin)),
          text: document.querySelector('#messages').innerText,
          side: document.querySelector('aside').getBoundingClientRect().left,
        }), 500))""")
        assert seen["pwned"] == "undefined" and "PWNED" not in seen["title"], name
        assert seen["scripts"] == ["/desk/desk.js"], name  # the desk's own, no other
        assert (seen["active"], seen["handlers"]) == (0, 0), name
        assert seen["hrefs"] == [], name  # besides the desk's own download links
        assert seen["remote"] == [], name
        assert "Bonjour script" in seen["text"] and "Bonjour img-onerror" in seen["text"]
        # the card beside the thread at 1280 px, under it on a phone
        assert (seen["side"] > 640) == (width == 1280), (name, seen["side"])
        browser.screenshot(shots / f"{name}.png")
        found = browser.evaluate(ACCESSIBILITY)
        assert found["width"] <= width, (name, found["width"])
        assert found["low"] == [], (name, found["low"])
        assert found["unlabelled"] == [], (name, found["unlabelled"])
        assert csp_messages(browser) == [], name


@pytest.mark.slow
def test_in_chromium_the_page_says_it_is_still_open_when_shown_again(
        served: Served, browser: Browser) -> None:
    """The script itself: a tab shown again (and every minute while shown) posts its
    presence with the page's CSRF token, within the page's policy."""
    ticket, db, port = served.luc_ticket, served.desk.admin.db, served.desk.admin.admin_port
    browser.call("Network.enable", page=True)
    browser.call("Network.setCookie", {
        "name": "rnmail_desk", "value": served.desk.agent.cookies["rnmail_desk"],
        "url": f"http://127.0.0.1:{port}/desk/", "path": "/desk", "httpOnly": True})
    browser.navigate(f"http://127.0.0.1:{port}/desk/tickets/{ticket}")
    before = shift_view(db, ticket, AGENT, timedelta(minutes=6))
    browser.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    deadline = time.monotonic() + 10
    while shift_view(db, ticket, AGENT, timedelta(0)) == before:
        assert time.monotonic() < deadline, "no presence posted"
        time.sleep(0.1)
    assert shift_view(db, ticket, AGENT, timedelta(0)) > before + timedelta(minutes=5)
    assert csp_messages(browser) == []


@pytest.mark.slow
def test_in_chromium_a_page_left_says_so(served: Served, browser: Browser) -> None:
    """Opening another page sends the ticket page's beacon: the member's view is moved back
    to end ``LEFT_GRACE`` later. Reloading it, the page's "left" lands after the new page's
    view: the new page says it is open again two seconds later."""
    ticket, db, port = served.luc_ticket, served.desk.admin.db, served.desk.admin.admin_port
    browser.call("Network.enable", page=True)
    browser.call("Network.setCookie", {
        "name": "rnmail_desk", "value": served.desk.agent.cookies["rnmail_desk"],
        "url": f"http://127.0.0.1:{port}/desk/", "path": "/desk", "httpOnly": True})
    browser.navigate(f"http://127.0.0.1:{port}/desk/")  # from whatever page was open
    time.sleep(0.5)
    browser.navigate(f"http://127.0.0.1:{port}/desk/tickets/{ticket}")
    shift_view(db, ticket, AGENT, timedelta(minutes=1))
    browser.evaluate("location.reload()")
    deadline = time.monotonic() + 10
    while shift_view(db, ticket, AGENT, timedelta(0)) < utcnow() - timedelta(seconds=10):
        assert time.monotonic() < deadline, "the reloaded page did not say it is open"
        time.sleep(0.1)
    time.sleep(2.5)  # the reloaded page's own "still open" after the old page's "left"
    before = shift_view(db, ticket, AGENT, timedelta(0))
    assert before > utcnow() - timedelta(seconds=10)
    assert csp_messages(browser) == []
    browser.navigate(f"http://127.0.0.1:{port}/desk/")
    deadline = time.monotonic() + 10
    while shift_view(db, ticket, AGENT, timedelta(0)) == before:
        assert time.monotonic() < deadline, "no beacon on leaving the page"
        time.sleep(0.1)
    ends = shift_view(db, ticket, AGENT, timedelta(0)) + timedelta(minutes=5)
    assert abs((ends - utcnow()) - LEFT_GRACE) < timedelta(seconds=15)


@pytest.mark.slow
def test_in_chromium_a_note_typed_and_left_is_kept_until_added(
        served: Served, browser: Browser) -> None:
    """The ticket page's forms keep a draft in the tab: a note typed, the page left for the
    queue, is there again on the way back; added, it is gone."""
    ticket, port = served.luc_ticket, served.desk.admin.admin_port
    browser.call("Network.enable", page=True)
    browser.call("Network.setCookie", {
        "name": "rnmail_desk", "value": served.desk.agent.cookies["rnmail_desk"],
        "url": f"http://127.0.0.1:{port}/desk/", "path": "/desk", "httpOnly": True})
    page = f"http://127.0.0.1:{port}/desk/tickets/{ticket}"
    browser.navigate(page)
    browser.evaluate("""(f => { f.value = 'Rappeler Luc demain matin (brouillon).';
      f.dispatchEvent(new Event('input', {bubbles: true})); })(
      document.getElementById('note-text'))""")
    browser.navigate(f"http://127.0.0.1:{port}/desk/")
    browser.navigate(page)
    assert browser.evaluate("document.getElementById('note-text').value") == (
        "Rappeler Luc demain matin (brouillon).")
    assert browser.evaluate("!!document.getElementById('draft-restored-note-form')") is True
    assert browser.evaluate("document.getElementById('reply-text').value") == ""  # its own
    browser._events.clear()
    browser.evaluate("document.getElementById('note-add').click()")
    browser.wait_event("Page.loadEventFired")
    assert browser.evaluate("new URLSearchParams(location.search).get('done')") == "noted"
    assert browser.evaluate(f"sessionStorage.getItem('rnmail-draft:note-{ticket}')") is None
    assert browser.evaluate("document.getElementById('note-text').value") == ""
    assert csp_messages(browser) == []
    with served.desk.admin.db.transaction() as session:  # added once
        assert session.scalar(select(func.count()).select_from(Message).where(
            Message.ticket_id == ticket,
            Message.text == "Rappeler Luc demain matin (brouillon).")) == 1


# ----------------------------------------------------------------- storage, both engines


def _ticket(session: Session, requester: str, org: str | None, subject: str) -> int:
    ticket = open_by_hand(session, WorkflowConfig(), "fr", actor=Actor.system("test"),
                          channel="mail", requester=requester, requester_org=org,
                          subject=subject, note="Bonjour")
    session.flush()
    return ticket.id


def test_presence_storage_upserts_and_ages(db: Database) -> None:
    with db.transaction() as session:
        marie = add_staff(session, AGENT, AGENT_NAME, "fr")
        paul = add_staff(session, PAUL, PAUL_NAME, "nl")
        old = add_staff(session, "ancien@rn.example", "Ancien", "fr")
        session.flush()
        ticket = _ticket(session, "jean@example.org", None, "Bonjour")
        staff = (marie.id, paul.id, old.id)
    now = utcnow()
    with db.transaction() as session:
        assert other_viewers(session, ticket, staff[0], 5, now) == []
        view(session, ticket, AGENT, now)
        record_view(session, staff[2], ticket, now - timedelta(minutes=6))
    with db.transaction() as session:
        others = other_viewers(session, ticket, staff[1], 5, now + timedelta(seconds=30))
        assert [(v.name, v.email) for v in others] == [(AGENT_NAME, AGENT)]
    with db.transaction() as session:  # again: the row moves on, no second row
        record_view(session, staff[0], ticket, now + timedelta(minutes=2))
        record_view(session, staff[0], ticket, now + timedelta(minutes=3))
    with db.transaction() as session:
        rows = session.scalars(select(TicketView).where(TicketView.staff_id == staff[0])).all()
        assert len(rows) == 1 and rows[0].seen_at == now + timedelta(minutes=3)
        seen = other_viewers(session, ticket, staff[1], 5, now + timedelta(minutes=4))
        assert [v.name for v in seen] == [AGENT_NAME]
        assert other_viewers(session, ticket, staff[1], 0, now) == []
        # the one seen 6 minutes before is out of a 5-minute window, in a 10-minute one
        assert [v.name for v in other_viewers(session, ticket, staff[1], 10, now)] == [
            AGENT_NAME, "Ancien"]
        session.get(Staff, staff[0]).active = False  # type: ignore[union-attr]
        assert other_viewers(session, ticket, staff[1], 5, now) == []  # Ancien: 6 min


def test_leaving_moves_a_view_back_never_forward(db: Database) -> None:
    with db.transaction() as session:
        marie = add_staff(session, AGENT, AGENT_NAME, "fr")
        old = add_staff(session, PAUL, PAUL_NAME, "nl")
        session.flush()
        ticket = _ticket(session, "jean@example.org", None, "Bonjour")
        staff = (marie.id, old.id)
    now = utcnow()
    with db.transaction() as session:
        view(session, ticket, AGENT, now)
        record_view(session, staff[1], ticket, now - timedelta(minutes=6))
    with db.transaction() as session:
        assert leave(session, ticket, AGENT, 5, now)
        assert leave(session, ticket, PAUL, 5, now)  # already out of the window: kept
        assert not leave(session, ticket, "nobody@rn.example", 5, now)
        assert not leave(session, 99999999, AGENT, 5, now)
    with db.transaction() as session:
        rows = dict(session.execute(select(TicketView.staff_id, TicketView.seen_at)
                                    .where(TicketView.ticket_id == ticket)).all())
        assert rows[staff[0]] == now - timedelta(minutes=5) + LEFT_GRACE
        assert rows[staff[1]] == now - timedelta(minutes=6)
        seen = other_viewers(session, ticket, staff[1], 5, now + LEFT_GRACE
                             - timedelta(seconds=1))
        assert [v.name for v in seen] == [AGENT_NAME]
        assert other_viewers(session, ticket, staff[1], 5,
                             now + LEFT_GRACE + timedelta(seconds=1)) == []
    with db.transaction() as session:  # a window shorter than the grace: nothing moves
        view(session, ticket, AGENT, now)
        assert leave(session, ticket, AGENT, 1, now)
    with db.transaction() as session:
        assert session.scalar(select(TicketView.seen_at).where(
            TicketView.staff_id == staff[0])) == now


def test_the_card_lists_with_a_limit_and_a_count(db: Database) -> None:
    with db.transaction() as session:
        mine = [_ticket(session, "jean@example.org", "Commune de Sud", f"Q{n}")
                for n in range(5)]
        org = [_ticket(session, f"p{n}@sud.example", "Commune de Sud", f"O{n}")
               for n in range(4)]
        _ticket(session, "autre@example.org", "Commune de Nord", "ailleurs")
        ticket = session.get(Ticket, mine[0])
        assert ticket is not None
        card = requester_card(session, ticket, limit=3)
        assert card.directory is None and card.organisation == "Commune de Sud"
        assert [t.id for t in card.own_tickets.tickets] == mine[:0:-1][:3]
        assert card.own_tickets.total == 4
        assert [t.id for t in card.organisation_tickets.tickets] == org[::-1][:3]
        assert card.organisation_tickets.total == 4
        small = requester_card(session, ticket, limit=10)
        assert small.own_tickets.total == 4 and len(small.own_tickets.tickets) == 4
