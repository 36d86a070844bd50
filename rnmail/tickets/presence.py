"""Who else has a ticket open: the desk records each staff member's view of a ticket page,
and the page names the colleagues who viewed it within ``[workflow].presence_minutes``.

Two agents working on one ticket without knowing it is how a citizen gets two answers; the
hold (``rnmail.dispatch.hold``) catches the second answer, this warns before it is written.
A view is one row per (staff member, ticket) in ``ticket_view``, its time moved on at every
view by an upsert (``INSERT … ON CONFLICT DO UPDATE``, SQLite and PostgreSQL alike; the desk
leaves it out while the member's last view is younger than ``REFRESH``), so the table holds
at most one row per member and ticket whatever the traffic. The page's script
(``desk.js``) says the ticket is still open every ``HEARTBEAT`` while its tab is shown, so
a member writing a long answer stays named after the window; without the script, being
shown the page is all it records. When the page goes (the tab closed, another page
opened), the script says so (``leave``) and the member's view is moved back so that it
ends ``LEFT_GRACE`` later instead of at the end of the window; with scripts off, the
member stays named until the window passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from rnmail.models import Staff, Ticket, TicketView, utcnow


@dataclass(frozen=True)
class Viewer:
    """A colleague who had the ticket open: their name and when they were last shown it."""

    name: str
    email: str
    seen_at: datetime


def record_view(session: Session, staff_id: int, ticket_id: int,
                at: datetime | None = None) -> None:
    """``staff_id`` is shown ticket ``ticket_id`` now (or ``at``): one row per pair."""
    when = at or utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(TicketView).values(staff_id=staff_id, ticket_id=ticket_id,
                                          seen_at=when)
    session.execute(statement.on_conflict_do_update(
        index_elements=[TicketView.staff_id, TicketView.ticket_id],
        set_={"seen_at": statement.excluded.seen_at}))


def other_viewers(session: Session, ticket_id: int, staff_id: int, minutes: int,
                  now: datetime | None = None) -> list[Viewer]:
    """The staff members other than ``staff_id`` shown ticket ``ticket_id`` within the
    last ``minutes`` (none when ``minutes`` is 0), the latest first."""
    if minutes <= 0:
        return []
    since = (now or utcnow()) - timedelta(minutes=minutes)
    rows = session.execute(
        select(Staff.name, Staff.email, TicketView.seen_at)
        .join(Staff, Staff.id == TicketView.staff_id)
        .where(TicketView.ticket_id == ticket_id, TicketView.staff_id != staff_id,
               TicketView.seen_at >= since, Staff.active.is_(True))
        .order_by(TicketView.seen_at.desc()))
    return [Viewer(name or email, email, seen_at) for name, email, seen_at in rows]


# A member's view of a ticket is written again at most this often: the pages say "1 minute
# ago" at the least, and a page view that need not write takes no write lock (on SQLite the
# file's one, also the ingest's).
REFRESH = timedelta(seconds=30)
# How often the ticket page's script says the page is still shown (over REFRESH: each one
# writes).
HEARTBEAT = timedelta(seconds=60)


def viewed_lately(session: Session, ticket_id: int, reader: str,
                  now: datetime | None = None) -> bool:
    """Whether ``reader``'s view of the ticket was recorded less than ``REFRESH`` ago (so
    ``view`` can be left out)."""
    seen = session.scalar(select(TicketView.seen_at)
                          .join(Staff, Staff.id == TicketView.staff_id)
                          .where(TicketView.ticket_id == ticket_id, Staff.email == reader))
    return seen is not None and (now or utcnow()) - seen < REFRESH


def view(session: Session, ticket_id: int, reader: str, at: datetime | None = None) -> bool:
    """The staff member ``reader`` (their address) is shown ticket ``ticket_id``: what the
    desk's ticket page records, in a short transaction of its own after reading the page
    (a page is read in a reading transaction, ``Database.reading``). False when there is
    no such ticket or member: nothing recorded."""
    staff_id = session.scalar(select(Staff.id).where(Staff.email == reader))
    if staff_id is None or session.get(Ticket, ticket_id) is None:
        return False
    record_view(session, staff_id, ticket_id, at)
    return True


# How long a member who left the page stays named. Over HEARTBEAT: the page they went to
# may be this ticket again (an answer sent, the page reloaded), whose view was left out
# (REFRESH) or recorded before the old page's "left" arrived; its first heartbeat
# restores the view before this runs out.
LEFT_GRACE = timedelta(seconds=90)


def leave(session: Session, ticket_id: int, reader: str, minutes: int,
          now: datetime | None = None) -> bool:
    """The staff member ``reader`` left the page of ticket ``ticket_id``: their view (in a
    window of ``minutes``) is moved back to end ``LEFT_GRACE`` from now, never forward.
    False when there is no such ticket or member."""
    staff_id = session.scalar(select(Staff.id).where(Staff.email == reader))
    if staff_id is None or session.get(Ticket, ticket_id) is None:
        return False
    ending = (now or utcnow()) - timedelta(minutes=minutes) + LEFT_GRACE
    session.execute(update(TicketView)
                    .where(TicketView.staff_id == staff_id, TicketView.ticket_id == ticket_id,
                           TicketView.seen_at > ending)
                    .values(seen_at=ending))
    return True
