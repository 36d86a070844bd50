"""Render: Jinja2 templates → subject, text and HTML, in the recipient's language.

One file per message kind and language, ``<name>.<lang>.j2``, with three blocks:
``subject``, ``text`` and ``html`` (the html block is autoescaped; undefined variables
are errors).
A language without its own template falls back to the configured default language.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    text: str
    html: str | None


@cache
def environment(directories: tuple[Path, ...] = (TEMPLATES,)) -> Environment:
    """Templates found in the first of ``directories`` that has them."""
    return Environment(
        loader=FileSystemLoader([str(d) for d in directories]),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, language: str, fallback: str, context: dict[str, Any],
           directories: tuple[Path, ...] = (TEMPLATES,)) -> Rendered:
    env = environment(directories)
    for lang in dict.fromkeys((language, fallback, "fr")):
        try:
            template = env.get_template(f"{name}.{lang}.j2")
        except TemplateNotFound:
            continue
        blocks = template.blocks
        ctx = template.new_context(context)
        subject = " ".join("".join(blocks["subject"](ctx)).split())
        text = "".join(blocks["text"](ctx)).strip() + "\n"
        html = None
        if "html" in blocks:  # templates wrap this block in {% autoescape true %}
            html = "".join(blocks["html"](ctx)).strip() + "\n"
        return Rendered(language=lang, subject=subject, text=text, html=html)
    raise TemplateNotFound(f"{name}.{language}.j2")


@cache
def _page_environment(directory: Path = TEMPLATES) -> Environment:
    return Environment(loader=FileSystemLoader(str(directory)), undefined=StrictUndefined,
                       autoescape=True, trim_blocks=True, lstrip_blocks=True)


def render_page(name: str, language: str, context: dict[str, Any]) -> str:
    """A public HTML page (``<name>.html.j2``, autoescaped) in ``language``."""
    return _page_environment().get_template(f"{name}.html.j2").render(
        {**context, "lang": language})
