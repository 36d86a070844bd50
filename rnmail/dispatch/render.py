"""Render: Jinja2 templates → subject, text and HTML, in the recipient's language.

One file per message kind and language, ``<name>.<lang>.j2``, with three blocks:
``subject``, ``text`` and ``html`` (the html block is autoescaped; undefined variables
are errors).
A language without its own template falls back to the configured default language.
The templates see ``mail_language``, the language they are rendered in, and two filters that write a
value in it: ``{{ ticket.requester_type|label("requester-type") }}`` (``citoyen``, the
vocabularies of ``rnmail.i18n.labels``) and ``{{ comment_language|language_name }}``
(``néerlandais``, ``Frans``): no code of the database reaches a reader.

Every mail ends with the help desk's contact block (``contact_block.<lang>.j2``: name,
phone, fax, e-mail, opening hours, all from the configuration) in the language the mail was
rendered in: ``render`` appends it to the text after a ``-- `` signature line (or within the
template's own signature, when it has one) and to the HTML after a rule. The public pages
print the same block (``contact_block``).

Times: ``{{ taken_at|local_time }}`` writes a UTC datetime in ``[helpdesk].timezone``, as the
language of the template writes it (``19/12/2026 18:00``); ``zone_phrase`` names that zone
in the same language (``heure de Bruxelles``, ``Brusselse tijd``), for a template to say
once. Every mail template has both, those of ``templates_dir`` too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    pass_context,
)
from jinja2.runtime import Context
from markupsafe import Markup

from rnmail.config import HelpdeskConfig, clock
from rnmail.i18n import translations
from rnmail.i18n.formats import format_time, zone_phrase
from rnmail.i18n.labels import label, language_name
from rnmail.util.templatecache import bytecode_cache

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
MAIL = TEMPLATES / "mail"  # <name>.<lang>.j2: the mail rnmail writes itself
PAGES = TEMPLATES / "pages"  # HTML pages and feeds: status, FAQ, report
CONTACT_BLOCK = "contact_block"
_SIGNATURE = re.compile(r"^-- $", re.MULTILINE)  # the conventional signature separator


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    text: str
    html: str | None


@dataclass(frozen=True)
class ContactBlock:
    language: str
    text: str  # ends with a newline
    html: Markup  # escaped: safe to print in an autoescaped page


@cache
def environment(directories: tuple[Path, ...] = (MAIL,)) -> Environment:
    """Templates found in the first of ``directories`` that has them."""
    env = Environment(
        loader=FileSystemLoader([str(d) for d in directories]),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # The shipped templates change only with the code: no stat() of the file at each
        # mail (an acknowledgement per new ticket); those of a templates_dir are re-read
        # when they change.
        auto_reload=directories != (MAIL,),
        bytecode_cache=bytecode_cache(),
    )
    env.filters["clock"] = clock  # {{ opens|clock }} 8:30, {{ opens|clock(".") }} 8.30
    env.filters["label"] = _label
    env.filters["language_name"] = _language_name
    env.filters["local_time"] = _local_time
    return env


def compile_mail_templates() -> None:
    """Compile every template of ``MAIL`` now. The command server does it once, so that no
    command's copy spends ~3 ms a template compiling the ones it renders (six for the
    notice of ``status set --notify``). A changed template makes the server stale (the
    code's fingerprint covers ``rnmail/templates``): no copy renders an old one."""
    env = environment()
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)


@pass_context
def _label(context: Context, value: object, vocabulary: str) -> str:
    """``{{ ticket.channel|label("channel") }}``: the value in the template's language."""
    return label(context["mail_language"], vocabulary, value)


@pass_context
def _language_name(context: Context, code: str) -> str:
    """``{{ comment_language|language_name }}``: that language's name in the template's."""
    return language_name(code, context["mail_language"])


@pass_context
def _local_time(ctx: Context, value: datetime | None) -> str:
    """``{{ moment|local_time }}``: in the zone and language ``render`` put in the context."""
    if value is None:
        return ""
    return format_time(value, ctx["mail_language"], ctx["time_zone"])


def render(name: str, language: str, fallback: str, context: dict[str, Any],
           directories: tuple[Path, ...] = (MAIL,), *,
           helpdesk: HelpdeskConfig) -> Rendered:
    """``name`` in ``language`` (else ``fallback``, else French), ending with the contact
    block of ``helpdesk`` in the language used."""
    env = environment(directories)
    for lang in dict.fromkeys((language, fallback, "fr")):
        try:
            template = env.get_template(f"{name}.{lang}.j2")
        except TemplateNotFound:
            continue
        blocks = template.blocks
        ctx = template.new_context({"mail_language": lang, "time_zone": helpdesk.zone,
                                    "zone_phrase": zone_phrase(helpdesk.zone, lang), **context})
        subject = " ".join("".join(blocks["subject"](ctx)).split())
        contact = contact_block(helpdesk, lang)
        text = "".join(blocks["text"](ctx)).strip()
        separator = "\n\n" if _signed(template) else "\n\n-- \n"
        text = f"{text}{separator}{contact.text}"
        html = None
        if "html" in blocks:  # templates wrap this block in {% autoescape true %}
            html = "".join(blocks["html"](ctx)).strip()
            html = f"{html}\n<hr>\n{contact.html}\n"
        return Rendered(language=lang, subject=subject, text=text, html=html)
    raise TemplateNotFound(f"{name}.{language}.j2")


def without_signature(text: str) -> str:
    """What a mail says: ``text`` up to its ``-- `` signature line (the template's signature
    and the contact block that ``render`` appends), as the ticket keeps and indexes it: a
    search for the help desk's own number or name must not find every answer."""
    lines = text.splitlines()
    return "\n".join(lines[:lines.index("-- ")] if "-- " in lines else lines).strip()


@lru_cache(maxsize=256)
def _signed(template: Template) -> bool:
    """Whether the template's text has its own ``-- `` signature line (then the contact
    block ends that signature rather than starting a second one)."""
    env = template.environment
    assert env.loader is not None and template.name is not None
    return bool(_SIGNATURE.search(env.loader.get_source(env, template.name)[0]))


@lru_cache(maxsize=64)
def contact_block(helpdesk: HelpdeskConfig, language: str) -> ContactBlock:
    """The help desk's contact block in ``language`` (French when it has none)."""
    env = environment()
    for lang in dict.fromkeys((language, "fr")):
        try:
            template = env.get_template(f"{CONTACT_BLOCK}.{lang}.j2")
        except TemplateNotFound:
            continue
        ctx = template.new_context({
            "name": helpdesk.name, "phone": helpdesk.phone, "fax": helpdesk.fax,
            "address": helpdesk.address, "opens": helpdesk.opens, "closes": helpdesk.closes,
        })
        text = "".join(template.blocks["text"](ctx)).strip() + "\n"
        html = "".join(template.blocks["html"](ctx)).strip()
        return ContactBlock(language=lang, text=text, html=Markup(html))
    raise TemplateNotFound(f"{CONTACT_BLOCK}.{language}.j2")


@cache
def _page_environment(directory: Path = PAGES) -> Environment:
    return Environment(loader=FileSystemLoader(str(directory)), undefined=StrictUndefined,
                       autoescape=True, trim_blocks=True, lstrip_blocks=True,
                       bytecode_cache=bytecode_cache())


def render_page(name: str, language: str, context: dict[str, Any]) -> str:
    """A public HTML page (``<name>.html.j2``, autoescaped) in ``language``: its words
    through ``_`` (the catalogue of ``language``, ``rnmail.i18n``)."""
    return _page_environment().get_template(f"{name}.html.j2").render(
        {**context, "lang": language, "_": translations(language).gettext})
