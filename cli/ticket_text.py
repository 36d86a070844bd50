"""``rnmail ticket show`` as text: the header, the thread (each staff notification folded
into one line) and the History section, times in ``[helpdesk].timezone``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from rnmail.i18n.formats import text_day, text_time


def _time(value: str | None, zone: tzinfo) -> str:
    """A time as people read it in the ticket commands, in ``[helpdesk].timezone``."""
    return text_time(value, zone)


def _who(name: str | None, address: str | None) -> str:
    if name and address and name != address:
        return f"{name} <{address}>"
    return name or address or "-"


def _merged_line(detail: Mapping[str, Any], zone: tzinfo) -> str:
    """Where a merged ticket went, when and by whom (its ``merged-into`` event)."""
    events = [e for e in detail.get("history", []) if e["what"] == "merged-into"]
    line = f"merged into #{detail['merged_into_id']}: its messages are there"
    if events:
        last = events[-1]
        line += (f" (merged {_time(last['at'], zone)} by {last['actor']}, {last['via']})")
    return line


def ticket_lines(detail: Mapping[str, Any], zone: tzinfo) -> list[str]:
    """``ticket show`` as text: the header, then each real message once; the copies of a
    notification (one per staff member) make one line, as do acknowledgements and
    delegation mails."""
    lines = [f"#{detail['id']} [{detail['status']}] {detail['subject']}"]
    if detail.get("merged_into_id"):
        lines.append(_merged_line(detail, zone))
    hold = detail.get("legal_hold")
    if hold:
        lines.append(f"LEGAL HOLD since {_time(hold['at'], zone)} by {hold['by']}: "
                     f"{hold['reason']} (exempt from every purge)")
    if detail.get("anonymised_at"):
        lines.append(f"anonymised {_time(detail['anonymised_at'], zone)}: its personal data "
                     "was removed")
    org = f", {detail['requester_org']}" if detail.get("requester_org") else ""
    lines.append(f"requester:  {_who(detail['requester_name'], detail['requester'])}{org} "
                 f"({detail['requester_type']})")
    lines.append(f"channel:    {detail['channel']}   language: {detail['language']}   "
                 f"created: {_time(detail['created_at'], zone)}")
    assignee = _who(detail.get("assignee_name"), detail["assignee"])
    lines.append(f"category:   {detail['category'] or '-'}   assignee: {assignee}")
    service = detail["service"] or "-"
    if detail["service"]:
        service += f" (delegated {_time(detail['delegated_at'], zone)})"
    closed = f" (closed {_time(detail['closed_at'], zone)})" if detail["closed_at"] else ""
    lines.append(f"resolution: {detail['resolution'] or '-'}{closed}   service: {service}")
    if detail.get("pending_until"):
        lines.append(f"pending until {detail['pending_until']} (back in the queue that day)")
    due = detail["due"]
    if due["first_response"]:
        state = " (paused: pending)" if due["paused"] else (
            " LATE" if due["late"] else " (within the hour)" if due["soon"] else "")
        lines.append(f"due:        first response {_time(due['first_response'], zone)}   "
                     f"resolution {_time(due['resolution'], zone)}{state}")
    known = detail.get("directory")
    if known:
        lines.append(f"Directory: {known['organisation']} ({known['organisation_type']}), "
                     f"access {known['access_status']} since "
                     f"{text_day(known['status_since'], zone)}")
    messages = list(detail["messages"])
    index = 0
    while index < len(messages):
        msg = messages[index]
        role = msg["role"]
        if role == "notification":  # one per staff member: counted, not repeated
            copies = 1
            while index + copies < len(messages) and (
                    messages[index + copies]["role"] == "notification"):
                copies += 1
            lines.append(f"   {_time(msg['date'], zone)} notified {copies} staff")
            index += copies
            continue
        index += 1
        if role == "acknowledgement":
            lines.append(f"   {_time(msg['date'], zone)} acknowledgement sent to "
                         f"{', '.join(msg['to'])}")
            continue
        if role == "delegation":
            lines.append(f"-> {_time(msg['date'], zone)} delegated: the ticket sent to "
                         f"{', '.join(msg['to'])}")
            continue
        head = {"request": "<-", "automatic": "<-", "answer": "->", "note": "=="}.get(role, "!!")
        author = _who(msg["author"], msg["author_email"])
        by = f" by {author}" if msg["author"] or msg["author_email"] else ""
        what = {"request": f"from {author}", "automatic": f"automatic reply from {author}",
                "answer": f"answer{by} to {', '.join(msg['to'])}", "note": f"note{by}",
                "held": f"answer{by} HELD, not sent (`ticket reply {detail['id']} --anyway`)"
                }[role]
        lines.append("")
        lines.append(f"{head} {_time(msg['date'], zone)} {what}: {msg['subject']}")
        text = msg["text"].splitlines()
        if role == "answer" and "-- " in text:  # our signature and contact block: known
            text = text[:text.index("-- ")]
        lines.extend(f"   {line}" if line else "" for line in text)
        for att in msg["attachments"]:
            note = f" OMITTED: {att['omitted']}" if att["omitted"] else ""
            lines.append(f"   [{att['content_type']}] {att['filename']} ({att['size']} bytes)"
                         f"{note}")
    return lines + history_lines(detail.get("history") or [], zone)


# The acts of a history said as such (their value follows); any other event is a field
# changed from its old value to its new one.
ACTS = {"opened": "opened by", "reply": "answer to", "note": "note:",
        "service-answer": "second line answered:", "participant-add": "participant added:",
        "participant-del": "participant removed:", "access-unblock": "access unblocked:"}


def history_lines(events: Sequence[Mapping[str, Any]], zone: tzinfo) -> list[str]:
    """The "History" section of ``ticket show``: one line per change, oldest first, with
    who made it and through what."""
    if not events:
        return []
    lines = ["", "History"]
    for event in events:
        what = event["what"]
        if what in ACTS:
            change = f"{ACTS[what]} {event['new'] or event['old'] or '-'}"
        else:
            change = f"{what}: {event['old'] or '-'} -> {event['new'] or '-'}"
        who = _who(event["actor"], event["actor_email"])
        login = f", {event['login']}" if event.get("login") and (
            event["login"] != event["actor"]) else ""
        lines.append(f"   {_time(event['at'], zone)}  {change}  ({who}, "
                     f"{event['actor_kind']} via {event['via']}{login})")
    return lines
