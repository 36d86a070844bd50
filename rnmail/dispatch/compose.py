"""Compose: a rendered text → an ``EmailMessage`` ready for the outbox.

Every mail gets our own signed Message-ID (recorded, so replies thread even when the client
drops the subject tag), the requester's thread headers when it answers one of their mails,
and, when automatic, ``Auto-Submitted: auto-replied`` and ``X-Auto-Response-Suppress``.

Next stage: ``outbox``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from rnmail.config import HelpdeskConfig
from rnmail.dispatch.render import Rendered
from rnmail.models import utcnow
from rnmail.tokens import make_message_id


@dataclass(frozen=True)
class Draft:
    """What to send, before it has a Message-ID."""

    to: list[str]
    rendered: Rendered
    kind: str  # the purpose: acknowledgement, reply, ...
    ticket_id: int | None = None
    automatic: bool = False
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)


def compose(helpdesk: HelpdeskConfig, draft: Draft) -> EmailMessage:
    msg = EmailMessage()
    domain = helpdesk.address.rsplit("@", 1)[-1]
    local, _, _ = helpdesk.address.partition("@")
    msg["From"] = Address(display_name=helpdesk.name, username=local, domain=domain)
    msg["To"] = ", ".join(draft.to)
    msg["Subject"] = draft.rendered.subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_message_id(helpdesk.secret, domain, draft.kind, draft.ticket_id)
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    refs = [*draft.references, *([draft.in_reply_to] if draft.in_reply_to else [])]
    if refs:
        msg["References"] = " ".join(dict.fromkeys(refs))
    if draft.automatic:
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
        msg["Precedence"] = "auto_reply"
    msg.set_content(draft.rendered.text)
    if draft.rendered.html:
        msg.add_alternative(draft.rendered.html, subtype="html")
    msg["Content-Language"] = draft.rendered.language  # after set_content, which clears it
    return msg
