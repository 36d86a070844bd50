"""What the admin's pages read: the dashboard's overview and, before a change that mails,
the confirmation page's summary (whom it mails, group by group and language by language,
and for a cancellation the notice's subject in each language).

Each function reads in one transaction of its own and changes nothing: a preview never
queues a mail. The admin calls them in a worker thread (``AdminSite.call``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.db import Database
from rnmail.directory.groups import list_groups, recipients
from rnmail.dispatch.announce import announcement_status, list_announcements, render_notice
from rnmail.dispatch.suppression import suppressed_addresses
from rnmail.status.components import current_status
from rnmail.status.maintenance import cancellable, list_maintenance, maintenance_notice
from rnmail.vocab import MaintenanceStep


def dashboard_data(db: Database, config: Config) -> dict[str, Any]:
    """What the dashboard shows, read in one transaction."""
    with db.transaction() as session:
        view = current_status(session, config.status)
        announcements = [announcement_status(session, a.id)
                         for a in list_announcements(session, limit=10)]
        return {"view": view, "groups": list_groups(session),
                "maintenance": list_maintenance(session),
                "announcements": announcements, "components": config.status.components}


def preview_recipients(db: Database, groups: list[str]) -> dict[str, Any]:
    """Whom the groups' notice would reach: see ``count_recipients``."""
    with db.transaction() as session:
        return count_recipients(session, groups)


def count_recipients(session: Session, groups: list[str]) -> dict[str, Any]:
    """How many addresses the groups hold together (each once, as ``announce`` mails
    them: the first group that holds an address counts it), in which language, and the
    same per group; suppressed addresses are left out and counted apart."""
    people = recipients(session, groups) if groups else []
    suppressed = suppressed_addresses(session, [p.email for p in people])
    mailed = [p for p in people if p.email.lower() not in suppressed]
    languages = Counter(p.language for p in mailed)
    per_group = {name: Counter(p.language for p in mailed if p.group == name)
                 for name in dict.fromkeys(groups)}
    return {"total": sum(languages.values()), "languages": dict(sorted(languages.items())),
            "suppressed": len(suppressed),
            "groups": [{"name": name, "total": sum(counts.values()),
                        "languages": dict(sorted(counts.items()))}
                       for name, counts in per_group.items()]}


def cancellation_preview(db: Database, config: Config, maintenance_id: int) -> dict[str, Any]:
    """What cancelling maintenance ``maintenance_id`` will do: the maintenance, whom its
    cancellation notice mails and that notice's subject in each of their languages.
    RnmailError when it cannot be cancelled (unknown, cancelled or ended), as the
    cancellation itself would say."""
    with db.transaction() as session:
        item = cancellable(session, maintenance_id)
        counted = count_recipients(session, list(item.groups))
        notice = maintenance_notice(config, item, MaintenanceStep.CANCELLATION)
        subjects = {language: render_notice(config, notice, language).subject
                    for language in counted["languages"]}
        return {"maintenance_id": item.id, "starts_at": item.starts_at,
                "ends_at": item.ends_at, "component_names": list(item.components),
                "groups": list(item.groups), "comment": dict(item.comment),
                "recipients": counted, "subjects": subjects}
