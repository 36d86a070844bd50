"""An agent's day on the desk: one scenario in a real headless Chromium, against a served
installation, a real SMTP server (aiosmtpd) and the real ingest and sender.

The help desk's morning mail is in (a Dutch requester who cannot sign in, an HTML mail
with a script and an ``onerror`` image, a mail from a directory user whose access is
blocked) besides Jean Dupont's call of yesterday. Then, as an agent would, only through
the pages (navigate, fill, click, read):

1. Marie Lambert signs in with her password and the code of her authenticator; the queue.
2. A call answered at once: she logs it on the call form; the ticket is closed,
   first contact, by phone (on its page and in the database).
3. A call for the second line: logged as delegated to the legal service, which gets the
   mail.
4. She answers the Dutch mail from its ticket page: the requester gets the answer in
   Dutch, in the thread of his mail (In-Reply-To, References).
5. Her colleague Jan Peeters signs in (his own cookies) and answers the same ticket a
   minute later: his answer is held; the page names Marie, says when, shows her answer;
   nothing more reaches the requester.
6. The HTML mail shows as harmless text: no script ran, no handler, no dialog, nothing
   refused by the policy.
7. He searches Jean's number as it is written on a note (``02/555.01.23``) and finds his
   ticket (stored as +3225550123).
8. He unblocks the blocked requester from her card on the ticket page (the two checks):
   her access is active again and she gets the confirmation mail.

The queue, a ticket, the call form and the queue on a 390 px phone are kept as
screenshots (``journey-*.png`` in the artifacts), each checked for contrast, labels,
width and the CSP.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.config import Config, load_config
from rnmail.dispatch.send import send_outbox
from rnmail.ingest.runner import run_ingest
from rnmail.models import DirectoryUser, Ticket
from rnmail.tickets.team import add_service
from tests.harness.admin import PASSWORD, Admin
from tests.harness.browser import Browser, chromium_or_fail
from tests.harness.corpus import simple
from tests.harness.desk import (
    AGENT,
    AGENT_NAME,
    DESKTOP,
    PHONE,
    Desk,
    add_agent,
    add_directory,
    all_sent,
    desk_served,
    fill,
    usable,
)
from tests.harness.mail import received, text_of
from tests.harness.servers import SmtpServer
from tests.harness.web import csp_messages

JAN, JAN_NAME = "jan.peeters@rn.example", "Jan Peeters"
LEGAL = "legal@second.example"
PIET = "piet@requester.example"
ELS = "els.wouters@zuidhoven.example"
HOSTILE_FROM = "curieux@requester.example"
DUTCH = ("Goedendag,\n\nIk kan mij niet meer aanmelden op het Rijksregister met mijn "
         "toegangssleutel. Kunt u mij helpen om opnieuw toegang te krijgen?\n\nMet "
         "vriendelijke groeten,\nPiet")
PWN = "window.__pwned=1;alert(1)"
HOSTILE_HTML = (f"<p>Bonjour, mon certificat est introuvable.</p><script>{PWN}</script>"
                f'<img src=x onerror="{PWN}" alt="capture d\'écran">')


@dataclass
class Morning:
    """The served desk with its morning's mail ingested: which ticket is whose."""

    desk: Desk
    config: Config
    jan: Admin
    piet: tuple[int, str]  # the Dutch mail's ticket and Message-ID
    hostile: int
    els: int

    def send(self) -> None:
        send_outbox(self.desk.admin.db, self.config)
        all_sent(self.desk.admin)

    def mails(self, to: str) -> list[EmailMessage]:
        return received(self.desk.admin.smtp, to)

    def ticket(self, ticket_id: int) -> Ticket:
        with self.desk.admin.db.transaction() as session:
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
            session.expunge(ticket)
            return ticket


def html_mail() -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = HOSTILE_FROM, "info@rn.example", "Certificat"
    mail["Message-ID"] = make_msgid(domain="requester.example")
    mail.set_content("Bonjour, voir la version HTML.")
    mail.add_alternative(HOSTILE_HTML, subtype="html")
    return mail.as_bytes()


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Morning]:
    root = tmp_path_factory.mktemp("journey")
    with SmtpServer() as smtp, desk_served(root, f"sqlite:///{root}/rnmail.db", smtp) as desk:
        admin = desk.admin
        config = load_config(admin.path)
        jan = add_agent(admin, JAN, JAN_NAME, "nl")
        with admin.db.transaction() as session:
            add_service(session, "legal", LEGAL, "Questions juridiques")
        add_directory(admin, [("Gemeente Zuidhoven", "municipality", "99001", "Els Wouters",
                               ELS, "", "nl", "population", "blocked", "")])
        piet = simple("Toegang Rijksregister", DUTCH, from_addr=PIET, lang="nl")
        els = simple("Sleutel geblokkeerd", "Goedendag, mijn toegang is geblokkeerd. "
                     "Kunt u die deblokkeren?\n\nEls", from_addr=ELS, lang="nl")
        new = admin.root / "maildir" / "new"
        new.mkdir(parents=True, exist_ok=True)
        for raw in (piet, html_mail(), els):
            (new / f"{uuid.uuid4().hex}.eml").write_bytes(raw)
        run_ingest(admin.db, config)
        asked = re.search(rb"^Message-ID: (<[^>]+>)", piet, re.M | re.I)
        assert asked
        with admin.db.transaction() as session:
            def of(sender: str) -> int:
                return session.scalars(select(Ticket.id).where(
                    Ticket.requester == sender)).one()
            found = (of(PIET), of(HOSTILE_FROM), of(ELS))
        yield Morning(desk, config, jan, (found[0], asked.group(1).decode()), found[1],
                      found[2])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_or_fail() as chromium:
        yield chromium


def text(browser: Browser, selector: str = "main") -> str:
    found: str = browser.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText"
                                  " ?? ''")
    return found


def click(browser: Browser, selector: str) -> None:
    """Click a button (or a link) and wait for the page it leads to."""
    browser.follow(selector)


def check(browser: Browser, *ids: str) -> None:
    """Tick checkboxes, choose radio buttons."""
    for field_id in ids:
        browser.evaluate(f"document.getElementById({json.dumps(field_id)}).checked = true")


def where(browser: Browser) -> str:
    found: str = browser.evaluate("location.pathname + location.search")
    return found


def sign_in(browser: Browser, desk: Desk, client: Admin, email: str) -> None:
    browser.navigate(desk.base)
    assert browser.evaluate("location.pathname") == "/desk/login"
    fill(browser, {"email": email, "password": PASSWORD, "code": client.code()})
    click(browser, "#sign-in")
    assert where(browser) == "/desk/", text(browser)


@pytest.mark.slow
def test_an_agents_day_on_the_desk(morning: Morning, browser: Browser,
                                   artifacts: Path) -> None:
    desk, shots = morning.desk, artifacts / "desk"
    base = desk.base.rstrip("/")
    browser.call("Emulation.setDeviceMetricsOverride", DESKTOP)

    # 1. Marie signs in: password and code; the queue, in her French, with the morning's mail.
    sign_in(browser, desk, desk.agent, AGENT)
    assert browser.evaluate("document.documentElement.lang") == "fr"
    assert AGENT_NAME in text(browser, "#member")
    for ticket_id in (desk.ticket_id, morning.piet[0], morning.hostile, morning.els):
        assert browser.evaluate(f"!!document.getElementById('ticket-{ticket_id}')"), ticket_id
    usable(browser, "journey-queue", 1280, shots)

    # 2. A call answered at once, logged from the call form.
    click(browser, "#nav-call")
    assert where(browser) == "/desk/calls/new"
    usable(browser, "journey-call-form", 1280, shots)
    fill(browser, {"phone": "02/518.21.31", "caller": "An Peeters", "language": "nl",
                   "subject": "Attest gezinssamenstelling", "text": "Uitgelegd hoe het moet.",
                   "category": "certificate", "requester_type": "citizen"})
    check(browser, "outcome-close")
    click(browser, "#log")
    assert where(browser).startswith("/desk/calls/new?done=call-"), where(browser)
    assert browser.evaluate("document.getElementById('phone').value") == ""  # the next call
    closed = int(browser.evaluate(
        "document.getElementById('logged-ticket').getAttribute('href')").rpartition("/")[2])
    click(browser, "#logged-ticket")
    assert text(browser, "#status") == "clôturé (premier contact)"
    assert "téléphone" in text(browser, "#header")
    ticket = morning.ticket(closed)
    assert (ticket.status, ticket.resolution, ticket.channel, ticket.requester,
            ticket.language) == ("closed", "first-contact", "phone", "+3225182131", "nl")

    # 3. A call for the second line: delegated, the service gets the mail.
    click(browser, "#nav-call")
    fill(browser, {"phone": "0470/12.34.56", "caller": "Luc Martin",
                   "subject": "Question juridique", "service": "legal",
                   "text": "Peut-on rectifier un acte de naissance étranger ?"})
    check(browser, "outcome-delegate")
    click(browser, "#log")
    delegated = int(browser.evaluate(
        "document.getElementById('logged-ticket').getAttribute('href')").rpartition("/")[2])
    assert morning.ticket(delegated).status == "delegated"
    morning.send()
    [to_service] = morning.mails(LEGAL)
    assert f"#{delegated}]" in to_service["Subject"]
    assert "acte de naissance étranger" in text_of(to_service)

    # 4. Marie answers the Dutch mail from its ticket page: Dutch framing, in his thread.
    piet, asked = morning.piet
    browser.navigate(desk.base)
    click(browser, f"#ticket-{piet} a")
    assert where(browser) == f"/desk/tickets/{piet}"
    assert "néerlandais" in text(browser, "#reply-form")
    usable(browser, "journey-ticket", 1280, shots)
    said = "Uw sleutel is gedeblokkeerd; u kunt zich opnieuw aanmelden."
    fill(browser, {"reply-text": said})
    click(browser, "#reply-send")
    assert where(browser) == f"/desk/tickets/{piet}?done=replied"
    assert text(browser, "#notice")
    morning.send()
    [answer] = [m for m in morning.mails(PIET) if said in text_of(m)]
    assert answer["In-Reply-To"] == asked and asked in answer["References"]
    assert f"#{piet}]" in answer["Subject"]
    assert "antwoordt u gewoon op dit bericht" in text_of(answer)  # Dutch around it
    assert morning.ticket(piet).assignee_id is not None

    # 5. Jan, on his own session, answers the same ticket: held, Marie named, her answer shown.
    browser.submit("#logout-form")
    assert where(browser) == "/desk/login"
    sign_in(browser, desk, morning.jan, JAN)
    assert browser.evaluate("document.documentElement.lang") == "nl"
    browser.navigate(f"{base}/tickets/{piet}")
    assert AGENT_NAME in text(browser, "#assignee")
    jans = "Goedendag, u moet een nieuwe sleutel aanvragen."
    fill(browser, {"reply-text": jans})
    click(browser, "#reply-send")
    assert where(browser) == f"/desk/tickets/{piet}/held"
    who = text(browser, "#held-who")
    assert re.fullmatch(rf"{AGENT_NAME} heeft \d+ minu(ut|ten) geleden geantwoord: het uwe "
                        r"toch versturen\?", who), who
    assert re.search(rf"{AGENT_NAME}.*\d\d/\d\d/\d{{4}} \d\d:\d\d", text(browser, "main h2"))
    assert text(browser, "#colleague-answer") == said
    assert text(browser, "#held-answer") == jans
    morning.send()
    assert not [m for m in morning.mails(PIET) if jans in text_of(m)]  # nothing went out

    # 6. The HTML mail: harmless text, nothing ran, nothing refused by the policy.
    browser.navigate(f"{base}/tickets/{morning.hostile}")
    seen = browser.evaluate("""({
      pwned: typeof window.__pwned,
      scripts: [...document.scripts].map(s => new URL(s.src).pathname).join(" "),
      active: document.querySelectorAll('#messages :is(script, img, iframe, object, svg)')
        .length,
      handlers: [...document.querySelectorAll('#messages *')].filter(
        e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
      text: document.querySelector('#messages').innerText})""")
    assert (seen["pwned"], seen["scripts"], seen["active"], seen["handlers"]) == (
        "undefined", "/desk/desk.js", 0, 0), seen  # the desk's own script, no other
    assert "mon certificat est introuvable" in seen["text"]
    assert "capture d'écran" in seen["text"]  # the image, by its description
    assert PWN not in seen["text"]
    assert csp_messages(browser) == []

    # 7. Search by Jean's number as written on a note: his ticket (+3225550123).
    fill(browser, {"quick-q": "02/555.01.23"})
    click(browser, "#quick-go")
    assert where(browser) == "/desk/search?q=02%2F555.01.23"
    assert browser.evaluate(f"!!document.querySelector('#results #ticket-{desk.ticket_id}')")
    assert "Jean Dupont" in text(browser, "#results")

    # 8. From the blocked requester's card: unblocked, the confirmation mailed.
    browser.navigate(f"{base}/tickets/{morning.els}")
    assert "geblokkeerd" in text(browser, "#card-access")
    # the page with its Dutch unblock form fits a phone (a long option once made it 400 px)
    browser.call("Emulation.setDeviceMetricsOverride", PHONE)
    browser.navigate(f"{base}/tickets/{morning.els}")
    usable(browser, "journey-unblock-phone", 390, shots)
    ring = browser.evaluate("""(() => {
      const b = document.getElementById('unblock'); b.focus();
      const s = getComputedStyle(b);
      return [s.outlineColor, s.outlineStyle, s.boxShadow];
    })()""")  # a dark ring in a light halo: seen on white and on blue (WCAG 1.4.11)
    assert ring[0] == "rgb(31, 58, 95)" and ring[1] == "solid" and "255, 191, 71" in ring[2]
    browser.call("Emulation.setDeviceMetricsOverride", DESKTOP)
    browser.navigate(f"{base}/tickets/{morning.els}")
    browser.evaluate("document.getElementById('card-unblock-link').click()")
    assert browser.evaluate("location.hash") == "#action-unblock"
    check(browser, "unblock-identity", "unblock-entitled")
    fill(browser, {"unblock-action": "new-key", "unblock-note": "Teruggebeld, identiteit ok."})
    click(browser, "#unblock")
    assert where(browser) == f"/desk/tickets/{morning.els}?done=unblocked"
    assert "actief" in text(browser, "#card-access")
    with desk.admin.db.transaction() as session:
        user = session.scalars(select(DirectoryUser).where(DirectoryUser.email == ELS)).one()
        assert user.access_status == "active" and user.key_sent_at is not None
    morning.send()
    [confirmation] = [m for m in morning.mails(ELS) if "gedeblokkeerd" in m["Subject"]]
    assert f"#{morning.els}]" in confirmation["Subject"]

    # On a phone: the queue fits 390 px.
    browser.call("Emulation.setDeviceMetricsOverride", PHONE)
    browser.navigate(desk.base)
    usable(browser, "journey-queue-phone", 390, shots)
    audit = desk.admin.audit("desk-unblock")
    assert audit[-1].actor == JAN and audit[-1].client == "127.0.0.1"
