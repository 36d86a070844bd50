"""The words the admin shows for stored values: an announcement's kind
(``outage``, ``maintenance-announcement`` …) and a maintenance's phase, as labels in the
operator's language instead of the raw values (the ``label`` filter of the admin's pages).
A value without a label (a kind added later) is shown as it is stored."""

from __future__ import annotations

from rnmail.i18n import N_, gettext
from rnmail.vocab import AnnouncementKind, MaintenancePhase, MaintenanceStep

LABELS = {
    AnnouncementKind.OUTAGE: N_("status notice"),
    AnnouncementKind.MAILING: N_("mailing"),
    AnnouncementKind.TEST: N_("test mailing"),
    AnnouncementKind.PREVIEW: N_("preview"),
    f"maintenance-{MaintenanceStep.ANNOUNCEMENT}": N_("maintenance announced"),
    f"maintenance-{MaintenanceStep.REMINDER}": N_("maintenance reminder"),
    f"maintenance-{MaintenanceStep.START}": N_("maintenance started"),
    f"maintenance-{MaintenanceStep.END}": N_("maintenance ended"),
    f"maintenance-{MaintenanceStep.CANCELLATION}": N_("maintenance cancelled"),
    MaintenancePhase.SCHEDULED: N_("planned"),
    MaintenancePhase.IN_PROGRESS: N_("in progress"),
    MaintenancePhase.DONE: N_("over"),
    MaintenancePhase.CANCELLED: N_("cancelled"),
}


def label(value: str, language: str) -> str:
    """``value``'s label in ``language``; the value itself when it has none."""
    text = LABELS.get(value)
    return gettext(language, text) if text is not None else value
