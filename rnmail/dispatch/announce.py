"""Announce: one notice to every member of some user groups, each in their language.

The template is rendered once per language and its MIME body stored once (``OutboxBody``);
each recipient only gets a few personal header lines (To, Message-ID, List-Id), so a mailing
to 10,000 addresses costs 10,000 small rows, not 10,000 renderings. The rows go into the
outbox in the caller's transaction, with the announcement and its ``step_key``: a notice is
queued exactly once, or not at all.

Next stage: ``outbox`` → ``send``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast

from jinja2 import TemplateNotFound, UndefinedError
from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.config import Config
from rnmail.db import Database, insert_rows
from rnmail.directory.groups import Recipient, recipients
from rnmail.directory.sheets import CONTROL_RE
from rnmail.dispatch.compose import (
    Attachment,
    encode_header,
    format_address,
    header_block,
    mime_body,
)
from rnmail.dispatch.render import MAIL, TEMPLATES, Rendered, render
from rnmail.dispatch.suppression import suppressed_addresses
from rnmail.dispatch.variables import SUFFIX, parse_variables, template_variables
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n.banners import banner
from rnmail.i18n.formats import format_time
from rnmail.models import Announcement, OutboxBody, OutboxMessage, utcnow
from rnmail.shapes import AnnouncementInfo, AnnouncementStatus
from rnmail.util.addresses import deliverable_address
from rnmail.util.gcpause import gc_paused
from rnmail.util.tokens import make_message_ids
from rnmail.vocab import AnnouncementKind, OutboxState, strings

MAILINGS = TEMPLATES / "mailings"
TEST_PREFIX = "[TEST] "  # the subject of a sample sent with ``announce --test-to``
log = logging.getLogger(__name__)

ContextFor = Callable[[str], dict[str, Any]]  # language → template variables


@dataclass(frozen=True)
class Notice:
    """What to send: a template, its variables per language, and what it belongs to."""

    kind: str  # an AnnouncementKind, or maintenance-<MaintenanceStep>
    template: str
    context_for: ContextFor
    attachments: tuple[Attachment, ...] = ()
    directories: tuple[Path, ...] = (MAIL,)
    step_key: str | None = None  # names a notification step: it is queued once, ever
    maintenance_id: int | None = None
    incident_id: int | None = None
    note: str | None = None
    subject_prefix: str = ""  # "[TEST] " on the samples of ``send_test``


def mailing_directories(config: Config) -> tuple[Path, ...]:
    """Where document mailings (``announce --template``) are looked up, first match wins."""
    extra = config.dispatch.templates_dir
    return (extra, MAILINGS) if extra else (MAILINGS,)


def common_context(config: Config, language: str) -> dict[str, Any]:
    hd = config.helpdesk
    return {
        "helpdesk_name": hd.name,
        "helpdesk_address": hd.address,
        "phone": hd.phone,
        "fax": hd.fax,
        "opening_hours": hd.opening_hours,
        "contact": config.dispatch.contact,
        "status_url": config.status.public_url,
        "language": language,
    }


def render_notice(config: Config, notice: Notice, language: str) -> Rendered:
    context = {**common_context(config, language), **notice.context_for(language)}
    try:
        rendered = render(notice.template, language, config.helpdesk.default_language,
                          context, notice.directories, helpdesk=config.helpdesk)
    except TemplateNotFound:
        raise NotFound(f"no template {notice.template!r} (see `rnmail template list`)") from None
    except UndefinedError as exc:
        raise RnmailError(f"template {notice.template!r}: {exc.message}; "
                          "give it with --var NAME=VALUE") from None
    if notice.subject_prefix:
        rendered = replace(rendered, subject=notice.subject_prefix + rendered.subject)
    return rendered


@gc_paused()  # tens of thousands of rows, no cycles: see rnmail.util.gcpause
def announce(
    session: Session,
    config: Config,
    notice: Notice,
    groups: list[str],
    operator: str,
    to: list[Recipient] | None = None,
) -> Announcement | None:
    """Queue ``notice`` for every member of ``groups`` (or for ``to``); None when its step
    was already queued (by an earlier run, or by another instance at the same moment)."""
    if notice.step_key and session.scalar(
            select(Announcement.id).where(Announcement.step_key == notice.step_key)):
        return None
    members = to if to is not None else recipients(session, groups)
    record = Announcement(kind=notice.kind, step_key=notice.step_key, template=notice.template,
                          groups=groups, maintenance_id=notice.maintenance_id,
                          incident_id=notice.incident_id, operator=operator,
                          recipients=len(members), note=notice.note)
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:  # the same step, queued by another instance just now
        return None
    suppressed = suppressed_addresses(session, [m.email for m in members])
    bodies = {lang: _shared_part(session, config, notice, lang)
              for lang in dict.fromkeys(m.language for m in members)}
    domain = config.helpdesk.address.rsplit("@", 1)[-1]
    kind = f"a{record.id}"
    now = utcnow()
    rows = []
    message_ids = make_message_ids(config.helpdesk.secret, domain, kind, None, len(members))
    for member, message_id in zip(members, message_ids, strict=True):
        body_id, shared_headers, subject = bodies[member.language]
        state = "suppressed" if member.email in suppressed else "queued"
        why = unusable(member)
        raw = b""
        if why is None:
            try:
                raw = shared_headers + header_block([
                    ("To", format_address(member.name, member.email)),
                    ("Message-ID", message_id),
                    ("List-Id", f"<{member.group}.{config.dispatch.list_domain}>"),
                ]).encode("ascii")
            except (ValueError, UnicodeError) as exc:  # UnicodeError is a ValueError
                why = f"cannot write the mail: {exc}"
        if why is not None:
            # One bad member row must not stop the notice to the others, nor the status
            # change that sends it: this one is recorded as failed, with the reason.
            log.warning("announcement %d: not sent to %r: %s", record.id, member.email, why)
            state = "failed"
        rows.append({
            "purpose": notice.kind, "automatic": False, "message_id": message_id,
            "mail_from": config.helpdesk.address, "to_addr": member.email[:320],
            "subject": subject, "raw": raw, "state": state, "last_reply": why,
            "attempts": 0, "next_attempt_at": now, "created_at": now,
            "announcement_id": record.id, "body_id": body_id,
        })
    insert_rows(session, cast(Table, OutboxMessage.__table__), rows)
    return record


# An address we can put in an envelope and a To header as it is: printable ASCII, one @,
# none of the characters that end or split an address.
_PLAIN_ADDRESS = re.compile(r"[!#-'*+\--9=?A-Z^-~]+@[!#-'*+\--9=?A-Z^-~]+\Z")


def unusable(member: Recipient) -> str | None:
    """Why a member row (imported before imports were checked, or written by hand in the
    database) cannot be mailed; None when it can."""
    if not _PLAIN_ADDRESS.match(member.email):
        return f"unusable address {member.email!r}"
    if CONTROL_RE.search(member.name):
        return f"control character in the name {member.name!r}"
    return None


def _shared_part(session: Session, config: Config, notice: Notice, language: str
                 ) -> tuple[int, bytes, str]:
    """(body id, the headers every recipient in ``language`` shares, subject)."""
    rendered = render_notice(config, notice, language)
    body = mime_body(rendered, list(notice.attachments)).encode("ascii")
    digest = hashlib.sha256(body).hexdigest()
    body_id = session.scalar(select(OutboxBody.id).where(OutboxBody.sha256 == digest))
    if body_id is None:
        row = OutboxBody(sha256=digest, data=body)
        session.add(row)
        session.flush()
        body_id = row.id
    hd = config.helpdesk
    shared = header_block([
        ("From", format_address(hd.name, hd.address, "From")),
        ("Subject", encode_header(rendered.subject, "Subject")),
        ("Date", format_datetime(utcnow())),
        ("MIME-Version", "1.0"),
        ("Content-Language", rendered.language),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
        ("Precedence", "bulk"),
        ("List-Help", f"<mailto:{hd.address}>"),
    ])
    return body_id, shared.encode("ascii"), rendered.subject


def announcement_status(session: Session, announcement_id: int) -> AnnouncementStatus:
    """Counts per delivery state; ``finished`` when every row has reached a final state."""
    record = session.get(Announcement, announcement_id)
    if record is None:
        raise NotFound(f"no announcement #{announcement_id}")
    counts = dict.fromkeys(strings(OutboxState), 0)
    for state, n in session.execute(
            select(OutboxMessage.state, func.count())
            .where(OutboxMessage.announcement_id == announcement_id)
            .group_by(OutboxMessage.state)):
        counts[state] = int(n)
    return {
        **announcement_json(record),
        "counts": counts,
        "finished": counts[OutboxState.QUEUED] == 0 and counts[OutboxState.SENDING] == 0,
    }


def announcement_json(record: Announcement) -> AnnouncementInfo:
    return {
        "id": record.id, "kind": record.kind, "template": record.template,
        "groups": record.groups, "operator": record.operator, "recipients": record.recipients,
        "step": record.step_key, "maintenance_id": record.maintenance_id,
        "incident_id": record.incident_id, "note": record.note,
        "created_at": record.created_at.isoformat(),
    }


def list_announcements(session: Session, limit: int = 50) -> list[Announcement]:
    return list(session.scalars(select(Announcement).order_by(Announcement.id.desc())
                                .limit(limit)))


def retry_failed(session: Session, announcement_id: int) -> int:
    """Queue the failed deliveries of an announcement again; returns how many. Rows that
    could not even be written (an unusable member, ``unusable``: no mail in ``raw``) stay
    failed: correct the member and announce again."""
    if session.get(Announcement, announcement_id) is None:
        raise NotFound(f"no announcement #{announcement_id}")
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.announcement_id == announcement_id,
               OutboxMessage.state == OutboxState.FAILED, OutboxMessage.raw != b"")
        .values(state=OutboxState.QUEUED, attempts=0, next_attempt_at=utcnow(), lease_until=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- mailings


def mailing_notice(config: Config, template: str, variables: dict[str, str],
                   files: list[tuple[str, str, bytes]]) -> Notice:
    """A document mailing (``announce --template``): the sender's variables (``body``,
    ``body.fr``...: ``rnmail.dispatch.variables``), checked against the template's, and
    the attachments."""
    directories = mailing_directories(config)
    allowed = template_variables(directories, template)
    given = parse_variables(variables, allowed, template)
    names = [name for name, _, _ in files]
    defaults = {"reference": "", "subject": "",
                **{f"{name}{SUFFIX}": None for name in allowed}}

    def context_for(language: str) -> dict[str, Any]:
        return {**defaults, **given.context(language), "attachments": names}

    return Notice(kind=AnnouncementKind.MAILING, template=template, context_for=context_for,
                  attachments=tuple(Attachment(n, t, d) for n, t, d in files),
                  directories=directories)


def send_mailing(db: Database, config: Config, notice: Notice, groups: list[str],
                 operator: str) -> Announcement:
    with db.transaction() as session:
        record = announce(session, config, notice, groups, operator)
        assert record is not None  # a mailing has no step key
        audit.record(session, operator, "announce", {
            "announcement": record.id, "template": notice.template, "groups": groups,
            "attachments": [a.filename for a in notice.attachments]},
            recipients=record.recipients)
    return record


def test_notice(notice: Notice) -> Notice:
    """The samples of ``notice`` that ``send_test`` sends: marked as tests in their
    subject, so that nobody takes one for the mailing itself."""
    return replace(notice, kind=AnnouncementKind.TEST, subject_prefix=TEST_PREFIX,
                   step_key=None)


def test_samples(session: Session, groups: list[str], address: str) -> list[Recipient]:
    """One sample per language of the groups' members, all to ``address``."""
    to = deliverable_address(address)
    if to is None:
        raise RnmailError(f"--test-to {address!r} is not a valid address")
    languages = dict.fromkeys(m.language for m in recipients(session, groups))
    return [Recipient(to, "", lang, None, None, "test") for lang in languages]


def send_test(db: Database, config: Config, notice: Notice, groups: list[str], address: str,
              operator: str) -> Announcement:
    """One sample per language of the groups' members, all to ``address``, its subject
    marked ``[TEST]``."""
    with db.transaction() as session:
        samples = test_samples(session, groups, address)
        to = deliverable_address(address)
        languages = [s.language for s in samples]
        test = test_notice(notice)
        record = announce(session, config, test, [], operator, to=samples)
        assert record is not None
        audit.record(session, operator, "announce-test", {
            "announcement": record.id, "template": notice.template, "to": to,
            "languages": list(languages)}, recipients=record.recipients)
    return record


NOTICE_TEMPLATES = ("status_change", "maintenance", "incident_solved")


def list_templates(config: Config) -> list[dict[str, Any]]:
    """Mailing templates (first directory wins) and the notices rnmail sends itself."""
    found: dict[str, dict[str, Any]] = {}
    places = [(d, "mailing") for d in mailing_directories(config)] + [(MAIL, "notice")]
    for directory, kind in places:
        for path in sorted(directory.glob("*.*.j2")):
            name, lang = path.name[:-3].rsplit(".", 1)
            if kind == "notice" and name not in NOTICE_TEMPLATES:
                continue
            entry = found.setdefault(name, {"name": name, "kind": kind, "languages": [],
                                            "directory": str(directory)})
            if entry["directory"] == str(directory):
                entry["languages"].append(lang)
    return sorted(found.values(), key=lambda e: (e["kind"], e["name"]))


def preview_template(config: Config, name: str, language: str,
                     variables: dict[str, str]) -> Rendered:
    """Render a template in ``language``: notices with sample values, mailings with
    ``variables``."""
    if name not in NOTICE_TEMPLATES:
        return render_notice(config, mailing_notice(config, name, variables, []), language)
    sample = {**_notice_sample(config, name, language), **variables}
    notice = Notice(kind=AnnouncementKind.PREVIEW, template=name,
                    context_for=lambda _language: sample)
    return render_notice(config, notice, language)


def _notice_sample(config: Config, name: str, language: str) -> dict[str, Any]:
    zone = config.helpdesk.zone
    start = datetime(2026, 12, 5, 18, 0, tzinfo=zone)

    def at(hours: float) -> str:
        return format_time(start + timedelta(hours=hours), language, zone)

    common = {"components": [c.label(language) for c in config.status.components],
              "comment": "", "comment_language": None}
    if name == "status_change":
        return {**common, "state": "degraded", "banner": banner("degraded", language),
                "all_components": False, "changed_at": at(-4)}
    if name == "maintenance":
        return {**common, "step": "announcement", "maintenance_id": 1,
                "starts_at": at(0), "ends_at": at(3),
                "duration_hours": 3, "duration_minutes": 0}
    return {**common, "tag": "RN", "ticket_id": 1234, "subject": "Clé d'accès",
            "requester_name": "", "started_at": at(-4), "resolved_at": at(-2.5)}

