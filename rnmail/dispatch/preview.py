"""Preview: what a notice to user groups will do, before anything is written.

Before a mass mail is queued (``status set --notify``, ``maintenance schedule`` and
``cancel``, ``announce``, and the web admin's confirmation page) the operator sees each
group with its recipients per language, the subject of the notice in each language and
the languages that get a text written in another language (the template, or a comment or
body given only in some languages). Nothing here writes to the database: the preview reads
the groups as the queueing will, and renders the notice as ``announce`` will.

Next stage, once confirmed: ``announce`` (the caller's core function queues the notice).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from rnmail.config import Config
from rnmail.db import Database
from rnmail.directory.groups import Recipient, recipients
from rnmail.dispatch.announce import Notice, render_notice, test_notice, test_samples
from rnmail.dispatch.suppression import suppressed_addresses
from rnmail.shapes import NoticePreviewJson, RecipientCounts

TEMPLATE = "template"  # the name a fallback of the template itself is reported under
LANGUAGE_SUFFIX = "_language"  # a context value ``<name>_language`` names a fallback


@dataclass(frozen=True)
class Preview:
    """Whom a notice goes to and what they read (``subjects`` and ``fallbacks`` are empty
    when it mails nobody)."""

    groups: dict[str, dict[str, int]]
    """Group → language → addresses to mail; an address in several groups counts in the
    first group given that holds it, as it is mailed once."""
    languages: dict[str, int]
    """Language → addresses to mail, all groups together."""
    suppressed: int
    """Addresses left out because they keep bouncing (``suppression``)."""
    subjects: dict[str, str] = field(default_factory=dict)
    """Language of the recipients → the subject they get."""
    fallbacks: dict[str, dict[str, str]] = field(default_factory=dict)
    """Language of the recipients → {what: the language it is written in} for each text
    they get in another language (``template``, ``comment``, ``body``...)."""
    members: list[Recipient] = field(default_factory=list)
    """Every address, suppressed ones included, in the order they are queued."""

    @property
    def total(self) -> int:
        return sum(self.languages.values())

    def counts(self) -> RecipientCounts:
        return {"total": self.total, "languages": self.languages,
                "suppressed": self.suppressed}

    def as_json(self) -> NoticePreviewJson:
        return {"groups": self.groups, "languages": self.languages,
                "recipients": self.total, "suppressed": self.suppressed,
                "subjects": self.subjects, "fallbacks": self.fallbacks}


def count_recipients(session: Session, groups: list[str]) -> Preview:
    """The groups' addresses per group and language (unknown groups are refused)."""
    members = recipients(session, groups) if groups else []
    suppressed = suppressed_addresses(session, [m.email for m in members])
    per_group: dict[str, dict[str, int]] = {name: {} for name in dict.fromkeys(groups)}
    languages: Counter[str] = Counter()
    for member in members:
        if member.email.strip().lower() in suppressed:
            continue
        counts = per_group.setdefault(member.group, {})
        counts[member.language] = counts.get(member.language, 0) + 1
        languages[member.language] += 1
    return Preview(groups={g: dict(sorted(c.items())) for g, c in per_group.items()},
                   languages=dict(sorted(languages.items())), suppressed=len(suppressed),
                   members=members)


def preview_notice(session: Session, config: Config, notice: Notice, groups: list[str],
                   members: list[Recipient] | None = None) -> Preview:
    """``count_recipients`` with the notice's subject and fallbacks in each language of its
    recipients (or of ``members``, when the notice goes to them instead of the groups)."""
    found = count_recipients(session, groups)
    if members is not None:
        languages = Counter(m.language for m in members)
        found = Preview(groups={}, languages=dict(sorted(languages.items())), suppressed=0,
                        members=members)
    subjects: dict[str, str] = {}
    fallbacks: dict[str, dict[str, str]] = {}
    for language in found.languages:
        rendered = render_notice(config, notice, language)
        subjects[language] = rendered.subject
        other = {} if rendered.language == language else {TEMPLATE: rendered.language}
        for key, value in notice.context_for(language).items():
            if key.endswith(LANGUAGE_SUFFIX) and isinstance(value, str) and value != language:
                other[key.removesuffix(LANGUAGE_SUFFIX)] = value
        if other:
            fallbacks[language] = other
    return Preview(found.groups, found.languages, found.suppressed, subjects, fallbacks,
                   found.members)


def preview_mailing(db: Database, config: Config, notice: Notice, groups: list[str],
                    test_to: str | None = None) -> tuple[Notice, Preview]:
    """What ``send_mailing`` (or, with ``test_to``, ``send_test``) would queue: the notice
    as it will be sent (a test's subject marked) and its preview."""
    with db.transaction() as session:
        if test_to is None:
            return notice, preview_notice(session, config, notice, groups)
        test = test_notice(notice)
        samples = test_samples(session, groups, test_to)
        return test, preview_notice(session, config, test, groups, members=samples)
