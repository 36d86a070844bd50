"""``rnmail demo``: example data, so that a first look at a fresh install shows something.

It adds a few tickets as the help desk would log them (calls, a letter, a fax typed in),
one closed at first contact, the example user groups of ``[dispatch].lists_dir`` when there
are any, and a planned maintenance next Saturday evening without any group, so that no mail
goes out; then publishes the status page. Running it again adds nothing: the tickets carry
``(demo)`` in their subject and are looked for first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import func, select

from rnmail.config import Config
from rnmail.db import Database
from rnmail.directory.groups import import_lists, list_files
from rnmail.i18n.formats import BRUSSELS
from rnmail.models import Ticket, utcnow
from rnmail.status.maintenance import schedule_maintenance
from rnmail.status.notices import publish
from rnmail.tickets.calls import CallForm, log_call
from rnmail.tickets.history import Actor
from rnmail.vocab import CallOutcome

MARK = "(demo)"
TICKETS = (  # channel, requester, name, type, category, language, subject, note, closed
    ("phone", "02/511 22 33", "Commune de Jodoigne (exemple)", "municipality", "access-key",
     "fr", "Clé d'accès bloquée après trois essais",
     "L'agente du service population ne peut plus se connecter ; clé réinitialisée.", True),
    ("phone", "+32 9 210 10 10", "Gemeente Voorbeeld", "municipality", "certificate",
     "nl", "Certificaat van woonst niet beschikbaar",
     "Dienst bevolking krijgt een foutmelding bij het aanvragen van een attest.", False),
    ("letter", "notaris@notaries.example", "Notaire Exemple", "notary", "data-correction",
     "fr", "Demande de correction d'une adresse",
     "Courrier reçu : demande de rectification ; à vérifier auprès de la commune.", False),
    ("fax", "087/59 11 11", "Gemeinde Beispiel", "municipality", "address-change",
     "de", "Adressänderung: Rückfrage der Gemeinde",
     "Fax der Gemeinde: Frage zur Eintragung einer Adressänderung.", False),
)


@dataclass(frozen=True)
class DemoResult:
    tickets: int
    groups: int
    maintenance_id: int | None
    already: bool


def seed_demo(db: Database, config: Config) -> DemoResult:
    with db.transaction() as session:
        if session.scalar(select(func.count()).select_from(Ticket)
                          .where(Ticket.subject.like(f"%{MARK}"))):
            return DemoResult(0, 0, None, already=True)
        demo = Actor.system("rnmail demo")
        for channel, who, name, kind, category, language, subject, note, closed in TICKETS:
            log_call(session, config, CallForm.for_requester(
                who, channel=channel, subject=f"{subject} {MARK}", text=note, caller=name,
                requester_type=kind, category=category, language=language,
                outcome=CallOutcome.CLOSE if closed else CallOutcome.OPEN), demo)
    files = list_files(config.dispatch.lists_dir) if config.dispatch.lists_dir.is_dir() else []
    groups = len(import_lists(db, files)) if files else 0
    start = next_saturday_evening(zone=config.helpdesk.zone)
    scheduled = schedule_maintenance(db, config, "demo", start,
                                     timedelta(hours=3), [], [], None, {
                                         "fr": "Mise à jour des serveurs (exemple).",
                                         "nl": "Update van de servers (voorbeeld).",
                                         "de": "Aktualisierung der Server (Beispiel)."})
    publish(db, config)
    return DemoResult(len(TICKETS), groups, scheduled.maintenance_id, already=False)


def next_saturday_evening(now: datetime | None = None, zone: tzinfo = BRUSSELS) -> datetime:
    """Next Saturday 18:00 in ``zone`` (``[helpdesk].timezone``)."""
    local = (now or utcnow()).astimezone(zone)
    days = (5 - local.weekday()) % 7 or 7
    day = (local + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, 18, 0, tzinfo=zone)
