"""Telling users about the register's status: outage notices and the end of an incident.

``change_status`` is the whole of ``rnmail status set`` after the operator's password:
in one transaction it sets the components, records the incident update and the audit
event, queues the notice to the user groups and, when the incident ends, the message to
every requester whose ticket arrived during it. The public page is regenerated right after
the commit (``publish``), so page and mail tell the same thing at the same time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.config import Config
from rnmail.db import Database
from rnmail.dispatch.announce import Notice, announce
from rnmail.dispatch.preview import Preview, preview_notice
from rnmail.errors import RnmailError, Word
from rnmail.i18n import N_
from rnmail.i18n.banners import mail_banner
from rnmail.i18n.formats import Moment, format_time
from rnmail.models import AuditEvent, Incident, IncidentTicket, Ticket, utcnow
from rnmail.status.components import StatusView, current_status, localized, set_status
from rnmail.status.page import publish_status
from rnmail.vocab import AnnouncementKind, StatusState, strings

log = logging.getLogger(__name__)


def comment_context(texts: dict[str, str], language: str) -> dict[str, Any]:
    """``comment`` in the reader's language, and ``comment_language`` when it fell back."""
    found = localized(texts, language)
    if found is None:
        return {"comment": "", "comment_language": None}
    return {"comment": found.text,
            "comment_language": found.language if found.fallback else None}


def component_labels(config: Config, names: list[str], language: str) -> list[str]:
    return [config.status.component(name).label(language) for name in names]


@dataclass(frozen=True)
class StatusResult:
    view: StatusView
    incident_id: int | None
    resolved: bool
    announcement_id: int | None
    linked_notified: int


def change_status(
    db: Database,
    config: Config,
    operator: str,
    state: str,
    components: list[str],
    comment: dict[str, str],
    notify: list[str],
    notify_linked: bool,
    again: bool = False,
) -> StatusResult:
    """Set the status, queue the notices, publish the page; see the module's docstring.
    The same notice to the same groups within ``[status].repeat_window_minutes`` is refused
    unless ``again``: a command run twice (after a send that failed, say) mails nobody twice."""
    with db.transaction() as session:
        if notify and not again:
            _refuse_a_repeat(session, config, state, components, comment, notify)
        change = set_status(session, config.status, state, components, comment, operator)
        announcement = None
        if notify:
            notice = status_notice(config, state, change.components, comment,
                                   change.incident_id)
            announcement = announce(session, config, notice, notify, operator)
        notified = 0
        incident_id = change.incident_id if change.resolved else None
        if notify_linked and incident_id is None and state == StatusState.OPERATIONAL:
            incident_id = last_resolved_incident(session)  # ended without --notify-linked
        if notify_linked and incident_id is not None:
            notified = notify_linked_requesters(session, config, incident_id)
        audit.record(session, operator, "status-set", {
            "state": state, "components": change.components, "comment": comment,
            "groups": notify, "incident": change.incident_id, "resolved": change.resolved,
            "announcement": announcement.id if announcement else None,
            "linked_notified": notified,
        }, recipients=(announcement.recipients if announcement else 0) + notified)
    try:
        view = publish(db, config)
    except OSError as exc:  # committed above: say so, or the operator would set it again
        queued = " and its mail queued" if announcement or notified else ""
        raise RnmailError(
            f"the status change is saved{queued}, but the page could not be written "
            f"({exc.filename or config.status.public_dir}: {exc.strerror or exc}): fix that, "
            "then run `rnmail status publish`") from None
    return StatusResult(view, change.incident_id, change.resolved,
                        announcement.id if announcement else None, notified)


def status_notice(config: Config, state: str, names: list[str], comment: dict[str, str],
                  incident_id: int | None = None) -> Notice:
    """The notice to the groups that ``names`` (components) are now ``state``."""
    now = utcnow()
    everything = len(names) == len(config.status.components)

    def context_for(language: str) -> dict[str, Any]:
        labels = component_labels(config, names, language)
        return {"state": state,
                "banner": mail_banner(state, labels if state == "degraded" else [],
                                      labels if state == "down" else [], everything, language),
                "components": labels,
                "all_components": everything,
                "changed_at": format_time(now, language, config.helpdesk.zone),
                **comment_context(comment, language)}

    return Notice(kind=AnnouncementKind.OUTAGE, template="status_change",
                  context_for=context_for, incident_id=incident_id)


@dataclass(frozen=True)
class StatusPreview:
    """What ``change_status`` would do: the components it sets, whom its notice mails, and
    how many requesters ``notify_linked`` tells that the incident is over."""

    components: list[str]
    notice: Preview
    linked: int


def preview_status_change(db: Database, config: Config, state: str, components: list[str],
                          comment: dict[str, str], notify: list[str], again: bool = False,
                          notify_linked: bool = False) -> StatusPreview:
    """What ``change_status`` would do, nothing written; refused as ``change_status``
    would refuse it."""
    if state not in strings(StatusState):
        raise RnmailError(f"unknown state {state!r}: use {', '.join(StatusState)}")
    names = [config.status.component(name).name for name in components] or [
        c.name for c in config.status.components]
    with db.transaction() as session:
        if notify and not again:
            _refuse_a_repeat(session, config, state, components, comment, notify)
        notice = status_notice(config, state, names, comment)
        preview = preview_notice(session, config, notice, notify)
        linked = (linked_to_tell(session, config, state, components, comment)
                  if notify_linked else 0)
        return StatusPreview(names, preview, linked)


def _refuse_a_repeat(session: Session, config: Config, state: str, components: list[str],
                     comment: dict[str, str], notify: list[str]) -> None:
    window = timedelta(minutes=config.status.repeat_window_minutes)
    names = sorted(components) or sorted(c.name for c in config.status.components)
    for event in session.scalars(select(AuditEvent).where(
            AuditEvent.action == "status-set", AuditEvent.success.is_(True),
            AuditEvent.at >= utcnow() - window).order_by(AuditEvent.at.desc())):
        detail = event.detail or {}
        if (detail.get("announcement") is not None and detail.get("state") == state
                and sorted(detail.get("components") or []) == names
                and (detail.get("comment") or {}) == comment
                and sorted(detail.get("groups") or []) == sorted(notify)):
            raise RnmailError.translatable(
                N_("the same notice ({state}, the same comment) went to {groups} at {time}, "
                   "announcement #{announcement}: not queued again; give --again to send it "
                   "once more"),
                state=Word(state), groups=", ".join(sorted(notify)),
                time=Moment(event.at, config.helpdesk.zone),
                announcement=detail["announcement"])


def publish(db: Database, config: Config) -> StatusView:
    """Regenerate the public status page from the database, as it is now."""
    with db.transaction() as session:
        view = current_status(session, config.status)
    publish_status(view, config.status, config.helpdesk)
    return view


def last_resolved_incident(session: Session) -> int | None:
    """The latest incident, if it is over (so that a forgotten --notify-linked can be
    given again with the next ``status set operational``)."""
    latest = session.scalars(select(Incident).order_by(Incident.id.desc()).limit(1)).first()
    return latest.id if latest and latest.resolved_at is not None else None


def linked_to_tell(session: Session, config: Config, state: str, components: list[str],
                   comment: dict[str, str]) -> int:
    """How many requesters ``change_status`` with ``notify_linked`` would tell that the
    incident is over, nothing written: the change is made in a savepoint and undone, so
    the preview ends the same incident as the change itself would."""
    if state != StatusState.OPERATIONAL:
        return 0
    savepoint = session.begin_nested()
    try:
        change = set_status(session, config.status, state, components, comment, "preview")
        incident_id = change.incident_id if change.resolved else last_resolved_incident(session)
        return sum(1 for _link, _ticket, address in _links_to_tell(session, config, incident_id)
                   if address is not None)
    finally:
        savepoint.rollback()


def linked_preview(db: Database, config: Config, state: str, components: list[str],
                   comment: dict[str, str]) -> int:
    """``linked_to_tell`` in a transaction of its own (the admin's confirmation page)."""
    with db.transaction() as session:
        return linked_to_tell(session, config, state, components, comment)


def _links_to_tell(session: Session, config: Config, incident_id: int | None
                   ) -> list[tuple[IncidentTicket, Ticket, str | None]]:
    """The incident's tickets not told yet, with their requester's address (None: no mail
    address, a call's ticket say)."""
    # Imported here: the replies' module brings the ingest stage's parser along (~50 ms),
    # which every other `status set` would load for nothing.
    from rnmail.dispatch.answer import requester_address

    if incident_id is None:
        return []
    found = []
    for link in session.scalars(select(IncidentTicket).where(
            IncidentTicket.incident_id == incident_id, IncidentTicket.notified_at.is_(None))):
        ticket = session.get(Ticket, link.ticket_id)
        assert ticket is not None
        found.append((link, ticket, requester_address(config, ticket)))
    return found


def notify_linked_requesters(session: Session, config: Config, incident_id: int) -> int:
    """Tell every requester whose ticket arrived during the incident that it is over, in
    their ticket's thread and language; each ticket once, whatever reruns."""
    from rnmail.dispatch.answer import reply_in_thread

    incident = session.get(Incident, incident_id)
    assert incident is not None and incident.resolved_at is not None
    updates = incident.updates
    names = list(dict.fromkeys(n for u in updates if u.state != StatusState.OPERATIONAL
                               for n in u.components))
    last_comment = next((u.comment for u in reversed(updates) if u.comment), {})
    count = 0
    for link, ticket, address in _links_to_tell(session, config, incident_id):
        link.notified_at = utcnow()
        if address is None:
            continue
        language = ticket.language
        reply_in_thread(session, config, ticket, "incident_solved", {
            "requester_name": ticket.requester_name or "",
            "components": component_labels(config, names, language),
            "started_at": format_time(incident.started_at, language, config.helpdesk.zone),
            "resolved_at": format_time(incident.resolved_at, language, config.helpdesk.zone),
            "status_url": config.status.public_url, "language": language,
            **comment_context(last_comment, language),
        }, purpose="incident-solved", author="rnmail")
        count += 1
    log.info("incident %d resolved: %d requester(s) told", incident_id, count)
    return count


def disturbance(config: Config, view: StatusView, language: str) -> dict[str, Any] | None:
    """What an acknowledgement says while some component is degraded or down."""
    disturbed = [c for c in view.components if c.state != StatusState.OPERATIONAL]
    if not disturbed:
        return None
    texts = next((c.comment for c in disturbed if c.comment), {})
    down = [c.name for c in disturbed if c.state == StatusState.DOWN]
    degraded = [c.name for c in disturbed if c.state != StatusState.DOWN]
    everything = len(down) == len(view.components)  # the register's own banner says it all
    return {"banner": mail_banner(view.overall, component_labels(config, degraded, language),
                                  component_labels(config, down, language), everything,
                                  language),
            "components": component_labels(config, [c.name for c in disturbed], language),
            "comment": comment_context(texts, language)["comment"]}
