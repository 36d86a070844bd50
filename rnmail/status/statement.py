"""The accessibility statement of the public pages, as Belgian public bodies publish one
(law of 19 July 2018; the EU model statement, decision 2018/1523): conformance with WCAG 2.1
AA, what is not accessible, how the pages were evaluated, whom to tell about a problem and
where to complain.

``publish_statement`` writes ``accessibility.html`` into ``[status].public_dir``, beside the
status page (``rnmail.status.page`` publishes it with the page, ``rnmail.tickets.faq`` with
the FAQ): one document, a section per language (nl, fr, de, en), reached by anchor links,
no script, like the status page. The web admin and the desk show the same text
(``render_statement``) under ``/admin/accessibility`` and ``/desk/accessibility``, so that
their footers link to something that is always there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup

from rnmail.config import HelpdeskConfig, StatusConfig
from rnmail.dispatch.render import PAGES, contact_block
from rnmail.i18n import translations
from rnmail.i18n.formats import capitalised, language_name
from rnmail.util.publicfiles import public_folder, write_public_file
from rnmail.util.templatecache import bytecode_cache

STATEMENT_LANGUAGES = ("nl", "fr", "de", "en")
FILE = "accessibility.html"
# The day the pages of this version were last evaluated (axe-core in the test suite, and by
# hand: keyboard, 390 px, 200 % text, colour, headings, languages). Change it with the pages.
EVALUATED = date(2026, 12, 6)
# Where a complaint goes when the answer does not satisfy (federal bodies: the Federal
# Ombudsman), its site in the reader's language.
OMBUDSMAN = {
    "nl": "https://www.federaalombudsman.be/",
    "fr": "https://www.mediateurfederal.be/",
    "de": "https://www.foederalombudsmann.be/",
    "en": "https://www.federalombudsman.be/",
}


@dataclass(frozen=True, slots=True)
class _Section:
    lang: str
    language: str  # the language's own name, for the switch
    words: dict[str, str]
    evaluated: str
    contact: Markup  # the help desk's contact block


@cache
def statement_template() -> Template:
    env = Environment(loader=FileSystemLoader(str(PAGES)), undefined=StrictUndefined,
                      autoescape=True, trim_blocks=True, lstrip_blocks=True, auto_reload=False,
                      bytecode_cache=bytecode_cache())
    return env.get_template("accessibility.html.j2")


@cache
def statement_words(language: str) -> dict[str, str]:
    """The statement's sentences in ``language``; ``{name}``, ``{date}`` left to fill."""
    _ = translations(language).gettext
    return {
        "title": _("Accessibility statement"),
        "intro": _("{name} wants its public pages to be usable by everyone, as the law of "
                   "19 July 2018 on the accessibility of the websites and mobile applications "
                   "of public sector bodies requires."),
        "scope": _("This statement applies to the status page of the National Register, "
                   "the frequently asked questions of the help desk and this page."),
        "conformance": _("Conformance status"),
        "conformant": _("These pages are fully conformant with the Web Content Accessibility "
                        "Guidelines (WCAG) 2.1, level AA, to which the European standard "
                        "EN 301 549 refers."),
        "not_accessible": _("Content that is not accessible"),
        "none_known": _("We know of no content of these pages that is not accessible."),
        "languages": _("The texts the help desk writes (the comments on the status, the "
                       "answers of the FAQ) sometimes exist in one language only: a text "
                       "shown in another language than yours says so, and its language is "
                       "marked for screen readers."),
        "evaluation": _("How these pages were evaluated"),
        "prepared": _("This statement was prepared on {date}."),
        "automatic": _("Every version of rnmail, the software that publishes these pages, "
                       "checks them in the Chromium browser with axe-core, for the rules of "
                       "WCAG 2.1 levels A and AA: the status page in each of its three "
                       "positions and each language, the FAQ and this statement."),
        "manual": _("They were also checked by hand: with the keyboard only, at a width of "
                    "390 pixels and with the text enlarged to 200 %, the position written "
                    "next to each colour, the order of the headings and the language of each "
                    "part."),
        "no_refresh": _("The status page does not reload itself: it shows the time of its "
                        "last change, a link to reload it, and an Atom feed to follow its "
                        "changes."),
        "feedback": _("Feedback and contact"),
        "tell_us": _("Did you find a problem of accessibility on these pages, or do you need "
                     "their content in another form? Tell us:"),
        "email": _("E-mail"),
        "phone": _("Phone"),
        "enforcement": _("Enforcement procedure"),
        "complaint": _("If our answer does not satisfy you, you can lodge a complaint with "
                       "the Federal Ombudsman:"),
        "ombudsman": _("the Federal Ombudsman's site"),
        "status_page": _("National Register status"),
        "faq": _("Frequently asked questions"),
        "colon": _(": "),
    }


def render_statement(status: StatusConfig, helpdesk: HelpdeskConfig, *,
                     links: bool = True) -> str:
    """The statement as one HTML document; ``links``: to the status page and the FAQ
    beside it (the published file; not the copy the internal sites show)."""
    return _render(status.accessibility_contact, helpdesk, links)


@lru_cache(maxsize=16)  # the same text at every publish of the status page
def _render(contact: str, helpdesk: HelpdeskConfig, links: bool) -> str:
    sections = []
    for lang in STATEMENT_LANGUAGES:
        words = dict(statement_words(lang))
        words["intro"] = words["intro"].format(name=helpdesk.name)
        sections.append(_Section(
            lang, capitalised(language_name(lang)), words,
            format_date(EVALUATED, "long", locale=lang),
            contact_block(helpdesk, lang).html))
    return statement_template().render(
        lang=helpdesk.default_language if helpdesk.default_language in STATEMENT_LANGUAGES
        else "fr",
        title=" / ".join(statement_words(lang)["title"] for lang in STATEMENT_LANGUAGES[:3]),
        sections=sections, evaluated_iso=EVALUATED.isoformat(),
        email=contact or helpdesk.address, phone=helpdesk.phone,
        ombudsman=OMBUDSMAN, links=links)


def publish_statement(status: StatusConfig, helpdesk: HelpdeskConfig) -> Path:
    """Write ``accessibility.html`` into ``[status].public_dir`` (atomically)."""
    path = public_folder(status.public_dir) / FILE
    write_public_file(path, render_statement(status, helpdesk))
    return path
