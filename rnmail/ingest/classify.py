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
    bounce = mail.delivery_report
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
    if mail.get("List-Id") or mail.get("List-Unsubscribe"):
        return "mailing list (List-Id)"
    if mail.header("X-Auto-Response-Suppress").strip().lower() in {"all", "oof", "autoreply"}:
        return "X-Auto-Response-Suppress"
    if mail.get("X-Autoreply") or mail.get("X-Autorespond"):
        return "X-Autoreply"
    if str(mail.get("Content-Type") or "").partition(";")[0].strip().lower() == (
            "multipart/report"):  # get_content_type() read every header again
        return "report (e.g. a read receipt)"
    if null_return_path(mail):
        return "null return path (Return-Path: <>)"
    if not mail.from_addr:  # no From mailbox, or several: nobody to answer or to trust
        return f"no verifiable sender ({mail.sender_problem})" if mail.sender_problem else (
            "no sender address")
    if mail.from_addr in own_addresses:
        return "sent by the help desk itself"
    if _ROBOT_LOCALPART.match(mail.from_addr.split("@", 1)[0]):
        return f"automatic sender {mail.from_addr}"
    return None


# Subjects delivery reports carry, in the languages of our correspondents (en, fr, nl, de),
# anchored at the start (a person forwarding one writes "Fwd: Undeliverable: ...").
_REPORT_SUBJECT = re.compile(
    r"^\s*(\[[^\]]*\]\s*)?("
    # en
    r"undeliver(ed|able)\b|undelivered mail returned to sender|"
    r"delivery status notification \((failure|delay)\)|delivery (status )?failure|"
    r"delivery notification|non-?delivery\b|delivery has failed|"
    r"mail delivery failed|mail delivery failure|failure notice|returned mail\b|"
    r"permanent delivery failure|temporary delivery failure|mail could not be delivered|"
    r"message could not be delivered|message not delivered|delayed mail|"
    r"warning: could not send message|mail system error|message status - undeliverable|"
    r"could not send message|delivery failure|delivery status notification\b|"
    r"warning: temporary delivery failure|warning: message \S+ delayed|"
    r"notice: mail delivery status|"
    # fr
    r"non remis|non distribuable|\u00e9chec de (la )?(remise|distribution)|"
    r"echec de (la )?(remise|distribution)|"
    r"message non (remis|d\u00e9livr\u00e9|delivre)|avis de non-?remise|"
    r"retour de courrier|courrier non (remis|distribu\u00e9)|"
    # nl
    r"onbestelbaar|niet afgeleverd|niet bezorgd|bezorging (is )?mislukt|"
    r"bericht kon niet worden (afgeleverd|bezorgd)|"
    # de
    r"unzustellbar|nicht zustellbar|zustellung fehlgeschlagen|"
    r"unzustellbare nachricht|fehler bei der (nachrichten)?zustellung|"
    r"r\u00fcckmeldung zur zustellung"
    r")",
    re.IGNORECASE,
)
# Senders of delivery reports (local part, or display name).
_REPORT_SENDER = re.compile(
    r"^(mailer-?daemon|mail-?daemon|postmaster|mdaemon|imss|mail-?router|"
    r"mail-?delivery(-?(system|subsystem))?)([+._-].*)?$",
    re.IGNORECASE,
)
_REPORT_SENDER_NAME = re.compile(
    r"mail delivery (system|subsystem)|mailer[- ]daemon|postmaster|mail router|"
    r"system administrator|microsoft (outlook|exchange)|mdaemon",
    re.IGNORECASE,
)


def null_return_path(mail: ParsedMail) -> bool:
    """The envelope sender is empty (``Return-Path: <>``, written by the delivering server):
    how RFC 5321 says delivery reports must be sent."""
    value = mail.get("Return-Path")
    return value is not None and str(value).strip().replace(" ", "") in {"<>", ""}


def report_sender(mail: ParsedMail) -> bool:
    """From a mail system (mailer-daemon, postmaster, MDaemon, ...), not a person."""
    if _REPORT_SENDER.match(mail.from_addr.split("@", 1)[0]):
        return True
    return bool(mail.from_name and _REPORT_SENDER_NAME.search(mail.from_name))


def delivery_report(mail: ParsedMail) -> Classification | None:
    """A delivery report: a DSN (``multipart/report; report-type=delivery-status``), a
    message with ``X-Failed-Recipients``, or one from a mail system (null return path or a
    mail-system sender) that flufl.bounce's detectors read failures from or that carries a
    known report subject. A mail-system sender alone makes an uncertain one: it counts
    only if it names a mail we sent (``ingest.bounce``). Read receipts and out-of-office
    replies are not reports."""
    msg = mail.message
    is_report = msg.get_content_type() == "multipart/report"
    report_type = str(msg.get_param("report-type", "", header="content-type") or "").lower()
    if is_report and report_type not in {"delivery-status", ""}:
        return None  # e.g. a read receipt (disposition-notification): not a bounce
    null_sender = null_return_path(mail) or not mail.from_addr
    robot = report_sender(mail)
    subject = bool(_REPORT_SUBJECT.match(mail.subject or ""))
    failed_header = mail.get("X-Failed-Recipients") is not None
    if not (is_report or failed_header or null_sender or robot):
        # A person writing, even under a report's subject (a forwarded report, a question):
        # flufl.bounce is not asked (its patterns read free text).
        return None
    temporary, permanent = _flufl(mail)
    certain = is_report or failed_header or bool(temporary or permanent or subject)
    if not certain and not robot:
        return None  # e.g. an out-of-office reply sent with a null return path
    return Classification(
        kind="bounce",
        auto_reason="delivery status notification",
        permanent_failures=frozenset(_text(a) for a in permanent),
        temporary_failures=frozenset(_text(a) for a in temporary) - {_text(a) for a in permanent},
        certain=certain,
    )


def _flufl(mail: ParsedMail) -> tuple[frozenset[bytes | str], frozenset[bytes | str]]:
    """flufl.bounce's (temporary, permanent) failures; empty when its detectors fail."""
    try:
        temporary, permanent = all_failures(mail.message)
    except Exception:
        # Some detectors expect policy.default headers (raw 8-bit ones break them under
        # compat32): retry once on a strictly parsed copy, then give up on details.
        try:
            strict = email.message_from_bytes(mail.raw, policy=email.policy.default)
            temporary, permanent = all_failures(strict)
        except Exception:
            return frozenset(), frozenset()
    return frozenset(temporary), frozenset(permanent)


def _text(address: bytes | str) -> str:
    value = address.decode("utf-8", "replace") if isinstance(address, bytes) else address
    return value.strip().strip("<>").lower()
