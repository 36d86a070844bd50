"""A help desk on a Maildir that writes its mails as files (no server, fast), and the
replies staff and services write to its mails."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from email.message import EmailMessage
from itertools import count
from pathlib import Path

from rnmail.tickets.team import add_service, add_staff
from tests.harness import corpus
from tests.harness.factories import Desk, make_config
from tests.harness.mail import JAN, MARIE, parse

SERVICE = "pop@second.example"  # the second line of ``team_desk``


class MaildirDesk(Desk):
    """A desk reading a Maildir and writing its mails as files: no server, fast."""

    def __init__(self, tmp_path: Path, db_url: str, **sections: dict[str, object]) -> None:
        self.maildir, self.outgoing = tmp_path / "maildir", tmp_path / "outgoing"
        (self.maildir / "new").mkdir(parents=True)
        super().__init__(make_config(
            tmp_path, db_url,
            mailbox=[{"name": "info", "kind": "info", "type": "maildir",  # type: ignore[dict-item]
                      "path": str(self.maildir)}],
            **sections))
        self.numbers = count(1)
        self.seen: set[Path] = set()

    def drop(self, raw: bytes) -> None:
        (self.maildir / "new" / f"{next(self.numbers):04d}.eml").write_bytes(raw)

    def mails(self, to: str | None = None) -> list[EmailMessage]:
        """Send the outbox; the mails written since the last call (to ``to`` only, if
        given), in the order they were queued."""
        self.send()
        new = sorted((p for p in self.outgoing.glob("*.eml") if p not in self.seen),
                     key=lambda p: p.stat().st_mtime_ns)
        self.seen.update(new)
        return [m for m in (parse(p.read_bytes()) for p in new)
                if to is None or to in str(m["To"])]


@contextlib.contextmanager
def team_desk(tmp_path: Path, db_url: str, **sections: dict[str, object]
              ) -> Iterator[MaildirDesk]:
    """A Maildir desk with Marie (fr) and Jan (nl) on the staff and the second-line service
    ``population-registers`` at ``SERVICE``."""
    desk = MaildirDesk(tmp_path, db_url, **sections)
    with desk.db.transaction() as session:
        add_staff(session, MARIE, "Marie Lambert", "fr")
        add_staff(session, JAN, "Jan Peeters", "nl")
        add_service(session, "population-registers", SERVICE, None)
    try:
        yield desk
    finally:
        desk.close()


def to(mails: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in mails if address in str(m["To"])]


def headers_of(notification: EmailMessage) -> dict[str, str]:
    return {"In-Reply-To": notification["Message-ID"],
            "References": notification["Message-ID"]}


def plain(notification: EmailMessage, sender: str, text: str,
          attachment: bool = False) -> bytes:
    raw = corpus.simple(f"RE: {notification['Subject']}", text, from_addr=sender,
                        extra_headers=headers_of(notification))
    if not attachment:
        return raw
    msg = parse(raw)
    msg.add_attachment(b"%PDF-1.4 note interne", maintype="application", subtype="pdf",
                       filename="note-interne.pdf")
    return msg.as_bytes()
