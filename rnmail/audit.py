"""The audit log: who changed the status, planned or cancelled maintenance, sent an
announcement, or failed to log in — written in the same transaction as the act itself.

Each event also says where the act came from (``client``): the web admin runs the core
functions the command line runs inside ``acting_from(address)``, so every event they record
carries the browser's address without passing it through each of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.models import AuditEvent

_client: ContextVar[str | None] = ContextVar("audit_client", default=None)


@contextlib.contextmanager
def acting_from(client: str | None) -> Iterator[None]:
    """Events recorded inside carry ``client`` (the web admin's remote address)."""
    token = _client.set(client)
    try:
        yield
    finally:
        _client.reset(token)


def current_client() -> str | None:
    """The client address of the act under way (None: the command line)."""
    return _client.get()


def record(
    session: Session,
    actor: str,
    action: str,
    detail: dict[str, Any] | None = None,
    recipients: int | None = None,
    success: bool = True,
) -> AuditEvent:
    event = AuditEvent(actor=actor, action=action, detail=detail or {},
                       recipients=recipients, success=success, client=_client.get())
    session.add(event)
    return event


def list_events(
    session: Session,
    limit: int = 100,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
) -> list[AuditEvent]:
    """The newest events first."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if since:
        query = query.where(AuditEvent.at >= since)
    return list(session.scalars(query))


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "detail": event.detail,
        "recipients": event.recipients,
        "success": event.success,
        "client": event.client,
    }
