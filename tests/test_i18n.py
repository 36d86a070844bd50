"""The catalogues (rnmail/i18n): every text the code and the page templates translate has
its translation in the languages of the surface that shows it, nothing fuzzy or left over;
and the API around them (banners, formats, negotiation)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from rnmail.i18n import LANGUAGES, gettext, ngettext, pgettext, translations
from rnmail.i18n.catalogues import HERE, Translations, compile_po, mo_path, po_path

ROOT = Path(__file__).resolve().parent.parent
Key = tuple[str | None, str]  # (msgctxt, msgid)

# Which languages each surface is read in, by the files its texts are written in.
SURFACES = (
    # status page, its feed and the banners the mails reuse
    (("rnmail/status/", "rnmail/i18n/banners.py", "rnmail/templates/pages/status_"),
     ("nl", "fr", "de")),
    (("rnmail/stats/", "rnmail/templates/pages/report"), ("fr", "nl", "de", "en")),  # report
    (("rnmail/web/", "rnmail/templates/admin/"), ("fr", "nl", "de", "en")),  # the web admin
    # the desk (the staff's languages and German, English), with the sign-in it shares
    # with the admin
    (("rnmail/web/desk/", "rnmail/templates/desk/", "rnmail/web/signin.py",
      "rnmail/auth/signin.py"), ("fr", "nl", "de", "en")),
    (("rnmail/templates/pages/faq_", "rnmail/tickets/faq.py"), ("fr", "nl", "de", "en")),
    # the accessibility statement of the public pages (its four sections)
    (("rnmail/status/statement.py",), ("nl", "fr", "de", "en")),
    # a person's data export (its index in their language) and the desk's privacy page
    (("rnmail/privacy/", "rnmail/templates/pages/privacy_"), ("fr", "nl", "de", "en")),
    # the vocabularies' words in the mails (every mail language), and the notes rnmail
    # writes into tickets in [helpdesk].default_language (any of the four)
    (("rnmail/i18n/labels.py", "rnmail/tickets/notes.py"), ("fr", "nl", "de", "en")),
)
EVERYWHERE = ("fr", "nl")


def extracted() -> dict[Key, set[str]]:
    """Babel's extractor over rnmail/, as ``pybabel extract -F rnmail/i18n/babel.cfg``:
    (msgctxt, msgid) → the files it is in."""
    with (HERE / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[Key, set[str]] = {}
    for filename, _line, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map):
        assert isinstance(message, str), (filename, message)  # no plural forms yet
        found.setdefault((context, message), set()).add(filename)
    return found


def catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as handle:
        return read_po(handle, locale=language)


def needed(files: set[str]) -> set[str]:
    languages = set(EVERYWHERE)
    for prefixes, surface in SURFACES:
        if any(f.startswith(prefixes) for f in files):
            languages |= set(surface)
    return languages


@pytest.fixture(scope="module")
def used() -> dict[Key, set[str]]:
    return extracted()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_is_the_po_compiled(language: str) -> None:
    """The ``.mo`` read at start must say what the translators wrote: after editing a
    ``.po``, ``pybabel compile -d rnmail/i18n -D rnmail``."""
    assert mo_path(language).read_bytes() == compile_po(language), (
        f"{mo_path(language)} is stale: run pybabel compile -d rnmail/i18n -D rnmail")


def test_reading_the_catalogues_needs_no_babel() -> None:
    """A command that speaks to people reads the compiled catalogues without importing
    Babel's catalogue reader (a new process, as a command runs)."""
    code = ("import sys\nfrom rnmail.i18n.catalogues import LANGUAGES, translations\n"
            "assert all(len(translations(lang)._catalog) > 100 for lang in LANGUAGES)\n"
            "print(sorted(m for m in sys.modules if m.startswith('babel')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_a_compiled_catalogue_the_po_is_compiled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rnmail.i18n import catalogues

    lc = tmp_path / "fr" / "LC_MESSAGES"
    lc.mkdir(parents=True)
    (lc / "rnmail.po").write_bytes(po_path("fr").read_bytes())
    shipped_mo = mo_path("fr")
    monkeypatch.setattr(catalogues, "HERE", tmp_path)
    catalogues.translations.cache_clear()
    try:
        compiled = catalogues.translations("fr")
        assert not catalogues.mo_path("fr").exists()
        with shipped_mo.open("rb") as handle:
            shipped = Translations(handle)
        assert compiled._catalog == shipped._catalog and len(compiled._catalog) > 100
        assert catalogues.translations("de").gettext("Down") == "Down"  # no catalogue: msgids
    finally:
        catalogues.translations.cache_clear()


def test_the_extractor_finds_every_surface(used: dict[Key, set[str]]) -> None:
    files = set().union(*used.values())
    for prefixes, _languages in SURFACES:
        assert any(f.startswith(prefixes) for f in files), prefixes
    assert not any(f.startswith(("rnmail/templates/mail/", "rnmail/templates/mailings/"))
                   for f in files)  # mail bodies are per-language templates
    assert len(used) > 200


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_used_is_translated(used: dict[Key, set[str]], language: str) -> None:
    entries = {(m.context, m.id): m for m in catalog(language) if m.id}
    missing = sorted((key for key, files in used.items()
                      if language in needed(files) and not (
                          key in entries and isinstance(entries[key].string, str)
                          and entries[key].string.strip())), key=str)
    assert missing == [], (language, missing)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_fuzzy_obsolete_or_unused_entry(used: dict[Key, set[str]], language: str) -> None:
    po = catalog(language)
    assert [m.id for m in po if m.id and m.fuzzy] == []
    assert list(po.obsolete) == []
    assert sorted({(m.context, m.id) for m in po if m.id} - set(used), key=str) == []
    assert po.locale is not None and str(po.locale) == language


def test_the_template_is_current(used: dict[Key, set[str]]) -> None:
    """rnmail.pot holds what the extractor finds (run pybabel extract, then update)."""
    with (HERE / "rnmail.pot").open("rb") as handle:
        pot = read_po(handle)
    assert {(m.context, m.id) for m in pot if m.id} == set(used)


def test_the_placeholders_survive_translation(used: dict[Key, set[str]]) -> None:
    import re

    for language in LANGUAGES:
        for message in catalog(language):
            if message.id and message.string:
                names = re.findall(r"\{(\w*)\}", str(message.id))
                assert sorted(re.findall(r"\{(\w*)\}", str(message.string))) == sorted(
                    names), (language, message.id)


def test_the_texts_the_admin_translates_from_data_are_in_the_catalogue(
        used: dict[Key, set[str]]) -> None:
    """The templates' ``_(state)``, ``_(done)``, ``_(message)``: the extractor cannot see
    them in the templates, so the code marks them (``N_``)."""
    from rnmail.vocab import OutboxState, StatusState, strings
    from rnmail.web.admin import DONE

    for text in (*strings(StatusState), *strings(OutboxState), *DONE.values()):
        assert (None, text) in used, text
        assert gettext("fr", text) != text and gettext("nl", text) != text, text


def test_the_api() -> None:
    assert gettext("fr", "Sign in") == "Se connecter"
    assert gettext("nl", "Sign in") == "Aanmelden"
    assert gettext("en", "Sign in") == "Sign in"
    assert gettext("xx", "Sign in") == "Sign in"  # unknown language: the msgid
    assert gettext("fr", "not in the catalogue") == "not in the catalogue"
    assert gettext("fr", "") == ""  # not the catalogue's header
    assert pgettext("fr", "channel", "mail") == "courriel"
    assert pgettext("nl", "request", "other") == "andere aanvragen"
    assert ngettext("fr", "tickets", "tickets", 2) == "tickets"
    assert translations("fr") is translations("fr")  # read once


def test_the_banners_are_the_registers_verbatim() -> None:
    from rnmail.i18n.banners import banner

    assert banner("operational", "nl") == "Rijksregister werkt stabiel"
    assert banner("down", "de") == "National Register ist momentan ausser Betrieb"
    assert banner("degraded", "fr") == (
        "Le Registre national (accès aux personnes physiques) est opérationnel mais "
        "certaines fonctionnalités sont perturbées")
    assert banner("down", "en") == banner("down", "fr")  # the register has no English one


def test_formats_as_today() -> None:
    from datetime import UTC, date, datetime

    from rnmail.i18n import formats

    assert formats.number(1234567.25, "fr", 1) == "1\u202f234\u202f567,2"
    assert formats.number(1234567, "nl") == "1.234.567"
    assert formats.number(1234567, "en") == "1,234,567"
    assert formats.share(1, 8, "fr") == "12,5\u202f%"
    assert formats.share(1, 8, "nl") == "12,5 %"
    assert formats.share(1, 8, "en") == "12.5 %"
    assert formats.share(1, 0, "en") == "–"
    assert formats.hours_text(0.25, "fr") == "0,3 h"
    assert formats.hours_text(None, "fr") == "–"
    moment = datetime(2026, 11, 28, 13, 5, tzinfo=UTC)
    assert formats.format_time(moment, "fr") == "28/11/2026 14:05"
    assert formats.format_time(moment, "de") == "28.11.2026 14:05"
    assert formats.day_text(date(2026, 2, 1), "nl") == "01/02/2026"
    assert formats.day_text(date(2026, 2, 1), "en") == "2026-02-01"
    assert [formats.month_abbreviation(m, "fr") for m in (2, 7)] == ["févr.", "juil."]
    assert [formats.weekday_abbreviation(d, "fr") for d in (0, 6)] == ["lun", "dim"]
    assert [formats.weekday_abbreviation(d, "nl") for d in (0, 6)] == ["ma", "zo"]
    assert [formats.weekday_abbreviation(d, "en") for d in (0, 6)] == ["Mon", "Sun"]
    assert [formats.language_name(c) for c in LANGUAGES] == [
        "français", "Nederlands", "Deutsch", "English"]
    assert formats.language_name("nl", "fr") == "néerlandais"


def test_the_report_labels() -> None:
    from rnmail.stats.words import labeller, words

    assert words("fr")["contacts.title"] == "Contacts par mois et par canal"
    label = labeller("fr")
    assert label("month", "2026-02") == "févr. 2026"
    assert label("weekday-hour", "Mon 09") == "lun 09h"
    assert label("resolution", "(none)") == "(clôturé sans résolution)"
    assert label("staff", "(none)") == "(aucun)"
    assert label("organisation", "Commune de Jodoigne") == "Commune de Jodoigne"
    assert labeller("en")("category", "access-key") == "access key"
    assert labeller("en")("channel", "mail") == "mail"
