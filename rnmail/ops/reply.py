"""``rnmail demo reply``: answer one of rnmail's outgoing mails as its recipient would, on a
set-up without a mail server (Maildir in, ``.eml`` files out).

It reads an ``.eml`` the file transport wrote (a staff notification, an acknowledgement, a
delegation), and writes the reply a mail client would send - From the mail's recipient, To
its Reply-To (else From), ``Re:`` subject, In-Reply-To and References naming it, the text
given above the quoted original - into the ``new/`` folder of the configuration's Maildir
mailbox. The next ``rnmail ingest once`` (or the daemon) reads it like any mail: nothing
here bypasses the checks a real reply goes through.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path

from rnmail.config import Config, MailboxConfig
from rnmail.errors import RnmailError
from rnmail.models import utcnow


@dataclass(frozen=True)
class DemoReply:
    """The reply written: its file, the mailbox it was dropped in, its sender and subject."""

    path: Path
    mailbox: str
    sender: str
    to: str
    subject: str


def maildir_mailbox(config: Config, name: str | None) -> MailboxConfig:
    """The Maildir mailbox to drop into: ``name``, else the first ``info`` one, else the first."""
    boxes = [b for b in config.mailboxes if b.type == "maildir"]
    if name is not None:
        boxes = [b for b in boxes if b.name == name]
        if not boxes:
            raise RnmailError(f"no Maildir mailbox named {name!r} in {config.path}")
    if not boxes:
        raise RnmailError(f"{config.path} has no Maildir mailbox ([[mailbox]] type = "
                          "\"maildir\"): with IMAP, reply from a mail client")
    return next((b for b in boxes if b.kind == "info"), boxes[0])


def _first_address(value: str | None) -> tuple[str, str]:
    pairs = [(n, a) for n, a in getaddresses([value or ""]) if a]
    if not pairs:
        raise RnmailError(f"no address in {value!r}")
    return pairs[0]


def compose_reply(original: EmailMessage, lines: list[str]) -> EmailMessage:
    """The reply to ``original`` with ``lines`` above the quoted original text."""
    name, sender = _first_address(original["To"])
    _, to = _first_address(original["Reply-To"] or original["From"])
    message_id = original["Message-ID"]
    if not message_id:
        raise RnmailError("the mail has no Message-ID: nothing to reply to")
    subject = str(original["Subject"] or "")
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    body = original.get_body(preferencelist=("plain",))
    quoted_text = body.get_content() if isinstance(body, EmailMessage) else ""
    quoted = "\n".join(f"> {line}".rstrip() for line in quoted_text.splitlines())
    when = original["Date"] or format_datetime(utcnow())
    text = "\n".join(lines) + f"\n\nOn {when}, {original['From']} wrote:\n{quoted}\n"

    reply = EmailMessage()
    reply["From"] = f"{name} <{sender}>" if name else sender
    reply["To"] = to
    reply["Subject"] = subject
    reply["Date"] = format_datetime(utcnow())
    reply["Message-ID"] = make_msgid("demo-reply", sender.rpartition("@")[2] or None)
    reply["In-Reply-To"] = message_id
    references = str(original["References"] or "").split()
    reply["References"] = " ".join([*references, message_id])
    reply.set_content(text)
    return reply


def reply_to_file(config: Config, eml: Path, lines: list[str],
                  mailbox: str | None = None) -> DemoReply:
    """Write the reply to the mail in ``eml`` into the Maildir mailbox's ``new/``."""
    if not any(line.strip() for line in lines):
        raise RnmailError("give the reply's text: --text LINE (once per line)")
    box = maildir_mailbox(config, mailbox)
    assert box.path is not None
    try:
        raw = eml.read_bytes()
    except OSError as exc:
        raise RnmailError(f"cannot read {eml}: {exc.strerror}") from None
    original = message_from_bytes(raw, policy=policy.default)
    assert isinstance(original, EmailMessage)
    reply = compose_reply(original, lines)
    for sub in ("tmp", "new", "cur"):
        (box.path / sub).mkdir(parents=True, exist_ok=True)
    name = f"{int(time.time())}.{os.urandom(6).hex()}.demo-reply.eml"
    tmp = box.path / "tmp" / name
    # Not folded at 78: CPython's folder drops the space between two encoded words
    # ("clé d'accès" came back as "cléd'accès").
    tmp.write_bytes(reply.as_bytes(policy=policy.SMTP.clone(max_line_length=998)))
    target = box.path / "new" / name
    tmp.replace(target)  # Maildir delivery: written under tmp/, then renamed into new/
    return DemoReply(path=target, mailbox=box.name, sender=str(reply["From"]),
                     to=str(reply["To"]), subject=str(reply["Subject"]))
