"""Operators: the technical staff allowed to change the status and send announcements.

How they sign in — argon2id passwords, the second factor (TOTP, its secret encrypted), the
per-name and per-address limits, the lockout, the audit — is ``rnmail.auth.signin``,
shared with the staff's desk; this module manages the operators themselves. ``operator
unlock`` (or a new password) lets a locked-out operator in again at once, audited. A new
password, a new second factor, a disabled operator or a lockout ends all of that
operator's web admin sessions at once (``sessions.end_sessions``).
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.auth.sessions import end_sessions
from rnmail.auth.signin import (
    HASHER,
    MIN_PASSWORD,
    OPERATORS,
    TOTP_ISSUER,
    AuthenticationFailed,
    TotpCipher,
    hashed_password,
    matching_step,
    new_totp,
)
from rnmail.auth.signin import _claim_step as _claim_step
from rnmail.auth.signin import authenticate as _authenticate
from rnmail.auth.signin import failures as _failures
from rnmail.config import OperatorsConfig
from rnmail.db import Database
from rnmail.errors import NotFound, RnmailError
from rnmail.models import AuditEvent, Operator, utcnow

__all__ = ["HASHER", "MIN_PASSWORD", "TOTP_ISSUER", "AuthenticationFailed", "TotpCipher",
           "add_operator", "authenticate", "change_password", "check_totp",
           "disable_operator", "enable_totp", "get_operator", "list_operators",
           "matching_step", "seal_clear_totp_secrets", "unlock_operator"]
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def add_operator(session: Session, name: str, password: str) -> Operator:
    if not _NAME.fullmatch(name):
        raise RnmailError(f"operator name {name!r}: letters, digits, '.', '_' or '-'")
    if session.scalar(select(Operator).where(Operator.name == name)):
        raise RnmailError(f"operator {name!r} already exists")
    operator = Operator(name=name, password_hash=hashed_password(password))
    session.add(operator)
    audit.record(session, name, "operator-add", {"operator": name})
    return operator


def change_password(session: Session, name: str, password: str) -> None:
    operator = get_operator(session, name)
    operator.password_hash = hashed_password(password)
    operator.password_changed_at = utcnow()
    operator.active = True
    end_sessions(session, name)
    audit.record(session, name, "operator-passwd", {"operator": name})


def unlock_operator(session: Session, name: str, by: str | None = None) -> int:
    """Let a locked-out operator sign in again at once (an outage will not wait for the
    lockout to pass): their failures before now stop counting; audited. Returns how many
    failures there were in the window (0: the name was not locked)."""
    operator = get_operator(session, name)
    audit.record(session, name, "operator-unlock", {"operator": name, "by": by or "cli"})
    return _failures(session, AuditEvent.actor == operator.name,
                     utcnow() - timedelta(days=1))


def disable_operator(session: Session, name: str) -> None:
    get_operator(session, name).active = False
    end_sessions(session, name)
    audit.record(session, name, "operator-disable", {"operator": name})


def get_operator(session: Session, name: str) -> Operator:
    operator = session.scalar(select(Operator).where(Operator.name == name))
    if operator is None:
        raise NotFound(f"no operator {name!r}")
    return operator


def list_operators(session: Session) -> list[Operator]:
    return list(session.scalars(select(Operator).order_by(Operator.name)))


def enable_totp(session: Session, name: str, issuer: str = TOTP_ISSUER, *,
                cipher: TotpCipher) -> str:
    """Give the operator a new TOTP secret (the "key" of the web admin), stored encrypted
    with ``cipher``; returns the ``otpauth://`` provisioning URI for an authenticator app.
    A new secret replaces the old one: the old device stops working, and the operator's
    sessions end."""
    uri = new_totp(get_operator(session, name), name, cipher, issuer)
    end_sessions(session, name)
    audit.record(session, name, "operator-totp", {"operator": name})
    return uri


def check_totp(operator: Operator, code: str, at: float | None = None,
               cipher: TotpCipher | None = None) -> bool:
    """Whether ``code`` is the operator's current TOTP code and not one already used (the
    step is then marked used on ``operator``; ``authenticate`` claims it atomically)."""
    step = matching_step(operator, code, at, cipher)
    if step is None:
        return False
    operator.totp_last_step = step
    return True


def seal_clear_totp_secrets(db: Database, cipher: TotpCipher) -> int:
    """Encrypt the TOTP secrets an older version stored in clear; returns how many."""
    with db.transaction() as session:
        rows = list(session.scalars(select(Operator).where(
            Operator.totp_secret.is_not(None),
            Operator.totp_secret.not_like(TotpCipher.PREFIX + "%"))))
        for operator in rows:
            assert operator.totp_secret is not None
            operator.totp_secret = cipher.seal(operator.totp_secret)
        return len(rows)


def authenticate(db: Database, cfg: OperatorsConfig, name: str, password: str,
                 code: str | None = None, address_limit: int | None = None,
                 cipher: TotpCipher | None = None) -> str:
    """Check an operator's password and, when ``code`` is given (the web admin), the code
    of their second factor; returns the name or raises ``AuthenticationFailed``
    (``rnmail.auth.signin.authenticate``)."""
    return _authenticate(db, OPERATORS, cfg, name, password, code, address_limit, cipher)
