"""What the admin's pages read: the dashboard's overview and, before a change that mails,
the confirmation page's summary (whom it mails, group by group and language by language,
and for a cancellation the notice's subject in each language).

Each function reads in one transaction of its own and changes nothing: a preview never
queues a mail. The admin calls them in a worker thread (``AdminSite.call``).
"""

from __future__ import annotations

from typing import Any

from rnmail.config import Config
from rnmail.db import Database
from rnmail.directory.groups import list_groups
from rnmail.dispatch.announce import announcement_status, list_announcements
from rnmail.dispatch.preview import Preview, count_recipients, preview_notice
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
    """Whom the groups' notice would reach, as the confirmation page shows it."""
    with db.transaction() as session:
        return _page_counts(count_recipients(session, groups))


def _page_counts(found: Preview) -> dict[str, Any]:
    """``found`` (``rnmail.dispatch.preview``) as the page's table reads it: the totals,
    then each group with its total and its languages."""
    return {**found.counts(),
            "groups": [{"name": name, "total": sum(counts.values()), "languages": counts}
                       for name, counts in found.groups.items()]}


def cancellation_preview(db: Database, config: Config, maintenance_id: int) -> dict[str, Any]:
    """What cancelling maintenance ``maintenance_id`` will do: the maintenance, whom its
    cancellation notice mails and that notice's subject in each of their languages.
    RnmailError when it cannot be cancelled (unknown, cancelled or ended), as the
    cancellation itself would say."""
    with db.transaction() as session:
        item = cancellable(session, maintenance_id)
        found = preview_notice(session, config, maintenance_notice(
            config, item, MaintenanceStep.CANCELLATION), list(item.groups))
        return {"maintenance_id": item.id, "starts_at": item.starts_at,
                "ends_at": item.ends_at, "component_names": list(item.components),
                "groups": list(item.groups), "comment": dict(item.comment),
                "recipients": _page_counts(found), "subjects": found.subjects}
