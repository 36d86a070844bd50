"""Health and metrics of ``rnmail run``, in Prometheus text format on a loopback address.

Counters are what this process did since it started (messages ingested per mailbox and
outcome, tickets created, mails sent, deferred and failed); the gauges that describe the
installation rather than the process (outbox depth per state, quarantine size, spam held,
suppressed addresses) are read from the database at each scrape, so every instance reports
the truth.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from rnmail.config import parse_address
from rnmail.db import Database
from rnmail.dispatch.send import SendReport
from rnmail.ingest.runner import IngestReport
from rnmail.models import OutboxMessage, QuarantinedMessage, SpamMessage, Suppression
from rnmail.vocab import IngestOutcome, QuarantineState, SpamState


class DatabaseCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily("rnmail_database_up", "1 when the database answered this scrape")
        try:
            with self.db.transaction() as session:
                outbox = dict(session.execute(
                    select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
                ).tuples().all())
                held = session.scalar(select(func.count()).select_from(QuarantinedMessage)
                                      .where(QuarantinedMessage.state == QuarantineState.HELD))
                suppressed = session.scalar(select(func.count()).select_from(Suppression))
                spam = session.scalar(select(func.count()).select_from(SpamMessage)
                                      .where(SpamMessage.state == SpamState.HELD))
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily("rnmail_outbox_messages", "Outbox rows per state",
                                  labels=["state"])
        for state in ("queued", "sending", "sent", "failed", "bounced", "suppressed"):
            depth.add_metric([state], outbox.get(state, 0))
        yield depth
        yield GaugeMetricFamily("rnmail_quarantine_held", "Messages held in quarantine",
                                value=held or 0)
        yield GaugeMetricFamily("rnmail_suppressed_addresses",
                                "Addresses no announcement is sent to", value=suppressed or 0)
        yield GaugeMetricFamily("rnmail_spam_held",
                                "Mails held as spam, waiting to be released or deleted",
                                value=spam or 0)


class Metrics:
    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter("rnmail_messages_ingested", "Mailbox messages processed",
                                ["mailbox", "outcome"], registry=self.registry)
        self.tickets = Counter("rnmail_tickets_created", "Tickets opened from mail",
                               ["mailbox"], registry=self.registry)
        self.mails = Counter("rnmail_mails", "Outbox deliveries by result", ["result"],
                             registry=self.registry)
        self.last_poll = Gauge("rnmail_last_successful_poll_timestamp_seconds",
                               "When each mailbox was last read without error",
                               ["mailbox"], registry=self.registry)
        self.registry.register(DatabaseCollector(db))
        self.server: Any = None

    def polled(self, mailbox: str, report: IngestReport) -> None:
        for outcome, count in report.outcomes.items():
            self.ingested.labels(mailbox, outcome).inc(count)
        self.tickets.labels(mailbox).inc(report.outcomes.get(IngestOutcome.TICKET, 0))
        if not report.errors:
            self.last_poll.labels(mailbox).set(time.time())

    def sent(self, report: SendReport) -> None:
        self.mails.labels("sent").inc(report.sent)
        self.mails.labels("deferred").inc(report.retried)
        self.mails.labels("failed").inc(report.failed)

    def serve(self, address: str) -> None:
        host, port = parse_address(address)
        self.server, _thread = start_http_server(port, host, registry=self.registry)

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
