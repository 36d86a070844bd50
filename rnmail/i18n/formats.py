"""Numbers, dates and names as each language writes them, from Babel's CLDR data where it
gives today's texts.

Where CLDR writes otherwise, the texts people already read are kept (and said here):
- percentages: CLDR writes ``12,5 %`` with a no-break space (U+00A0) in French and ``12,5%``
  in Dutch and English; rnmail writes a narrow no-break space (U+202F) in French and a
  space elsewhere (``share``);
- dates: CLDR's short dates are ``28-11-2026`` (nl), ``28.11.26`` (de), ``11/28/26`` (en);
  rnmail writes ``28/11/2026`` (``28.11.2026`` in German) and ISO dates in English reports,
  with Babel's formatter on those patterns;
- weekdays: CLDR abbreviates ``lun.`` in French; the report shows ``lun`` (the dot dropped).
Times: every time a person reads is in the zone of ``[helpdesk].timezone`` (Europe/Brussels
by default), made here and nowhere else: ``format_time`` for mails and pages
(``28/11/2026 14:05``, the zone named once on the surface with ``zone_phrase``, ``heure de
Bruxelles``, or ``zone_name``, ``Bruxelles``, in a column's heading), ``text_time``
for the command line's text output (``2026-11-28 14:05 CET``: the abbreviation tells the two
02:30 of the night summer time ends apart). Times are stored in UTC; ``--json`` prints them
as ISO 8601 with their offset (``+00:00``).
Numbers (grouping U+202F in French, ``.`` in Dutch), month abbreviations and language names
are CLDR's as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import (
    format_date,
    format_datetime,
    format_timedelta,
    get_day_names,
    get_month_names,
    get_timezone_location,
)
from babel.numbers import format_decimal
from babel.units import format_unit

from rnmail.i18n.catalogues import translations

BRUSSELS = ZoneInfo("Europe/Brussels")  # the default of [helpdesk].timezone
_DATE_PATTERNS = {"de": "dd.MM.y"}  # 28.11.2026 in German, 28/11/2026 otherwise
_PERCENT = {"fr": "\u202f%"}  # a space otherwise


@lru_cache(maxsize=4096)  # a page shows the same times again and again (babel is slow)
def format_time(value: datetime, language: str, zone: tzinfo = BRUSSELS) -> str:
    """Local time as pages and mails show it, e.g. ``28/11/2026 14:05``."""
    local = value.astimezone(zone)
    return format_datetime(local, f"{_DATE_PATTERNS.get(language, 'dd/MM/y')} HH:mm",
                           locale=_locale(language))


def format_day(value: datetime | str, language: str, zone: tzinfo = BRUSSELS) -> str:
    """The local day of a time as pages show it, e.g. ``28/11/2026`` (a day stored as its
    midnight UTC, such as a key's sending date, is that day)."""
    return format_date(_aware(value).astimezone(zone).date(),
                       _DATE_PATTERNS.get(language, "dd/MM/y"), locale=_locale(language))


def time_ago(value: datetime, language: str, now: datetime | None = None) -> str:
    """How long before ``now`` ``value`` was, in whole minutes (at least one), as the
    language says it: ``il y a 2 minutes``, ``2 minuten geleden``, ``vor 2 Minuten``."""
    delta = max((now or datetime.now(UTC)) - value, timedelta(0))
    return format_timedelta(-delta, granularity="minute", add_direction=True,
                            locale=_locale(language))


def file_size(size: int, language: str) -> str:
    """A file's size as the language writes it, to a tenth: ``512 o``, ``12,5 kB``."""
    for unit, factor in (("digital-megabyte", 1024 ** 2), ("digital-kilobyte", 1024)):
        if size >= factor:
            return format_unit(round(size / factor, 1), unit, length="short",
                               locale=_locale(language))
    return format_unit(size, "digital-byte", length="short", locale=_locale(language))


def text_time(value: datetime | str | None, zone: tzinfo = BRUSSELS,
              empty: str = "-", *, seconds: bool = False) -> str:
    """A time in the command line's text output: ``2026-11-28 14:05 CET`` (``CEST`` in
    summer; ``14:05:09 CET`` with ``seconds``). ``value`` is an aware datetime or the ISO
    8601 text of one (as ``--json`` prints it); a naive one is taken as UTC, as the
    database stores it; ``None`` is ``empty``."""
    if value is None or value == "":
        return empty
    local = _aware(value).astimezone(zone)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return f"{local.strftime('%Y-%m-%d ' + clock)} {local.tzname()}"


def text_day(value: datetime | str | None, zone: tzinfo = BRUSSELS, empty: str = "-") -> str:
    """The local day of a time, ``2026-11-28``, for text output that needs no hour."""
    if value is None or value == "":
        return empty
    return _aware(value).astimezone(zone).date().isoformat()


def zone_name(zone: tzinfo, language: str) -> str:
    """The zone as its readers name it, in ``language``: the city of an IANA zone
    (``Bruxelles``, ``Brussel``, ``Brüssel``, ``Brussels``), else its key (``UTC``)."""
    key = getattr(zone, "key", None) or str(zone)
    if "/" not in key:
        return key
    return str(get_timezone_location(key, locale=_locale(language), return_city=True))


def zone_phrase(zone: tzinfo, language: str) -> str:
    """The zone said once on a surface, in ``language``: ``heure de Bruxelles``, ``Brusselse
    tijd``, ``Brüsseler Zeit``, ``Brussels time`` (the catalogue's words for the default
    zone); another zone by its city, ``heure de Paris``."""
    _ = translations(language).gettext
    if getattr(zone, "key", None) == BRUSSELS.key:
        return _("Brussels time")
    return _("{zone} time").format(zone=zone_name(zone, language))


def _aware(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def day_text(day: date, language: str) -> str:
    """A day in the report: ISO in English, ``28/11/2026`` otherwise."""
    if language == "en":
        return day.isoformat()
    return format_date(day, _DATE_PATTERNS.get(language, "dd/MM/y"), locale=_locale(language))


@lru_cache(maxsize=4096)  # counts and numbers repeated on every page (babel is slow)
def number(value: float, language: str, digits: int = 0) -> str:
    """Grouped, with ``digits`` decimals (rounded as Python rounds ``f"{value:.1f}"``)."""
    rounded = Decimal(f"{value:.{digits}f}")
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(rounded, pattern, locale=_locale(language))


def share(part: float, whole: float, language: str) -> str:
    if not whole:
        return "–"
    return number(100 * part / whole, language, 1) + _PERCENT.get(language, " %")


def hours_text(value: float | None, language: str) -> str:
    if value is None:
        return "–"
    rounded = Decimal(str(value)).quantize(Decimal("0.1"), ROUND_HALF_UP)  # 0.25 → 0.3
    return number(float(rounded), language, 1) + " h"


def business_age(seconds: int, language: str, day_seconds: int = 8 * 3600) -> str:
    """An age in business time as an agent reads it: ``45 min``, ``3 h 20``, ``2 j 3 h``
    (French; ``d`` in Dutch and English, ``T.`` in German), a day being one of the help
    desk's working days (``day_seconds``: its opening hours, 8 h by default)."""
    _ = translations(language).gettext
    minutes = max(0, seconds) // 60
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    if minutes < day_seconds // 60:
        hours, minutes = divmod(minutes, 60)
        return (_("{hours} h {minutes}").format(hours=hours, minutes=f"{minutes:02d}")
                if minutes else _("{hours} h").format(hours=hours))
    days, rest = divmod(seconds, max(1, day_seconds))
    hours = rest // 3600
    return (_("{days} d {hours} h").format(days=days, hours=hours) if hours
            else _("{days} d").format(days=days))


def month_abbreviation(month: int, language: str) -> str:
    """``janv.``, ``mrt``, ``Mar``: CLDR's abbreviated month (1–12)."""
    return str(get_month_names("abbreviated", locale=_locale(language))[month])


def weekday_abbreviation(weekday: int, language: str) -> str:
    """``lun``, ``ma``, ``Mon`` (0 is Monday): CLDR's abbreviation without its dot."""
    return str(get_day_names("abbreviated", locale=_locale(language))[weekday]).rstrip(".")


def language_name(code: str, language: str | None = None) -> str:
    """The name of the language ``code`` in ``language`` (its own name by default):
    ``français``, ``Nederlands``; ``néerlandais`` in French."""
    return str(_locale(language or code).languages.get(code, code))


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


@cache
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        return Locale.parse("fr")


@dataclass(frozen=True)
class Moment:
    """A time put in an error line (``RnmailError.translatable``): ``str()`` is the command
    line's ``2026-12-05 18:02 CET``; on a page, ``localized`` writes it the reader's way,
    with the zone named."""

    value: datetime
    zone: tzinfo = BRUSSELS

    def __str__(self) -> str:
        return text_time(self.value, self.zone)

    def localized(self, language: str) -> str:
        written = format_time(self.value, language, self.zone)
        return f"{written} ({zone_phrase(self.zone, language)})"


@dataclass(frozen=True)
class ZonePhrase:
    """The zone put in an error line: ``Brussels time``, ``heure de Bruxelles``."""

    zone: tzinfo = BRUSSELS

    def __str__(self) -> str:
        return zone_phrase(self.zone, "en")

    def localized(self, language: str) -> str:
        return zone_phrase(self.zone, language)


