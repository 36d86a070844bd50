"""The staff members' credentials for the desk: a password (``rnmail staff passwd``), a
second factor (``rnmail staff totp``), signing in and unlocking.

How it is checked is ``rnmail.auth.signin`` (the same as the operators'): a staff member
signs in with their e-mail address. A new password or second factor, a removed member
(``rnmail.tickets.team.remove_staff``) or a lockout ends all of that member's desk
sessions at once. A staff member is not an operator: the desk's sessions do not open the
admin, and an operator's do not open the desk.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.auth.sessions import end_sessions
from rnmail.auth.signin import STAFF, TotpCipher, hashed_password, new_totp
from rnmail.auth.signin import authenticate as _authenticate
from rnmail.config import OperatorsConfig
from rnmail.db import Database
from rnmail.errors import RnmailError
from rnmail.models import Staff, utcnow
from rnmail.tickets.lifecycle import find_staff


def _member(session: Session, email: str) -> Staff:
    member = find_staff(session, email.strip())
    if not member.active:
        raise RnmailError(f"{member.email} is not on the staff (`rnmail staff add` first)")
    return member


def set_password(session: Session, email: str, password: str) -> Staff:
    """Set a staff member's desk password; their desk sessions end; audited."""
    member = _member(session, email)
    member.password_hash = hashed_password(password)
    member.password_changed_at = utcnow()
    end_sessions(session, member.email, "staff")
    audit.record(session, member.email[:64], "staff-passwd", {"staff": member.email})
    return member


def enable_totp(session: Session, email: str, *, cipher: TotpCipher) -> str:
    """A new second factor for the desk (replacing the old); returns the ``otpauth://``
    URI. The member's desk sessions end; audited."""
    member = _member(session, email)
    uri = new_totp(member, member.email, cipher)
    end_sessions(session, member.email, "staff")
    audit.record(session, member.email[:64], "staff-totp", {"staff": member.email})
    return uri


def unlock(session: Session, email: str, by: str | None = None) -> Staff:
    """Let a locked-out staff member sign in again at once; audited."""
    member = _member(session, email)
    audit.record(session, member.email[:64], "staff-unlock",
                 {"staff": member.email, "by": by or "cli"})
    return member


def authenticate(db: Database, cfg: OperatorsConfig, email: str, password: str, code: str,
                 address_limit: int | None, cipher: TotpCipher) -> str:
    """A staff member's address, password and code checked (``signin.authenticate``);
    returns the address as stored, or raises ``AuthenticationFailed``."""
    return _authenticate(db, STAFF, cfg, email, password, code, address_limit, cipher)


def member_by_address(session: Session, email: str) -> Staff | None:
    """The active staff member with this address (the remote-user header's), or None."""
    return session.scalar(select(Staff).where(Staff.email == email.strip().lower(),
                                              Staff.active.is_(True)))


def proxy_sign_in(db: Database, email: str) -> str | None:
    """A staff member named by the trusted reverse proxy's header (``[web].
    remote_user_header``) signs in without password or code (the proxy did that):
    audited as a ``login`` through the proxy. Returns their address, or None — a
    failure, audited — when no active member has it."""
    with db.transaction() as session:
        member = member_by_address(session, email)
        if member is None:
            audit.record(session, email.strip().lower()[:64], "login-failed",
                         {"reason": "remote user not on the staff", "site": "desk"},
                         success=False)
            return None
        audit.record(session, member.email[:64], "login", {"site": "desk",
                                                            "via": "remote-user"})
        return member.email


def set_privacy_officer(session: Session, email: str, grant: bool, by: str) -> bool:
    """Let a staff member answer access and erasure requests on the desk (``/desk/privacy``),
    or no longer; audited. Returns False (nothing recorded) when it already was so."""
    member = _member(session, email)
    if member.privacy_officer == grant:
        return False
    member.privacy_officer = grant
    audit.record(session, by[:64], "staff-privacy-grant" if grant else "staff-privacy-revoke",
                 {"staff": member.email})
    return True
