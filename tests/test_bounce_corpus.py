"""Real-world delivery reports are recognised, ordinary help-desk mail is not.

tests/data/bounces/reports/ holds reports as Postfix, Exim, Sendmail, qmail, Gmail, Exchange
(en/fr/nl/de, with and without DSN), Lotus Domino, Novell GroupWise, MDaemon, Trend Micro
IMSS, Yahoo, Mirapoint, Courier, OpenSMTPD, IIS and localised gateways write them;
tests/data/bounces/ordinary/ citizens writing about undelivered mail, forwarded reports,
out-of-office replies and read receipts (tests/data/bounces/generate.py writes both).
At least 97 % of the reports must be bounces — never a ticket, an acknowledgement or a staff
notification — and none of the ordinary mails.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rnmail.ingest.classify import classify_message
from rnmail.ingest.parse import Limits, parse_message
from rnmail.models import Bounce, Message, OutboxMessage, Staff
from tests.harness.factories import HELPDESK, Desk, make_config
from tests.harness.servers import Dovecot

HERE = Path(__file__).parent / "data" / "bounces"
REPORTS = sorted((HERE / "reports").glob("*.eml"))
ORDINARY = sorted((HERE / "ordinary").glob("*.eml"))
OWN = frozenset({HELPDESK})


def message_id(path: Path) -> str:
    return str(email.message_from_bytes(path.read_bytes())["Message-ID"]).strip()


def test_the_corpus_is_large_and_varied() -> None:
    assert len(REPORTS) >= 60 and len(ORDINARY) >= 20
    families = {p.name.split("_")[0] for p in REPORTS}
    assert {"postfix", "exim", "sendmail", "qmail", "gmail", "exchange", "domino", "groupwise",
            "mdaemon", "trendmicro", "localised"} <= families
    assert len({message_id(p) for p in [*REPORTS, *ORDINARY]}) == len(REPORTS) + len(ORDINARY)


def test_classifier_recognises_reports_and_leaves_ordinary_mail() -> None:
    limits = Limits(max_attachment_bytes=10 * 2**20)
    missed = []
    for path in REPORTS:
        verdict = classify_message(parse_message(path.read_bytes(), limits), OWN)
        if not (verdict.kind == "bounce" and verdict.certain):
            missed.append(path.name)
    assert len(missed) <= len(REPORTS) * 0.03, missed
    for path in ORDINARY:
        verdict = classify_message(parse_message(path.read_bytes(), limits), OWN)
        assert verdict.kind != "bounce", path.name
    auto = {p.name: classify_message(parse_message(p.read_bytes(), limits), OWN).is_auto
            for p in ORDINARY}
    assert all(auto[n] for n in auto if n.startswith(("out_of_office", "read_receipt_")) and
               n != "read_receipt_plain_text.eml")
    assert not any(auto[n] for n in auto if n.startswith(("citizen", "forwarded", "municip")))


@pytest.fixture
def desk(tmp_path: Path, db_url: str, imap: Dovecot) -> Iterator[Desk]:
    d = Desk(make_config(tmp_path, db_url, imap))
    with d.db.transaction() as session:  # staff to notify: a report must notify nobody
        session.add(Staff(email="agent@rn.example", name="Agent", language="fr"))
    yield d
    d.close()


@pytest.mark.slow
def test_reports_never_become_tickets_and_ordinary_mail_does(desk: Desk, imap: Dovecot) -> None:
    imap.append_many("info", [p.read_bytes() for p in [*REPORTS, *ORDINARY]])
    report = desk.ingest()
    assert sum(report.outcomes.values()) == len(REPORTS) + len(ORDINARY)
    with desk.db.transaction() as session:
        bounced = set(session.scalars(select(Bounce.report_message_id)))
        stored = set(session.scalars(select(Message.message_id)
                                     .where(Message.direction == "in")))
        sent_to = set(session.scalars(select(OutboxMessage.to_addr)))
        outbox = len(session.scalars(select(OutboxMessage.id)).all())
    report_ids = {message_id(p): p.name for p in REPORTS}
    recognised = [n for m, n in report_ids.items() if m in bounced and m not in stored]
    assert len(recognised) >= 0.97 * len(REPORTS), sorted(set(report_ids.values())
                                                          - set(recognised))
    ordinary_ids = {message_id(p) for p in ORDINARY}
    assert not ordinary_ids & bounced
    assert ordinary_ids <= stored  # every ordinary mail is a ticket (or joins one)
    senders = {str(email.message_from_bytes(p.read_bytes())["From"]) for p in REPORTS}
    assert not any(addr in s for addr in sent_to for s in senders)  # no report acknowledged
    # Staff are notified of the ordinary mails only (none of the reports) and the people
    # writing get their acknowledgement; automatic mail gets none.
    people = [p for p in ORDINARY if p.name.startswith(("citizen", "forwarded", "municip",
                                                        "police", "read_receipt_plain"))]
    assert outbox == len(people) * 2  # one acknowledgement and one notification each
    assert report.outcomes["bounce"] >= 0.97 * len(REPORTS)
