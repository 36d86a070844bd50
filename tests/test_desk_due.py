"""Due times on the desk (``rnmail.tickets.due``), over HTTP on both databases: the queue
sorts by the next due time (the heading and the form), shows it in Brussels time and says
*late* or *due within the hour* in words beside the colour, in French, Dutch, German and
English; a pending ticket's clock is said to be paused. The ticket page shows the first
response's and the resolution's due times, met or not, paused while pending. And
``due_view``'s states at fixed moments.

The due times are written straight into the rows (the rules of ``[due]`` are
``test_due``'s): what is tested here is what the desk makes of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from rnmail.config import load_config
from rnmail.i18n.formats import format_time
from rnmail.models import Ticket
from rnmail.tickets.history import Actor
from rnmail.tickets.lifecycle import close, get_ticket, set_pending
from rnmail.web.desk.ticket import due_view
from tests.harness.admin import Page
from tests.harness.desk import Desk, desk_served, desk_signed_in, open_ticket
from tests.harness.servers import SmtpServer, fresh_postgres_schema, postgres_problem

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)
WORDS = {  # (late, due within the hour, paused) as each language says them
    "fr": ("en retard", "échéance dans l&#39;heure", "en pause"),
    "nl": ("te laat", "vervalt binnen het uur", "gepauzeerd"),
    "de": ("überfällig", "innerhalb der Stunde fällig", "angehalten"),
    "en": ("late", "due within the hour", "paused"),
}


class Scene:
    def __init__(self, desk: Desk) -> None:
        self.desk, self.agent = desk, desk.agent
        self.zone = load_config(desk.admin.path).helpdesk.zone
        admin = desk.admin
        letter = {"channel": "letter", "requester": "an@citizen.example"}
        self.t = {name: open_ticket(admin, subject=f"Échéance {name}", **letter)
                  for name in ("late", "soon", "later", "pending", "closed")}
        actor = Actor.system("test")
        with admin.db.transaction() as session:
            set_pending(get_ticket(session, self.t["pending"]), actor)
            close(get_ticket(session, self.t["closed"]), actor)
        self.due = {"late": NOW - 2 * HOUR, "soon": NOW + 40 * timedelta(minutes=1),
                    "later": NOW + 50 * HOUR}
        with admin.db.transaction() as session:
            for name, at in self.due.items():
                session.execute(update(Ticket).where(Ticket.id == self.t[name]).values(
                    due_at=at, due_response_at=at, due_resolution_at=NOW + 100 * HOUR))
            session.execute(update(Ticket).where(Ticket.id == self.t["pending"]).values(
                due_at=None, due_response_at=NOW - HOUR, due_resolution_at=NOW + HOUR))
            # closed: answered in time, resolved an hour late
            session.execute(update(Ticket).where(Ticket.id == self.t["closed"]).values(
                first_response_at=NOW - 5 * HOUR, due_response_at=NOW - 4 * HOUR,
                closed_at=NOW, due_resolution_at=NOW - HOUR, due_at=None))
        desk_signed_in(self.agent)

    def page(self, query: str) -> str:
        reply: Page = self.agent.get(query)
        assert reply.status == 200, (query, reply.status, reply.text[:1500])
        return str(reply.text)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scene(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Scene]:
    smtp = SmtpServer().start()
    root = tmp_path_factory.mktemp(f"due-{request.param}")
    try:
        if request.param == "sqlite":
            with desk_served(root, f"sqlite:///{root}/rnmail.db", smtp) as desk:
                yield Scene(desk)
        else:
            problem = postgres_problem()
            if problem:
                pytest.fail(problem, pytrace=False)
            with fresh_postgres_schema() as url, desk_served(root, url, smtp) as desk:
                yield Scene(desk)
    finally:
        smtp.stop()


def rows(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="ticket-(\d+)"', html)]


def cell(html: str, ticket_id: int) -> str:
    found = re.search(rf'<td class="due[^"]*" id="due-{ticket_id}">(.*?)</td>', html, re.S)
    assert found, ticket_id
    return found.group(0)


def test_the_queue_sorts_by_due_time_most_urgent_first(scene: Scene) -> None:
    t = scene.t
    letters = "/desk/?tab=open&channel=letter&lang=en"
    html = scene.page(letters + "&sort=due")
    assert rows(html) == [t["late"], t["soon"], t["later"]]
    assert re.search(r'id="col-due" aria-sort="descending"', html)
    assert '<option value="due" selected>Due</option>' in html
    assert "most urgent first" in html
    assert rows(scene.page(letters + "&sort=due&order=asc")) == [
        t["later"], t["soon"], t["late"]]
    # the heading: another sort goes to due, descending; the sorted one turns round
    heading = re.search(r'id="col-due"[^>]*><a href="([^"]+)"', scene.page(letters))
    assert heading and heading.group(1).endswith("sort=due")


@pytest.mark.parametrize("language", list(WORDS))
def test_late_and_due_within_the_hour_in_words_with_the_time(
        scene: Scene, language: str) -> None:
    t = scene.t
    late, soon, paused = WORDS[language]
    html = scene.page(f"/desk/?tab=open&channel=letter&sort=due&lang={language}")
    try:
        shown = {name: cell(html, t[name]) for name in ("late", "soon", "later")}
        assert 'class="due late"' in shown["late"] and f'id="late-{t["late"]}">{late}<' in \
            shown["late"]
        assert 'class="due soon"' in shown["soon"] and f'id="soon-{t["soon"]}">{soon}<' in \
            shown["soon"]
        assert 'class="due"' in shown["later"] and "flag" not in shown["later"]
        for name, at in scene.due.items():  # the time, in Brussels
            assert format_time(at, language, scene.zone) in shown[name], name
        pending = scene.page(f"/desk/?tab=pending&channel=letter&lang={language}")
        assert paused in cell(pending, t["pending"])
    finally:
        scene.page("/desk/?lang=fr")


@pytest.mark.parametrize(("name", "first", "resolution"), [
    ("late", "late", "running"),
    ("soon", "soon", "running"),
    ("pending", None, "paused"),
    ("closed", "met", "missed"),
])
def test_the_ticket_page_says_each_due_time_and_whether_it_is_met(
        scene: Scene, name: str, first: str | None, resolution: str) -> None:
    words = {"late": "en retard", "soon": "échéance dans l&#39;heure", "met": "respectée",
             "missed": "non respectée", "running": "à respecter",
             "paused": "en pause tant que le ticket attend le demandeur"}
    html = scene.page(f"/desk/tickets/{scene.t[name]}?lang=fr")  # whatever ran before
    response = re.search(r'id="due-first-response" class="due (\w+)">(.*?)</dd>', html)
    resolved = re.search(r'id="due-resolution" class="due (\w+)">(.*?)</dd>', html)
    assert response and resolved, html
    if first is not None:
        assert response.group(1) == first and f">{words[first]}</span>" in response.group(2)
    assert resolved.group(1) == resolution
    assert f">{words[resolution]}</span>" in resolved.group(2)
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d — ", resolved.group(2))


# --------------------------------------------------------------------------- due_view


def detail(**given: Any) -> Any:
    due = {"first_response": "2026-12-07T10:00:00+00:00", "first_response_met": None,
           "resolution": "2026-12-10T10:00:00+00:00", "next": None, "paused": False,
           "late": False, "soon": False, **given.pop("due", {})}
    return {"due": due, "merged_into_id": None, "status": "open", "closed_at": None, **given}


@pytest.mark.parametrize(("given", "now", "states"), [
    ({}, "2026-12-07T08:00:00", ("running", "running")),
    ({}, "2026-12-07T09:30:00", ("soon", "running")),
    ({}, "2026-12-07T10:00:01", ("late", "running")),
    ({}, "2026-12-10T10:30:00", ("late", "late")),
    ({"due": {"first_response_met": True}}, "2026-12-10T09:10:00", ("met", "soon")),
    ({"due": {"first_response_met": False, "paused": True}, "status": "pending"},
     "2026-12-11T00:00:00", ("missed", "paused")),
    ({"status": "closed", "closed_at": "2026-12-10T09:59:59.5+00:00"},
     "2026-12-20T00:00:00", ("unanswered", "met")),
    ({"status": "closed", "closed_at": "2026-12-10T10:00:00.000001+00:00",
      "due": {"first_response_met": True}}, "2026-12-20T00:00:00", ("met", "missed")),
])
def test_due_view_states(given: dict[str, Any], now: str, states: tuple[str, str]) -> None:
    view = due_view(detail(**given), datetime.fromisoformat(now).replace(tzinfo=UTC))
    assert view is not None
    assert (view.first_response_state, view.resolution_state) == states


def test_due_view_none_for_a_merged_ticket_or_one_without_due_times() -> None:
    assert due_view(detail(merged_into_id=3)) is None
    assert due_view(detail(due={"resolution": None})) is None
