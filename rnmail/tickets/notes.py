"""The texts rnmail itself writes into tickets, in the help desk's language.

A ticket's history is stored text: notes are searched, exported (``.eml``, mbox, JSON),
shown by ``ticket show`` and sent to second-line services in the delegation mail's history
(in ``[helpdesk].default_language``). So what rnmail writes there itself — the subject of a
note, the record of an unblocked access, a refused staff reply, the note of an answer that
was not sent (a staff mail that is no proven reply), the author of a second-line
answer — is written once, when it happens, in ``[helpdesk].default_language``, from the
catalogues (msgids in English; fr, nl, de and en, ``tests/test_i18n.py``). Rendering a
stored key in each reader's language instead would need the key and its values stored next
to the text and every reader (CLI, exports, search, the delegation mail) to render it; one
language per installation is what the team already shares for its own notes. What the team
writes stays as written.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnmail.i18n import translations
from rnmail.i18n.labels import language_name


def note_subject(language: str, ticket_id: int) -> str:
    """The subject of an internal note: ``Note sur le ticket #7``."""
    _ = translations(language).gettext
    return _("Note on ticket #{ticket}").format(ticket=ticket_id)


def refused_reply(language: str, errors: Sequence[object]) -> str:
    """The note kept of a staff reply that was refused (nothing sent, nothing changed)."""
    _ = translations(language).gettext
    return _("Staff reply refused, nothing was sent or changed: {errors}").format(
        errors="; ".join(map(str, errors)))


def unsent_answer(language: str, *, name: str, email: str, why: str, ticket_id: int,
                  automatic: bool = False) -> str:
    """The head of the note kept of a staff member's mail that is not a proven reply to a
    notification (issue 16 C): nothing was sent; ``why`` is one of ``UNSENT_WHY``."""
    _ = translations(language).gettext
    if automatic:
        return _("Automatic mail from {email} (e.g. an out-of-office), not sent to the "
                 "requester.").format(email=email)
    reasons = {
        "forward": _("a forward, which loses the reference to the notification"),
        "colleague": _("a reply to a notification sent to another staff member"),
        "other-mail": _("a reply to a mail that is not a notification sent to them"),
        "error-mail": _("a reply to rnmail's mail about an earlier unsent mail"),
        "no-reference": _("no reference to a notification (In-Reply-To/References "
                          "missing)"),
        "unverified": _("the mail server could not verify that it comes from this address "
                        "(DMARC)"),
    }
    return _("Unsent answer from {name} <{email}>: {why}; nothing was sent to the requester "
             "and no #command was applied. Answer by replying to the notification, or with "
             "`rnmail ticket reply {ticket}`.").format(
        name=name, email=email, why=reasons.get(why, why), ticket=ticket_id)


UNSENT_WHY = ("forward", "colleague", "other-mail", "error-mail", "no-reference",
              "unverified")


def second_line_author(language: str, service: str) -> str:
    """Who wrote an answer of a second-line service: ``SPF Intérieur (deuxième ligne)``."""
    t = translations(language)
    return t.pgettext("author", "{service} (second line)").format(service=service)


def unblock_record(language: str, *, email: str, name: str, organisation: str, action: str,
                   note: str | None, address: str, user_language: str) -> str:
    """What the help desk checked and did when it unblocked an access (``access unblock``)."""
    _ = translations(language).gettext
    actions = {"reset": _("reset requested"), "new-key": _("new key sent")}
    lines = [
        _("Access unblocked for {email} ({name}, {organisation}).").format(
            email=email, name=name, organisation=organisation),
        _("Checks done:"),
        "- " + _("identity confirmed"),
        "- " + _("organisation still entitled: {organisation}").format(
            organisation=organisation),
        _("Action taken: {action}.").format(action=actions.get(action, action)),
    ]
    if note:
        lines.append(_("Note: {note}").format(note=note))
    lines.append(_("Confirmation mailed to {address} (in {language}).").format(
        address=address, language=language_name(user_language, language)))
    return "\n".join(lines)


def discarded_held(language: str, *, name: str) -> str:
    """The head of a held answer that was discarded (``rnmail.dispatch.hold``): kept as an
    internal note, never sent."""
    _ = translations(language).gettext
    return _("Held answer discarded by {name}; it was not sent to the requester:").format(
        name=name)
