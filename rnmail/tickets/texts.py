"""Text modules: reusable pieces of an answer, one text per language, with placeholders.

A module's text is written by staff, never code run with rnmail's rights. Its placeholders
are Jinja2 expressions — ``{{ requester.name }}``, ``{{ ticket.id }}``,
``{{ organisation.name }}``, ``{{ agent.name }}``, ``{{ today }}`` — and nothing else: a text
with any other placeholder, a tag (``{% for %}``, ``{% set %}``), a filter, a call or an
operator is refused when it is saved (``check``), and checked again before each rendering
(a row written by other means is no exception). The rendering itself runs in Jinja2's
``SandboxedEnvironment`` (no ``__class__``, no unsafe attribute) and its output is cut off
at ``MAX_OUTPUT`` characters.

A module is inserted in the ticket's language; when it has no text in that language the
insertion is refused, naming the languages it has — never another language instead.
Each change is audited (``text-add``, ``text-edit``, ``text-remove``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail import audit
from rnmail.config import LANGUAGES
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n import N_
from rnmail.i18n.formats import format_day
from rnmail.models import Staff, TextModule, Ticket, utcnow

# The placeholders a text may use: a name and its attributes (None: used as it is).
PLACEHOLDERS: dict[str, tuple[str, ...] | None] = {
    "requester": ("name",), "ticket": ("id",), "organisation": ("name",),
    "agent": ("name",), "today": None}
PLACEHOLDER_LIST = ", ".join(
    f"{{{{ {name}.{attrs[0]} }}}}" if attrs else f"{{{{ {name} }}}}"
    for name, attrs in PLACEHOLDERS.items())
MAX_TEXT = 20_000  # characters of a module as written
MAX_OUTPUT = 40_000  # characters of a module as rendered
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                            keep_trailing_newline=False)


@dataclass(frozen=True)
class Context:
    """What the placeholders of a text are filled with."""

    requester: str
    ticket_id: int
    organisation: str
    agent: str
    today: str

    def values(self) -> dict[str, Any]:
        return {"requester": {"name": self.requester}, "ticket": {"id": self.ticket_id},
                "organisation": {"name": self.organisation}, "agent": {"name": self.agent},
                "today": self.today}


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise RnmailError.translatable(N_(
            "a text module's name is 1 to 64 small letters, digits, '-' or '_', not {name!r}"),
            name=name[:80])
    return name


def _language(language: str) -> str:
    if language not in LANGUAGES:
        raise RnmailError.translatable(N_("unknown language {language!r} ({languages})"),
                                       language=language, languages=", ".join(LANGUAGES))
    return language


def check(text: str) -> str:
    """``text`` when it is a text module that may be saved and rendered: not empty, not too
    long, placeholders only of ``PLACEHOLDERS``; else the refusal says why."""
    if not text.strip():
        raise RnmailError.translatable(N_("the text module is empty"))
    if len(text) > MAX_TEXT:
        raise RnmailError.translatable(N_("the text module is too long: at most {limit} "
                                          "characters"), limit=MAX_TEXT)
    try:
        tree = _ENV.parse(text)
    except TemplateError as error:
        raise RnmailError.translatable(N_("the text module's placeholders are not valid "
                                          "({error}); use {placeholders}"),
                                       error=str(error)[:200],
                                       placeholders=PLACEHOLDER_LIST) from error
    for node in _walk(tree):
        if not _allowed(node):
            raise RnmailError.translatable(
                N_("the text module may hold only the placeholders {placeholders}, not "
                   "{found}"), placeholders=PLACEHOLDER_LIST, found=_shown(node))
    return text


def _walk(node: nodes.Node) -> list[nodes.Node]:
    found = [node]
    for child in node.iter_child_nodes():
        found.extend(_walk(child))
    return found


def _allowed(node: nodes.Node) -> bool:
    """A node of a text made of words and ``{{ name }}`` / ``{{ name.attribute }}``."""
    if isinstance(node, nodes.Template | nodes.Output | nodes.TemplateData):
        return True
    if isinstance(node, nodes.Getattr):
        attrs = PLACEHOLDERS.get(node.node.name) if isinstance(node.node, nodes.Name) else None
        return isinstance(node.node, nodes.Name) and bool(attrs) and node.attr in (attrs or ())
    if isinstance(node, nodes.Name):
        return node.ctx == "load" and node.name in PLACEHOLDERS
    return False


def _shown(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return f"{{{{ {node.name} }}}}"
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return f"{{{{ {node.node.name}.{node.attr} }}}}"
    return type(node).__name__.lower()


def render(text: str, context: Context) -> str:
    """The text with its placeholders filled, in the sandbox (see the module's docstring)."""
    check(text)
    try:
        template = _ENV.from_string(text)
        out: list[str] = []
        size = 0
        for chunk in template.generate(context.values()):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise RnmailError.translatable(N_("the text module is too long once filled "
                                                  "in: at most {limit} characters"),
                                               limit=MAX_OUTPUT)
            out.append(chunk)
    except TemplateError as error:  # the sandbox's SecurityError among them
        raise RnmailError.translatable(N_("the text module cannot be filled in ({error})"),
                                       error=str(error)[:200]) from error
    return "".join(out).strip()


# --- storage -------------------------------------------------------------------------------

def _row(session: Session, name: str, language: str) -> TextModule | None:
    return session.scalars(select(TextModule).where(TextModule.name == name,
                                                    TextModule.language == language)).first()


def _rows(session: Session, name: str) -> list[TextModule]:
    rows = list(session.scalars(select(TextModule).where(TextModule.name == name)
                                .order_by(TextModule.language)))
    if not rows:
        raise NotFound.translatable(N_("no text module {name!r}"), name=name[:80])
    return rows


def add_text(session: Session, name: str, language: str, text: str, actor: str) -> TextModule:
    """A new module, or a new language of one; an existing one is changed by ``edit_text``."""
    name, language = _name(name), _language(language)
    if _row(session, name, language) is not None:
        raise RnmailError.translatable(N_("the text module {name!r} has a {language} text "
                                          "already: edit it"), name=name, language=language)
    row = TextModule(name=name, language=language, text=check(text).strip(),
                     changed_by=actor, changed_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor, "text-add", {"name": name, "language": language})
    return row


def edit_text(session: Session, name: str, language: str, text: str, actor: str) -> TextModule:
    """Change the module's text in one language."""
    _rows(session, name)
    row = _row(session, name, _language(language))
    if row is None:
        raise NotFound.translatable(N_("the text module {name!r} has no {language} text: "
                                       "add it"), name=name, language=language)
    row.text, row.changed_by, row.changed_at = check(text).strip(), actor, utcnow()
    audit.record(session, actor, "text-edit", {"name": name, "language": language})
    return row


def remove_text(session: Session, name: str, actor: str, language: str | None = None
                ) -> list[str]:
    """Remove the module (or only its text in ``language``); the languages removed."""
    rows = _rows(session, name)
    if language is not None:
        rows = [r for r in rows if r.language == _language(language)]
        if not rows:
            raise NotFound.translatable(N_("the text module {name!r} has no {language} "
                                           "text"), name=name, language=language)
    for row in rows:
        session.delete(row)
    removed = [r.language for r in rows]
    audit.record(session, actor, "text-remove", {"name": name, "languages": removed})
    return removed


def text_detail(rows: list[TextModule]) -> dict[str, Any]:
    return {"name": rows[0].name,
            "texts": {r.language: {"text": r.text, "changed_by": r.changed_by,
                                   "changed_at": r.changed_at.isoformat()} for r in rows}}


def show_text(session: Session, name: str) -> dict[str, Any]:
    return text_detail(_rows(session, name))


def list_texts(session: Session) -> list[dict[str, Any]]:
    """Every module with its texts, by name."""
    by_name: dict[str, list[TextModule]] = {}
    for row in session.scalars(select(TextModule).order_by(TextModule.name,
                                                          TextModule.language)):
        by_name.setdefault(row.name, []).append(row)
    return [text_detail(rows) for rows in by_name.values()]


def names(session: Session) -> list[str]:
    return list(session.scalars(select(TextModule.name).distinct().order_by(TextModule.name)))


# --- insertion -----------------------------------------------------------------------------

def context_for(ticket: Ticket, agent: str, now: datetime, zone: tzinfo) -> Context:
    """The placeholders' values for an answer on ``ticket`` written by ``agent``."""
    return Context(requester=ticket.requester_name or ticket.requester, ticket_id=ticket.id,
                   organisation=ticket.requester_org or "", agent=agent,
                   today=format_day(now, ticket.language, zone))


def agent_name(session: Session, author: str) -> str:
    """The name a staff member (address or name) signs with; any other author as given."""
    staff = session.scalars(select(Staff).where(Staff.email == author.lower())).first()
    return staff.name if staff is not None else author


def text_for(session: Session, name: str, ticket: Ticket, agent: str, zone: tzinfo) -> str:
    """The module ``name`` in the ticket's language, filled in; refused (naming the
    languages it has) when it has no text in that language."""
    rows = _rows(session, name)
    row = next((r for r in rows if r.language == ticket.language), None)
    if row is None:
        raise RnmailError.translatable(
            N_("the text module {name!r} has no text in {language} (the ticket's language); "
               "it has: {languages}"), name=name, language=ticket.language,
            languages=", ".join(r.language for r in rows))
    return render(row.text, context_for(ticket, agent, utcnow(), zone))


def with_text(session: Session, ticket: Ticket, body: str, name: str, author: str,
              zone: tzinfo) -> str:
    """``body`` with the module ``name`` added after it (``text_for``), signed by
    ``author`` (a staff address or name): what the CLI, the desk and ``#text`` insert."""
    found = text_for(session, name, ticket, agent_name(session, author), zone)
    return f"{body.rstrip()}\n\n{found}".lstrip("\n")


def missing_language(session: Session, name: str, language: str) -> list[str] | None:
    """None when the module ``name`` has a text in ``language``; else the languages it
    has ([] when there is no such module)."""
    have = list(session.scalars(select(TextModule.language).where(TextModule.name == name)
                                .order_by(TextModule.language)))
    return None if language in have else have


def load_examples(session: Session, actor: str) -> list[tuple[str, str]]:
    """Add the shipped examples (``text_examples``) that are not there yet, never changing
    one the help desk has; the (name, language) pairs added."""
    from rnmail.tickets.text_examples import EXAMPLES

    added = []
    for name, texts in EXAMPLES.items():
        for language, text in texts.items():
            if _row(session, name, language) is None:
                add_text(session, name, language, text, actor)
                added.append((name, language))
    return added
