"""Classify: is this a bounce, an automatic mail, or a person writing to the help desk?

Bounces never become tickets (the ``bounce`` stage records them). Automatic mail
(RFC 3834 Auto-Submitted, bulk/list precedence, mailer-daemon and no-reply senders, our own
addresses) is stored like any other but is never acknowledged, which is what breaks loops.

Next stage: ``bounce`` for bounces, ``thread`` otherwise.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass

from flufl.bounce import all_failures

from rnmail.ingest.parse import ParsedMail

_ROBOT_LOCALPART = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|ne-?pas-?repondre|"
    r"niet-?antwoorden|bounces?|daemon)([+._-].*)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Classification:
    kind: str  # "bounce" | "requester"
    auto_reason: str | None = None  # why we must not answer automatically
    permanent_failures: frozenset[str] = frozenset()
    temporary_failures: frozenset[str] = frozenset()
    certain: bool = False  # a delivery report, or failed recipients found in it

    @property
    def is_auto(self) -> bool:
        return self.auto_reason is not None


def classify_message(mail: ParsedMail, own_addresses: frozenset[str]) -> Classification:
    bounce = _bounce(mail)
    if bounce is not None:
        return bounce
    return Classification(kind="requester", auto_reason=auto_reply_reason(mail, own_addresses))


def auto_reply_reason(mail: ParsedMail, own_addresses: frozenset[str]) -> str | None:
    """Why this mail must get no automatic answer (RFC 3834 §2), or None if it may."""
    auto_submitted = mail.header("Auto-Submitted").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return f"Auto-Submitted: {auto_submitted}"
    precedence = mail.header("Precedence").strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {precedence}"
    if mail.message.get("List-Id") or mail.message.get("List-Unsubscribe"):
        return "mailing list (List-Id)"
    if mail.header("X-Auto-Response-Suppress").strip().lower() in {"all", "oof", "autoreply"}:
        return "X-Auto-Response-Suppress"
    if mail.message.get("X-Autoreply") or mail.message.get("X-Autorespond"):
        return "X-Autoreply"
    if not mail.from_addr:  # no From mailbox, or several: nobody to answer or to trust
        return f"no verifiable sender ({mail.sender_problem})" if mail.sender_problem else (
            "no sender address")
    if mail.from_addr in own_addresses:
        return "sent by the help desk itself"
    if _ROBOT_LOCALPART.match(mail.from_addr.split("@", 1)[0]):
        return f"automatic sender {mail.from_addr}"
    return None


def _bounce(mail: ParsedMail) -> Classification | None:
    msg = mail.message
    is_report = msg.get_content_type() == "multipart/report"
    from_robot = bool(_ROBOT_LOCALPART.match(mail.from_addr.split("@", 1)[0])) and (
        mail.from_addr.split("@", 1)[0].lower().startswith(("mailer-daemon", "postmaster"))
    )
    if not (is_report or from_robot or not mail.from_addr):
        return None
    report_type = str(msg.get_param("report-type", "", header="content-type") or "").lower()
    if is_report and report_type not in {"delivery-status", ""}:
        return None  # e.g. a read receipt (disposition-notification): not a bounce
    temporary: set[bytes] | frozenset[bytes]
    permanent: set[bytes] | frozenset[bytes]
    try:
        temporary, permanent = all_failures(msg)
    except Exception:
        # Some detectors expect policy.default headers (raw 8-bit ones break them under
        # compat32): retry once on a strictly parsed copy, then give up on details.
        try:
            strict = email.message_from_bytes(mail.raw, policy=email.policy.default)
            temporary, permanent = all_failures(strict)
        except Exception:
            temporary, permanent = frozenset(), frozenset()
    if not (temporary or permanent or is_report or from_robot):
        return None
    return Classification(
        kind="bounce",
        auto_reason="delivery status notification",
        permanent_failures=frozenset(_text(a) for a in permanent),
        temporary_failures=frozenset(_text(a) for a in temporary) - {_text(a) for a in permanent},
        certain=bool(is_report or temporary or permanent),
    )


def _text(address: bytes | str) -> str:
    value = address.decode("utf-8", "replace") if isinstance(address, bytes) else address
    return value.strip().strip("<>").lower()
