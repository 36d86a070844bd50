"""The words of the closed vocabularies (``rnmail.vocab``) as each language writes them, for
what people read: the mails (the ``label`` filter of the mail templates,
``rnmail.dispatch.render``) and the notes rnmail writes into tickets.

The database, the command line and JSON keep the codes (``citizen``, ``phone``,
``closed``); a mail shows ``citoyen``, ``telefoon``, ``clôturé``. The msgctxt of each
entry is its vocabulary, the same as the report's dimensions (``rnmail.stats.words``), so
the report and the mails share one translation: ``channel``, ``requester-type``,
``resolution``, ``category`` (the default categories; a category an installation adds is
shown as written) and ``ticket-status``; and ``access-state``, a directory user's access (the
desk's directory). A value outside the vocabulary is shown as it is.

Language names (``language_name``) are CLDR's in the reader's language, which writes them
as that language does: ``néerlandais`` (French does not capitalise them), ``Frans``,
``Französisch``, ``French``.
"""

from __future__ import annotations

from functools import cache

from rnmail.i18n.catalogues import translations
from rnmail.i18n.formats import language_name

__all__ = ["VOCABULARIES", "Term", "label", "language_name", "table"]


@cache
def table(language: str) -> dict[str, dict[str, str]]:
    """Vocabulary → code → label in ``language``; literal calls, for the extractor."""
    t = translations(language)
    return {
        "channel": {
            "mail": t.pgettext("channel", "mail"),
            "fax": t.pgettext("channel", "fax"),
            "phone": t.pgettext("channel", "phone"),
            "letter": t.pgettext("channel", "letter")},
        "requester-type": {
            "citizen": t.pgettext("requester-type", "citizen"),
            "municipality": t.pgettext("requester-type", "municipality"),
            "police": t.pgettext("requester-type", "police"),
            "notary": t.pgettext("requester-type", "notary"),
            "public-service": t.pgettext("requester-type", "public-service"),
            "company": t.pgettext("requester-type", "company"),
            "other": t.pgettext("requester-type", "other")},
        "resolution": {
            "first-contact": t.pgettext("resolution", "first-contact"),
            "investigated": t.pgettext("resolution", "investigated"),
            "second-line": t.pgettext("resolution", "second-line"),
            "merged": t.pgettext("resolution", "merged")},
        "category": {
            "access-key": t.pgettext("category", "access-key"),
            "certificate": t.pgettext("category", "certificate"),
            "address-change": t.pgettext("category", "address-change"),
            "data-correction": t.pgettext("category", "data-correction"),
            "legal": t.pgettext("category", "legal"),
            "web-services": t.pgettext("category", "web-services"),
            "other": t.pgettext("category", "other")},
        "ticket-status": {
            "open": t.pgettext("ticket-status", "open"),
            "pending": t.pgettext("ticket-status", "pending"),
            "delegated": t.pgettext("ticket-status", "delegated"),
            "closed": t.pgettext("ticket-status", "closed")},
        "access-state": {
            "active": t.pgettext("access-state", "active"),
            "blocked": t.pgettext("access-state", "blocked"),
            "revoked": t.pgettext("access-state", "revoked")},
    }


VOCABULARIES = tuple(table("en"))


def label(language: str, vocabulary: str, value: object) -> str:
    """What a reader of ``language`` sees for ``value`` of ``vocabulary``
    (``label("fr", "requester-type", "citizen") == "citoyen"``); ``None`` is ""."""
    if value is None:
        return ""
    if vocabulary not in VOCABULARIES:
        raise KeyError(f"no vocabulary {vocabulary!r} ({', '.join(VOCABULARIES)})")
    text = str(value)
    return table(language)[vocabulary].get(text, text)


class Term(str):
    """A code of a vocabulary put in an error line (``RnmailError.translatable``): ``str()``
    is the code, as the command line says it; on a page, ``localized`` is its label."""

    __slots__ = ("vocabulary",)
    vocabulary: str

    def __new__(cls, value: object, vocabulary: str) -> Term:
        term = super().__new__(cls, str(value))
        term.vocabulary = vocabulary
        return term

    def localized(self, language: str) -> str:
        return label(language, self.vocabulary, str(self))
