"""The sender's variables of a document mailing: which ones a template takes, and their
texts per language.

``--var body=TEXT`` gives the body in every language; ``--var body.fr=TEXT`` (or
``--var-file body.fr=FILE``) the French one. A recipient whose language has no text of its
own gets the text of the first language in ``FALLBACK_ORDER`` that has one, and the
template is told so through ``<name>_language`` (``body_language``: the language the body
is written in, None when it is the reader's), so that it can say so in the reader's
language, as the status page does with its comments. A name the template does not use is
refused with the names it does use: a misspelt ``--var subjet=...`` would otherwise be
dropped silently and the default subject sent.

Next stage: ``announce.mailing_notice`` builds the notice with ``context_for``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, meta

from rnmail.config import LANGUAGES
from rnmail.dispatch.render import environment
from rnmail.errors import NotFound, RnmailError
from rnmail.status.components import FALLBACK_ORDER

# Given by rnmail itself, never by the sender: the attachments' names and the language.
PROVIDED = frozenset({"attachments", "language"})
# Filled from the configuration (``announce.common_context``); a sender may override them.
COMMON = frozenset({"helpdesk_name", "helpdesk_address", "phone", "fax", "opening_hours",
                    "contact", "status_url"})
SUFFIX = "_language"


def template_variables(directories: tuple[Path, ...], template: str) -> list[str]:
    """The variables a mailing template takes, in any of its languages, that a sender may
    give (sorted); configuration values (``COMMON``) are left out of the list."""
    env = environment(directories)
    names: set[str] = set()
    found = False
    for name in env.list_templates(filter_func=lambda n: n.endswith(".j2")):
        stem, _, lang = name[:-3].rpartition(".")
        if stem != template or not lang:
            continue
        found = True
        assert env.loader is not None
        source = env.loader.get_source(env, name)[0]
        try:
            names |= meta.find_undeclared_variables(env.parse(source))
        except TemplateSyntaxError:
            continue  # said by the rendering, as for any template (and by rnmail doctor)
    if not found:
        raise NotFound(f"no template {template!r} (see `rnmail template list`)")
    return sorted(n for n in names - set(env.globals) - PROVIDED - COMMON
                  if not n.endswith(SUFFIX))


@dataclass(frozen=True)
class Variables:
    """The sender's texts: ``texts[name][language]``, ``""`` for every language."""

    texts: dict[str, dict[str, str]]

    def languages(self, name: str) -> list[str]:
        return [lang for lang in self.texts.get(name, {}) if lang]

    def context(self, language: str) -> dict[str, Any]:
        """Each variable in ``language``, and ``<name>_language`` when it is written in
        another language (None when not)."""
        context: dict[str, Any] = {}
        for name, per_language in self.texts.items():
            text, written_in = resolve(per_language, language)
            context[name] = text
            if name + SUFFIX not in self.texts:
                context[name + SUFFIX] = written_in
        return context


def resolve(per_language: dict[str, str], language: str) -> tuple[str, str | None]:
    """(text, the language it is written in when not ``language``)."""
    if language in per_language:
        return per_language[language], None
    if "" in per_language:
        return per_language[""], None
    for other in FALLBACK_ORDER:
        if other in per_language:
            return per_language[other], other
    first = next(iter(per_language))
    return per_language[first], first


def parse_variables(given: dict[str, str], allowed: list[str], template: str) -> Variables:
    """``{"body": ..., "body.fr": ...}`` → Variables, every name checked against
    ``allowed`` (a configuration value, ``COMMON``, may be overridden too)."""
    texts: dict[str, dict[str, str]] = {}
    for key, value in given.items():
        name, _, lang = key.partition(".")
        if lang and lang not in LANGUAGES:
            raise RnmailError(f"--var {key}: no language {lang!r} (use "
                              f"{', '.join(LANGUAGES)}, e.g. {name}.fr=...)")
        if name not in allowed and name not in COMMON:
            known = ", ".join(allowed) or "none"
            raise RnmailError(f"template {template!r} has no variable {name!r}: its "
                              f"variables are {known} (each also per language, e.g. "
                              f"{allowed[0] if allowed else name}.nl=...)")
        texts.setdefault(name, {})[lang] = value
    return Variables(texts)
