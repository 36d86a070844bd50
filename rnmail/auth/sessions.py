"""Server-side sessions of the web admin.

The browser holds a random token in an ``HttpOnly``, ``SameSite=Strict`` cookie; the
database holds only its SHA-256, the operator, the session's CSRF token and its times. A
session ends when unused for ``[web].session_idle_minutes``, after ``session_hours`` in
any case, when its operator signs out, and — all of the operator's sessions at once
(``end_sessions``) — when the operator gets a new password or second factor, is disabled or
is locked out by failed sign-ins. Being in the database, sessions survive a restart and
are shared by several ``rnmail web`` processes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.config import WebConfig
from rnmail.db import Database
from rnmail.models import AdminSession, Operator, utcnow

TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often


@dataclass(frozen=True)
class SignedIn:
    operator: str
    csrf_token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: Database, cfg: WebConfig, operator: str) -> tuple[str, SignedIn]:
    """A new session for ``operator`` (just authenticated); returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    with db.transaction() as session:
        session.add(AdminSession(token_hash=_hash(token), operator=operator, csrf_token=csrf,
                                 client=audit.current_client(), created_at=now,
                                 last_seen_at=now,
                                 expires_at=now + timedelta(hours=cfg.session_hours)))
    return token, SignedIn(operator, csrf)


def end_sessions(session: Session, operator: str) -> int:
    """End every session of ``operator`` (in the caller's transaction); returns how many."""
    result = session.execute(delete(AdminSession).where(AdminSession.operator == operator)
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def find_session(db: Database, cfg: WebConfig, token: str) -> SignedIn | None:
    """The session of a cookie's token, if it is still valid (and mark it used)."""
    if not token or len(token) > 128:
        return None
    now = utcnow()
    with db.transaction() as session:
        row = session.get(AdminSession, _hash(token))
        if row is None:
            return None
        idle_end = row.last_seen_at + timedelta(minutes=cfg.session_idle_minutes)
        active = session.scalar(select(Operator.active).where(Operator.name == row.operator))
        if now >= row.expires_at or now >= idle_end or not active:
            session.delete(row)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        return SignedIn(row.operator, row.csrf_token)


def close_session(db: Database, token: str) -> str | None:
    """Sign out: the session is deleted; returns its operator (None if there was none)."""
    with db.transaction() as session:
        row = session.get(AdminSession, _hash(token))
        if row is None:
            return None
        session.delete(row)
        audit.record(session, row.operator, "logout")
        return row.operator


def purge_expired(db: Database, cfg: WebConfig) -> int:
    """Delete the sessions that can no longer be used (housekeeping); returns how many."""
    now = utcnow()
    with db.transaction() as session:
        result = session.execute(delete(AdminSession).where(
            (AdminSession.expires_at <= now)
            | (AdminSession.last_seen_at <= now - timedelta(minutes=cfg.session_idle_minutes))))
        return int(getattr(result, "rowcount", 0) or 0)
