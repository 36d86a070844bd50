"""The desk under test: the admin's installation (``tests.harness.admin``) with a staff
member who has a desk password and second factor, a ticket, and a client for ``/desk``
(an ``Admin`` client of its own: its own cookies and its own TOTP secret)."""

from __future__ import annotations

import contextlib
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from rnmail.auth import staff as desk_staff
from rnmail.auth.signin import TotpCipher
from rnmail.config import load_config
from rnmail.directory.import_export import import_directory
from rnmail.models import OutboxMessage
from rnmail.tickets.history import Actor
from rnmail.tickets.lifecycle import open_by_hand
from rnmail.tickets.team import add_staff
from rnmail.vocab import OutboxState
from tests.harness.admin import PASSWORD, Admin, Page, served
from tests.harness.browser import Browser
from tests.harness.servers import SmtpServer, database
from tests.harness.wait import until
from tests.harness.web import csp_messages

AGENT = "marie.lambert@rn.example"
AGENT_NAME = "Marie Lambert"
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


@dataclass
class Desk:
    """The served installation: ``admin`` (operator alice's client) and ``agent`` (Marie's
    client for the desk), and the ticket Marie will find in the queue."""

    admin: Admin
    agent: Admin
    ticket_id: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.admin.admin_port}/desk/"


def add_agent(admin: Admin, email: str = AGENT, name: str = AGENT_NAME,
              language: str = "fr", password: str = PASSWORD) -> Admin:
    """A staff member with a desk password and second factor; returns their client."""
    config = load_config(admin.path)
    with admin.db.transaction() as session:
        add_staff(session, email, name, language)
        desk_staff.set_password(session, email, password)
        uri = desk_staff.enable_totp(session, email,
                                     cipher=TotpCipher(config.helpdesk.secret))
    secret = re.search(r"secret=([A-Z2-7]+)", uri)
    assert secret
    return Admin(admin.root, admin.db, admin.smtp, admin.public_port, admin.admin_port,
                 secret.group(1))


def desk_login(client: Admin, email: str = AGENT, password: str = PASSWORD,
               code: str | None = None, **headers: str) -> Page:
    form = client.get("/desk/login")
    return client.post("/desk/login", [
        ("csrf", form.csrf()), ("email", email), ("password", password),
        ("code", client.code() if code is None else code)], **headers)


def desk_signed_in(client: Admin, email: str = AGENT) -> str:
    """Sign in to the desk; returns the session's CSRF token (from the queue)."""
    reply = desk_login(client, email)
    assert reply.status == 303 and reply.header("Location") == "/desk/", reply.text
    queue = client.get("/desk/")
    assert queue.status == 200, queue.text
    return queue.csrf()


def open_ticket(admin: Admin, subject: str = "Clé d'accès bloquée",
                note: str = f"Bonjour, ma clé ne marche plus. {HOSTILE}", **fields: str) -> int:
    """A ticket opened by hand: Jean Dupont's call, unless ``fields`` (``open_by_hand``'s)
    say otherwise."""
    config = load_config(admin.path)
    given = {"channel": "phone", "requester": "+32 2 555 01 23",
             "requester_name": "Jean Dupont", "requester_org": "Commune de Sud",
             "requester_type": "municipality", **fields}
    with admin.db.transaction() as session:
        ticket = open_by_hand(session, config.workflow, config.helpdesk.default_language,
                              actor=Actor.system("test"), subject=subject, note=note,
                              **given)
        session.flush()
        return ticket.id


@contextlib.contextmanager
def desk_served_apart(root: Path, kind: str = "sqlite") -> Iterator[Desk]:
    """``desk_served`` with a database and an SMTP server of its own (a module's)."""
    smtp = SmtpServer().start()
    try:
        with database(kind, root) as url, desk_served(root, url, smtp) as desk:
            yield desk
    finally:
        smtp.stop()


@contextlib.contextmanager
def desk_served(root: Path, db_url: str, smtp: SmtpServer, extra: str = "") -> Iterator[Desk]:
    with served(root, db_url, smtp, extra=extra) as admin:
        agent = add_agent(admin)
        yield Desk(admin, agent, open_ticket(admin))


# What a page offers a person, read in Chromium: every text's contrast with the background
# it is drawn on (WCAG 2.1: 4.5:1 for normal text), the fields without a label, and the
# page's width.
ACCESSIBILITY = """(() => {
  const channel = c => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.left < -1000) continue;
    const fg = luminance(rgb(getComputedStyle(el).color)), bg = luminance(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) low.push([el.tagName, el.textContent.trim().slice(0, 40), ratio]);
  }
  const unlabelled = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(f => f.labels.length === 0).map(f => f.name);
  return {low, unlabelled, width: document.documentElement.scrollWidth};
})()"""


DIRECTORY_COLUMNS = ("organisation", "organisation_type", "organisation_code", "name", "email",
                     "phone", "language", "role", "access_status", "key_sent")


def add_directory(admin: Admin, rows: list[tuple[str, ...]], actor: str = "test") -> None:
    """Organisations and users, as ``rnmail directory import`` reads them (the columns of
    ``DIRECTORY_COLUMNS``, one row a user)."""
    sheet = admin.root / "directory.csv"
    with sheet.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(DIRECTORY_COLUMNS)
        writer.writerows(rows)
    with admin.db.transaction() as session:
        import_directory(session, sheet, actor)


# The two widths every desk page must be usable at.
DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}


def fill(browser: Browser, values: dict[str, str]) -> None:
    """Form fields by id."""
    for field_id, value in values.items():
        browser.evaluate(f"document.getElementById({json.dumps(field_id)}).value = "
                         f"{json.dumps(value)}")


def usable(browser: Browser, name: str, width: int, shots: Path) -> None:
    """The page as shown (``shots/name.png``) fits ``width``, its texts at WCAG AA contrast,
    every field labelled, nothing refused by the CSP."""
    browser.screenshot(shots / f"{name}.png")
    seen = browser.evaluate(ACCESSIBILITY)
    assert seen["width"] <= width, (name, seen["width"])
    assert seen["low"] == [], (name, seen["low"])
    assert seen["unlabelled"] == [], (name, seen["unlabelled"])
    assert csp_messages(browser) == [], name


def all_sent(admin: Admin) -> None:
    """Wait until the outbox holds nothing queued or being sent: the desk wakes the admin's
    sender after each change, so the mails leave by themselves, in the background."""
    def done() -> bool:
        with admin.db.transaction() as session:
            return not session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.state.in_((OutboxState.QUEUED, OutboxState.SENDING))))

    until(done, what="the outbox sent")
