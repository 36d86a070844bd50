"""Merge and split on the desk (``rnmail.web.desk.merging``), over HTTP, on both databases:
the same request mailed twice is merged from the ticket page (a confirmation first, then
the target, the merged ticket pointing to it), through the core the command line calls
(history by the member through the desk, audit ``desk-merge`` and ``ticket-merge``); the
merged-in request split off again into a new ticket linked back. Every refusal said next
to the field (no number, no such ticket, itself, non-ASCII digits, a ticket merged already,
one merged into, a chain), nothing changed; what an attacker tries (no or a forged CSRF
token, another origin, ids out of range, a message of another ticket, an answer); the
other actions refused on a merged ticket. On PostgreSQL, two opposite merges at once:
one is done, the other refused, never a loop."""

from __future__ import annotations

import html
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from rnmail.config import load_config
from rnmail.ingest.runner import run_ingest
from rnmail.models import AuditEvent, Message, Ticket, TicketEvent
from tests.harness import corpus
from tests.harness.admin import Admin, Page
from tests.harness.desk import AGENT, Desk, add_agent, desk_served, desk_signed_in
from tests.harness.servers import SmtpServer, fresh_postgres_schema, postgres_problem

JAN = "jan.peeters@rn.example"


class Site:
    """The served desk, Marie (French) and Jan (Dutch) signed in."""

    def __init__(self, desk: Desk) -> None:
        self.admin = desk.admin
        self.config = load_config(desk.admin.path)
        self.marie = desk.agent
        self.jan = add_agent(desk.admin, JAN, "Jan Peeters", "nl")
        self.csrf = {AGENT: desk_signed_in(self.marie), JAN: desk_signed_in(self.jan, JAN)}

    def post(self, ticket_id: int | str, what: str, client: Admin | None = None,
             **fields: str) -> Page:
        client = client or self.marie
        token = self.csrf[JAN if client is self.jan else AGENT]
        return client.post(f"/desk/tickets/{ticket_id}/{what}",
                           [("csrf", token), *fields.items()])

    def mail(self, subject: str, body: str = "Ma clé d'accès est bloquée.",
             sender: str = "an@citizen.example") -> int:
        """A requester's mail, ingested: its ticket."""
        subject = f"{subject} {uuid.uuid4().hex[:6]}"
        new = self.admin.root / "maildir" / "new"
        new.mkdir(parents=True, exist_ok=True)
        (new / f"{uuid.uuid4().hex}.eml").write_bytes(
            corpus.simple(subject, body, from_addr=sender, lang="fr"))
        run_ingest(self.admin.db, self.config)
        with self.admin.db.transaction() as session:
            return session.scalars(select(Ticket.id).where(Ticket.subject == subject)).one()

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        with self.admin.db.transaction() as session:
            t = session.get(Ticket, ticket_id)
            assert t is not None
            return {"status": t.status, "resolution": t.resolution,
                    "merged_into": t.merged_into_id, "linked": t.linked_ticket_id}

    def requests(self, ticket_id: int) -> list[int]:
        with self.admin.db.transaction() as session:
            return list(session.scalars(select(Message.id).where(
                Message.ticket_id == ticket_id, Message.direction == "in",
                Message.kind == "correspondence").order_by(Message.id)))

    def state(self) -> tuple[Any, ...]:
        """All a refused merge or split must leave as it was."""
        with self.admin.db.transaction() as session:
            return tuple(session.execute(select(Ticket.id, Ticket.status,
                                                Ticket.merged_into_id, Ticket.updated_at)
                                         .order_by(Ticket.id)).all()) + tuple(
                session.scalar(select(func.count()).select_from(model))
                for model in (TicketEvent, Message, AuditEvent))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    smtp = SmtpServer().start()
    root = tmp_path_factory.mktemp(f"merge-{request.param}")
    try:
        if request.param == "sqlite":
            with desk_served(root, f"sqlite:///{root}/rnmail.db", smtp) as desk:
                yield Site(desk)
        else:
            problem = postgres_problem()
            if problem:
                pytest.fail(problem, pytrace=False)
            with fresh_postgres_schema() as url, desk_served(root, url, smtp) as desk:
                yield Site(desk)
    finally:
        smtp.stop()


def problem_of(page: Page, status: int) -> str:
    """The refusal said next to the merge field."""
    assert page.status == status, page.text
    assert 'aria-invalid="true" aria-describedby="merge-problem"' in page.text
    match = re.search(r'id="merge-problem"[^>]*>([^<]*)<', page.text)
    assert match, page.text
    return html.unescape(match.group(1))


def refused_page(page: Page, status: int) -> str:
    assert page.status == status, page.text
    match = re.search(r'id="problem"[^>]*>([^<]*)<', page.text)
    assert match, page.text
    return html.unescape(match.group(1))


# --------------------------------------------------------------------------- merge


def test_a_request_mailed_twice_is_merged_then_split_off_again(site: Site) -> None:
    first = site.mail("Clé bloquée")
    again = site.mail("Clé bloquée (bis)", body="Toujours bloquée, voir ma carte.")
    page = site.marie.get(f"/desk/tickets/{again}").text
    assert f'action="/desk/tickets/{again}/merge"' in page
    assert '<label for="merge-target">' in page
    assert 'id="split-' not in page  # one request: nothing to split

    # The first post asks to confirm, showing both tickets; nothing is changed yet.
    before = site.state()
    asked = site.post(again, "merge", target=f"#{first}")
    assert asked.status == 200, asked.text
    assert f"Fusionner #{again} dans #{first} ?" in html.unescape(asked.text)
    assert 'name="confirm" value="yes"' in asked.text
    assert f'<input type="hidden" name="target" value="{first}">' in asked.text
    assert f'href="/desk/tickets/{first}"' in asked.text and 'id="merge-problem"' not in asked.text
    assert site.state() == before

    done = site.post(again, "merge", target=str(first), confirm="yes")
    assert done.status == 303 and done.header("Location") == (
        f"/desk/tickets/{first}?done=merged"), done.text
    assert site.ticket(again) == {"status": "closed", "resolution": "merged",
                                  "merged_into": first, "linked": None}
    moved = site.requests(first)
    assert len(moved) == 2 and site.requests(again) == []
    target = site.marie.get(done.header("Location")).text
    assert "L'autre ticket est fusionné dans celui-ci" in html.unescape(target)
    assert f'<a href="/desk/tickets/{again}">#{again}</a>' in target  # its history
    # The merged ticket says where it went, with a link, and offers nothing more.
    shell = site.marie.get(f"/desk/tickets/{again}").text
    assert re.search(rf'id="merged-into">Ce ticket a été fusionné dans le ticket #{first}',
                     html.unescape(shell))
    assert f'href="/desk/tickets/{first}" id="merged-into-link"' in shell
    assert 'id="actions"' not in shell and 'id="note-form"' not in shell
    with site.admin.db.transaction() as session:
        event = session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == again, TicketEvent.what == "merged-into")).one()
        assert (event.actor_email, event.via, event.new) == (AGENT, "desk", f"#{first}")
    audit = site.admin.audit("desk-merge")[-1]
    assert (audit.actor, audit.client) == (AGENT, "127.0.0.1")
    assert audit.detail == {"ticket": again, "target": str(first)}
    assert site.admin.audit("ticket-merge")[-1].detail["source"] == again

    # The other actions refuse the merged ticket.
    before = site.state()
    assert "fusionné dans le" in refused_page(site.post(again, "reopen"), 409)
    assert "fusionné dans le" in refused_page(site.post(again, "note", text="x"), 409)
    assert site.state() == before

    # Split: a button beside each request; the merged-in one becomes a ticket again.
    page = site.marie.get(f"/desk/tickets/{first}").text
    for message_id in moved:
        assert f'id="split-{message_id}"' in page
    split = site.post(first, "split", message=str(moved[1]))
    assert split.status == 303, split.text
    new = int(re.fullmatch(r"/desk/tickets/(\d+)\?done=split",
                           split.header("Location")).group(1))  # type: ignore[union-attr]
    assert site.ticket(new)["linked"] == first and site.requests(new) == [moved[1]]
    assert site.requests(first) == [moved[0]]
    page = site.marie.get(split.header("Location")).text
    assert f'href="/desk/tickets/{first}" id="linked-ticket"' in page
    assert "La demande est maintenant un ticket distinct" in html.unescape(page)
    assert f'<a href="/desk/tickets/{new}">#{new}</a>' in site.marie.get(
        f"/desk/tickets/{first}").text  # "split into" in the first one's history
    audit = site.admin.audit("desk-split")[-1]
    assert audit.detail == {"ticket": first, "message": moved[1]} and audit.actor == AGENT
    # the last request of a ticket cannot be split off: no button, and refused
    assert 'id="split-' not in site.marie.get(f"/desk/tickets/{first}").text
    assert "seule demande" in refused_page(site.post(first, "split",
                                                     message=str(moved[0])), 409)


@pytest.mark.parametrize(("typed", "status", "said"), [
    ("", 409, "Indiquez le numéro du ticket"),
    ("987654", 404, "Il n'y a pas de ticket 987654."),
    ("#987654", 404, "Il n'y a pas de ticket #987654."),
    ("99999999999999999999", 404, "Il n'y a pas de ticket"),
    ("\u0663", 404, "Il n'y a pas de ticket \u0663."),  # an Arabic-Indic 3
    ("<b>7</b>", 404, "Il n'y a pas de ticket <b>7</b>."),
    ("self", 409, "ne peut pas être fusionné avec lui-même"),
])
def test_a_number_that_cannot_be_is_said_next_to_the_field(
        site: Site, typed: str, status: int, said: str) -> None:
    source = site.mail("Refus")
    typed = str(source) if typed == "self" else typed
    before = site.state()
    for confirm in ("", "yes"):  # asked, or a confirmation forged by hand
        page = site.post(source, "merge", target=typed, confirm=confirm)
        assert said in problem_of(page, status), typed
        assert "<b>7</b>" not in page.text
        assert f'value="{html.escape(typed)}"' in page.text  # what was typed, kept
    assert site.state() == before


def test_merged_tickets_are_neither_merged_again_nor_merged_into(site: Site) -> None:
    a, b, c = (site.mail(f"Chaîne {n}") for n in "abc")
    assert site.post(a, "merge", target=str(b), confirm="yes").status == 303
    before = site.state()
    # a was merged: not again; into a (merged): merge into b instead; b (merged into): not
    assert f"a déjà été fusionné dans le #{b}" in problem_of(
        site.post(a, "merge", target=str(c)), 409)
    assert f"fusionnez plutôt dans le #{b}" in problem_of(
        site.post(c, "merge", target=str(a), confirm="yes"), 409)
    assert f"d'autres tickets ont été fusionnés dans le #{b}" in problem_of(
        site.post(b, "merge", target=str(c)), 409)
    # Jan reads the refusal in Dutch
    assert f"#{b}" in problem_of(site.post(c, "merge", client=site.jan, target=str(a)), 409)
    assert site.state() == before


# --------------------------------------------------------------------------- attackers


def test_forged_forms_and_ids_out_of_range_change_nothing(site: Site) -> None:
    a, b = site.mail("Attaque a"), site.mail("Attaque b")
    before = site.state()
    for action, fields in (("merge", [("target", str(b)), ("confirm", "yes")]),
                           ("split", [("message", "1")])):
        path = f"/desk/tickets/{a}/{action}"
        assert site.marie.post(path, fields).status == 403, action
        assert site.marie.post(path, [("csrf", "forged"), *fields]).status == 403, action
        assert site.marie.post(path, [("csrf", site.csrf[AGENT]), *fields],
                               Origin="http://evil.example").status == 403, action
        for ticket_id in ("99999999999999999999", "%D9%A3"):
            assert site.post(ticket_id, action, **dict(fields)).status == 404, ticket_id
    assert "987654" in refused_page(site.post(987654, "merge", target=str(a)), 404)
    assert "987654" in refused_page(site.post(987654, "split", message="1"), 404)
    # a message of another ticket, one that does not exist, non-ASCII or huge ids
    other = site.requests(b)[0]
    assert "n'a pas de message" in refused_page(site.post(a, "split", message=str(other)),
                                                404)
    for message in ("\u0663", "99999999999999999999", "-1", ""):
        assert "n'a pas de message" in refused_page(
            site.post(a, "split", message=message), 404), message
    assert site.state() == before


def test_an_answer_or_a_note_cannot_be_split_off(site: Site) -> None:
    ticket_id = site.mail("Réponse")
    assert site.post(ticket_id, "note", text="Une note.").status == 303
    with site.admin.db.transaction() as session:
        note = session.scalars(select(Message.id).where(
            Message.ticket_id == ticket_id, Message.kind == "comment")).one()
    before = site.state()
    assert "seule une demande reçue" in refused_page(
        site.post(ticket_id, "split", message=str(note)), 409)
    assert site.state() == before


# --------------------------------------------------------------------------- the race


@pytest.mark.parametrize("site", ["postgresql"], indirect=True)  # SQLite: one writer
def test_two_opposite_merges_at_once_one_is_refused(site: Site) -> None:
    a, b = site.mail("Course a"), site.mail("Course b")
    start, replies = threading.Barrier(2), {}

    def merge(client: Admin, source: int, target: int) -> None:
        start.wait(10)
        replies[source] = site.post(source, "merge", client=client, target=str(target),
                                    confirm="yes")

    threads = [threading.Thread(target=merge, args=(site.marie, a, b)),
               threading.Thread(target=merge, args=(site.jan, b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(r.status for r in replies.values())
    assert statuses == [303, 409], [(r.status, r.text[:300]) for r in replies.values()]
    refused = next(r for r in replies.values() if r.status == 409)
    assert 'id="merge-problem"' in refused.text  # said next to the field
    merged = {n: site.ticket(n)["merged_into"] for n in (a, b)}
    assert merged in ({a: b, b: None}, {a: None, b: a}), merged  # never a loop
