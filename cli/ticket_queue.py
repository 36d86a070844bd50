"""``rnmail ticket queue``, and the filters it shares with ``ticket list``.

Kept apart from ``cli/ticket.py`` (which registers the command in the ``ticket`` group) for
that module's length; the queue itself is ``rnmail.tickets.queue``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cli.app import ROW_ID, App, emit_json, handle_errors, pass_app
from rnmail.i18n.formats import text_time
from rnmail.tickets.tabs import QueueSort, QueueTab
from rnmail.vocab import Channel, strings

if TYPE_CHECKING:  # the queue's module imports the ORM: not for ``ticket --help``
    from rnmail.tickets.queue import QueuePage, QueueRow
    from rnmail.tickets.views import TicketFilter

F = TypeVar("F", bound=Callable[..., Any])

FILTER_OPTIONS = (
    click.option("--assignee", help="A staff member's address or name; 'none': unassigned."),
    click.option("--category", help="A category; 'none': without one."),
    click.option("--type", "requester_type", help="A requester type (aliases such as "
                 "gemeente accepted)."),
    click.option("--channel", type=click.Choice(strings(Channel))),
    click.option("--service", help="A second-line service; 'none': never delegated."),
    click.option("--unanswered", is_flag=True, help="Only tickets whose requester's last mail "
                 "is not answered yet."),
)
FILTER_NAMES = ("assignee", "category", "requester_type", "channel", "service", "unanswered")


def filter_options(command: F) -> F:
    """The filters of ``ticket list`` and ``ticket queue``, read by ``ticket_filter``."""
    for option in reversed(FILTER_OPTIONS):
        command = option(command)
    return command


def ticket_filter(options: dict[str, Any], status: str | None = None) -> TicketFilter:
    """The ``TicketFilter`` of the options of ``filter_options`` (popped from ``options``)."""
    from rnmail.tickets.views import TicketFilter

    return TicketFilter(status=status, **{name: options.pop(name) for name in FILTER_NAMES})


def _age(seconds: int) -> str:
    """Business time as an agent reads it: 0:45, 7:30, 26:00 (hours:minutes)."""
    minutes = seconds // 60
    return f"{minutes // 60}:{minutes % 60:02d}"


def _who(row: QueueRow) -> str:
    name = row.requester_name or row.requester
    return f"{name} ({row.organisation})" if row.organisation else name


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


COLUMNS: tuple[tuple[str, Callable[[QueueRow, tzinfo], str], int], ...] = (
    ("#", lambda r, _z: f"#{r.id}", 9),
    ("", lambda r, _z: "*" if r.unanswered else "", 1),
    ("age", lambda r, _z: _age(r.age_business_seconds), 8),
    ("channel", lambda r, _z: r.channel, 7),
    ("lang", lambda r, _z: r.language, 4),
    ("category", lambda r, _z: r.category or "-", 16),
    ("requester", lambda r, _z: _who(r), 40),
    ("assignee", lambda r, _z: r.assignee_name or r.assignee or "-", 20),
    ("last activity", lambda r, z: text_time(r.last_activity, z), 22),
    ("due", lambda r, z: ("LATE " if r.late else "soon " if r.due_soon else "")
     + (text_time(r.due_at, z) if r.due_at else "-"), 28),
    ("subject", lambda r, _z: r.subject, 60),
)


def queue_lines(found: QueuePage, zone: tzinfo) -> list[str]:
    """The counts line, where the page is, then a ticket per line."""
    counts = "  ".join(f"{tab} {n}" for tab, n in found.counts.items() if n is not None)
    order = {QueueSort.AGE: ("oldest first", "newest first"),
             QueueSort.ACTIVITY: ("latest activity first", "earliest activity first"),
             QueueSort.NUMBER: ("highest number first", "lowest number first"),
             QueueSort.DUE: ("most urgent first", "least urgent first")}[found.sort]
    lines = [counts]
    if not found.rows:
        lines.append(f"{found.tab}: no ticket" + (" on this page" if found.total else ""))
        return lines
    first = (found.page - 1) * found.per_page + 1
    lines.append(f"{found.tab}: {first}-{first + len(found.rows) - 1} of {found.total} "
                 f"(page {found.page} of {found.pages}), "
                 f"{order[0] if found.descending else order[1]}")
    cells = [[_cut(value(row, zone), widest) for _, value, widest in COLUMNS]
             for row in found.rows]
    widths = [max(len(heading), *(len(line[i]) for line in cells))
              for i, (heading, _, _) in enumerate(COLUMNS)]
    for line in [[heading for heading, _, _ in COLUMNS], *cells]:
        lines.append("  ".join(cell.ljust(width)
                               for cell, width in zip(line, widths, strict=True)).rstrip())
    lines.append("age: business hours (h:mm) since it was opened; * the requester wrote last "
                 "and nobody has answered")
    return lines


@click.command("queue")
@click.option("--tab", type=click.Choice(strings(QueueTab)), default=QueueTab.NEW.value,
              show_default=True, help="new: open and nobody's; mine: assigned to --staff; "
              "pending: waiting for the requester; delegated: at the second line; closed: "
              "in the last [workflow].recently_closed_days.")
@click.option("--staff", help="Your staff address: the tab mine, and its count.")
@filter_options
@click.option("--sort", type=click.Choice(strings(QueueSort)), default=QueueSort.AGE.value,
              show_default=True, help="age: when opened; activity: the last change or mail; "
              "number.")
@click.option("--order", type=click.Choice(["desc", "asc"]), default="desc", show_default=True,
              help="desc: oldest, latest activity, highest number first.")
@click.option("--page", type=ROW_ID, default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(min=1, max=500), default=25, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def ticket_queue(app: App, /, tab: str, staff: str | None, sort: str, order: str, page: int,
                 per_page: int, as_json: bool, **options: Any) -> None:
    """The agents' queue: how many tickets each tab holds, and a page of one tab with each
    ticket's age in business hours."""
    from rnmail.tickets.lifecycle import find_staff
    from rnmail.tickets.queue import queue

    wanted = ticket_filter(options)
    with app.ready_db().transaction() as session:
        staff_id = find_staff(session, staff).id if staff else None
        found = queue(session, app.config, tab=tab, staff_id=staff_id, filters=wanted,
                      sort=sort, descending=order == "desc", page=page, per_page=per_page)
    if as_json:
        emit_json(found.as_json())
        return
    for line in queue_lines(found, app.config.helpdesk.zone):
        click.echo(line)
