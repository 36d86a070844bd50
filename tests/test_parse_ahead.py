"""Parse ahead: the batches after the first are parsed in a second process, with the same
outcomes as when the ingest parses them itself, and a dead child loses nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from rnmail.ingest.parse import Limits, ParsedMail, parse_message
from rnmail.ingest.parse_ahead import ParseAhead
from rnmail.ingest.quarantine import list_quarantine
from tests.harness import corpus
from tests.harness.factories import Desk, make_config
from tests.harness.servers import Dovecot

LIMITS = Limits(max_attachment_bytes=2**24, max_parts=20, max_depth=20)


def test_batches_parsed_ahead_give_the_same_outcomes(tmp_path: Path, db_url: str,
                                                     imap: Dovecot) -> None:
    """Batches of two: a reply in a later batch threads into a ticket of an earlier one,
    a copy is a duplicate, and what the child finds unfit is quarantined for its reason."""
    desk = Desk(make_config(tmp_path, db_url, imap, ingest={"batch_size": 2, "max_parts": 20}))
    first = corpus.simple("Demande de certificat", "Bonjour, je voudrais un certificat.",
                          from_addr="owner@citizen.example", message_id="<first@citizen.example>")
    imap.append_many("info", [
        first,
        corpus.simple("Autre question", "Une autre question, merci.",
                      from_addr="other@citizen.example"),
        corpus.simple("Re: Demande de certificat", "Voici le complément.",
                      from_addr="owner@citizen.example",
                      extra_headers={"In-Reply-To": "<first@citizen.example>"}),
        corpus.many_parts(50),
        first,
        corpus.simple("Vraag", "Goedendag, ik heb een vraag over mijn adres.",
                      from_addr="third@citizen.example"),
    ])
    report = desk.ingest()
    assert report.outcomes == {"ticket": 3, "reply": 1, "duplicate": 1, "quarantined": 1}
    assert imap.folder_uids("info") == []
    [held] = list_quarantine(desk.db)
    assert "too many MIME parts" in held["reason"]
    languages = sorted(t["language"] for t in desk.tickets())
    assert languages == ["fr", "fr", "nl"]
    owner = [t for t in desk.tickets() if t["requester"] == "owner@citizen.example"]
    assert len(owner) == 1 and len(desk.ticket(owner[0]["id"])["messages"]) >= 2
    desk.close()


def test_the_child_gives_what_the_parent_would() -> None:
    raws = [*corpus.mixed_batch(30, seed=5), corpus.many_parts(50), b"   "]
    with ParseAhead(LIMITS, 2**20) as ahead:
        parsed = ahead.results(ahead.submit(raws), raws)
    for raw, got in zip(raws[:30], parsed[:30], strict=True):
        assert isinstance(got, ParsedMail)
        here = parse_message(raw, LIMITS)
        assert got.raw == raw
        assert (got.subject, got.from_addr, got.text, got.display_text, got.dedupe_key) == (
            here.subject, here.from_addr, here.text, here.display_text, here.dedupe_key)
        assert got.attachments == here.attachments
    assert isinstance(parsed[30], str) and "too many MIME parts" in parsed[30]
    assert parsed[31] == "empty message"


def test_a_killed_child_leaves_the_parsing_to_the_parent() -> None:
    raws = corpus.mixed_batch(300, seed=6)
    with ParseAhead(LIMITS, 2**20) as ahead:
        future = ahead.submit(raws)
        assert future is not None
        pool = ahead._pool
        assert pool is not None
        for pid in list(pool._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        assert ahead.results(future, raws) == [None] * len(raws)
        assert ahead.submit(raws[:1]) is None  # not asked again
