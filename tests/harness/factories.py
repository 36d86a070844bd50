"""Factories for configs and ingest runs against the real test servers."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from rnmail.config import Config, parse_config
from rnmail.db import Database
from rnmail.dispatch.send import SendReport, send_outbox
from rnmail.ingest.runner import IngestReport, run_ingest
from rnmail.tickets.views import list_tickets, show_ticket

HELPDESK = "info@rn.example"
# [helpdesk].secret of every test installation: random, so that no published value works
# (rnmail refuses those) and a test cannot depend on a value.
TEST_SECRET = secrets.token_urlsafe(32)


def make_config(
    tmp_path: Path,
    db_url: str,
    imap: Any | None = None,
    smtp: Any | None = None,
    **sections: dict[str, Any],
) -> Config:
    """A config for the test servers; keyword arguments override whole sections' keys."""
    raw: dict[str, Any] = {
        "database": {"url": db_url},
        "helpdesk": {
            "address": HELPDESK,
            "name": "Help Desk Registre national / Rijksregister",
            "tag": "RN",
            "secret": TEST_SECRET,
            "default_language": "fr",
            "attachments_dir": str(tmp_path / "attachments"),
            "max_attachment_mb": 25,
        },
        "mailbox": [],
        "smtp": {"transport": "file", "directory": str(tmp_path / "outgoing")},
        "fax": {"address_pattern": "{number}@fax.rn.example"},
    }
    if imap is not None:
        for name, kind in (("info", "info"), ("fax", "fax")):
            raw["mailbox"].append({
                "name": name, "kind": kind, "host": imap.host, "port": imap.port,
                "security": "none", "user": name, "password": "secret",
                "folder": "INBOX", "done_folder": "Processed",
            })
    if smtp is not None:
        raw["smtp"] = {"host": smtp.host, "port": smtp.port, "security": "none"}
    for section, values in sections.items():
        if isinstance(values, list):
            raw[section] = values
        else:
            raw.setdefault(section, {}).update(values)
    return parse_config(raw, tmp_path / "rnmail.toml")


class Desk:
    """The help desk under test: a config, a migrated database and one-call helpers."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.db = Database.of(config)
        self.db.upgrade()

    def ingest(self, mailbox: str | None = None) -> IngestReport:
        report = run_ingest(self.db, self.config, mailbox)
        assert not report.errors, report.errors
        return report

    def send(self) -> SendReport:
        return send_outbox(self.db, self.config)

    def tickets(self) -> list[dict[str, Any]]:
        with self.db.transaction() as session:
            return list(reversed(list_tickets(session, limit=10_000)))

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        with self.db.transaction() as session:
            return show_ticket(session, ticket_id)

    def close(self) -> None:
        self.db.dispose()


def write_config(tmp_path: Path, db_url: str, mailbox: str = "", smtp: str = "",
                 extra: str = "") -> Path:
    """A config file for CLI and subprocess tests: a Maildir drop folder and the file
    transport unless other [[mailbox]] / [smtp] blocks are given."""
    path = tmp_path / "rnmail.toml"
    path.write_text(f"""
[database]
url = "{db_url}"

[helpdesk]
address = "info@rn.example"
secret = "{TEST_SECRET}"
attachments_dir = "attachments"

{mailbox or '''[[mailbox]]
name = "info"
type = "maildir"
path = "maildir"'''}

{smtp or '''[smtp]
transport = "file"
directory = "outgoing"'''}

{extra}
""")
    return path
