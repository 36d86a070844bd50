"""Operators: the technical staff allowed to change the status and send announcements.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second profile) and
re-hashed on login when those defaults change. Every refused password is written to the
audit log in its own transaction, so the record survives the refused command; a name with
``max_failures`` refusals within ``lockout_minutes`` is locked for that long, whatever the
password, so a password cannot be guessed faster than that; ``operator unlock`` (or a new
password) lets them in again at once, audited.

The web admin's second factor is a TOTP (RFC 6238) per operator (``enable_totp``,
``check_totp``); a code is six ASCII digits, and each step is accepted once (an atomic
conditional UPDATE of ``totp_last_step``). The TOTP secret is stored encrypted
(``TotpCipher``: Fernet, its key derived with HKDF from ``[helpdesk].secret``); a secret
stored in clear by an older version is still read and is encrypted at its next use (and
when the admin starts, ``seal_clear_totp_secrets``).

Concurrency: the checks of one sign-in (the failures of the name and of the address, the
password, the code, the failure recorded) are one transaction that holds a lock on the name
and on the address (PostgreSQL: transaction-scoped advisory locks, and the operator's row
``FOR UPDATE``; SQLite: every transaction is ``BEGIN IMMEDIATE``), so simultaneous attempts
are counted one after the other and never exceed the limits.

A new password, a new second factor, a disabled operator or a lockout ends all of that
operator's web admin sessions at once (``sessions.end_sessions``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import ColumnElement, func, or_, select, text, update
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.auth.sessions import end_sessions
from rnmail.config import OperatorsConfig
from rnmail.db import Database
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n import N_
from rnmail.models import AuditEvent, Operator, utcnow

HASHER = PasswordHasher()
MIN_PASSWORD = 10
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CODE = re.compile(r"[0-9]{6}")  # ASCII digits only: not \d, which takes any script's


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


TOTP_ISSUER = "rnmail"


class TotpCipher:
    """Encrypts the operators' TOTP secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256),
    its key derived with HKDF-SHA256 from the installation's ``[helpdesk].secret``. A
    stored value is ``enc1:<Fernet token>``; anything else is a secret stored in clear by
    an older version (read as it is, sealed at its next use)."""

    PREFIX = "enc1:"

    def __init__(self, installation_secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"rnmail operator totp secret v1").derive(
                       installation_secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, clear: str) -> str:
        return self.PREFIX + self._fernet.encrypt(clear.encode()).decode()

    def open(self, stored: str) -> str | None:
        """The clear secret; None when it was sealed under another installation secret."""
        if not self.is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(self.PREFIX):].encode()).decode()
        except (InvalidToken, ValueError):
            return None

    @classmethod
    def is_sealed(cls, stored: str) -> bool:
        return stored.startswith(cls.PREFIX)


def enable_totp(session: Session, name: str, issuer: str = TOTP_ISSUER, *,
                cipher: TotpCipher) -> str:
    """Give the operator a new TOTP secret (the "key" of the web admin), stored encrypted
    with ``cipher``; returns the ``otpauth://`` provisioning URI for an authenticator app.
    A new secret replaces the old one: the old device stops working, and the operator's
    sessions end."""
    import pyotp

    operator = get_operator(session, name)
    clear = pyotp.random_base32()
    operator.totp_secret = cipher.seal(clear)
    operator.totp_last_step = None
    end_sessions(session, name)
    audit.record(session, name, "operator-totp", {"operator": name})
    return str(pyotp.TOTP(clear).provisioning_uri(name=name, issuer_name=issuer))


def matching_step(operator: Operator, code: str, at: float | None = None,
                  cipher: TotpCipher | None = None) -> int | None:
    """The 30 s step whose TOTP code ``code`` is (the current one, or one step of clock
    drift either way) and that was not used yet; None otherwise. ``code`` must be exactly
    six ASCII digits; a secret sealed under another key (or without ``cipher``) matches
    nothing."""
    import pyotp

    if operator.totp_secret is None or not isinstance(code, str) or not _CODE.fullmatch(code):
        return None
    clear = (cipher.open(operator.totp_secret) if cipher is not None
             else None if TotpCipher.is_sealed(operator.totp_secret) else operator.totp_secret)
    if clear is None:
        return None
    totp = pyotp.TOTP(clear)
    now = time.time() if at is None else at
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.at(candidate * totp.interval).encode(), code.encode()):
            if operator.totp_last_step is not None and candidate <= operator.totp_last_step:
                return None  # replayed
            return candidate
    return None


def check_totp(operator: Operator, code: str, at: float | None = None,
               cipher: TotpCipher | None = None) -> bool:
    """Whether ``code`` is the operator's current TOTP code and not one already used (the
    step is then marked used on ``operator``; ``authenticate`` claims it atomically)."""
    step = matching_step(operator, code, at, cipher)
    if step is None:
        return False
    operator.totp_last_step = step
    return True


def _claim_step(session: Session, operator: Operator, step: int) -> bool:
    """Mark ``step`` used unless it (or a later one) already is: one conditional UPDATE, so
    that of two simultaneous sign-ins with the same code only one gets the step."""
    result = session.execute(
        update(Operator).where(Operator.id == operator.id, or_(
            Operator.totp_last_step.is_(None), Operator.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0) == 1


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


def _lock(session: Session, kind: str, value: str) -> None:
    """A transaction-scoped lock on a name or an address (PostgreSQL; on SQLite the
    transaction holds the database's write lock from its BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"rnmail sign-in {kind}\0{value}".encode()).digest()
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": int.from_bytes(digest[:8], "big", signed=True)})


def authenticate(db: Database, cfg: OperatorsConfig, name: str, password: str,
                 code: str | None = None, address_limit: int | None = None,
                 cipher: TotpCipher | None = None) -> str:
    """Check ``name``'s password and, when ``code`` is given (the web admin), the TOTP code
    of their second factor (its secret opened with ``cipher``); returns the name, or raises
    ``AuthenticationFailed``.

    Refused: a name with ``max_failures`` failures within ``lockout_minutes``, and, with
    ``address_limit``, an address (``audit.current_client()``) with that many — whatever
    the password, so neither a name nor a client can guess faster than that, even with
    simultaneous attempts (see the module's docstring). The failure that reaches the
    name's limit ends the operator's sessions."""
    window_start = utcnow() - timedelta(minutes=cfg.lockout_minutes)
    client = audit.current_client()
    refusal: RnmailError | None = None
    name = name.replace("\0", "\ufffd")  # no NUL in a database string
    with db.transaction() as session:
        if address_limit is not None and client is not None:
            _lock(session, "address", client)
        _lock(session, "name", name[:64])
        name_window = _since_unlocked(session, name[:64], window_start)
        if _failures(session, AuditEvent.actor == name[:64], name_window) >= cfg.max_failures:
            refusal = AuthenticationFailed.translatable(
                N_("too many failed passwords for {name}: locked for {minutes} minutes (see "
                   "`rnmail audit --action login-failed`)") if code is None else
                N_("too many failed sign-ins for {name}: locked for {minutes} minutes (see "
                   "`rnmail audit --action login-failed`)"),
                name=repr(name), minutes=cfg.lockout_minutes)
        elif address_limit is not None and client is not None and _failures(
                session, AuditEvent.client == client, window_start) >= address_limit:
            refusal = AuthenticationFailed.translatable(
                N_("too many failed passwords from {client}: refused for {minutes} minutes")
                if code is None else
                N_("too many failed sign-ins from {client}: refused for {minutes} minutes"),
                client=client, minutes=cfg.lockout_minutes)
        if refusal:
            audit.record(session, name[:64], "login-locked", success=False)
        else:
            operator = session.scalar(
                select(Operator).where(Operator.name == name, Operator.active.is_(True))
                .with_for_update())
            reason = None
            if not (_verify(operator.password_hash if operator else _dummy_hash(), password)
                    and operator is not None):
                reason = "password"
            elif code is not None:
                step = matching_step(operator, code, cipher=cipher)
                if step is None or not _claim_step(session, operator, step):
                    reason = "code" if operator.totp_secret else "no second factor"
            if reason is None and operator is not None:
                if HASHER.check_needs_rehash(operator.password_hash):
                    operator.password_hash = HASHER.hash(password)
                secret = operator.totp_secret
                if code is not None and cipher is not None and secret is not None \
                        and not TotpCipher.is_sealed(secret):
                    operator.totp_secret = cipher.seal(secret)  # stored in clear before
                if code is not None:
                    audit.record(session, operator.name, "login")
                return operator.name
            audit.record(session, name[:64], "login-failed", {"reason": reason},
                         success=False)
            if _failures(session, AuditEvent.actor == name[:64],
                         name_window) >= cfg.max_failures:
                end_sessions(session, name[:64])  # locked: whoever is signed in is out
    if refusal:
        raise refusal
    if code is not None:
        raise AuthenticationFailed.translatable(
            N_("wrong operator name, password or code (the attempt is logged)"))
    raise AuthenticationFailed.translatable(
        N_("wrong operator name or password (the attempt is logged)"))


def _since_unlocked(session: Session, name: str, window_start: datetime) -> datetime:
    """The start of the window a name's failures count in: ``lockout_minutes`` ago, or the
    last ``operator unlock`` or new password, if later."""
    unlocked = session.scalar(select(func.max(AuditEvent.at)).where(
        AuditEvent.actor == name, AuditEvent.action.in_(("operator-unlock", "operator-passwd"))))
    return max(window_start, unlocked + timedelta(microseconds=1)) if unlocked else window_start


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
