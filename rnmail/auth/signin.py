"""Signing in, for whoever signs in: the operators (``/admin``) and the staff (``/desk``).

One piece, used by both: passwords hashed with argon2id (argon2-cffi's defaults, RFC 9106's
second profile, re-hashed on sign-in when those change), the second factor (a TOTP, RFC
6238, whose secret is stored encrypted: ``TotpCipher``), and the limits. Every refused
attempt is written to the audit log (``login-failed``, actor: the name given, with the
client's address); a name with ``[operators].max_failures`` failures within
``lockout_minutes`` is locked for that long whatever the password, and so is a client
address with ``[web].max_failures_per_address`` (counted over both sites); a new password
or an unlock lets the name in again at once. The failure that locks a name ends its
sessions (``sessions.end_sessions``).

A ``Principals`` says who signs in: its table (``Operator`` by name, ``Staff`` by e-mail
address), the session kind, and the audit actions that unlock a name. Operator names
cannot contain ``@``, addresses always do: the two kinds never share a name in the audit
log, so their failures are counted apart.

Concurrency: the checks of one sign-in (the failures of the name and of the address, the
password, the code, the failure recorded) are one transaction that holds a lock on the name
and on the address (PostgreSQL: transaction-scoped advisory locks, and the row ``FOR
UPDATE``; SQLite: every transaction is ``BEGIN IMMEDIATE``), so simultaneous attempts are
counted one after the other and never exceed the limits. A code is six ASCII digits and
each 30 s step is accepted once (an atomic conditional UPDATE of ``totp_last_step``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

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
from rnmail.errors import RnmailError
from rnmail.i18n import N_
from rnmail.models import AuditEvent, Operator, Staff, utcnow

HASHER = PasswordHasher()
MIN_PASSWORD = 10
_CODE = re.compile(r"[0-9]{6}")  # ASCII digits only: not \d, which takes any script's
TOTP_ISSUER = "rnmail"
Principal = Operator | Staff


@dataclass(frozen=True)
class Principals:
    """Who signs in somewhere: see the module's docstring."""

    kind: str  # the sessions' kind: "operator" or "staff"
    model: type[Operator] | type[Staff]
    unlocked_by: tuple[str, ...]  # audit actions after which earlier failures stop counting
    wrong: str  # the refusal (a msgid) when the name, password or code is wrong

    def key(self) -> Any:
        """The column a name is looked up in."""
        return Operator.name if self.model is Operator else Staff.email

    def normalised(self, name: str) -> str:
        name = name.replace("\0", "\ufffd").strip()  # no NUL in a database string
        return name.lower() if self.model is Staff else name


OPERATORS = Principals("operator", Operator, ("operator-unlock", "operator-passwd"),
                       N_("wrong operator name, password or code (the attempt is logged)"))
STAFF = Principals("staff", Staff, ("staff-unlock", "staff-passwd"),
                   N_("wrong e-mail address, password or code (the attempt is logged)"))


@cache
def _dummy_hash() -> str:
    """Verified when the name is unknown, so a refusal costs the same time either way."""
    return HASHER.hash("not a password of anyone")


class AuthenticationFailed(RnmailError):
    """Wrong name, password or code, or too many failures."""


def hashed_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise RnmailError(f"the password must have at least {MIN_PASSWORD} characters")
    return HASHER.hash(password)


class TotpCipher:
    """Encrypts the TOTP secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256), its key
    derived with HKDF-SHA256 from the installation's ``[helpdesk].secret``. A stored value
    is ``enc1:<Fernet token>``; anything else is a secret stored in clear by an older
    version (read as it is, sealed at its next use)."""

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


def new_totp(row: Principal, label: str, cipher: TotpCipher, issuer: str = TOTP_ISSUER) -> str:
    """Give ``row`` a new TOTP secret (sealed with ``cipher``); returns the ``otpauth://``
    URI for an authenticator app. The caller ends the sessions and audits."""
    import pyotp

    clear = pyotp.random_base32()
    row.totp_secret = cipher.seal(clear)
    row.totp_last_step = None
    return str(pyotp.TOTP(clear).provisioning_uri(name=label, issuer_name=issuer))


def matching_step(row: Principal, code: str, at: float | None = None,
                  cipher: TotpCipher | None = None) -> int | None:
    """The 30 s step whose TOTP code ``code`` is (the current one, or one step of clock
    drift either way) and that was not used yet; None otherwise. ``code`` must be exactly
    six ASCII digits; a secret sealed under another key (or without ``cipher``) matches
    nothing."""
    import pyotp

    if row.totp_secret is None or not isinstance(code, str) or not _CODE.fullmatch(code):
        return None
    clear = (cipher.open(row.totp_secret) if cipher is not None
             else None if TotpCipher.is_sealed(row.totp_secret) else row.totp_secret)
    if clear is None:
        return None
    totp = pyotp.TOTP(clear)
    now = time.time() if at is None else at
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.at(candidate * totp.interval).encode(), code.encode()):
            if row.totp_last_step is not None and candidate <= row.totp_last_step:
                return None  # replayed
            return candidate
    return None


def _claim_step(session: Session, row: Principal, step: int) -> bool:
    """Mark ``step`` used unless it (or a later one) already is: one conditional UPDATE, so
    that of two simultaneous sign-ins with the same code only one gets the step."""
    model = type(row)
    result = session.execute(
        update(model).where(model.id == row.id, or_(
            model.totp_last_step.is_(None), model.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _lock(session: Session, kind: str, value: str) -> None:
    """A transaction-scoped lock on a name or an address (PostgreSQL; on SQLite the
    transaction holds the database's write lock from its BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"rnmail sign-in {kind}\0{value}".encode()).digest()
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": int.from_bytes(digest[:8], "big", signed=True)})


def authenticate(db: Database, who: Principals, cfg: OperatorsConfig, name: str,
                 password: str, code: str | None = None, address_limit: int | None = None,
                 cipher: TotpCipher | None = None) -> str:
    """Check ``name``'s password and, when ``code`` is given (the web), the TOTP code of
    their second factor (its secret opened with ``cipher``); returns the name as stored,
    or raises ``AuthenticationFailed``. The limits: see the module's docstring."""
    window_start = utcnow() - timedelta(minutes=cfg.lockout_minutes)
    client = audit.current_client()
    refusal: RnmailError | None = None
    name = who.normalised(name)
    actor = name[:64]
    with db.transaction() as session:
        if address_limit is not None and client is not None:
            _lock(session, "address", client)
        _lock(session, "name", actor)
        name_window = _since_unlocked(session, who, actor, window_start)
        if _failures(session, AuditEvent.actor == actor, name_window) >= cfg.max_failures:
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
        detail = {"site": "desk"} if who.kind == "staff" else None
        if refusal:
            audit.record(session, actor, "login-locked", detail, success=False)
        else:
            row: Principal | None = session.scalar(  # type: ignore[assignment]
                select(who.model).where(who.key() == name, who.model.active.is_(True))
                .with_for_update())
            reason = None
            stored = row.password_hash if row is not None else None
            if not (_verify(stored or _dummy_hash(), password) and row is not None
                    and stored is not None):
                reason = "password"
            elif code is not None:
                step = matching_step(row, code, cipher=cipher)
                if step is None or not _claim_step(session, row, step):
                    reason = "code" if row.totp_secret else "no second factor"
            if reason is None and row is not None and stored is not None:
                if HASHER.check_needs_rehash(stored):
                    row.password_hash = HASHER.hash(password)
                secret = row.totp_secret
                if code is not None and cipher is not None and secret is not None \
                        and not TotpCipher.is_sealed(secret):
                    row.totp_secret = cipher.seal(secret)  # stored in clear before
                if code is not None:
                    audit.record(session, actor, "login", detail)
                return name
            audit.record(session, actor, "login-failed", {"reason": reason, **(detail or {})},
                         success=False)
            if _failures(session, AuditEvent.actor == actor, name_window) >= cfg.max_failures:
                end_sessions(session, actor, who.kind)  # locked: whoever is signed in is out
    if refusal:
        raise refusal
    if code is not None:
        raise AuthenticationFailed.translatable(who.wrong)
    raise AuthenticationFailed.translatable(
        N_("wrong operator name or password (the attempt is logged)"))


def _since_unlocked(session: Session, who: Principals, name: str,
                    window_start: datetime) -> datetime:
    """The start of the window a name's failures count in: ``lockout_minutes`` ago, or the
    last unlock or new password, if later."""
    unlocked = session.scalar(select(func.max(AuditEvent.at)).where(
        AuditEvent.actor == name, AuditEvent.action.in_(who.unlocked_by)))
    return max(window_start, unlocked + timedelta(microseconds=1)) if unlocked else window_start


def failures(session: Session, who: ColumnElement[bool], since: datetime) -> int:
    """The failed sign-ins matching ``who`` since ``since``."""
    return session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "login-failed", who, AuditEvent.at >= since)) or 0


_failures = failures


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
