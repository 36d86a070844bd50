"""Server-side sessions of the web admin (operators) and of the desk (staff members).

The browser holds a random token in an ``HttpOnly``, ``SameSite=Strict`` cookie; the
database holds only its SHA-256, the principal and its kind ("operator" or "staff": an
operator's session does not open the desk, nor a staff member's the admin), the session's
CSRF token and its times. A
session ends when unused for ``[web].session_idle_minutes``, after ``session_hours`` in
any case, when its operator signs out, and — all of the operator's sessions at once
(``end_sessions``) — when the operator gets a new password or second factor, is disabled or
is locked out by failed sign-ins (likewise a staff member's: ``rnmail staff passwd``,
``staff totp``, ``staff remove``). Being in the database, sessions survive a restart and
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
from rnmail.models import AdminSession, Operator, Staff, utcnow

TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often


@dataclass(frozen=True)
class SignedIn:
    operator: str  # the principal: an operator's name, or a staff member's address
    csrf_token: str
    kind: str = "operator"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: Database, cfg: WebConfig, operator: str, kind: str = "operator"
                 ) -> tuple[str, SignedIn]:
    """A new session for ``operator`` (just authenticated; a staff member's address with
    ``kind="staff"``); returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    with db.transaction() as session:
        session.add(AdminSession(token_hash=_hash(token), operator=operator, kind=kind,
                                 csrf_token=csrf,
                                 client=audit.current_client(), created_at=now,
                                 last_seen_at=now,
                                 expires_at=now + timedelta(hours=cfg.session_hours)))
    return token, SignedIn(operator, csrf, kind)


def end_sessions(session: Session, operator: str, kind: str = "operator") -> int:
    """End every session of ``operator`` (of that ``kind``; in the caller's transaction);
    returns how many."""
    result = session.execute(delete(AdminSession).where(AdminSession.operator == operator,
                                                        AdminSession.kind == kind)
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def find_session(db: Database, cfg: WebConfig, token: str, kind: str = "operator"
                 ) -> SignedIn | None:
    """The session of a cookie's token, if it is still valid and of that ``kind`` (and
    mark it used). Read without the write lock (``Database.reading``); only a session to
    end or to mark used (at most every ``TOUCH_EVERY``) takes a write transaction."""
    if not token or len(token) > 128:
        return None
    now = utcnow()
    key = _hash(token)
    who = (select(Operator.active).where(Operator.name == AdminSession.operator)
           if kind == "operator" else
           select(Staff.active).where(Staff.email == AdminSession.operator))
    with db.reading() as session:  # one statement: the session and whether its holder is active
        found = session.execute(select(AdminSession, who.scalar_subquery())
                                .where(AdminSession.token_hash == key)).first()
        if found is None or found[0].kind != kind:
            return None
        row, active = found
        idle_end = row.last_seen_at + timedelta(minutes=cfg.session_idle_minutes)
        valid = now < row.expires_at and now < idle_end and bool(active)
        signed = SignedIn(row.operator, row.csrf_token, row.kind)
        if valid and now - row.last_seen_at < TOUCH_EVERY:
            return signed
    with db.transaction() as session:
        row = session.get(AdminSession, key)
        if row is None:  # ended meanwhile (signed out, or by another request)
            return None
        if not valid:
            session.delete(row)
            return None
        row.last_seen_at = max(row.last_seen_at, now)
        return signed


def close_session(db: Database, token: str, kind: str = "operator") -> str | None:
    """Sign out: the session is deleted; returns its principal (None if there was none)."""
    with db.transaction() as session:
        row = session.get(AdminSession, _hash(token))
        if row is None or row.kind != kind:
            return None
        session.delete(row)
        audit.record(session, row.operator[:64], "logout",
                     {"site": "desk"} if kind == "staff" else None)
        return row.operator


def purge_expired(db: Database, cfg: WebConfig) -> int:
    """Delete the sessions that can no longer be used (housekeeping); returns how many."""
    now = utcnow()
    with db.transaction() as session:
        result = session.execute(delete(AdminSession).where(
            (AdminSession.expires_at <= now)
            | (AdminSession.last_seen_at <= now - timedelta(minutes=cfg.session_idle_minutes))))
        return int(getattr(result, "rowcount", 0) or 0)
