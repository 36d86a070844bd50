"""Whether an address taken from received mail can be written to at all.

Requesters' addresses come from headers anyone can forge or mangle; before rnmail answers
one it must be a syntactically valid, ASCII-routable address (IDNA domains are converted).
No DNS is asked: deliverability is the mail server's business, and bounces are tracked.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def deliverable_address(address: str) -> str | None:
    """The address in the form to write to (``a@xn--mller-kva.example``), or None."""
    try:
        checked = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=False,  # no SMTPUTF8 guarantee on the relay: answer by fax/phone
            test_environment=True,  # permits the reserved .test domain of demo data and tests
        )
    except EmailNotValidError:
        return None
    return checked.ascii_email or checked.normalized
