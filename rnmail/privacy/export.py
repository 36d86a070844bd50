"""The right of access (GDPR Art. 15): everything rnmail holds about a person, as files a
person can open — ``rnmail privacy export`` and the desk's privacy page.

The folder holds ``index.html`` (in the person's language: their directory entry's, else
their latest ticket's, else the help desk's; fr, nl, de or en) listing everything with
links, ``person.json`` (the same as data), one folder per ticket with its messages as
``.eml`` (received mail byte for byte from the raw copy when it is kept, our mail as the
outbox sent it, else rebuilt from the database: ``rnmail.tickets.archive.message_bytes``)
and JSON, the attachments kept, and the directory entry, group memberships, outbox rows and
audit entries as JSON (outbox rows also as ``.eml``), and their mail kept in the
quarantine (``.eml`` and JSON).

Other people's data stays out: of a ticket someone else requested only the person's own
messages and participant row are written; in the person's own tickets, mail that anyone
else wrote into the thread (a participant, or someone whose reply was threaded in) is left
out with the help desk's notifications of it, and the history says "another person" for
such a writer and for another person's address in a value. Mail the person sent or
received is written whole, headers included, except that the signatures of the Message-IDs
that prove a staff reply (a notification's, a delegation's) are made invalid wherever they
appear: the person gets the mail, not the means to answer as a staff member.

Written atomically: into a hidden sibling folder renamed to ``out`` at the end, so a
folder named ``out`` is always a complete export; an existing non-empty ``out`` is refused.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.config import LANGUAGES, Config
from rnmail.directory.people import user_detail
from rnmail.errors import RnmailError
from rnmail.i18n.formats import format_time
from rnmail.i18n.jinja import install
from rnmail.models import Message, Service, Staff, Ticket, TicketEvent, utcnow
from rnmail.privacy.person import Holdings, Person, find_holdings
from rnmail.tickets.archive import message_bytes, rebuilt_bytes
from rnmail.tickets.views import message_detail, ticket_summary
from rnmail.util.blobs import BlobStore
from rnmail.util.tokens import blunt_staff_proofs

PAGES = Path(__file__).resolve().parent.parent / "templates" / "pages"
ANOTHER = "(another person)"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the folder, its number of files, what it holds, the index's
    language."""

    out: Path
    files: int
    counts: dict[str, int]
    language: str

    def json(self) -> dict[str, Any]:
        return {"out": str(self.out), "files": self.files, "language": self.language,
                **self.counts}


def export_person(session: Session, config: Config, blobs: BlobStore, person: Person,
                  out: Path) -> ExportResult:
    """Write the export of ``person`` to the folder ``out`` (see the module)."""
    out = out.absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RnmailError(f"{out} exists and is not an empty folder: give a new one")
    out.parent.mkdir(parents=True, exist_ok=True)
    held = find_holdings(session, person)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        language = write_export(session, config, blobs, held, work)
        files = sum(len(names) for _root, _dirs, names in os.walk(work))
        if out.exists():
            out.rmdir()  # empty: checked above
        os.rename(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportResult(out, files, held.counts(), language)


def export_zip(session: Session, config: Config, blobs: BlobStore, person: Person
               ) -> tuple[bytes, ExportResult]:
    """The export as a zip file's bytes (the desk's download)."""
    with tempfile.TemporaryDirectory(prefix="rnmail-export-") as folder:
        result = export_person(session, config, blobs, person, Path(folder) / "export")
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(result.out.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(result.out).as_posix())
    return data.getvalue(), result


def help_desk_addresses(session: Session, config: Config) -> frozenset[str]:
    """The help desk's own addresses and its staff's and services' (former ones too): whose
    mail in a ticket is the help desk's, not another person's."""
    staff = session.scalars(select(Staff.email))
    services = session.scalars(select(Service.email))
    return frozenset({*config.helpdesk.own_addresses,
                      *(a.lower() for a in (*staff, *services) if a)})


def person_language(config: Config, held: Holdings) -> str:
    """The person's language: their directory entry's, else their latest ticket's, else
    the help desk's."""
    if held.directory_user is not None and held.directory_user.language in LANGUAGES:
        return held.directory_user.language
    for ticket in reversed(held.requested):
        if ticket.language in LANGUAGES:
            return ticket.language
    return config.helpdesk.default_language


def write_export(session: Session, config: Config, blobs: BlobStore, held: Holdings,
                 folder: Path) -> str:
    """Write every file of the export into ``folder``; returns the index's language."""
    language = person_language(config, held)
    person = held.person
    entries: dict[str, Any] = {"person": {"email": person.email, "phone": person.phone},
                               "exported_at": utcnow().isoformat(), "tickets": [],
                               "other_tickets": []}
    ours = help_desk_addresses(session, config)
    for ticket in held.requested:
        entries["tickets"].append(_own_ticket(session, blobs, held, ticket, folder, ours))
    for ticket in held.involved:
        entries["other_tickets"].append(_other_ticket(session, blobs, held, ticket, folder))
    user = held.directory_user
    entries["directory"] = None
    if user is not None:
        history = [{"at": e.at.isoformat(), "action": e.action, "actor": e.actor,
                    "detail": e.detail} for e in held.audit
                   if e.action.startswith(("directory-", "access-"))]
        entries["directory"] = _write_json(folder / "directory.json", {
            "entry": user_detail(user), "history": history})
    entries["groups"] = [{"group": m.group.name, "email": m.email, "name": m.name,
                          "language": m.language, "organisation": m.organisation,
                          "code": m.code} for m in held.memberships]
    entries["outbox"] = []
    for row in held.outbox:
        name = f"outbox/outbox-{row.id}.eml"
        _write(folder / name, row.raw)
        entries["outbox"].append({"id": row.id, "ticket": row.ticket_id, "purpose": row.purpose,
                                  "to": row.to_addr, "subject": row.subject, "state": row.state,
                                  "created_at": row.created_at.isoformat(),
                                  "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                                  "eml": name})
    entries["audit"] = [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor,
                         "action": e.action, "detail": e.detail, "success": e.success}
                        for e in held.audit]
    entries["quarantine"] = []
    for held_mail in held.quarantined:
        name = f"quarantine/quarantine-{held_mail.id}.eml"
        try:
            _write(folder / name, blobs.get(held_mail.raw_sha256))
        except OSError:
            name = ""  # the raw copy is gone: described only
        entries["quarantine"].append({"id": held_mail.id, "kind": "quarantine",
                                      "subject": held_mail.subject,
                                      "from": held_mail.from_addr, "state": held_mail.state,
                                      "created_at": held_mail.created_at.isoformat(),
                                      "eml": name})
    for spam in held.spam:  # held as spam: the same for them, mail not processed
        name = f"quarantine/spam-{spam.id}.eml"
        try:
            _write(folder / name, blobs.get(spam.raw_sha256))
        except OSError:
            name = ""
        entries["quarantine"].append({"id": spam.id, "kind": "spam", "subject": spam.subject,
                                      "from": spam.from_addr, "state": spam.state,
                                      "created_at": spam.created_at.isoformat(),
                                      "eml": name})
    entries["organisation_contacts"] = [{"organisation": o.name, "code": o.code,
                                         "email": person.email} for o in held.contact_of]
    for part in ("groups", "outbox", "audit", "quarantine"):
        if entries[part]:
            _write_json(folder / f"{part}.json", entries[part])
    _write_json(folder / "person.json", entries)
    _write(folder / "index.html", render_index(config, language, entries).encode())
    _blunt_staff_proofs(folder, config.helpdesk.secret)
    return language


def _blunt_staff_proofs(folder: Path, secret: str) -> None:
    """The notifications and delegations of the person's tickets, and the staff replies
    that reference them, carry signed Message-IDs that prove a staff reply when sent from
    the member's address (``rnmail.ingest.staff``): in the person's hands, with a forged
    From, they would let them act as the member. Their signatures are made invalid in every
    file of the export (``blunt_staff_proofs``: same length, same Message-ID to read)."""
    for path in folder.rglob("*"):
        if path.is_file():
            data, blunted = blunt_staff_proofs(secret, path.read_bytes())
            if blunted:
                path.write_bytes(data)


def _own_ticket(session: Session, blobs: BlobStore, held: Holdings, ticket: Ticket,
                folder: Path, ours: frozenset[str]) -> dict[str, Any]:
    """A ticket the person requested: all of it but what others wrote into it (a
    participant, or anyone whose reply was threaded in), the help desk's notifications of
    those mails, and the others' addresses in its history. ``ours``: the addresses of the
    help desk, its staff and services, whose mail is the help desk's answer."""
    mine = set(held.person.keys)
    # The mail that opened the ticket is theirs whatever its From: a fax gateway's address,
    # say, for a fax from their number (and later faxes come from it too).
    mine |= {m.from_addr.lower() for m in ticket.messages[:1]
             if m.direction == "in" and m.from_addr}

    def someone_else(address: str | None) -> bool:
        low = (address or "").lower()
        return bool(low) and low not in mine and low not in ours

    others = {p.address.lower() for p in ticket.participants if someone_else(p.address)}
    theirs = [m for m in ticket.messages if m.direction == "in" and someone_else(m.from_addr)]
    forwarded = {m.message_id for m in theirs if m.message_id}
    messages = [m for m in ticket.messages if m not in theirs
                and not (m.kind == "notification" and m.in_reply_to in forwarded)]
    events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                             .order_by(TicketEvent.id))
    history = [{"at": e.at.isoformat(), "what": e.what,
                "old": _others_out(e.old, someone_else), "new": _others_out(e.new, someone_else),
                "actor": e.actor if not someone_else(e.actor_email) else ANOTHER,
                "actor_kind": e.actor_kind, "via": e.via} for e in events]
    their_texts = sorted({text.strip() for m in theirs for text in (m.display_text, m.text)
                          if text and len(text.strip()) >= 12}, key=len, reverse=True)

    def without_others(value: str) -> str:
        """The help desk's mail quoting another writer (a delegation's history): their
        words and addresses out."""
        for text in their_texts:
            value = value.replace(text, ANOTHER)
        return _others_out(value, someone_else) or ""

    return _ticket_folder(session, blobs, held, ticket, messages, folder, {
        **ticket_summary(ticket), "role": "requester",
        "participants": [{"address": p.address, "role": p.role} for p in ticket.participants
                         if p.address.lower() not in others],
        "history": history}, without_others)


_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


def _others_out(value: str | None, someone_else: Callable[[str], bool]) -> str | None:
    """A history value with the addresses of other people in it (a participant added, a
    requester changed) replaced by ``ANOTHER``."""
    if not value:
        return value
    return _ADDRESS.sub(lambda m: ANOTHER if someone_else(m[0]) else m[0], value)


def _other_ticket(session: Session, blobs: BlobStore, held: Holdings, ticket: Ticket,
                  folder: Path) -> dict[str, Any]:
    """A ticket someone else requested: only the person's messages and participant rows."""
    messages = [m for m in held.own_messages if m.ticket_id == ticket.id]
    roles = [p.role for p in held.participants if p.ticket_id == ticket.id]
    return _ticket_folder(session, blobs, held, ticket, messages, folder, {
        "id": ticket.id, "role": "participant" if roles else "writer",
        "participants": [{"address": p.address, "role": p.role} for p in held.participants
                         if p.ticket_id == ticket.id],
        "created_at": ticket.created_at.isoformat()})


def _ticket_folder(session: Session, blobs: BlobStore, held: Holdings, ticket: Ticket,
                   messages: list[Message], folder: Path, data: dict[str, Any],
                   clean: Callable[[str], str] | None = None) -> dict[str, Any]:
    """The messages' files and JSON; ``clean``: what a message's texts must lose (other
    people's words): a message it changes is written rebuilt from its cleaned text, not
    as the mail was (whose bytes hold them)."""
    base = f"tickets/ticket-{ticket.id}"
    listed = []
    for number, message in enumerate(messages, start=1):
        stem = f"{base}/{number:03d}-{message.direction}-{message.kind}"
        detail: dict[str, Any] = dict(message_detail(message))
        detail.pop("raw_sha256", None)
        cleaned = {k: clean(detail[k]) for k in ("text", "full_text")
                   if clean is not None and detail.get(k)}
        if any(cleaned[k] != detail[k] for k in cleaned):
            detail.update(cleaned)
            detail["has_html"] = False
            detail["note"] = "other people's words and addresses removed"
            _write(folder / f"{stem}.eml",
                   rebuilt_bytes(message, cleaned.get("full_text") or cleaned.get("text")))
        else:
            _write(folder / f"{stem}.eml", message_bytes(session, blobs, message))
        files = []
        for index, attachment in enumerate(message.attachments, start=1):
            if attachment.sha256 is None:
                continue
            try:
                content = blobs.get(attachment.sha256)
            except OSError:
                continue  # gone from the store: described in the JSON only
            name = f"{stem}-{index}-{_safe(attachment.filename)}"
            _write(folder / name, content)
            files.append({"filename": attachment.filename, "file": name,
                          "content_type": attachment.content_type, "size": attachment.size})
        detail["files"] = files
        _write_json(folder / f"{stem}.json", detail)
        listed.append({"eml": f"{stem}.eml", "json": f"{stem}.json", "files": files,
                       "direction": message.direction, "kind": message.kind,
                       "subject": message.subject,
                       "date": (message.date or message.created_at).isoformat()})
    data["messages"] = listed
    data["json"] = f"{base}/ticket.json"
    _write_json(folder / data["json"], data)
    return data


def render_index(config: Config, language: str, entries: dict[str, Any]) -> str:
    environment = Environment(loader=FileSystemLoader(str(PAGES)), undefined=StrictUndefined,
                              autoescape=True, trim_blocks=True, lstrip_blocks=True,
                              auto_reload=False)
    install(environment, language)
    zone = config.helpdesk.zone
    environment.filters["when"] = lambda value: format_time(
        datetime.fromisoformat(value), language, zone) if value else ""
    return environment.get_template("privacy_export.html.j2").render(
        language=language, helpdesk=config.helpdesk.address, **entries)


_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def _safe(filename: str) -> str:
    """A file name that stays in its folder and opens everywhere."""
    name = _UNSAFE.sub("_", filename).strip("._")[:100]
    return name or "file"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write_json(path: Path, data: Any) -> Any:
    _write(path, json.dumps(data, ensure_ascii=False, indent=2).encode() + b"\n")
    return data
