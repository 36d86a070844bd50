"""The desk's search (``/desk/search?q=``) over HTTP, on both databases (the search has an
implementation for each): words with and without accents, ticket numbers (``#8``, ``8``),
phone numbers in another notation, e-mail addresses, organisations and users of the
directory; an empty query, no result and a query without a word said plainly; a hostile
query and hostile subjects shown as text; pages of results. One served installation per
database for the whole module."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.harness.desk import (
    HOSTILE,
    Desk,
    add_directory,
    desk_served_apart,
    desk_signed_in,
    open_ticket,
)

SEVERINE = "severine.lefevre@nis-63012.municipality.example"
PEOPLE = [
    ("Commune de Bruyère-Évêché", "commune", "63012", "Séverine Lefèvre", SEVERINE,
     "087/59.11.11", "fr", "population", "blocked", "2024-03-01"),
    ("Commune de Bruyère-Évêché", "commune", "63012", "Paul Dubois",
     "paul.dubois@nis-63012.municipality.example", "", "fr", "état civil", "active", ""),
]
PAGED = 30  # tickets that mention "pagination"


@dataclass
class Found:
    desk: Desk
    call: int  # Jean Dupont's call from +32 2 555 01 23: "Clé d'accès bloquée"
    mail: int  # Séverine's mail, her address nowhere in its text
    hostile: int  # a subject with markup


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def found(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Found]:
    root: Path = tmp_path_factory.mktemp("search")
    with desk_served_apart(root, request.param) as desk:
        add_directory(desk.admin, PEOPLE)
        mail = open_ticket(desk.admin, "Attestation de résidence",
                           "Bonjour, pourriez-vous m'envoyer une attestation ?",
                           channel="mail", requester=SEVERINE, requester_name="Séverine Lefèvre",
                           requester_org="Commune de Bruyère-Évêché")
        hostile = open_ticket(desk.admin, f"Problème {HOSTILE}", "Texte ordinaire.",
                              channel="mail", requester="someone@example.org",
                              requester_name=HOSTILE, requester_org="")
        for n in range(PAGED):
            open_ticket(desk.admin, f"Rappel {n}", f"Ceci est le rappel de pagination {n}.",
                        requester="+32 4 300 00 00", requester_name="Anne Martin")
        desk_signed_in(desk.agent)
        yield Found(desk, desk.ticket_id, mail, hostile)


def search(found: Found, query: str, page: int | None = None) -> str:
    path = f"/desk/search?q={quote(query)}" + (f"&page={page}" if page else "")
    reply = found.desk.agent.get(path)
    assert reply.status == 200, reply.text
    return reply.text


def tickets(html: str) -> list[int]:
    """The ticket numbers of the results, in order."""
    table = html.split('id="results"', 1)[1].split("</table>", 1)[0] \
        if 'id="results"' in html else ""
    return [int(n) for n in re.findall(r'<tr id="ticket-(\d+)"', table)]


def test_words_with_and_without_accents(found: Found) -> None:
    for query in ("clé bloquée", "cle bloquee", "CLÉ", "bloq"):
        html = search(found, query)
        assert tickets(html) == [found.call], query
    row = re.search(rf'<tr id="ticket-{found.call}".*?</tr>', search(found, "cle"), re.S)
    assert row and "Jean Dupont" in row[0] and "Commune de Sud" in row[0]
    assert "Ouvert" in row[0] or "ouvert" in row[0]  # the status, in Marie's French
    assert re.search(r"\d{2}:\d{2}", row[0])  # the last activity


def test_a_ticket_number_comes_first(found: Found) -> None:
    for query in (f"#{found.mail}", str(found.mail), f"# {found.mail}"):
        html = search(found, query)
        assert tickets(html)[:1] == [found.mail], query
        assert f'<tr id="ticket-{found.mail}" class="named">' in html
    assert tickets(search(found, "#999999")) == []


def test_a_phone_number_in_another_notation(found: Found) -> None:
    for query in ("02/555.01.23", "+32 2 555 01 23", "0032 2 555 01 23", "+3225550123",
                  "bloquée 02 555 01 23"):
        assert tickets(search(found, query)) == [found.call], query
    assert tickets(search(found, "02/555.01.24")) == []


def test_an_email_address_finds_the_requesters_tickets_and_the_user(found: Found) -> None:
    html = search(found, SEVERINE)
    assert tickets(html) == [found.mail]
    assert re.search(r'<a href="/desk/directory/users/\d+">Séverine Lefèvre</a>', html)
    assert tickets(search(found, SEVERINE.upper())) == [found.mail]


def test_an_organisation_is_found_in_the_directory(found: Found) -> None:
    html = search(found, "bruyere eveche")
    link = re.search(r'<a href="/desk/directory/organisations/(\d+)">Commune de Bruyère-Évêché',
                     html)
    assert link, html
    assert found.desk.agent.get(f"/desk/directory/organisations/{link[1]}").status == 200
    assert 'id="no-ticket"' in html  # no ticket mentions it: said


def test_empty_query_no_result_and_no_word_are_said(found: Found) -> None:
    for query in ("", "   "):
        html = search(found, query)
        assert 'id="empty-query"' in html and 'id="results"' not in html
        assert 'id="refusal"' not in html
    html = search(found, "introuvable")
    assert "Aucun ticket ne correspond à « introuvable »." in html
    assert "Personne ne correspond à « introuvable » dans l&#39;annuaire." in html
    assert 'id="no-ticket"' in html and 'id="no-entry"' in html
    html = search(found, "?! …")
    refusal = re.search(r'<p class="error" id="refusal" role="alert">(.*?)</p>', html)
    assert refusal and refusal[1] == "cherchez au moins un mot"  # Marie reads French


def test_a_hostile_query_and_hostile_subjects_are_text(found: Found) -> None:
    html = search(found, HOSTILE)
    assert HOSTILE not in html and "<script>alert" not in html
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#34;alert(2)' \
           '&#34;&gt;"' in html
    html = search(found, "problème")
    assert tickets(html) == [found.hostile]
    assert HOSTILE not in html and "Problème &lt;script&gt;alert(1)&lt;/script&gt;" in html
    for query in ('"', "'", "*", "a OR b", "NEAR(x y)", "x:*", "a & b | !c", "%_\\", "é" * 300):
        assert found.desk.agent.get(f"/desk/search?q={quote(query)}").status == 200, query


def test_pages_of_results(found: Found) -> None:
    first = search(found, "pagination")
    assert len(tickets(first)) == 25 and 'id="more"' in first and 'id="previous"' not in first
    more = re.search(r'<a href="(/desk/search\?[^"]+)" id="more"', first)
    assert more and "page=2" in more[1]
    second = found.desk.agent.get(more[1].replace("&amp;", "&")).text
    assert len(tickets(second)) == PAGED - 25 and 'id="more"' not in second
    assert 'id="previous"' in second
    assert set(tickets(first)).isdisjoint(tickets(second))
    for page in ("0", "-1", "abc", "99999999999999999999", "٢"):
        assert tickets(found.desk.agent.get(f"/desk/search?q=pagination&page={quote(page)}")
                       .text) == tickets(first), page


def test_the_box_is_on_every_page_and_the_search_needs_a_session(found: Found) -> None:
    queue = found.desk.agent.get("/desk/").text
    assert 'action="/desk/search"' in queue and 'id="quick-q"' in queue
    assert '<label for="quick-q"' in queue
    anonymous = found.desk.admin.get("/desk/search?q=cle")  # alice: no desk session
    assert anonymous.status == 303 and anonymous.header("Location") == "/desk/login"
