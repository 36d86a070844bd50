"""The vocabularies: the strings stored in the database never change by accident, and the
requester types are one list for tickets and for the directory's organisations."""

from __future__ import annotations

import json
from enum import StrEnum

import pytest

from rnmail import vocab
from rnmail.config import REQUESTER_TYPES, STATUS_STATES
from rnmail.errors import RnmailError
from rnmail.vocab import (
    ORGANISATION_KINDS,
    REQUESTER_TYPE_ALIASES,
    TIMED_STEPS,
    RequesterType,
    normal_requester_type,
    strings,
)

# The values as the database holds them (VARCHAR): changing one is a data migration.
STORED = {
    "TicketStatus": ["open", "pending", "delegated", "closed"],
    "Resolution": ["first-contact", "investigated", "second-line", "merged"],
    "Channel": ["mail", "fax", "phone", "letter"],
    "RequesterType": ["citizen", "municipality", "police", "notary", "public-service",
                      "company", "other"],
    "IngestOutcome": ["ticket", "reply", "staff", "service", "staff-unsent", "duplicate",
                      "bounce", "seen", "quarantined", "spam"],
    "OutboxState": ["queued", "sending", "sent", "failed", "bounced", "suppressed"],
    "QuarantineState": ["held", "released"],
    "SpamState": ["held", "released", "deleted"],
    "StatusState": ["operational", "degraded", "down"],
    "MaintenanceState": ["scheduled", "cancelled"],
    "MaintenancePhase": ["scheduled", "in-progress", "done", "cancelled"],
    "MaintenanceStep": ["announcement", "reminder", "start", "end", "cancellation"],
    "AnnouncementKind": ["outage", "mailing", "test", "preview"],
    "AccessState": ["active", "blocked", "revoked"],
    "UnblockAction": ["reset", "new-key"],
    "ArchiveFormat": ["eml", "mbox", "json"],
    "ActorKind": ["staff", "operator", "user", "requester", "service", "system"],
    "Via": ["desk", "mail", "cli", "admin", "system"],
    "TicketChange": ["opened", "status", "resolution", "assignee", "category",
                     "requester-type", "service", "reply", "note", "service-answer",
                     "participant-add", "participant-del", "access-unblock", "pending-until",
                     "merged-into", "merged-from", "split-to", "service-reminder", "overdue",
                     "due-warning", "due-missed", "auto-closed", "legal-hold", "hold-lifted"],
    # not stored (the ticket's status and resolution say it), but typed in forms and scripts
    "CallOutcome": ["close", "open", "delegate"],
    # not stored, but printed by `ticket show --json` (scripts read it): pinned the same way
    "MessageRole": ["request", "automatic", "note", "answer", "acknowledgement",
                    "notification", "delegation", "held"],
}


def test_the_stored_strings_are_pinned() -> None:
    found = {name: strings(value) for name, value in vars(vocab).items()
             if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum}
    assert found == STORED
    for name in STORED:
        for member in getattr(vocab, name):  # each fits its VARCHAR(16) column
            assert len(member.value) <= 16


def test_a_member_is_its_string() -> None:
    member = vocab.TicketStatus.CLOSED
    assert member == "closed" and f"{member}" == "closed" and str(member) == "closed"
    assert json.dumps({"status": member, member: 1}) == '{"status": "closed", "closed": 1}'
    assert {"closed": 1}[member] == 1
    assert "closed" in vocab.strings(vocab.TicketStatus)
    assert TIMED_STEPS == ("reminder", "start", "end")
    assert tuple(STORED["RequesterType"]) == REQUESTER_TYPES
    assert tuple(STORED["StatusState"]) == STATUS_STATES


def test_organisation_kinds_are_the_requester_types_but_citizen() -> None:
    assert set(ORGANISATION_KINDS) == set(RequesterType) - {RequesterType.CITIZEN}
    assert list(ORGANISATION_KINDS) == [t for t in RequesterType if t != "citizen"]


@pytest.mark.parametrize("word, kind", [
    *((t.value, t) for t in ORGANISATION_KINDS),
    *REQUESTER_TYPE_ALIASES.items(),
    ("Gemeente", RequesterType.MUNICIPALITY),
    ("  Public   Service ", RequesterType.PUBLIC_SERVICE),
    ("POLICE-ZONE", RequesterType.POLICE),
])
def test_one_reading_of_a_requester_type_for_tickets_and_organisations(
        word: str, kind: RequesterType) -> None:
    assert normal_requester_type(word) is kind
    assert normal_requester_type(word, organisation=True) is kind


def test_citizen_is_a_requester_type_but_no_organisation_kind() -> None:
    assert normal_requester_type("Citizen") is RequesterType.CITIZEN
    with pytest.raises(RnmailError, match=r"^unknown organisation type 'citizen': use one of "
                       r"municipality, police, notary, public-service, company, other$"):
        normal_requester_type("citizen", organisation=True)
    with pytest.raises(RnmailError, match=r"^unknown requester type 'bakery' \(citizen, "):
        normal_requester_type("bakery")
    for alias, kind in REQUESTER_TYPE_ALIASES.items():  # an alias never names a citizen
        assert alias == alias.lower() and kind in ORGANISATION_KINDS
