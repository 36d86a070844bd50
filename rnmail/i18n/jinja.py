"""gettext in a Jinja2 environment: ``_``, ``gettext``, ``ngettext``, ``pgettext`` and
``{% trans %}`` in one language (one environment per language: installing is global)."""

from __future__ import annotations

from jinja2 import Environment

from rnmail.i18n.catalogues import translations


def install(environment: Environment, language: str) -> Environment:
    """Old-style gettext: the texts are plain strings, autoescaped like any other."""
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_translations(  # type: ignore[attr-defined]
        translations(language), newstyle=False)
    return environment
