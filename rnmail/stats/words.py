"""The words of the figures (``rnmail stats``), charts and report in French, Dutch, German
and English, from the catalogues (``rnmail.i18n``): titles, leads, headings, the names of the
dimensions and the labels of their values (channels, requester types, resolutions, default
categories: msgctxt the dimension), weekdays and months (CLDR's, ``rnmail.i18n.formats``),
the period."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from rnmail.i18n import translations
from rnmail.i18n.formats import day_text, month_abbreviation, weekday_abbreviation
from rnmail.i18n.labels import table

LANGUAGES = ("fr", "nl", "de", "en")
ACCESS_KEY = "access-key"  # the category the team reports apart
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # as rnmail.stats.figures labels them

if TYPE_CHECKING:
    from rnmail.config import Config
    from rnmail.stats.figures import Period

Label = Callable[[str, str], str]  # (dimension, raw value) -> what people read


def raw(_dimension: str, value: str) -> str:
    return value


def describe_period(period: Period, language: str) -> str:
    """``du 01/02/2026 au 31/03/2026``; an open end is the first or the last ticket."""
    text = words(language)
    return text["from_to"].format(
        start=day_text(period.start, language) if period.start else text["first_ticket"],
        end=day_text(period.end, language) if period.end else text["last_ticket"])


def default_language(config: Config) -> str:
    """The language of the figures and the report when none is asked for: ``[helpdesk]
    default_language`` (each of its choices is one of ``LANGUAGES``; else French)."""
    default = config.helpdesk.default_language
    return default if default in LANGUAGES else "fr"


@cache
def words(language: str) -> dict[str, str]:
    """The report's and the charts' words in ``language``, by key; the dimensions and the
    measures (``tickets``, ``replies``) are keys too."""
    _ = translations(language).gettext
    return {
        "report": _("Activity report"),
        "period": _("Period:"),
        "generated": _("Generated on {when} ({zone})"),  # zone: "heure de Bruxelles"
        "from_to": _("from {start} to {end}"),
        "first_ticket": _("the first ticket"),
        "last_ticket": _("the last ticket"),
        "no_data": _("No data for this period."),
        "contents": _("Contents"),
        "total": _("Total"),
        "share": _("Share"),
        "tickets": _("tickets"),
        "contacts": _("Contacts"),
        "other": _("other"),
        "others_row": _("Others ({n})"),
        "contacts.title": _("Contacts per month and channel"),
        "contacts.lead": _("{total} contacts (tickets created) in the period."),
        "requesters.title": _("Who contacts us"),
        "requesters.lead": _("By requester type and by organisation; the same figures outside "
                             "access-key requests (category “{key}”)."),
        "requesters.chart": _("Contacts by requester type"),
        "orgs.chart": _("The organisations that contact us most"),
        "orgs.caption": _("The {n} organisations that contact us most"),
        "all": _("All contacts"),
        "outside": _("Outside access-key requests"),
        "categories.title": _("Tickets by category"),
        "resolution.title": _("Resolution path"),
        "resolution.lead": _("How tickets were resolved: at first contact, after "
                             "investigation, or by a second-line service."),
        "services.caption": _("Tickets delegated, per second-line service"),
        "services.chart": _("Tickets per second-line service"),
        "no_service": _("No ticket was delegated to a second-line service."),
        "load.title": _("Load by weekday and hour"),
        "load.lead": _("{inside} of the {total} contacts ({share}) arrived during opening "
                       "hours ({opens}–{closes}, Monday to Friday, public holidays "
                       "excluded)."),
        "load.chart": _("Contacts by weekday and hour of arrival"),
        "opening": _("opening hours"),
        "times.title": _("Times in business hours"),
        "times.lead": _("First response and resolution, in opening hours ({opens}–{closes} "
                        "Monday to Friday{holidays}): median and 90th percentile, by the "
                        "month the ticket was created."),
        "times.chart": _("Times in business hours"),
        "holidays": _(", public holidays excluded"),
        "answered": _("Answered"),
        "first_median": _("First response, median"),
        "first_p90": _("First response, 90th percentile"),
        "closed": _("Closed"),
        "res_median": _("Resolution, median"),
        "res_p90": _("Resolution, 90th percentile"),
        "response_due": _("First responses due"),
        "response_met": _("on time"),
        "response_met_pct": _("share on time"),
        "resolution_due": _("Resolutions due"),
        "resolution_met": _("resolved on time"),
        "resolution_met_pct": _("share resolved on time"),
        "due.note": _("A due time counts once it is met or has passed; merged tickets are "
                      "not counted."),
        "hours": _("business hours"),
        "staff.title": _("Per staff member"),
        "staff.lead": _("For each member: the tickets created in the period and assigned "
                        "to them, and the answers they wrote to requesters in the period "
                        "(by mail or from the command line), on any ticket, assigned or "
                        "not."),
        "assigned": _("tickets assigned"),
        "answers": _("answers written"),
        "without": _("without {categories}"),
        "inside.note": _("{inside} of {total} contacts inside opening hours "
                         "({opens}–{closes}, working days)"),
        "merged.note": _("{merged} merged tickets not counted: each counts as the ticket it "
                         "went into."),
        "business.note": _("Business hours: {opens}–{closes} on working days{holidays}."),
        "chart_written": _("chart written to {path}"),
        "by": _("{measure} by {dimensions}"),
        "month": _("month"), "week": _("week"), "day": _("day"), "weekday": _("weekday"),
        "hour": _("hour"), "weekday-hour": _("weekday and hour"), "channel": _("channel"),
        "requester-type": _("requester type"), "organisation": _("organisation"),
        "category": _("category"), "resolution": _("resolution"),
        "service": _("second-line service"), "staff": _("staff member"),
        "request": _("request"),
    }


@cache
def _values(language: str) -> dict[str, dict[str, str]]:
    """Dimension → raw value → label; ``*``: values of any dimension (placeholders)."""
    t = translations(language)
    shared = table(language)  # the vocabularies' words, as the mails show them
    return {
        "channel": shared["channel"],
        "requester-type": shared["requester-type"],
        "resolution": {**shared["resolution"],
                       "(none)": t.pgettext("resolution", "(none)"),
                       "(not closed)": t.pgettext("resolution", "(not closed)")},
        "category": shared["category"],
        "weekday": {day: weekday_abbreviation(index, language)
                    for index, day in enumerate(WEEKDAYS)},
        "month": {f"{month:02d}": month_abbreviation(month, language) for month in range(1, 13)},
        "request": {ACCESS_KEY: t.pgettext("request", "access-key"),
                    "other": t.pgettext("request", "other")},
        "*": {"(none)": t.pgettext("any", "(none)"),
              "(unassigned)": t.pgettext("any", "(unassigned)"),
              "(citizens)": t.pgettext("any", "(citizens)")},
    }


def labeller(language: str) -> Label:
    """The label of a dimension value in ``language``: channels, requester types,
    resolutions, default categories, weekdays and months translated; user data as is."""
    values = _values(language)
    # The hour of a weekday-hour cell: "09h", "09u", "09 Uhr", "09:00"
    hour_format = translations(language).pgettext("hour", "{hour}h")

    def label(dimension: str, value: str) -> str:
        if dimension == "month" and re.fullmatch(r"\d{4}-\d{2}", value):
            return f"{values['month'][value[5:]]} {value[:4]}"
        if dimension == "weekday-hour" and " " in value:
            day, hour = value.split(" ", 1)
            return f"{label('weekday', day)} {hour_format.format(hour=hour)}"
        return values.get(dimension, {}).get(value) or values["*"].get(value, value)

    return label
