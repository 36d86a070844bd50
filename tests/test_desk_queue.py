"""The desk's queue page (``/desk/``) over HTTP, on both databases: the tabs and their
counts, the columns and the marker of a requester who wrote last, each filter, the sorts,
the pages and their links, the tab *mine*, a ticket opened since shown on reload, a hostile
subject shown as text, and every bad value of the address refused with a page (never a
500). One Chromium check: the page at 1280 px and on a 390 px phone.

One installation per database for the whole module (served, Marie signed in once); the
tickets are made through the core functions (``open_by_hand``, ``assign``, ``delegate`` …).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from rnmail.config import load_config
from rnmail.dispatch.answer import answer_requester
from rnmail.models import Ticket
from rnmail.tickets.history import Actor
from rnmail.tickets.lifecycle import (
    assign,
    close,
    delegate,
    find_service,
    find_staff,
    get_ticket,
    open_by_hand,
    set_pending,
)
from rnmail.tickets.team import add_service, add_staff
from tests.harness.admin import Admin
from tests.harness.desk import AGENT, Desk, desk_served, desk_signed_in, usable
from tests.harness.servers import SmtpServer, fresh_postgres_schema, postgres_problem

COLLEAGUE = "paul.peeters@rn.example"
HOSTILE_SUBJECT = '<b>Clé</b><script>alert("q")</script>'
LETTERS = 26  # with the two other new tickets: 28, two pages of 25
NOW = datetime.now(UTC)
DAY = timedelta(days=1)


class Scene:
    """The served desk, Marie signed in (pages in English), and the tickets by role."""

    def __init__(self, desk: Desk, tickets: dict[str, int]) -> None:
        self.desk = desk
        self.agent: Admin = desk.agent
        self.t = tickets

    def get(self, query: str = "") -> Any:
        return self.agent.get(f"/desk/{query}")

    def page(self, query: str = "") -> str:
        reply = self.get(query)
        assert reply.status == 200, (query, reply.status, reply.text[:2000])
        return str(reply.text)


def make_tickets(desk: Desk) -> dict[str, int]:
    """Besides the harness's phone ticket (new, Jean Dupont, Commune de Sud): a mail with
    a hostile subject (new), a phone call assigned to Marie (open, unanswered), a letter
    assigned to Paul and answered (open), a pending one of Marie's, one delegated, one
    closed now, one closed 30 days ago (not *recently* closed), and 26 letters (new)."""
    admin = desk.admin
    config = load_config(admin.path)
    actor = Actor.system("test")
    t: dict[str, int] = {"first": desk.ticket_id}

    def opened(session: Any, **fields: Any) -> Ticket:
        ticket = open_by_hand(session, config.workflow, "fr", actor=actor, **fields)
        session.flush()
        return ticket

    with admin.db.transaction() as session:
        add_staff(session, COLLEAGUE, "Paul Peeters", "nl")
        add_service(session, "population-registers", "pop@second.example", None)
        marie, paul = find_staff(session, AGENT), find_staff(session, COLLEAGUE)
        t["hostile"] = opened(session, channel="mail", requester="koen@pz.example",
                              requester_name="Koen Maes", requester_org="Politiezone Oost",
                              subject=HOSTILE_SUBJECT, category="legal",
                              requester_type="police", language="nl").id
        mine = opened(session, channel="phone", requester="02/518 21 31",
                      subject="Appel de la commune", category="access-key")
        assign(mine, marie, actor)
        t["mine"] = mine.id
        answered = opened(session, channel="letter", requester="an@citizen.example",
                          requester_name="An Peeters", subject="Brief", language="nl")
        assign(answered, paul, actor)
        answer_requester(session, config, answered, "Het is gebeurd.", [], paul,
                         actor=actor)
        t["answered"] = answered.id
        pending = opened(session, channel="phone", requester="09/123 45 67",
                         subject="En attente")
        assign(pending, marie, actor)
        set_pending(pending, actor)
        t["pending"] = pending.id
        delegated = opened(session, channel="mail", requester="x@citizen.example",
                           subject="Pour la seconde ligne")
        delegate(delegated, find_service(session, "population-registers"), actor)
        t["delegated"] = delegated.id
        closed = opened(session, channel="phone", requester="09/222 33 44", subject="Fini")
        close(closed, actor)
        t["closed"] = closed.id
        old = opened(session, channel="phone", requester="09/222 33 44", subject="Ancien")
        close(old, actor)
        t["old"] = old.id
        for i in range(LETTERS):
            opened(session, channel="letter", requester=f"l{i}@citizen.example",
                   subject=f"Lettre {i}", category="certificate")
    with admin.db.transaction() as session:
        # opened: mine 6 days ago, answered 5, first 4; last touched: answered, mine, first
        times = {desk.ticket_id: (4, 3), t["mine"]: (6, 2), t["answered"]: (5, 1)}
        for tid, (opened_days, touched_days) in times.items():
            session.execute(update(Ticket).where(Ticket.id == tid).values(
                created_at=NOW - opened_days * DAY, updated_at=NOW - touched_days * DAY))
        session.execute(update(Ticket).where(Ticket.id == t["old"]).values(
            closed_at=NOW - 30 * DAY))
    return t


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scene(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Scene]:
    smtp = SmtpServer().start()
    root = tmp_path_factory.mktemp(f"queue-{request.param}")
    try:
        if request.param == "sqlite":
            with desk_served(root, f"sqlite:///{root}/rnmail.db", smtp) as desk:
                yield _signed_in(desk)
        else:
            problem = postgres_problem()
            if problem:
                pytest.fail(problem, pytrace=False)
            with fresh_postgres_schema() as url, desk_served(root, url, smtp) as desk:
                yield _signed_in(desk)
    finally:
        smtp.stop()


def _signed_in(desk: Desk) -> Scene:
    tickets = make_tickets(desk)
    desk_signed_in(desk.agent)
    assert desk.agent.get("/desk/?lang=en").status == 200  # the pages in English from now
    return Scene(desk, tickets)


def counts(html: str) -> dict[str, int]:
    return {tab: int(n.replace(",", "")) for tab, n in
            re.findall(r'id="count-(\w+)">([\d,]+)<', html)}


def rows(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="ticket-(\d+)"', html)]


def links(html: str, element_id: str) -> str:
    match = re.search(rf'href="([^"]*)"[^>]*id="{element_id}"', html) or re.search(
        rf'id="{element_id}"[^>]*href="([^"]*)"', html)
    assert match, element_id
    return unescape(match.group(1))


def test_tabs_with_their_counts(scene: Scene) -> None:
    html = scene.page()
    assert counts(html) == {"new": 2 + LETTERS, "mine": 2, "open": 4 + LETTERS,
                            "pending": 1, "delegated": 1, "closed": 1}
    assert re.search(r'id="tab-new" aria-current="page"', html)
    assert 'href="/desk/?tab=pending" id="tab-pending"' in html
    assert "Waiting for the requester" in html and "At the second line" in html
    # each tab shows what its count says
    for tab, expected in (("pending", [scene.t["pending"]]),
                          ("delegated", [scene.t["delegated"]]),
                          ("closed", [scene.t["closed"]])):
        assert rows(scene.page(f"?tab={tab}")) == expected, tab


def test_columns_and_the_unanswered_marker(scene: Scene) -> None:
    html = scene.page("?tab=open&sort=number&order=asc")
    row = {tid: re.search(rf'<tr id="ticket-{tid}"[^>]*>(.*?)</tr>', html, re.S)
           for tid in (scene.t["first"], scene.t["mine"], scene.t["answered"])}
    first, mine, answered = (m.group(0) if m else "" for m in row.values())
    assert 'class="unanswered"' in first and "awaiting an answer" in first
    assert 'class="unanswered"' not in answered and "awaiting an answer" not in answered
    assert "Jean Dupont" in first and "Commune de Sud" in first
    assert f'href="/desk/tickets/{scene.t["first"]}"' in first
    # channel, language, category as the reader's words; the assignee's name
    assert ">phone<" in mine and ">French<" in mine and ">access key<" in mine.lower()
    assert "Marie Lambert" in mine
    assert ">letter<" in answered and ">Dutch<" in answered and "Paul Peeters" in answered
    # the age in business hours, readable ("2 d 3 h", "45 min", "3 h 20"), and a time
    ages = re.findall(r'<td class="age">([^<]+)</td>', html)
    assert ages and all(re.fullmatch(r"\d+ (min|h( \d\d)?|d( \d+ h)?)", a) for a in ages)
    assert re.search(r"<td>\d\d/\d\d/\d{4} \d\d:\d\d</td>", mine)


def test_filters_narrow_the_page_and_every_count(scene: Scene) -> None:
    letters = scene.page("?tab=open&channel=letter")
    assert counts(letters) == {"new": LETTERS, "mine": 0, "open": LETTERS + 1, "pending": 0,
                               "delegated": 0, "closed": 0}
    assert 'option value="letter" selected' in letters
    assert scene.t["answered"] in rows(letters) and scene.t["mine"] not in rows(letters)
    assert rows(scene.page("?tab=new&category=legal")) == [scene.t["hostile"]]
    assert rows(scene.page("?tab=new&type=police")) == [scene.t["hostile"]]
    assert rows(scene.page(f"?tab=open&assignee={COLLEAGUE}")) == [scene.t["answered"]]
    assert rows(scene.page("?tab=delegated&service=population-registers")) == [
        scene.t["delegated"]]
    assert rows(scene.page("?tab=delegated&service=none")) == []
    unassigned = rows(scene.page("?tab=open&assignee=none&category=none"))
    assert scene.t["first"] in unassigned and scene.t["mine"] not in unassigned
    unanswered = rows(scene.page("?tab=open&channel=phone&unanswered=1"))
    assert unanswered == [scene.t["mine"], scene.t["first"]]
    empty = scene.page("?tab=pending&channel=letter")
    assert "No ticket in this tab matches these filters." in empty and rows(empty) == []
    # the tab links keep the filters, and so does the language switch
    assert links(letters, "tab-new") == "/desk/?channel=letter"
    assert "Clear the filters" in letters
    switch = letters[letters.index('id="languages"'):].split("</span>")[0]
    assert 'href="/desk/?tab=open&amp;channel=letter&amp;lang=nl"' in switch, switch


def test_sorting_by_the_headings_and_the_form(scene: Scene) -> None:
    t = scene.t
    phones = "?tab=open&channel=phone"
    # opened: mine 6 days ago, first 4; last touched: mine 2 days ago, first 3
    assert rows(scene.page(phones)) == [t["mine"], t["first"]]  # age: oldest first
    assert rows(scene.page(phones + "&order=asc")) == [t["first"], t["mine"]]
    assert rows(scene.page(phones + "&sort=activity")) == [t["mine"], t["first"]]
    assert rows(scene.page(phones + "&sort=activity&order=asc")) == [t["first"], t["mine"]]
    assert rows(scene.page(phones + "&sort=number")) == sorted([t["mine"], t["first"]],
                                                              reverse=True)
    html = scene.page(phones + "&sort=number")
    assert re.search(r'id="col-number" aria-sort="descending"', html)
    # the heading of the sorted column turns the order round; another sorts by it
    heading = re.search(r'id="col-number"[^>]*><a href="([^"]+)"', html)
    assert heading and unescape(heading.group(1)) == (
        "/desk/?tab=open&channel=phone&sort=number&order=asc")
    age = re.search(r'id="col-age"[^>]*><a href="([^"]+)"', html)
    assert age and unescape(age.group(1)) == "/desk/?tab=open&channel=phone"


def test_pages_and_their_links(scene: Scene) -> None:
    first = scene.page("?channel=letter&sort=number&order=asc")
    assert len(rows(first)) == 25 and "Page 1 of 2" in first
    assert 'id="previous"' not in first
    following = links(first, "next")
    assert following == "/desk/?channel=letter&sort=number&order=asc&page=2"
    second = scene.page(following.removeprefix("/desk/"))
    assert len(rows(second)) == LETTERS - 25 and "Page 2 of 2" in second
    assert rows(second)[0] > rows(first)[-1]
    assert links(second, "previous") == "/desk/?channel=letter&sort=number&order=asc"
    assert 'id="next"' not in second
    # a page past the last leads to the last
    past = scene.get("?channel=letter&sort=number&order=asc&page=7")
    assert past.status == 303 and past.header("Location") == (
        "/desk/?channel=letter&sort=number&order=asc&page=2")


def test_the_tab_mine(scene: Scene) -> None:
    html = scene.page("?tab=mine")
    assert sorted(rows(html)) == sorted([scene.t["mine"], scene.t["pending"]])
    assert '<th scope="col">Status</th>' in html and ">pending<" in html


def test_a_hostile_subject_is_text(scene: Scene) -> None:
    html = scene.page("?tab=new&category=legal")
    assert HOSTILE_SUBJECT not in html and "<script>" not in html
    assert "&lt;b&gt;Clé&lt;/b&gt;&lt;script&gt;alert(&#34;q&#34;)&lt;/script&gt;" in html
    # a hostile value in the address is refused, not reflected
    reply = scene.get("?tab=%3Cscript%3E")
    assert reply.status == 400 and "<script>" not in reply.text


@pytest.mark.parametrize(("query", "said"), [
    ("?tab=everything", "There is no such tab in the queue."),
    ("?page=abc", "There is no such page of the queue"),
    ("?page=0", "There is no such page of the queue"),
    ("?page=-1", "There is no such page of the queue"),
    (f"?page={10**30}", "There is no such page of the queue"),
    ("?page=%D9%A3", "There is no such page of the queue"),  # an Arabic-Indic 3
    ("?sort=subject", "The queue cannot be sorted that way."),
    ("?order=random", "The order is either descending or ascending."),
    ("?channel=pigeon", "There is no such channel."),
    ("?category=weather", "There is no such category."),
    ("?type=alien", "There is no such requester type."),
    ("?assignee=nobody@rn.example", "There is no such staff member."),
    ("?service=nowhere", "There is no such second-line service."),
    ("?unanswered=maybe", "That filter is either on or off."),
])
def test_bad_values_are_a_page_saying_so(scene: Scene, query: str, said: str) -> None:
    reply = scene.get(query)
    assert reply.status == 400, (query, reply.status)
    assert said in reply.text and 'href="/desk/"' in reply.text


def test_a_ticket_opened_since_is_there_on_reload_and_an_empty_tab_says_so(
        scene: Scene) -> None:
    before = scene.page("?channel=fax")
    assert counts(before)["new"] == 0 and "No ticket in this tab matches" in before
    config = load_config(scene.desk.admin.path)
    with scene.desk.admin.db.transaction() as session:
        fax = open_by_hand(session, config.workflow, "fr", actor=Actor.system("test"),
                           channel="fax", requester="+3225550199", subject="Fax reçu")
        session.flush()
        fax_id = fax.id
    try:
        after = scene.page("?channel=fax")
        assert counts(after)["new"] == 1 and rows(after) == [fax_id]
    finally:  # the other tests' counts stay as they were
        with scene.desk.admin.db.transaction() as session:
            close(get_ticket(session, fax_id), Actor.system("test"))
            session.execute(update(Ticket).where(Ticket.id == fax_id).values(
                closed_at=NOW - 40 * DAY))


def test_the_queue_needs_a_sign_in(scene: Scene) -> None:
    stranger = Admin(scene.agent.root, scene.agent.db, scene.agent.smtp,
                     scene.agent.public_port, scene.agent.admin_port, scene.agent.secret)
    reply = stranger.get("/desk/?tab=mine")
    assert reply.status == 303 and reply.header("Location") == "/desk/login"
    reply = stranger.get("/desk/?page=abc")  # refused at the sign-in, not parsed
    assert reply.status == 303


@pytest.mark.slow
@pytest.mark.parametrize("scene", ["sqlite"], indirect=True)  # the same page on PostgreSQL
def test_in_a_browser_at_1280_and_390_px(scene: Scene, artifacts: Path) -> None:
    from tests.harness.browser import chromium_or_fail
    from tests.harness.web import csp_messages

    shots = artifacts / "desk"
    base = f"http://127.0.0.1:{scene.agent.admin_port}/desk/"
    with chromium_or_fail() as browser:
        browser.call("Network.enable")
        for name, value in scene.agent.cookies.items():
            browser.call("Network.setCookie", {"name": name, "value": value, "url": base,
                                               "httpOnly": True})
        for width, mobile, name in ((1280, False, "queue-open"),
                                    (390, True, "phone-queue-open")):
            browser.call("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile})
            browser.navigate(base + "?tab=open&sort=activity")
            assert browser.evaluate("location.pathname") == "/desk/"
            assert browser.evaluate("document.querySelectorAll('#queue tbody tr').length") \
                == 25
            usable(browser, name, width, shots)
        # on the phone the table scrolls in its own box, the page does not
        box = browser.evaluate("(() => { const b = document.getElementById('queue-box');"
                               " return [b.scrollWidth, b.clientWidth,"
                               " getComputedStyle(b).overflowX]; })()")
        assert box[0] > box[1] and box[2] == "auto", box
        # the filter form works without a script: choose, submit, the address says it
        browser.evaluate("document.getElementById('f-channel').value = 'phone'")
        browser.submit("#filters")
        assert "channel=phone" in browser.evaluate("location.search")
        assert browser.evaluate("document.querySelectorAll('#queue tbody tr').length") == 2
        # a ticket opened from it leads back to the queue as it was left, not to its start
        left = browser.evaluate("location.search")
        browser.navigate(browser.evaluate("document.querySelector('#queue tbody a').href"))
        back = browser.evaluate("document.querySelector('a[data-queue-link]').href")
        assert back == base + left, (back, left)
        assert csp_messages(browser) == []


def test_the_age_as_an_agent_reads_it() -> None:
    """Business time: minutes, then hours and minutes, then working days (8 h) and hours,
    in the reader's language."""
    from rnmail.i18n.formats import business_age

    hour = 3600
    assert [business_age(s, "en") for s in (0, 59, 45 * 60, hour, 3 * hour + 20 * 60,
                                            8 * hour - 60, 8 * hour, 19 * hour)] == [
        "0 min", "0 min", "45 min", "1 h", "3 h 20", "7 h 59", "1 d", "2 d 3 h"]
    assert business_age(19 * hour, "fr") == "2 j 3 h"
    assert business_age(3 * hour + 5 * 60, "nl") == "3 u 05"
    assert business_age(16 * hour, "de") == "2 T."
    assert business_age(10 * hour, "en", day_seconds=9 * hour) == "1 d 1 h"
