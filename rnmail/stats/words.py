"""The words of the figures, charts and report in French, Dutch and English: titles,
labels of channels, requester types, resolutions, weekdays and months, and numbers, shares
and hours written as each language writes them."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:

    pass

LANGUAGES = ("fr", "nl", "en")
ACCESS_KEY = "access-key"  # the category the team reports apart
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # as rnmail.stats.figures labels them

Label = Callable[[str, str], str]  # (dimension, raw value) -> what people read


def raw(_dimension: str, value: str) -> str:
    return value


# --- words ------------------------------------------------------------------------------

TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "report": "Rapport d'activité",
        "period": "Période :",
        "generated": "Généré le {when} (heure de Bruxelles)",
        "from_to": "du {start} au {end}",
        "first_ticket": "premier ticket",
        "last_ticket": "dernier ticket",
        "no_data": "Pas de données pour cette période.",
        "contents": "Sommaire",
        "total": "Total",
        "share": "Part",
        "tickets": "tickets",
        "contacts": "Contacts",
        "other": "autres",
        "others_row": "Autres ({n})",
        "contacts.title": "Contacts par mois et par canal",
        "contacts.lead": "{total} contacts (tickets créés) sur la période.",
        "requesters.title": "Qui nous contacte",
        "requesters.lead": "Par type de demandeur et par organisation ; les mêmes chiffres "
                           "hors demandes de clé d'accès (catégorie « {key} »).",
        "requesters.chart": "Contacts par type de demandeur",
        "orgs.chart": "Les organisations qui nous contactent le plus",
        "orgs.caption": "Les {n} organisations qui nous contactent le plus",
        "all": "Tous les contacts",
        "outside": "Hors clé d'accès",
        "categories.title": "Tickets par catégorie",
        "resolution.title": "Parcours de résolution",
        "resolution.lead": "Comment les tickets ont été résolus : au premier contact, après "
                           "recherche, ou par un service de deuxième ligne.",
        "services.caption": "Tickets transmis, par service de deuxième ligne",
        "services.chart": "Tickets par service de deuxième ligne",
        "no_service": "Aucun ticket transmis à un service de deuxième ligne.",
        "load.title": "Charge par jour et par heure",
        "load.lead": "{inside} des {total} contacts ({share}) sont arrivés pendant les heures "
                     "d'ouverture ({opens}–{closes}, du lundi au vendredi, jours fériés "
                     "exclus).",
        "load.chart": "Contacts par jour et par heure d'arrivée",
        "opening": "heures d'ouverture",
        "times.title": "Délais en heures ouvrables",
        "times.lead": "Première réponse et résolution, en heures d'ouverture ({opens}–{closes}"
                      " du lundi au vendredi{holidays}) : médiane et 90e centile, par mois de "
                      "création du ticket.",
        "times.chart": "Délais en heures ouvrables",
        "holidays": ", jours fériés exclus",
        "answered": "Répondus",
        "first_median": "1re réponse, médiane",
        "first_p90": "1re réponse, 90e centile",
        "closed": "Clôturés",
        "res_median": "Résolution, médiane",
        "res_p90": "Résolution, 90e centile",
        "hours": "heures ouvrables",
        "staff.title": "Par membre de l'équipe",
        "staff.lead": "Tickets créés sur la période attribués à chacun, et réponses envoyées "
                      "sur la période.",
        "replies": "réponses",
        "by": "{measure} par {dimensions}",
        "month": "mois", "week": "semaine", "day": "jour", "weekday": "jour",
        "hour": "heure", "weekday-hour": "jour et heure", "channel": "canal",
        "requester-type": "type de demandeur", "organisation": "organisation",
        "category": "catégorie", "resolution": "résolution",
        "service": "service de deuxième ligne", "staff": "membre de l'équipe",
        "request": "demande",
    },
    "nl": {
        "report": "Activiteitenverslag",
        "period": "Periode:",
        "generated": "Aangemaakt op {when} (Brusselse tijd)",
        "from_to": "van {start} tot {end}",
        "first_ticket": "eerste ticket",
        "last_ticket": "laatste ticket",
        "no_data": "Geen gegevens voor deze periode.",
        "contents": "Inhoud",
        "total": "Totaal",
        "share": "Aandeel",
        "tickets": "tickets",
        "contacts": "Contacten",
        "other": "andere",
        "others_row": "Andere ({n})",
        "contacts.title": "Contacten per maand en per kanaal",
        "contacts.lead": "{total} contacten (aangemaakte tickets) in de periode.",
        "requesters.title": "Wie neemt contact op",
        "requesters.lead": "Per type aanvrager en per organisatie; dezelfde cijfers zonder de "
                           "aanvragen voor toegangssleutels (categorie ‘{key}’).",
        "requesters.chart": "Contacten per type aanvrager",
        "orgs.chart": "De organisaties die het vaakst contact opnemen",
        "orgs.caption": "De {n} organisaties die het vaakst contact opnemen",
        "all": "Alle contacten",
        "outside": "Zonder toegangssleutels",
        "categories.title": "Tickets per categorie",
        "resolution.title": "Oplossingstraject",
        "resolution.lead": "Hoe de tickets opgelost werden: bij het eerste contact, na "
                           "onderzoek, of door een dienst van de tweede lijn.",
        "services.caption": "Doorgestuurde tickets, per dienst van de tweede lijn",
        "services.chart": "Tickets per dienst van de tweede lijn",
        "no_service": "Geen enkel ticket doorgestuurd naar een dienst van de tweede lijn.",
        "load.title": "Belasting per dag en per uur",
        "load.lead": "{inside} van de {total} contacten ({share}) kwamen binnen tijdens de "
                     "openingsuren ({opens}–{closes}, maandag tot vrijdag, feestdagen "
                     "niet meegerekend).",
        "load.chart": "Contacten per dag en per uur van aankomst",
        "opening": "openingsuren",
        "times.title": "Termijnen in kantooruren",
        "times.lead": "Eerste antwoord en oplossing, in openingsuren ({opens}–{closes} van "
                      "maandag tot vrijdag{holidays}): mediaan en 90e percentiel, per maand "
                      "waarin het ticket aangemaakt werd.",
        "times.chart": "Termijnen in kantooruren",
        "holidays": ", feestdagen niet meegerekend",
        "answered": "Beantwoord",
        "first_median": "1e antwoord, mediaan",
        "first_p90": "1e antwoord, 90e percentiel",
        "closed": "Afgesloten",
        "res_median": "Oplossing, mediaan",
        "res_p90": "Oplossing, 90e percentiel",
        "hours": "kantooruren",
        "staff.title": "Per teamlid",
        "staff.lead": "Tickets aangemaakt in de periode en toegewezen aan elk teamlid, en "
                      "antwoorden verstuurd in de periode.",
        "replies": "antwoorden",
        "by": "{measure} per {dimensions}",
        "month": "maand", "week": "week", "day": "dag", "weekday": "dag",
        "hour": "uur", "weekday-hour": "dag en uur", "channel": "kanaal",
        "requester-type": "type aanvrager", "organisation": "organisatie",
        "category": "categorie", "resolution": "oplossing",
        "service": "dienst van de tweede lijn", "staff": "teamlid",
        "request": "aanvraag",
    },
    "en": {
        "report": "Activity report",
        "period": "Period:",
        "generated": "Generated on {when} (Brussels time)",
        "from_to": "from {start} to {end}",
        "first_ticket": "the first ticket",
        "last_ticket": "the last ticket",
        "no_data": "No data for this period.",
        "contents": "Contents",
        "total": "Total",
        "share": "Share",
        "tickets": "tickets",
        "contacts": "Contacts",
        "other": "other",
        "others_row": "Others ({n})",
        "contacts.title": "Contacts per month and channel",
        "contacts.lead": "{total} contacts (tickets created) in the period.",
        "requesters.title": "Who contacts us",
        "requesters.lead": "By requester type and by organisation; the same figures outside "
                           "access-key requests (category “{key}”).",
        "requesters.chart": "Contacts by requester type",
        "orgs.chart": "The organisations that contact us most",
        "orgs.caption": "The {n} organisations that contact us most",
        "all": "All contacts",
        "outside": "Outside access-key requests",
        "categories.title": "Tickets by category",
        "resolution.title": "Resolution path",
        "resolution.lead": "How tickets were resolved: at first contact, after investigation, "
                           "or by a second-line service.",
        "services.caption": "Tickets delegated, per second-line service",
        "services.chart": "Tickets per second-line service",
        "no_service": "No ticket was delegated to a second-line service.",
        "load.title": "Load by weekday and hour",
        "load.lead": "{inside} of the {total} contacts ({share}) arrived during opening hours "
                     "({opens}–{closes}, Monday to Friday, public holidays excluded).",
        "load.chart": "Contacts by weekday and hour of arrival",
        "opening": "opening hours",
        "times.title": "Times in business hours",
        "times.lead": "First response and resolution, in opening hours ({opens}–{closes} "
                      "Monday to Friday{holidays}): median and 90th percentile, by the month "
                      "the ticket was created.",
        "times.chart": "Times in business hours",
        "holidays": ", public holidays excluded",
        "answered": "Answered",
        "first_median": "First response, median",
        "first_p90": "First response, 90th percentile",
        "closed": "Closed",
        "res_median": "Resolution, median",
        "res_p90": "Resolution, 90th percentile",
        "hours": "business hours",
        "staff.title": "Per staff member",
        "staff.lead": "Tickets created in the period and assigned to each member, and replies "
                      "sent in the period.",
        "replies": "replies",
        "by": "{measure} by {dimensions}",
        "month": "month", "week": "week", "day": "day", "weekday": "weekday",
        "hour": "hour", "weekday-hour": "weekday and hour", "channel": "channel",
        "requester-type": "requester type", "organisation": "organisation",
        "category": "category", "resolution": "resolution",
        "service": "second-line service", "staff": "staff member",
        "request": "request",
    },
}

VALUES: dict[str, dict[str, dict[str, str]]] = {
    "fr": {
        "channel": {"mail": "courriel", "fax": "fax", "phone": "téléphone",
                    "letter": "courrier"},
        "requester-type": {"citizen": "citoyen", "municipality": "commune",
                           "police": "police", "notary": "notaire",
                           "public-service": "service public", "company": "entreprise",
                           "other": "autre"},
        "resolution": {"first-contact": "premier contact", "investigated": "après recherche",
                       "second-line": "deuxième ligne",
                       "(none)": "(clôturé sans résolution)",
                       "(not closed)": "(pas encore clôturé)"},
        "category": {"access-key": "clé d'accès", "certificate": "certificat",
                     "address-change": "changement d'adresse",
                     "data-correction": "correction de données", "legal": "juridique",
                     "web-services": "services web", "other": "autre"},
        "weekday": dict(zip(WEEKDAYS, ("lun", "mar", "mer", "jeu", "ven", "sam", "dim"),
                            strict=True)),
        "month": dict(zip(("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
                           "12"),
                          ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août",
                           "sept.", "oct.", "nov.", "déc."), strict=True)),
        "request": {ACCESS_KEY: "clé d'accès", "other": "autres demandes"},
        "*": {"(none)": "(aucun)", "(unassigned)": "(non attribué)",
              "(citizens)": "(citoyens)"},
    },
    "nl": {
        "channel": {"mail": "e-mail", "fax": "fax", "phone": "telefoon", "letter": "brief"},
        "requester-type": {"citizen": "burger", "municipality": "gemeente",
                           "police": "politie", "notary": "notaris",
                           "public-service": "openbare dienst", "company": "bedrijf",
                           "other": "andere"},
        "resolution": {"first-contact": "eerste contact", "investigated": "na onderzoek",
                       "second-line": "tweede lijn",
                       "(none)": "(afgesloten zonder oplossing)",
                       "(not closed)": "(nog niet afgesloten)"},
        "category": {"access-key": "toegangssleutel", "certificate": "getuigschrift",
                     "address-change": "adreswijziging",
                     "data-correction": "gegevenscorrectie", "legal": "juridisch",
                     "web-services": "webdiensten", "other": "andere"},
        "weekday": dict(zip(WEEKDAYS, ("ma", "di", "wo", "do", "vr", "za", "zo"),
                            strict=True)),
        "month": dict(zip(("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
                           "12"),
                          ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep",
                           "okt", "nov", "dec"), strict=True)),
        "request": {ACCESS_KEY: "toegangssleutel", "other": "andere aanvragen"},
        "*": {"(none)": "(geen)", "(unassigned)": "(niet toegewezen)",
              "(citizens)": "(burgers)"},
    },
    "en": {
        "category": {"access-key": "access key"},
        "month": dict(zip(("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
                           "12"),
                          ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                           "Oct", "Nov", "Dec"), strict=True)),
        "request": {ACCESS_KEY: "access key", "other": "other requests"},
        "*": {"(citizens)": "(citizens)"},
    },
}


def labeller(language: str) -> Label:
    """The label of a dimension value in ``language``: channels, requester types,
    resolutions, default categories, weekdays and months translated; user data as is."""
    values = VALUES[language]

    def label(dimension: str, value: str) -> str:
        if dimension == "month" and re.fullmatch(r"\d{4}-\d{2}", value):
            return f"{values['month'][value[5:]]} {value[:4]}"
        if dimension == "weekday-hour" and " " in value:
            day, hour = value.split(" ", 1)
            return f"{label('weekday', day)} {hour}h"
        return values.get(dimension, {}).get(value) or values["*"].get(value, value)

    return label


def number(value: float, language: str, digits: int = 0) -> str:
    text = f"{value:,.{digits}f}"
    if language == "en":
        return text
    thousands = "\u202f" if language == "fr" else "."
    return text.replace(",", "\0").replace(".", ",").replace("\0", thousands)


def share(part: float, whole: float, language: str) -> str:
    if not whole:
        return "–"
    return number(100 * part / whole, language, 1) + ("\u202f%" if language == "fr" else " %")


def hours_text(value: float | int | None, language: str) -> str:
    if value is None:
        return "–"
    rounded = Decimal(str(value)).quantize(Decimal("0.1"), ROUND_HALF_UP)  # 0.25 → 0.3
    return number(float(rounded), language, 1) + " h"
