"""The register's banners for the three positions of the system: its official texts in
Dutch, French and German, verbatim as published (msgctxt ``banner``; the msgids are our
English). The status page and the mails (status change, maintenance preview) both take
them from here; a reader of another language (English) gets the French one, as the
register publishes no other.

The degraded banner names one function ("access to natural persons") whatever is disturbed,
so a mail that lists the functions concerned next to it contradicts itself when, say, only
the web services are degraded. ``disturbance_sentence`` is what the mails say instead: the
functions concerned named in the sentence itself, in fr, nl, de and en; the verbatim
banners stay where they name what is concerned (the status page, the whole register out of
service, service restored)."""

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


def disturbance_sentence(degraded: list[str], down: list[str], language: str) -> str:
    """What is disturbed, naming it: ``degraded`` and ``down`` are the labels (in
    ``language``) of the functions in each state; one sentence per state, out of service
    first."""
    _ = translations(language).gettext
    sentences = []
    if down:
        sentences.append(_("These functions of the National Register are out of service: "
                           "{functions}.").format(functions=", ".join(down)))
    if degraded and down:
        sentences.append(_("These functions are disrupted: {functions}.")
                         .format(functions=", ".join(degraded)))
    elif degraded:
        sentences.append(_("The National Register is operational but these functions are "
                           "disrupted: {functions}.").format(functions=", ".join(degraded)))
    return " ".join(sentences)


def mail_banner(state: str, degraded: list[str], down: list[str], everything: bool,
                language: str) -> str:
    """The banner a mail leads with: the register's own when it says what is concerned
    (service restored, everything out of service or disturbed), else the sentence that
    names the functions concerned."""
    if state == "operational" or everything:
        return banner(state, language)
    return disturbance_sentence(degraded, down, language)
