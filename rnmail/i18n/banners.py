"""The register's banners for the three positions of the system: its official texts in
Dutch, French and German, verbatim as published (msgctxt ``banner``; the msgids are our
English). The status page and the mails (status change, maintenance preview) both take
them from here; a reader of another language (English) gets the French one, as the
register publishes no other."""

from __future__ import annotations

from functools import cache

from rnmail.i18n.catalogues import translations

BANNER_LANGUAGES = ("nl", "fr", "de")


@cache
def banners(language: str) -> dict[str, str]:
    """State → banner in ``language`` (French for a language the register has none in)."""
    t = translations(language if language in BANNER_LANGUAGES else "fr")
    # The register's texts: each entry says so to translators (``add_comments``).
    return {
        # TRANSLATORS: the register's official banner, verbatim (CONTEXT.md): never reword.
        "operational": t.pgettext("banner", "The National Register is operating normally"),
        # TRANSLATORS: the register's official banner, verbatim (CONTEXT.md): never reword.
        "degraded": t.pgettext("banner", "The National Register (access to natural persons)"
                                         " is operational but some functions are disrupted"),
        # TRANSLATORS: the register's official banner, verbatim (CONTEXT.md): never reword.
        "down": t.pgettext("banner", "The National Register is temporarily out of service"),
    }


def banner(state: str, language: str) -> str:
    return banners(language)[state]
