"""Whether an address can be written to at all.

Requesters' addresses come from headers anyone can forge or mangle, and address lists come
from spreadsheets; before rnmail writes to one it must be a syntactically valid,
ASCII-routable address (IDNA domains are converted). No DNS is asked: deliverability is the
mail server's business, and bounces are tracked.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def check_address(address: str) -> tuple[str | None, str | None]:
    """``(address in the form to write to, None)``, or ``(None, why it is refused)``.

    Remembered: the same requesters write again and again, and the check is pure (no DNS)
    and costs more than the rest of opening their ticket. email_validator is imported at
    the first check, not with this module: its import (~40 ms, its grammar's regular
    expressions) was paid by every command that might check an address, ``status set
    --notify`` included, before doing anything."""
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=False,  # no SMTPUTF8 guarantee on the relay: answer by fax/phone
            test_environment=True,  # permits the reserved .test domain of demo data and tests
        )
    except EmailNotValidError as exc:
        return None, str(exc)
    return checked.ascii_email or checked.normalized, None


def deliverable_address(address: str) -> str | None:
    """The address in the form to write to (``a@xn--mller-kva.example``), or None."""
    return check_address(address)[0]
