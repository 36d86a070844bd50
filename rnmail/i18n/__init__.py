"""One home for the words users read: gettext catalogues (Babel), CLDR formats, and the
``Accept-Language`` negotiation.

Layout::

    rnmail/i18n/babel.cfg                     what the extractor reads (Python, Jinja2)
    rnmail/i18n/rnmail.pot                    the extracted msgids (English)
    rnmail/i18n/<lang>/LC_MESSAGES/rnmail.po  fr, nl, de, en

The msgids are English. A surface translates into the languages its readers use: the
status page (and the banners mails reuse) nl, fr, de; the report and the web admin fr, nl,
en; the public FAQ, the vocabularies' words in mails and the notes rnmail writes into
tickets fr, nl, de, en (``tests/test_i18n.py`` checks each). Words that depend
on their context carry a msgctxt: ``banner`` for the register's official banners (verbatim,
see ``rnmail.i18n.banners``), the report's dimension names for their values (``channel``,
``category`` …).

After changing a text in the code or a template::

    pybabel extract -F rnmail/i18n/babel.cfg -o rnmail/i18n/rnmail.pot .
    pybabel update -i rnmail/i18n/rnmail.pot -d rnmail/i18n -D rnmail

then translate the new entries (and remove any ``#,fuzzy`` flag and ``#~`` obsolete entry).
A text translated from data (the admin's ``_(state)``) is marked where it is defined with
``N_`` so that the extractor sees it. The admin's ``recipient`` / ``recipients`` stay two
msgids chosen by ``n == 1`` rather than ``ngettext``: French counts 0 as singular, and the
pages say ``0 destinataires`` today.
No ``pybabel compile``: the ``.po`` files are read at start (``babel.messages.pofile.
read_po``, once per process and language, when first needed) and compiled in memory into
the standard library's ``gettext.GNUTranslations``, so no ``.mo`` file is built, shipped or
committed.

What stays out of the catalogues: the mail bodies (per-language Jinja2 templates in
``rnmail/templates/mail`` and ``mailings``; the codes they print go through ``labels``),
texts the team writes (comments, FAQ entries, component labels in the configuration), and
the core's English lines — RnmailError messages, the command line's output and log lines:
the tools of operators and developers. The exceptions are the errors the web admin
shows (a refused group, duration or sign-in …): made with
``RnmailError.translatable(N_(msgid), **values)``, their ``str()`` stays the English line
and the admin shows ``translated(language)`` (``rnmail.errors``). The notes rnmail writes
into tickets are in the catalogues, written in ``[helpdesk].default_language``
(``rnmail.tickets.notes``).

Modules: ``catalogues`` (loading, ``translations``, ``gettext`` …), ``formats`` (CLDR
numbers, dates, month, weekday and language names), ``labels`` (the vocabularies' words in
the mails: the ``label`` and ``language_name`` filters of ``rnmail.dispatch.render``),
``negotiation`` (``Accept-Language``), ``banners`` (the register's banners), ``jinja``
(gettext in a Jinja2 environment).
"""

from __future__ import annotations

from rnmail.i18n.catalogues import (
    DOMAIN,
    LANGUAGES,
    N_,
    gettext,
    ngettext,
    pgettext,
    translations,
)

__all__ = ["DOMAIN", "LANGUAGES", "N_", "gettext", "ngettext", "pgettext", "translations"]
