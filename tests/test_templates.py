"""The announcement templates render in French, Dutch, German and English.

Status change, planned maintenance, end of an incident (to a requester), document mailing,
and the disturbance paragraph of the acknowledgement: each is rendered through ``render``
with exactly the variables its caller passes (StrictUndefined catches any other), and the
output is checked for what the reader must see, what must be escaped, and what must not leak;
each ends with the help desk's contact block (tests/test_contact.py tests it for every mail).
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import pytest
from jinja2 import meta
from markupsafe import escape

from rnmail.dispatch import render as rendering
from rnmail.dispatch.render import MAIL, TEMPLATES, Rendered, environment
from tests.harness.rendered import BLOCK, DESK, visible

LANGS = ("fr", "nl", "de", "en")
# The mail templates by name, and the built-in mailings as ``mailings/<name>``.
DIRECTORIES = (MAIL, TEMPLATES)
render = partial(rendering.render, directories=DIRECTORIES, helpdesk=DESK)
SCRIPT = "<script>alert(1)</script>"

# Verbatim as published on the status page (docs: CONTEXT.md); English is ours.
BANNERS = {
    "operational": {
        "fr": "Le Registre National fonctionne de manière stable",
        "nl": "Rijksregister werkt stabiel",
        "de": "National Register arbeitet stabil",
        "en": "The National Register is operating normally",
    },
    "degraded": {
        "fr": "Le Registre national (accès aux personnes physiques) est opérationnel mais "
              "certaines fonctionnalités sont perturbées",
        "nl": "Het Rijksregister (toegang tot de natuurlijke personen) is operationeel maar "
              "sommige functionaliteiten zijn verstoord",
        "de": "Das Nationalregister (Zugang zu natürlichen Personen) ist betriebsbereit, bei "
              "einigen Funktionen können allerdings Störungen auftreten.",
        "en": "The National Register (access to natural persons) is operational but some "
              "functions are disrupted",
    },
    "down": {
        "fr": "Le Registre National est momentanément hors service",
        "nl": "Rijksregister is momenteel buiten dienst",
        "de": "National Register ist momentan ausser Betrieb",
        "en": "The National Register is temporarily out of service",
    },
}
COMPONENTS = {
    "fr": ["Accès aux personnes physiques", "Services web"],
    "nl": ["Toegang tot de natuurlijke personen", "Webdiensten"],
    "de": ["Zugang zu natürlichen Personen", "Webdienste"],
    "en": ["Access to natural persons", "Web services"],
}
HELPDESK = {
    "fr": "Help desk du Registre national",
    "nl": "Helpdesk van het Rijksregister",
    "de": "Helpdesk des Nationalregisters",
    "en": "National Register help desk",
}
CONTACT = {
    "fr": "Tél. 02/518 21 31 · helpdesk@rn.example",
    "nl": "Tel. 02/518 21 31 · helpdesk@rn.example",
    "de": "Tel. 02/518 21 31 · helpdesk@rn.example",
    "en": "Phone +32 2 518 21 31 · helpdesk@rn.example",
}
COMMENTS = {
    "fr": "Durée estimée : 2 heures",
    "nl": "Verwachte duur: 2 uur",
    "de": "Voraussichtliche Dauer: 2 Stunden",
    "en": "Expected duration: 2 hours",
}
STATUS_URL = "https://status.rn.example/"

# The visible note when the comment exists only in another language: reader → {written in → note}
FALLBACK_NOTES = {
    "fr": {"nl": "(message disponible uniquement en néerlandais)",
           "de": "(message disponible uniquement en allemand)"},
    "nl": {"fr": "(bericht enkel beschikbaar in het Frans)",
           "de": "(bericht enkel beschikbaar in het Duits)"},
    "de": {"fr": "(Mitteilung nur auf Französisch verfügbar)",
           "nl": "(Mitteilung nur auf Niederländisch verfügbar)"},
    "en": {"fr": "(message only available in French)",
           "nl": "(message only available in Dutch)"},
}
NOTE_MARKERS = ("uniquement en", "enkel beschikbaar", "nur auf", "only available")

# Words of another language that must not appear in a mail rendered for this reader.
FOREIGN = {
    "fr": r"het|uw|wij|onderhoud|verstoring|Rijksregister|Wartung|Störung|Sie|the|your|please",
    "nl": r"le|la|les|du|des|est|et|vous|nous|votre|pour|Madame|Monsieur|Registre|maintenance"
          r"|perturbation|heures?|fonctionnalités|Commentaire|Référence|Bonjour|the|your",
    "de": r"le|la|les|du|est|et|vous|nous|votre|Madame|Registre|maintenance|perturbation"
          r"|het|uw|wij|onderhoud|verstoring|Rijksregister|the|your",
    "en": r"le|la|les|du|est|vous|nous|votre|Registre|het|uw|wij|onderhoud|Rijksregister"
          r"|Wartung|Störung|Sie",
}
UNSUBSCRIBE = re.compile(
    r"unsubscri|d[ée]sinscri|d[ée]sabonn|uitschrijv|afmeld|abmeld|abbestell|opt.out", re.I)

COMMON = {"helpdesk_name", "helpdesk_address", "phone", "contact", "status_url", "language"}
VARIABLES = {
    "status_change": COMMON | {"state", "banner", "components", "all_components", "comment",
                               "comment_language", "changed_at"},
    "maintenance": COMMON | {"step", "starts_at", "ends_at", "duration_hours",
                             "duration_minutes", "components", "comment", "comment_language",
                             "maintenance_id"},
    "incident_solved": {"tag", "ticket_id", "subject", "requester_name", "components",
                        "started_at", "resolved_at", "comment", "comment_language",
                        "helpdesk_name", "status_url", "language"},
    "mailings/circular": COMMON | {"subject", "body", "reference", "attachments",
                                   "body_language"},
}


def common(lang: str, **overrides: Any) -> dict[str, Any]:
    return {
        "helpdesk_name": HELPDESK[lang],
        "helpdesk_address": "helpdesk@rn.example",
        "phone": "02/518 21 31",
        "contact": CONTACT[lang],
        "status_url": STATUS_URL,
        "language": lang,
        **overrides,
    }


def status_context(lang: str, state: str = "degraded", **overrides: Any) -> dict[str, Any]:
    return common(lang, state=state, banner=BANNERS[state][lang], components=COMPONENTS[lang],
                  all_components=False, comment=COMMENTS[lang], comment_language=None,
                  changed_at="28/11/2026 14:05") | overrides


def maintenance_context(lang: str, step: str = "announcement", **overrides: Any) -> dict[str, Any]:
    return common(lang, step=step, starts_at="05/12/2026 18:00", ends_at="05/12/2026 21:00",
                  duration_hours=3, duration_minutes=0, components=COMPONENTS[lang],
                  comment=COMMENTS[lang], comment_language=None, maintenance_id=17) | overrides


def solved_context(lang: str, **overrides: Any) -> dict[str, Any]:
    return {
        "tag": "RN", "ticket_id": 4242, "subject": "Clé d'accès bloquée",
        "requester_name": "Zoë Peeters", "components": COMPONENTS[lang],
        "started_at": "28/11/2026 14:05", "resolved_at": "28/11/2026 16:20",
        "comment": COMMENTS[lang], "comment_language": None, "helpdesk_name": HELPDESK[lang],
        "status_url": STATUS_URL, "language": lang,
    } | overrides


BODIES = {
    "fr": "Vous trouverez en annexe la circulaire relative aux clés d'accès.\n"
          "Elle s'applique à partir du 1er janvier.\n\nNous vous prions d'agréer, Madame, "
          "Monsieur, l'expression de nos salutations distinguées.",
    "nl": "In bijlage vindt u de omzendbrief over de toegangssleutels.\n"
          "Hij is van toepassing vanaf 1 januari.\n\nMet vriendelijke groeten.",
    "de": "Anbei erhalten Sie das Rundschreiben zu den Zugangsschlüsseln.\n"
          "Es gilt ab dem 1. Januar.\n\nMit freundlichen Grüßen.",
    "en": "Please find attached the circular on access keys.\n"
          "It applies from 1 January.\n\nYours faithfully.",
}


def circular_context(lang: str, **overrides: Any) -> dict[str, Any]:
    return common(lang, subject="Circulaire 2026/03", body=BODIES[lang], reference="RN/2026/03",
                  attachments=["circulaire-2026-03.pdf"], body_language=None) | overrides


CONTEXTS = {
    "status_change": status_context,
    "maintenance": maintenance_context,
    "incident_solved": solved_context,
    "mailings/circular": circular_context,
}


def check(rendered: Rendered, lang: str, context: dict[str, Any]) -> str:
    """What every announcement must satisfy; returns the visible text of the html."""
    assert rendered.language == lang
    assert rendered.subject.strip() and "\n" not in rendered.subject
    assert "\r" not in rendered.subject
    for part in (rendered.subject, rendered.text, rendered.html or ""):
        assert "{{" not in part and "{%" not in part and "{#" not in part
        assert "None" not in part
        assert not UNSUBSCRIBE.search(part)
    assert "\n\n\n" not in rendered.text
    assert rendered.text.endswith("\n\n-- \n" + "\n".join(BLOCK[lang]) + "\n")
    seen = visible(rendered.html)
    assert seen.endswith(" ".join(BLOCK[lang]))
    for part in (rendered.text, seen):  # the contact is said once, in the block
        assert part.count("+32 2 000 00 00") == 1 and part.count("helpdesk@rn.example") == 1
        assert CONTACT[lang] not in part
    return seen


# --- every template, every language ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VARIABLES))
@pytest.mark.parametrize("lang", LANGS)
def test_templates_use_only_the_documented_variables(name: str, lang: str) -> None:
    env = environment(DIRECTORIES)
    source = env.loader.get_source(env, f"{name}.{lang}.j2")[0]  # type: ignore[union-attr]
    used = meta.find_undeclared_variables(env.parse(source))
    assert used <= VARIABLES[name], used - VARIABLES[name]
    template = env.get_template(f"{name}.{lang}.j2")
    assert {"subject", "text", "html"} <= set(template.blocks)
    assert "{% autoescape true %}" in source


@pytest.mark.parametrize("name", sorted(VARIABLES))
@pytest.mark.parametrize("lang", LANGS)
def test_renders_with_empty_optional_values(name: str, lang: str) -> None:
    empty = {"components": [], "comment": "", "comment_language": None, "status_url": "",
             "requester_name": None, "reference": "", "attachments": [], "changed_at": ""}
    context = CONTEXTS[name](lang)
    context |= {key: value for key, value in empty.items() if key in context}
    rendered = render(name, lang, "fr", context)
    check(rendered, lang, context)
    assert "http" not in rendered.text
    assert not any(marker in rendered.text for marker in NOTE_MARKERS)


@pytest.mark.parametrize("name", sorted(VARIABLES))
@pytest.mark.parametrize("lang", LANGS)
def test_no_words_of_another_language(name: str, lang: str) -> None:
    rendered = render(name, lang, "fr", CONTEXTS[name](
        lang, **({"subject": "RN"} if name == "mailings/circular" else {})))
    words = re.compile(rf"\b(?:{FOREIGN[lang]})\b")
    for part in (rendered.subject, rendered.text, visible(rendered.html)):
        # the requester's own ticket subject is in French
        ours = part.replace("Clé d'accès bloquée", "")
        assert words.findall(ours) == [], lang


@pytest.mark.parametrize("name", ["status_change", "maintenance", "incident_solved"])
@pytest.mark.parametrize("lang", LANGS)
def test_comment_is_escaped_in_html(name: str, lang: str) -> None:
    context = CONTEXTS[name](lang, comment=f"Bientôt {SCRIPT} & fini")
    rendered = render(name, lang, "fr", context)
    assert f"Bientôt {SCRIPT} & fini" in rendered.text
    assert "<script" not in (rendered.html or "")
    assert str(escape(f"Bientôt {SCRIPT} & fini")) in (rendered.html or "")
    assert f"Bientôt {SCRIPT} & fini" in check(rendered, lang, context)


@pytest.mark.parametrize("name", ["status_change", "maintenance", "incident_solved"])
@pytest.mark.parametrize(("lang", "written_in"),
                         [(lang, other) for lang in LANGS for other in FALLBACK_NOTES[lang]])
def test_comment_in_another_language_is_marked(name: str, lang: str, written_in: str) -> None:
    note = FALLBACK_NOTES[lang][written_in]
    context = CONTEXTS[name](lang, comment=COMMENTS[written_in], comment_language=written_in)
    rendered = render(name, lang, "fr", context)
    assert f"{COMMENTS[written_in]} {note}" in rendered.text
    assert f'lang="{written_in}"' in (rendered.html or "")
    assert f"{COMMENTS[written_in]} {note}" in check(rendered, lang, context)

    same = render(name, lang, "fr", CONTEXTS[name](lang))
    assert COMMENTS[lang] in same.text
    for part in (same.text, same.html or ""):
        assert not any(marker in part for marker in NOTE_MARKERS)


# --- status change -----------------------------------------------------------------------

STATE_SUBJECTS = {
    "fr": {"operational": "[Registre national] Fonctionnement rétabli",
           "degraded": "[Registre national] Perturbation de certaines fonctionnalités",
           "down": "[Registre national] Interruption du service"},
    "nl": {"operational": "[Rijksregister] Normale werking hersteld",
           "degraded": "[Rijksregister] Verstoring van sommige functionaliteiten",
           "down": "[Rijksregister] Onderbreking van de dienstverlening"},
    "de": {"operational": "[Nationalregister] Normaler Betrieb wiederhergestellt",
           "degraded": "[Nationalregister] Störung einzelner Funktionen",
           "down": "[Nationalregister] Unterbrechung des Dienstes"},
    "en": {"operational": "[National Register] Normal operation restored",
           "degraded": "[National Register] Some functions disrupted",
           "down": "[National Register] Service interruption"},
}
ALL = {"fr": "Fonctionnalités concernées : toutes", "nl": "Betrokken functionaliteiten: alle",
       "de": "Betroffene Funktionen: alle", "en": "Functions concerned: all"}
NO_NEED_TO_REPORT = {"fr": "Il n'est pas nécessaire de signaler",
                     "nl": "U hoeft dit probleem niet", "de": "Sie brauchen diese Störung nicht",
                     "en": "There is no need to report"}


@pytest.mark.parametrize("state", ["operational", "degraded", "down"])
@pytest.mark.parametrize("lang", LANGS)
def test_status_change(lang: str, state: str) -> None:
    context = status_context(lang, state)
    rendered = render("status_change", lang, "fr", context)
    seen = check(rendered, lang, context)
    banner = BANNERS[state][lang]
    assert rendered.subject == STATE_SUBJECTS[lang][state]
    assert f"\n{banner}\n" in rendered.text  # the verbatim banner, on a line of its own
    assert f"<strong>{escape(banner)}</strong>" in (rendered.html or "") and banner in seen
    assert ", ".join(COMPONENTS[lang]) in rendered.text and ", ".join(COMPONENTS[lang]) in seen
    assert "28/11/2026 14:05" in rendered.text and "28/11/2026 14:05" in seen
    assert STATUS_URL in rendered.text and f'href="{STATUS_URL}"' in (rendered.html or "")
    assert (NO_NEED_TO_REPORT[lang] in rendered.text) == (state != "operational")


@pytest.mark.parametrize("lang", LANGS)
def test_status_change_for_every_component(lang: str) -> None:
    context = status_context(lang, "down", all_components=True)
    rendered = render("status_change", lang, "fr", context)
    seen = check(rendered, lang, context)
    assert ALL[lang] in rendered.text and ALL[lang] in seen
    assert COMPONENTS[lang][1] not in rendered.text


# --- maintenance -------------------------------------------------------------------------

DURATIONS = {
    (3, 0): {"fr": "3 heures", "nl": "3 uur", "de": "3 Stunden", "en": "3 hours"},
    (1, 0): {"fr": "1 heure", "nl": "1 uur", "de": "1 Stunde", "en": "1 hour"},
    (1, 30): {"fr": "1 heure 30", "nl": "1 uur en 30 minuten", "de": "1 Stunde und 30 Minuten",
              "en": "1 hour and 30 minutes"},
    (2, 5): {"fr": "2 heures 05", "nl": "2 uur en 5 minuten", "de": "2 Stunden und 5 Minuten",
             "en": "2 hours and 5 minutes"},
    (0, 45): {"fr": "45 minutes", "nl": "45 minuten", "de": "45 Minuten", "en": "45 minutes"},
}
SAME_DAY = {"fr": "le 05/12/2026 de 18:00 à 21:00", "nl": "op 05/12/2026 van 18:00 tot 21:00",
            "de": "am 05/12/2026 von 18:00 bis 21:00 Uhr",
            "en": "on 05/12/2026 from 18:00 to 21:00"}
OVERNIGHT = {"fr": "du 05/12/2026 22:00 au 06/12/2026 02:00",
             "nl": "van 05/12/2026 22:00 tot 06/12/2026 02:00",
             "de": "vom 05/12/2026 22:00 bis 06/12/2026 02:00",
             "en": "from 05/12/2026 22:00 to 06/12/2026 02:00"}
STEP_SUBJECTS = {
    "fr": {"announcement": "[Registre national] Maintenance planifiée {period} "
                           "(durée estimée : 3 heures)",
           "reminder": "[Registre national] Rappel : maintenance planifiée {period} "
                       "(durée estimée : 3 heures)",
           "start": "[Registre national] La maintenance a commencé",
           "end": "[Registre national] La maintenance est terminée, le service fonctionne "
                  "normalement",
           "cancellation": "[Registre national] La maintenance prévue {period} est annulée"},
    "nl": {"announcement": "[Rijksregister] Gepland onderhoud {period} (geschatte duur: 3 uur)",
           "reminder": "[Rijksregister] Herinnering: gepland onderhoud {period} "
                       "(geschatte duur: 3 uur)",
           "start": "[Rijksregister] Het onderhoud is begonnen",
           "end": "[Rijksregister] Het onderhoud is beëindigd, de dienstverlening verloopt "
                  "normaal",
           "cancellation": "[Rijksregister] Het geplande onderhoud {period} is geannuleerd"},
    "de": {"announcement": "[Nationalregister] Geplante Wartung {period} "
                           "(voraussichtliche Dauer: 3 Stunden)",
           "reminder": "[Nationalregister] Erinnerung: geplante Wartung {period} "
                       "(voraussichtliche Dauer: 3 Stunden)",
           "start": "[Nationalregister] Die Wartung hat begonnen",
           "end": "[Nationalregister] Die Wartung ist abgeschlossen, der Dienst funktioniert "
                  "wieder normal",
           "cancellation": "[Nationalregister] Die {period} geplante Wartung wurde abgesagt"},
    "en": {"announcement": "[National Register] Planned maintenance {period} "
                           "(estimated duration: 3 hours)",
           "reminder": "[National Register] Reminder: planned maintenance {period} "
                       "(estimated duration: 3 hours)",
           "start": "[National Register] Maintenance has started",
           "end": "[National Register] Maintenance has ended, the service is operating normally",
           "cancellation": "[National Register] The maintenance planned {period} has been "
                           "cancelled"},
}
THANKS = {"fr": "Nous vous remercions de votre compréhension.",
          "nl": "Wij danken u voor uw begrip.",
          "de": "Wir danken Ihnen für Ihr Verständnis.",
          "en": "Thank you for your understanding."}
REFERENCE = {"fr": "Référence : maintenance n° 17", "nl": "Referentie: onderhoud nr. 17",
             "de": "Referenz: Wartung Nr. 17", "en": "Reference: maintenance no. 17"}


@pytest.mark.parametrize("step", ["announcement", "reminder", "start", "end", "cancellation"])
@pytest.mark.parametrize("lang", LANGS)
def test_maintenance_steps(lang: str, step: str) -> None:
    context = maintenance_context(lang, step)
    rendered = render("maintenance", lang, "fr", context)
    seen = check(rendered, lang, context)
    assert rendered.subject == STEP_SUBJECTS[lang][step].format(period=SAME_DAY[lang])
    announced = step in ("announcement", "reminder")
    assert (f"{DURATIONS[3, 0][lang]}." in rendered.text) == announced
    assert (SAME_DAY[lang] in rendered.text) == (announced or step == "cancellation")
    assert (SAME_DAY[lang] in seen) == (announced or step == "cancellation")
    assert ("05/12/2026 21:00" in rendered.text) == (step == "start")
    assert (THANKS[lang] in rendered.text) == (step in ("announcement", "reminder", "start"))
    assert ", ".join(COMPONENTS[lang]) in rendered.text and ", ".join(COMPONENTS[lang]) in seen
    assert REFERENCE[lang] in rendered.text and REFERENCE[lang] in seen
    assert STATUS_URL in rendered.text and f'href="{STATUS_URL}"' in (rendered.html or "")


@pytest.mark.parametrize(("hours", "minutes"), sorted(DURATIONS))
@pytest.mark.parametrize("lang", LANGS)
def test_maintenance_duration_phrase(lang: str, hours: int, minutes: int) -> None:
    phrase = DURATIONS[hours, minutes][lang]
    for step in ("announcement", "reminder"):
        context = maintenance_context(lang, step, duration_hours=hours, duration_minutes=minutes)
        rendered = render("maintenance", lang, "fr", context)
        seen = check(rendered, lang, context)
        assert rendered.subject.endswith(f": {phrase})")
        assert f": {phrase}." in rendered.text and f": {phrase}." in seen


@pytest.mark.parametrize("lang", LANGS)
def test_maintenance_over_midnight_and_without_duration(lang: str) -> None:
    context = maintenance_context(lang, "announcement", starts_at="05/12/2026 22:00",
                                  ends_at="06/12/2026 02:00", duration_hours=0,
                                  duration_minutes=0)
    rendered = render("maintenance", lang, "fr", context)
    check(rendered, lang, context)
    assert rendered.subject.endswith(OVERNIGHT[lang])  # no "(... 0 minutes)"
    assert OVERNIGHT[lang] in rendered.text and " 0 " not in rendered.text
    cancelled = render("maintenance", lang, "fr", context | {"step": "cancellation"})
    assert OVERNIGHT[lang] in cancelled.subject and OVERNIGHT[lang] in cancelled.text


# --- incident solved ---------------------------------------------------------------------

SOLVED_SUBJECTS = {
    "fr": "[RN #4242] Résolu : la perturbation du Registre national est terminée",
    "nl": "[RN #4242] Opgelost: de verstoring van het Rijksregister is voorbij",
    "de": "[RN #4242] Behoben: Die Störung des Nationalregisters ist beendet",
    "en": "[RN #4242] Resolved: the National Register disruption is over",
}
GREETINGS = {"fr": "Bonjour", "nl": "Goedendag", "de": "Guten Tag", "en": "Hello"}
REPLY = {"fr": "répondez simplement à ce message", "nl": "antwoord dan gewoon op dit bericht",
         "de": "antworten Sie einfach auf diese Nachricht", "en": "simply reply to this message"}
PERIOD = {"fr": "du 28/11/2026 14:05 au 28/11/2026 16:20",
          "nl": "van 28/11/2026 14:05 tot 28/11/2026 16:20",
          "de": "vom 28/11/2026 14:05 bis 28/11/2026 16:20",
          "en": "from 28/11/2026 14:05 to 28/11/2026 16:20"}


@pytest.mark.parametrize("lang", LANGS)
def test_incident_solved(lang: str) -> None:
    context = solved_context(lang)
    rendered = render("incident_solved", lang, "fr", context)
    seen = check(rendered, lang, context)
    assert rendered.subject == SOLVED_SUBJECTS[lang]
    assert rendered.text.startswith(f"{GREETINGS[lang]} Zoë Peeters,\n")
    assert "RN #4242" in rendered.text and "Clé d'accès bloquée" in rendered.text
    assert PERIOD[lang] in rendered.text and PERIOD[lang] in seen
    assert REPLY[lang] in rendered.text and REPLY[lang] in seen
    assert ", ".join(COMPONENTS[lang]) in rendered.text

    anonymous = render("incident_solved", lang, "fr",
                       solved_context(lang, requester_name=None, subject=""))
    assert anonymous.text.startswith(f"{GREETINGS[lang]},\n")
    assert visible(anonymous.html).startswith(f"{GREETINGS[lang]},")


@pytest.mark.parametrize("lang", LANGS)
def test_incident_solved_escapes_the_requesters_words(lang: str) -> None:
    context = solved_context(lang, subject=SCRIPT, requester_name="<b>Zoë</b>")
    rendered = render("incident_solved", lang, "fr", context)
    html = rendered.html or ""
    assert "<script" not in html and "<b>" not in html
    assert SCRIPT in check(rendered, lang, context)
    assert rendered.subject.startswith("[RN #4242] ")


# --- circular ----------------------------------------------------------------------------

GREETING = {"fr": "Madame, Monsieur,", "nl": "Geachte mevrouw, geachte heer,",
            "de": "Sehr geehrte Damen und Herren,", "en": "Dear Sir or Madam,"}
REFERENCE_LABEL = {"fr": "Référence : ", "nl": "Referentie: ", "de": "Referenz: ",
                   "en": "Reference: "}
ATTACHED = {"fr": ("Document joint :", "Documents joints :"), "nl": ("Bijlage:", "Bijlagen:"),
            "de": ("Anlage:", "Anlagen:"), "en": ("Attachment:", "Attachments:")}


@pytest.mark.parametrize("lang", LANGS)
def test_circular(lang: str) -> None:
    context = circular_context(lang)
    rendered = render("mailings/circular", lang, "fr", context)
    seen = check(rendered, lang, context)
    assert rendered.subject == "Circulaire 2026/03"
    assert rendered.text.startswith(f"{REFERENCE_LABEL[lang]}RN/2026/03\n\n{GREETING[lang]}\n\n")
    assert BODIES[lang] in rendered.text
    single, plural = ATTACHED[lang]
    assert f"\n{single}\n- circulaire-2026-03.pdf\n" in rendered.text and plural not in seen
    assert "<li>circulaire-2026-03.pdf</li>" in (rendered.html or "")
    first, second = BODIES[lang].split("\n\n")
    line_one, line_two = first.split("\n")
    html = rendered.html or ""
    assert f"<p>{escape(line_one)}<br>\n{escape(line_two)}</p>" in html
    assert f"<p>{escape(second)}</p>" in html


@pytest.mark.parametrize("lang", LANGS)
def test_circular_body_is_escaped_and_split_into_paragraphs(lang: str) -> None:
    body = f"\r\nOne {SCRIPT}\r\ntwo & three\r\n   \r\n\r\n\r\nFour\n\n\nFive\n"
    context = circular_context(lang, body=body, reference="", subject="",
                               attachments=["lettre.pdf", "annexe <1>.pdf"])
    rendered = render("mailings/circular", lang, "fr", context)
    seen = check(rendered, lang, context)
    html = rendered.html or ""
    assert "<script" not in html and f"One {SCRIPT} two & three Four Five" in seen
    assert f"<p>One {escape(SCRIPT)}<br>\ntwo &amp; three</p>\n<p>Four</p>\n<p>Five</p>" in html
    assert f"{GREETING[lang]}\n\nOne {SCRIPT}\ntwo & three\n\nFour\n\nFive\n\n" in rendered.text
    assert "\r" not in rendered.text
    assert "<li>annexe &lt;1&gt;.pdf</li>" in html
    assert f"\n{ATTACHED[lang][1]}\n- lettre.pdf\n- annexe <1>.pdf\n" in rendered.text
    assert rendered.text.startswith(GREETING[lang])  # no reference line
    assert REFERENCE_LABEL[lang].strip() not in rendered.text
    assert rendered.subject  # a default subject when the sender gave none


# Issue 16 A5: the body in another language than the reader's, said in the reader's.
ONLY_IN = {"fr": "Le texte de ce courrier n'est disponible qu'en néerlandais.",
           "nl": "De tekst van deze brief is enkel beschikbaar in het Frans.",
           "de": "Der Text dieses Schreibens ist nur auf Französisch verfügbar.",
           "en": "The text of this letter is only available in French."}


@pytest.mark.parametrize("lang", LANGS)
def test_circular_says_when_its_body_is_in_another_language(lang: str) -> None:
    written_in = "nl" if lang == "fr" else "fr"
    context = circular_context(lang, body=BODIES[written_in], body_language=written_in)
    rendered = render("mailings/circular", lang, "fr", context)
    check(rendered, lang, context)
    assert f"{GREETING[lang]}\n\n{ONLY_IN[lang]}\n\n{BODIES[written_in]}" in rendered.text
    html = rendered.html or ""
    assert f"<p><em>{ONLY_IN[lang]}</em></p>" in html
    assert f'<p lang="{written_in}">' in html
    own = render("mailings/circular", lang, "fr", circular_context(lang))
    assert ONLY_IN[lang] not in own.text and "<em>" not in (own.html or "")


def test_circular_is_found_under_mailings_and_falls_back() -> None:
    rendered = render("mailings/circular", "it", "nl", circular_context("nl"))
    assert rendered.language == "nl" and rendered.text.startswith("Referentie: RN/2026/03")


# --- acknowledgement with a disturbance --------------------------------------------------

DISTURBED = {"fr": "Le Registre national connaît actuellement une perturbation :",
             "nl": "Het Rijksregister kent momenteel een verstoring:",
             "de": "Beim Nationalregister liegt derzeit eine Störung vor:",
             "en": "The National Register is currently experiencing a disruption:"}


def acknowledgement_context(**extra: Any) -> dict[str, Any]:
    return {"tag": "RN", "ticket_id": 42, "subject": "Clé d'accès", "requester_name": "",
            "helpdesk_name": "Help desk", "faq_url": "", **extra}


@pytest.mark.parametrize("lang", LANGS)
def test_acknowledgement_mentions_a_current_disturbance(lang: str) -> None:
    # The banner names the functions concerned (rnmail.i18n.banners.mail_banner): no list
    # of its own that could contradict it.
    disturbance = {"banner": BANNERS["down"][lang], "components": COMPONENTS[lang],
                   "comment": f"{COMMENTS[lang]} {SCRIPT}"}
    rendered = render("acknowledgement", lang, "fr",
                      acknowledgement_context(disturbance=disturbance))
    assert f"{DISTURBED[lang]}\n{BANNERS['down'][lang]}\n" in rendered.text
    assert ", ".join(COMPONENTS[lang]) not in rendered.text and SCRIPT in rendered.text
    assert "\n\n\n" not in rendered.text and "{{" not in rendered.text
    seen = visible(rendered.html)
    assert DISTURBED[lang] in seen and BANNERS["down"][lang] in seen and SCRIPT in seen
    assert "<script" not in (rendered.html or "")


@pytest.mark.parametrize("disturbance", ["absent", None, {}])
@pytest.mark.parametrize("lang", LANGS)
def test_acknowledgement_without_disturbance_is_unchanged(lang: str, disturbance: Any) -> None:
    plain = render("acknowledgement", lang, "fr", acknowledgement_context())
    extra = {} if disturbance == "absent" else {"disturbance": disturbance}
    rendered = render("acknowledgement", lang, "fr", acknowledgement_context(**extra))
    assert rendered == plain
    assert DISTURBED[lang] not in rendered.text and DISTURBED[lang] not in visible(rendered.html)
