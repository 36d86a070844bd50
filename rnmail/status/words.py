"""The words of the status page and its feed in Dutch, French and German, from the
catalogues (``rnmail.i18n``): a table per language whose keys the templates use
(``w.title``); the state names and the maintenance phases are keys too."""

from __future__ import annotations

from datetime import tzinfo
from functools import cache

from rnmail.config import LANGUAGES
from rnmail.i18n import translations
from rnmail.i18n.formats import BRUSSELS, capitalised, language_name, zone_phrase


@cache
def words(language: str, zone: tzinfo = BRUSSELS) -> dict[str, str]:
    _ = translations(language).gettext
    return {
        "title": _("National Register status"),
        "language": capitalised(language_name(language)),
        "operational": _("Operational"),
        "degraded": _("Degraded"),
        "down": _("Down"),
        "last_change": _("Last change"),
        "no_change": _("no change recorded"),
        "zone": zone_phrase(zone, language),  # [helpdesk].timezone
        "components": _("Components"),
        "since": _("since"),
        "maintenance": _("Planned maintenance"),
        "no_maintenance": _("No planned maintenance."),
        "scheduled": _("Scheduled"),
        "in-progress": _("In progress"),
        "done": _("Done"),
        "cancelled": _("Cancelled"),
        "from": _("from"),
        "until": _("until"),
        "incidents": _("Incidents"),
        "no_incidents": _("No recent incidents."),
        "incident": _("Incident"),
        "started": _("Started"),
        "resolved": _("Resolved"),
        "ongoing": _("Ongoing"),
        "updates": _("Updates"),
        "refresh": _("This page does not reload itself: reload it to see the latest "
                     "changes, or follow them in the Atom feed."),
        "reload": _("Reload the page"),
        "follow": _("Follow the changes (Atom feed)"),
        "statement": _("Accessibility statement"),
        "feed": _("Atom feed"),
        "data": _("Data (JSON)"),
        "colon": _(": "),
    }


@cache
def fallback_note(reader: str, written_in: str) -> str:
    """The note next to a text shown in another language than the reader's: ``(alleen
    beschikbaar in het Frans)``; "" for the reader's own language."""
    if written_in == reader or written_in not in LANGUAGES:
        return ""
    return translations(reader).gettext("(only available in {language})").format(
        language=language_name(written_in, reader))
