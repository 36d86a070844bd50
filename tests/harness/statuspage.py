"""The public status page as tests build and read it: a full status view, what a browser
shows of each language section (SEEN), the banners' texts as published (VERBATIM)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from rnmail.config import DEFAULT_COMPONENTS
from rnmail.status.components import (
    ComponentView,
    IncidentView,
    MaintenanceView,
    StatusView,
    UpdateView,
)

# The [status] and [operators] sections of an installation with a status page and an
# operator (PASSWORD); WRONG is another password, REFUSED what a wrong one is told.
EXTRA = """
[status]
public_dir = "public"
public_url = "https://status.rn.example"

[operators]
max_failures = 4
lockout_minutes = 10
"""
PASSWORD = "correct horse battery staple"
WRONG = "correct horse battery stapler"
REFUSED = "Error: wrong operator name or password (the attempt is logged)"

# Verbatim from ../shared/CONTEXT.md, typed again here so a change to BANNERS shows.
VERBATIM = {
    "operational": {
        "nl": "Rijksregister werkt stabiel",
        "fr": "Le Registre National fonctionne de manière stable",
        "de": "National Register arbeitet stabil",
    },
    "degraded": {
        "nl": "Het Rijksregister (toegang tot de natuurlijke personen) is operationeel maar "
              "sommige functionaliteiten zijn verstoord",
        "fr": "Le Registre national (accès aux personnes physiques) est opérationnel mais "
              "certaines fonctionnalités sont perturbées",
        "de": "Das Nationalregister (Zugang zu natürlichen Personen) ist betriebsbereit, bei "
              "einigen Funktionen können allerdings Störungen auftreten.",
    },
    "down": {
        "nl": "Rijksregister is momenteel buiten dienst",
        "fr": "Le Registre National est momentanément hors service",
        "de": "National Register ist momentan ausser Betrieb",
    },
}


SCRIPT = "<script>window.pwned = 1</script> & <b>gras</b>"


# 28/11/2026 is in winter time (UTC+1); 15/06/2026 in summer time (UTC+2).
T0 = datetime(2026, 11, 28, 13, 5, tzinfo=UTC)  # 14:05 in Brussels


def component(name: str, state: str = "operational", comment: dict[str, str] | None = None,
              at: datetime | None = T0) -> ComponentView:
    labels = next(c.labels for c in DEFAULT_COMPONENTS if c.name == name)
    return ComponentView(name, labels, state, comment or {}, at, None)


def make_view(overall: str = "degraded") -> StatusView:
    """Web services disturbed (comment in nl and fr, none in de), one maintenance ahead,
    one open incident with two updates and one resolved incident."""
    web = "operational" if overall == "operational" else overall
    return StatusView(
        overall=overall,
        updated_at=T0,
        components=[
            component("natural-persons"),
            component("web-services", web, {
                "nl": "Trage antwoorden, ongeveer een uur.",
                "fr": "Réponses lentes, environ une heure.\n" + SCRIPT}),
        ],
        maintenance=[MaintenanceView(
            id=7, starts_at=T0 + timedelta(hours=2), ends_at=T0 + timedelta(hours=4),
            components=["natural-persons", "web-services"], groups=["municipalities"],
            comment={"fr": "Mise à jour de la base", "nl": "Update van de databank",
                     "de": "Aktualisierung der Datenbank"},
            state="scheduled")],
        incidents=[
            IncidentView(id=3, started_at=T0 - timedelta(minutes=30), resolved_at=None,
                         updates=[
                             UpdateView(T0, overall, ["web-services"],
                                        {"fr": "Toujours lent", "nl": "Nog steeds traag"}),
                             UpdateView(T0 - timedelta(minutes=30), "degraded",
                                        ["web-services"], {"fr": "Lenteurs"}),
                         ]),
            IncidentView(id=2, started_at=T0 - timedelta(days=2),
                         resolved_at=T0 - timedelta(days=2, hours=-1), updates=[
                             UpdateView(T0 - timedelta(days=2, hours=-1), "operational",
                                        ["natural-persons"], {"fr": "Rétabli"}),
                             UpdateView(T0 - timedelta(days=2), "down", ["natural-persons"],
                                        {"fr": "Panne", "nl": "Storing", "de": "Ausfall"}),
                         ]),
        ],
        generated_at=T0 + timedelta(seconds=1),
    )


# Per section: what it shows, its banner (text, state, colours, size), its components.
SEEN = """(() => {
  const out = {};
  for (const s of document.querySelectorAll('main > section')) {
    const banner = s.querySelector('.banner');
    const style = getComputedStyle(banner);
    const box = banner.getBoundingClientRect();
    out[s.lang] = {
      id: s.id,
      shown: getComputedStyle(s).display !== 'none',
      text: s.innerText,
      banner: s.querySelector('.banner-text').innerText,
      label: s.querySelector('.banner-label').innerText,
      state: banner.dataset.state,
      background: style.backgroundColor,
      color: style.color,
      size: [box.width, box.height],
      components: Object.fromEntries([...s.querySelectorAll('.component')].map(
        c => [c.dataset.component, {state: c.dataset.state, text: c.innerText,
          ...(c.dataset.maintenance ? {maintenance: c.dataset.maintenance} : {})}])),
      maintenance: [...s.querySelectorAll('.maintenance-item')].map(m => ({
        text: m.innerText,
        times: [...m.querySelectorAll('time')].map(t => t.getAttribute('datetime'))})),
      incidents: [...s.querySelectorAll('.incident')].map(i => i.innerText),
    };
  }
  return out;
})()"""


def rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])
    return r, g, b

