"""Expand: an announcement's members turned into outbox rows, a chunk at a time.

A notice to every municipality, police zone and notary is some 10,000 rows. Written all
before the first mail left, they held the notice back by half a second on PostgreSQL
(docs/performance.md). As listmonk does with a campaign's subscribers, an announcement to
user groups keeps a cursor instead (``Announcement.queue``: its groups, the group and the last
address queued in it, the shared part of each language): ``announce`` queues the first
``FIRST_CHUNK`` members with the announcement (on PostgreSQL: on SQLite all of them), and a
sender whose claim finds fewer due rows than it asked for queues the next members itself,
leased to it (``claim_or_expand``).

A chunk's rows and the cursor's move are one transaction, under a lock of the announcement's
row (``SELECT … FOR UPDATE``; on SQLite a claim holds the write lock anyway): a member is
queued once however many senders claim at the same time, and a sender killed half-way leaves
the cursor where its last committed chunk ended, for the next claim of any sender to go on
from. There is nothing to recover.

Members come in the order of ``recipients``: the groups in the order given, addresses in
order within a group, each address once (with the List-Id of its first group). The number
of recipients is counted when the notice is announced; a member added to a group while its
mailing is being queued gets it when their address comes after the cursor, and one removed
then may already have had it.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, null, select, update
from sqlalchemy.orm import Session, aliased

from rnmail.config import Config
from rnmail.db import insert_rows, insert_with_ids
from rnmail.directory.groups import Recipient
from rnmail.directory.sheets import CONTROL_RE
from rnmail.dispatch.compose import format_address, header_block
from rnmail.dispatch.outbox import Leased, claim
from rnmail.dispatch.suppression import suppressed_addresses
from rnmail.models import Announcement, GroupMember, OutboxMessage, UserGroup, utcnow
from rnmail.util.tokens import make_message_ids
from rnmail.vocab import OutboxState

# Members queued with the announcement: a small group's rows are all there at once, and the
# first sender's first claims (50, then 500 rows) find rows waiting.
FIRST_CHUNK = 500
# On SQLite every member is queued with the announcement: its one writer would take the
# senders' claims in turn with their group commits, whose workers wait for their records
# meanwhile (10,000 members end to end: 0.69-0.75 of raw aiosmtplib, against 0.79-0.80 with
# the rows written first). On PostgreSQL the claims write beside the commits.
ALL_AT_ONCE_ON_SQLITE = True
log = logging.getLogger(__name__)
_OUTBOX = cast(Table, OutboxMessage.__table__)


@dataclass(frozen=True)
class SharedPart:
    """What every recipient in one language shares: the stored MIME body (``OutboxBody``),
    the header lines, the subject."""

    body_id: int
    headers: bytes
    subject: str


@dataclass(frozen=True)
class Mailing:
    """An announcement as its outbox rows need it."""

    id: int
    kind: str
    parts: dict[str, SharedPart]
    default_language: str

    def part(self, language: str) -> SharedPart:
        """The member's language; a language no member had when the notice was rendered
        (a member changed since) gets the help desk's default, or any."""
        return (self.parts.get(language) or self.parts.get(self.default_language)
                or next(iter(self.parts.values())))

    def rows(self, session: Session, config: Config, members: list[Recipient], now: datetime,
             lease_until: datetime | None = None) -> list[dict[str, Any]]:
        """One outbox row per member: ``queued``, or ``sending`` leased until
        ``lease_until`` when given; ``suppressed`` and ``failed`` (``unusable``) rows are
        never leased."""
        hd = config.helpdesk
        suppressed = suppressed_addresses(session, [m.email for m in members])
        message_ids = make_message_ids(hd.secret, hd.address.rsplit("@", 1)[-1],
                                       f"a{self.id}", None, len(members))
        ready = OutboxState.QUEUED if lease_until is None else OutboxState.SENDING
        rows = []
        for member, message_id in zip(members, message_ids, strict=True):
            part = self.part(member.language)
            state = OutboxState.SUPPRESSED if member.email in suppressed else ready
            why = unusable(member)
            raw = b""
            if why is None:
                try:
                    raw = part.headers + header_block([
                        ("To", format_address(member.name, member.email)),
                        ("Message-ID", message_id),
                        ("List-Id", f"<{member.group}.{config.dispatch.list_domain}>"),
                    ]).encode("ascii")
                except (ValueError, UnicodeError) as exc:  # UnicodeError is a ValueError
                    why = f"cannot write the mail: {exc}"
            if why is not None:
                # One bad member row must not stop the notice to the others, nor the status
                # change that sends it: this one is recorded as failed, with the reason.
                log.warning("announcement %d: not sent to %r: %s", self.id, member.email, why)
                state = OutboxState.FAILED
            rows.append({
                "purpose": self.kind, "automatic": False, "message_id": message_id,
                "mail_from": hd.address, "to_addr": member.email[:320],
                "subject": part.subject, "raw": raw, "state": state, "last_reply": why,
                "attempts": 0, "next_attempt_at": now, "created_at": now,
                "lease_until": lease_until if state == OutboxState.SENDING else None,
                "announcement_id": self.id, "body_id": part.body_id,
            })
        return rows


# An address we can put in an envelope and a To header as it is: printable ASCII, one @,
# none of the characters that end or split an address.
_PLAIN_ADDRESS = re.compile(r"[!#-'*+\--9=?A-Z^-~]+@[!#-'*+\--9=?A-Z^-~]+\Z")


def unusable(member: Recipient) -> str | None:
    """Why a member row (imported before imports were checked, or written by hand in the
    database) cannot be mailed; None when it can."""
    if not _PLAIN_ADDRESS.match(member.email):
        return f"unusable address {member.email!r}"
    if CONTROL_RE.search(member.name):
        return f"control character in the name {member.name!r}"
    return None


def queue_to(session: Session, config: Config, mailing: Mailing,
             members: list[Recipient]) -> None:
    """Queue the mailing for ``members`` at once (a list given by hand: ``send_test``)."""
    insert_rows(session, _OUTBOX, mailing.rows(session, config, members, utcnow()))


def start_queue(session: Session, config: Config, mailing: Mailing,
                groups: list[UserGroup]) -> None:
    """Queue the first ``FIRST_CHUNK`` members of ``groups`` (all of them on SQLite) and
    leave the cursor after them in the announcement (NULL when that was all)."""
    cursor = {"groups": [[g.id, g.name] for g in groups], "group": 0, "after": "",
              "default": mailing.default_language,
              "parts": {language: [p.body_id, p.headers.decode("ascii"), p.subject]
                        for language, p in mailing.parts.items()}}
    at_once = ALL_AT_ONCE_ON_SQLITE and session.get_bind().dialect.name == "sqlite"
    _queue_next(session, config, mailing.id, mailing.kind, cursor,
                sys.maxsize if at_once else FIRST_CHUNK, utcnow(), None)


def claim_or_expand(session: Session, config: Config, limit: int, lease: timedelta
                    ) -> list[Leased]:
    """``claim``; when it finds fewer than ``limit`` due rows, the next members of the
    oldest announcement still being queued, as rows leased to this sender, in the same
    transaction."""
    now = utcnow()
    leased = claim(session, limit, lease, now)
    while len(leased) < limit:
        # Another sender queueing this announcement right now holds the lock: wait for its
        # commit (a few milliseconds) and go on from where it left the cursor.
        found = session.execute(
            select(Announcement.id, Announcement.kind, Announcement.queue)
            .where(Announcement.queue.is_not(None)).order_by(Announcement.id).limit(1)
            .with_for_update()).first()
        if found is None or found.queue is None:
            break
        leased += _queue_next(session, config, found.id, found.kind, found.queue,
                              limit - len(leased), now, now + lease)
    return leased


def _queue_next(session: Session, config: Config, announcement_id: int, kind: str,
                cursor: dict[str, Any], limit: int, now: datetime,
                lease_until: datetime | None) -> list[Leased]:
    """Rows for the next ``limit`` members after ``cursor``, the cursor moved past them;
    those leased to the caller (``lease_until`` given) returned."""
    members, moved = _next_members(session, cursor, limit)
    mailing = Mailing(announcement_id, kind, {
        language: SharedPart(body_id, headers.encode("ascii"), subject)
        for language, (body_id, headers, subject) in cursor["parts"].items()},
        cursor["default"])
    rows = mailing.rows(session, config, members, now, lease_until)
    session.execute(update(Announcement).where(Announcement.id == announcement_id)
                    .values(queue=null() if moved is None else moved))
    if lease_until is None:
        insert_rows(session, _OUTBOX, rows)
        return []
    ids = insert_with_ids(session, _OUTBOX, rows)
    return [Leased(id_, row["mail_from"], row["to_addr"], row["raw"], row["body_id"],
                   announcement_id)
            for id_, row in zip(ids, rows, strict=True) if row["state"] == OutboxState.SENDING]


def _next_members(session: Session, cursor: dict[str, Any], limit: int
                  ) -> tuple[list[Recipient], dict[str, Any] | None]:
    """Up to ``limit`` members after ``cursor``, and the cursor after them (None: no more)."""
    groups: list[list[Any]] = cursor["groups"]
    index: int = cursor["group"]
    after: str = cursor["after"]
    members: list[Recipient] = []
    earlier = aliased(GroupMember)
    while len(members) < limit and index < len(groups):
        group_id, group_name = groups[index]
        wanted = limit - len(members)
        query = (select(GroupMember.email, GroupMember.name, GroupMember.language,
                        GroupMember.organisation, GroupMember.code)
                 .where(GroupMember.group_id == group_id, GroupMember.email > after))
        if index:  # an address of an earlier group had the notice from there
            query = query.where(GroupMember.email.not_in(
                select(earlier.email).where(earlier.group_id.in_(
                    [g for g, _ in groups[:index]]))))
        found = session.execute(query.order_by(GroupMember.email).limit(wanted)).all()
        members += [Recipient(email=email, name=name, language=language,
                              organisation=organisation, code=code, group=group_name)
                    for email, name, language, organisation, code in found]
        if len(found) < wanted:
            index, after = index + 1, ""
        else:
            after = found[-1].email
    if index >= len(groups):
        return members, None
    return members, {**cursor, "group": index, "after": after}
