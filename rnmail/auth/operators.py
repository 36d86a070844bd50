"""Operators: the technical staff allowed to change the status and send announcements.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second profile) and
re-hashed on login when those defaults change. Every refused password is written to the
audit log in its own transaction, so the record survives the refused command; a name with
``max_failures`` refusals within ``lockout_minutes`` is locked for that long, whatever the
password, so a password cannot be guessed faster than that.

The web admin's second factor is a TOTP (RFC 6238) per operator (``enable_totp``,
``check_totp``); each code is accepted once.
"""

from __future__ import annotations

import hmac
import re
import time
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.config import OperatorsConfig
from rnmail.db import Database
from rnmail.errors import NotFound, RnmailError
from rnmail.models import AuditEvent, Operator, utcnow

HASHER = PasswordHasher()
MIN_PASSWORD = 10
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@cache
def _dummy_hash() -> str:
    """Verified when the name is unknown, so a refusal costs the same time either way."""
    return HASHER.hash("not a password of anyone")


class AuthenticationFailed(RnmailError):
    """Wrong operator name or password, or too many failures."""


def add_operator(session: Session, name: str, password: str) -> Operator:
    if not _NAME.fullmatch(name):
        raise RnmailError(f"operator name {name!r}: letters, digits, '.', '_' or '-'")
    if session.scalar(select(Operator).where(Operator.name == name)):
        raise RnmailError(f"operator {name!r} already exists")
    operator = Operator(name=name, password_hash=HASHER.hash(_checked(password)))
    session.add(operator)
    audit.record(session, name, "operator-add", {"operator": name})
    return operator


def change_password(session: Session, name: str, password: str) -> None:
    operator = get_operator(session, name)
    operator.password_hash = HASHER.hash(_checked(password))
    operator.password_changed_at = utcnow()
    operator.active = True
    audit.record(session, name, "operator-passwd", {"operator": name})


def disable_operator(session: Session, name: str) -> None:
    get_operator(session, name).active = False
    audit.record(session, name, "operator-disable", {"operator": name})


def get_operator(session: Session, name: str) -> Operator:
    operator = session.scalar(select(Operator).where(Operator.name == name))
    if operator is None:
        raise NotFound(f"no operator {name!r}")
    return operator


def list_operators(session: Session) -> list[Operator]:
    return list(session.scalars(select(Operator).order_by(Operator.name)))


TOTP_ISSUER = "rnmail"


def enable_totp(session: Session, name: str, issuer: str = TOTP_ISSUER) -> str:
    """Give the operator a new TOTP secret (the "key" of the web admin); returns the
    ``otpauth://`` provisioning URI for an authenticator app. A new secret replaces the
    old one: the old device stops working."""
    import pyotp

    operator = get_operator(session, name)
    operator.totp_secret = pyotp.random_base32()
    operator.totp_last_step = None
    audit.record(session, name, "operator-totp", {"operator": name})
    return str(pyotp.TOTP(operator.totp_secret).provisioning_uri(name=name,
                                                                 issuer_name=issuer))


def check_totp(operator: Operator, code: str, at: float | None = None) -> bool:
    """Whether ``code`` is the operator's current TOTP code (one 30 s step of clock drift
    either way), and not one already used: each step is accepted once."""
    import pyotp

    if operator.totp_secret is None or not re.fullmatch(r"\d{6}", code.strip()):
        return False
    totp = pyotp.TOTP(operator.totp_secret)
    now = time.time() if at is None else at
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.at(candidate * totp.interval), code.strip()):
            if operator.totp_last_step is not None and candidate <= operator.totp_last_step:
                return False  # replayed
            operator.totp_last_step = candidate
            return True
    return False


def authenticate(db: Database, cfg: OperatorsConfig, name: str, password: str,
                 code: str | None = None, address_limit: int | None = None) -> str:
    """Check ``name``'s password and, when ``code`` is given (the web admin), the TOTP code
    of their second factor; returns the name, or raises ``AuthenticationFailed``.

    Refused: a name with ``max_failures`` failures within ``lockout_minutes``, and, with
    ``address_limit``, an address (``audit.current_client()``) with that many — whatever
    the password, so neither a name nor a client can guess faster than that."""
    window_start = utcnow() - timedelta(minutes=cfg.lockout_minutes)
    client = audit.current_client()
    refusal: str | None = None
    failed = "passwords" if code is None else "sign-ins"
    with db.transaction() as session:
        if _failures(session, AuditEvent.actor == name[:64], window_start) >= cfg.max_failures:
            refusal = (f"too many failed {failed} for {name!r}: locked for "
                       f"{cfg.lockout_minutes} minutes (see `rnmail audit --action "
                       "login-failed`)")
        elif address_limit is not None and client is not None and _failures(
                session, AuditEvent.client == client, window_start) >= address_limit:
            refusal = (f"too many failed {failed} from {client}: refused for "
                       f"{cfg.lockout_minutes} minutes")
        if refusal:
            audit.record(session, name[:64], "login-locked", success=False)
        else:
            operator = session.scalar(
                select(Operator).where(Operator.name == name, Operator.active.is_(True)))
            reason = None
            if not (_verify(operator.password_hash if operator else _dummy_hash(), password)
                    and operator is not None):
                reason = "password"
            elif code is not None and not check_totp(operator, code):
                reason = "code" if operator.totp_secret else "no second factor"
            if reason is None and operator is not None:
                if HASHER.check_needs_rehash(operator.password_hash):
                    operator.password_hash = HASHER.hash(password)
                if code is not None:
                    audit.record(session, operator.name, "login")
                return operator.name
            audit.record(session, name[:64], "login-failed", {"reason": reason},
                         success=False)
    if refusal:
        raise AuthenticationFailed(refusal)
    if code is not None:
        raise AuthenticationFailed("wrong operator name, password or code (the attempt is "
                                   "logged)")
    raise AuthenticationFailed("wrong operator name or password (the attempt is logged)")


def _failures(session: Session, who: ColumnElement[bool], since: datetime) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "login-failed", who, AuditEvent.at >= since)) or 0


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _checked(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise RnmailError(f"the password must have at least {MIN_PASSWORD} characters")
    return password
