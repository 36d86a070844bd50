"""System status: each component's position, the incidents, and what the public page shows.

A component's position is the one set by hand (``ComponentState``), made worse by any
planned maintenance running now. Maintenance is derived from its start and end times, not
from a job having run, so the page is right even if no scheduler was up at the start.
Leaving ``operational`` opens an incident; every change is an update of it; the incident is
resolved when every component is set back to ``operational``.

Texts (comments) are kept per language as written, never machine-translated: ``localized``
picks the reader's language or falls back, saying so, to another one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.config import STATUS_LANGUAGES, StatusConfig
from rnmail.errors import RnmailError
from rnmail.i18n import N_
from rnmail.models import (
    ComponentState,
    Incident,
    IncidentTicket,
    IncidentUpdate,
    Maintenance,
    Ticket,
    utcnow,
)
from rnmail.vocab import MaintenancePhase, MaintenanceState, StatusState, strings

if TYPE_CHECKING:  # the JSON shapes are types only: `status show` need not build them
    from rnmail.shapes import StatusJson

SEVERITY: dict[str, int] = {state: rank for rank, state in enumerate(StatusState)}
FALLBACK_ORDER = ("fr", "nl", "de", "en")


@dataclass(frozen=True)
class Localized:
    text: str
    language: str  # the language ``text`` is written in
    fallback: bool  # True when the reader's language was missing


def localized(texts: dict[str, str], language: str) -> Localized | None:
    """The text in ``language``, else in the first language that has one (visibly)."""
    if texts.get(language):
        return Localized(texts[language], language, False)
    for other in FALLBACK_ORDER:
        if texts.get(other):
            return Localized(texts[other], other, True)
    return None


MAX_COMMENT = 500  # characters per language: a short comment, as on the register's page


def comment_texts(common: str | None, per_language: dict[str, str | None]) -> dict[str, str]:
    """One comment for all languages, overridden by the ones written per language."""
    common = (common or "").strip()
    texts = {lang: common for lang in STATUS_LANGUAGES} if common else {}
    texts.update({lang: text.strip() for lang, text in per_language.items()
                  if text and text.strip()})
    for lang, text in texts.items():
        if len(text) > MAX_COMMENT:
            raise RnmailError.translatable(
                N_("the comment ({language}) has {length} characters: at most {most}"),
                language=lang, length=len(text), most=MAX_COMMENT)
    return texts


def worst(states: list[str]) -> str:
    return max(states, key=SEVERITY.__getitem__, default=StatusState.OPERATIONAL)


@dataclass(frozen=True)
class ComponentView:
    name: str
    labels: dict[str, str]
    state: str
    comment: dict[str, str]
    updated_at: datetime | None
    maintenance_id: int | None  # set when the position comes from a running maintenance


@dataclass(frozen=True)
class MaintenanceView:
    id: int
    starts_at: datetime
    ends_at: datetime
    components: list[str]
    groups: list[str]
    comment: dict[str, str]
    state: MaintenancePhase


@dataclass(frozen=True)
class UpdateView:
    at: datetime
    state: str
    components: list[str]
    comment: dict[str, str]


@dataclass(frozen=True)
class IncidentView:
    id: int
    started_at: datetime
    resolved_at: datetime | None
    updates: list[UpdateView]


@dataclass(frozen=True)
class StatusView:
    """Everything the status page, ``status show`` and ``status.json`` show."""

    overall: str
    updated_at: datetime | None
    components: list[ComponentView]
    maintenance: list[MaintenanceView]  # upcoming and in progress, soonest first
    incidents: list[IncidentView]  # open and recently resolved, newest first
    generated_at: datetime

    def as_json(self) -> StatusJson:
        return {
            "overall": self.overall,
            "updated_at": _iso(self.updated_at),
            "components": [
                {
                    "name": c.name,
                    "state": c.state,
                    "comment": _one_comment(c.comment),
                    "comments": c.comment,
                    "labels": c.labels,
                    "updated_at": _iso(c.updated_at),
                    "maintenance_id": c.maintenance_id,
                }
                for c in self.components
            ],
            "maintenance": [
                {"id": m.id, "starts_at": _iso(m.starts_at), "ends_at": _iso(m.ends_at),
                 "components": m.components, "state": m.state, "comments": m.comment}
                for m in self.maintenance
            ],
            "incidents": [
                {"id": i.id, "started_at": _iso(i.started_at),
                 "resolved_at": _iso(i.resolved_at),
                 "updates": [{"at": _iso(u.at), "state": u.state, "components": u.components,
                              "comments": u.comment} for u in i.updates]}
                for i in self.incidents
            ],
            "generated_at": _iso(self.generated_at),
        }


def maintenance_phase(item: Maintenance, now: datetime) -> MaintenancePhase:
    if item.state == MaintenanceState.CANCELLED:
        return MaintenancePhase.CANCELLED
    if now < item.starts_at:
        return MaintenancePhase.SCHEDULED
    return MaintenancePhase.IN_PROGRESS if now < item.ends_at else MaintenancePhase.DONE


def current_status(session: Session, cfg: StatusConfig, now: datetime | None = None) -> StatusView:
    now = now or utcnow()
    manual = {row.name: row for row in session.scalars(select(ComponentState))}
    maintenance = list(session.scalars(
        select(Maintenance)
        .where(Maintenance.state == MaintenanceState.SCHEDULED, Maintenance.ends_at > now)
        .order_by(Maintenance.starts_at, Maintenance.id)
    ))
    running = [m for m in maintenance if m.starts_at <= now]
    changes: list[datetime] = [m.starts_at for m in running]
    changes += [m.ends_at for m in session.scalars(
        select(Maintenance).where(Maintenance.state == MaintenanceState.SCHEDULED,
                                  Maintenance.ends_at <= now)
        .order_by(Maintenance.ends_at.desc()).limit(1))]
    components = []
    for component in cfg.components:
        row = manual.get(component.name)
        state = row.state if row else StatusState.OPERATIONAL
        comment = dict(row.comment) if row and state != StatusState.OPERATIONAL else {}
        updated_at = row.updated_at if row else None
        maintenance_id = None
        for item in running:
            if component.name in item.components and (
                    SEVERITY[cfg.maintenance_state] > SEVERITY[state]):
                state, comment, maintenance_id = cfg.maintenance_state, item.comment, item.id
                updated_at = item.starts_at
        components.append(ComponentView(component.name, component.labels, state, comment,
                                        updated_at, maintenance_id))
        if row:
            changes.append(row.updated_at)
    cutoff = now - timedelta(days=cfg.history_days)
    incidents = session.scalars(
        select(Incident)
        .where((Incident.resolved_at.is_(None)) | (Incident.resolved_at >= cutoff))
        .order_by(Incident.started_at.desc())
        .limit(20)
    )
    return StatusView(
        overall=worst([c.state for c in components]),
        updated_at=max(changes, default=None),
        components=components,
        maintenance=[_maintenance_view(m, now) for m in maintenance],
        incidents=[_incident_view(i) for i in incidents],
        generated_at=now,
    )


@dataclass(frozen=True)
class StatusChange:
    incident_id: int | None  # the incident this change belongs to
    resolved: bool  # this change ended the incident
    components: list[str]


def set_status(
    session: Session,
    cfg: StatusConfig,
    state: str,
    components: list[str],
    comment: dict[str, str],
    operator: str,
) -> StatusChange:
    """Set ``components`` (all when empty) to ``state``; record it in the open incident."""
    if state not in strings(StatusState):
        raise RnmailError(f"unknown state {state!r}: use {', '.join(StatusState)}")
    names = [cfg.component(name).name for name in components] or [
        c.name for c in cfg.components]
    now = utcnow()
    for name in names:
        row = session.get(ComponentState, name)
        if row is None:
            row = ComponentState(name=name)
            session.add(row)
        row.state, row.comment, row.updated_at, row.updated_by = state, comment, now, operator
    session.flush()
    incident = open_incident(session)
    if incident is None and state == StatusState.OPERATIONAL:
        return StatusChange(None, False, names)
    if incident is None:
        incident = Incident(started_at=now)
        session.add(incident)
    incident.updates.append(IncidentUpdate(at=now, state=state, components=names,
                                           comment=comment, operator=operator))
    all_states = [row.state for row in session.scalars(select(ComponentState))]
    resolved = worst(all_states) == StatusState.OPERATIONAL
    if resolved:
        incident.resolved_at = now
    session.flush()
    return StatusChange(incident.id, resolved, names)


def open_incident(session: Session) -> Incident | None:
    return session.scalars(
        select(Incident).where(Incident.resolved_at.is_(None)).order_by(Incident.id.desc())
    ).first()


def link_tickets(session: Session, tickets: Iterable[Ticket]) -> int | None:
    """Link tickets received during an open incident to it; returns the incident id."""
    incident = open_incident(session)
    if incident is None:
        return None
    session.add_all(IncidentTicket(incident_id=incident.id, ticket_id=ticket.id)
                    for ticket in tickets)
    return incident.id


def disturbed_components(view: StatusView) -> list[ComponentView]:
    """The components not operational now (for the acknowledgement of a new ticket)."""
    return [c for c in view.components if c.state != StatusState.OPERATIONAL]


def _one_comment(texts: dict[str, str]) -> str:
    return next((texts[lang] for lang in ("nl", "fr", "de", "en") if texts.get(lang)), "")


def _maintenance_view(item: Maintenance, now: datetime) -> MaintenanceView:
    return MaintenanceView(item.id, item.starts_at, item.ends_at, list(item.components),
                           list(item.groups), dict(item.comment), maintenance_phase(item, now))


def _incident_view(incident: Incident) -> IncidentView:
    return IncidentView(
        incident.id, incident.started_at, incident.resolved_at,
        [UpdateView(u.at, u.state, list(u.components), dict(u.comment))
         for u in reversed(incident.updates)],
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
