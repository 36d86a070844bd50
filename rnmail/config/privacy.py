"""``[privacy]``: how long rnmail keeps personal data (storage limitation, GDPR art. 5(1)(e)).

A section of its own module: ``rnmail.config`` holds the rest of the schema, and is long.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnmail.config.schema import key

KEEP = "; `0` keeps them for ever"


@dataclass(frozen=True)
class PrivacyConfig:
    """How long personal data is kept (`rnmail privacy purge`, and the daemon once a day;
    see [docs/privacy.md](privacy.md)). Periods run from the day a ticket was **closed**
    (a reopened ticket starts again when it closes again); a ticket on **legal hold**
    (`rnmail ticket hold`) is exempt from all of them. Every statistic stays the same: the
    anonymised tickets keep what the figures count.

    ```toml
    [privacy]
    raw_mail_months = 6
    attachment_months = 12
    anonymise_months = 24
    outbox_months = 3
    spam_days = 30
    quarantine_months = 6
    audit_years = 5
    ```
    """

    raw_mail_months: int = key(
        6, min=0, unit="months",
        doc="The raw mails (`.eml`, kept in `[helpdesk].attachments_dir` to export or "
            "reprocess a ticket) of a ticket closed that long ago are deleted; its "
            "messages' texts stay until it is anonymised. So is quarantined mail released "
            "(processed after all) that long ago" + KEEP + ".")
    attachment_months: int = key(
        12, min=0, unit="months",
        doc="The attachments' files of a ticket closed that long ago are deleted (their "
            "name, type and size stay, marked as removed)" + KEEP + ".")
    anonymise_months: int = key(
        24, min=0, unit="months",
        doc="A ticket closed that long ago is anonymised: its subject, requester, "
            "participants, messages, files, outgoing mails and the history values naming "
            "people are removed; its dates, channel, category, requester type, "
            "organisation, resolution, service and assignee stay for the statistics" + KEEP
            + ".")
    outbox_months: int = key(
        3, min=0, unit="months",
        doc="Outgoing mails (`rnmail outbox list`: recipient and full message) sent, failed "
            "or suppressed that long ago are deleted from the outbox, with their bounce "
            "reports; the tickets keep their own copy of each answer until anonymised. So are "
            "the bounce reports that matched no mail of ours, that long after they came"
            + KEEP + ".")
    spam_days: int = key(
        30, min=0, unit="days",
        doc="Mail held as spam (`rnmail spam list`) that long ago, and not released, is "
            "deleted with its raw mail; the rows of spam released or deleted that long ago "
            "go too" + KEEP + ".")
    quarantine_months: int = key(
        6, min=0, unit="months",
        doc="Mail held in the quarantine (`rnmail quarantine list`: it could not be "
            "processed) that long ago and never released is deleted with its raw mail, "
            "like a request nobody answered; retry or look at it before" + KEEP + ".")
    audit_years: int = key(
        5, min=0, unit="years",
        doc="Entries of the audit log (`rnmail audit`) older than this are deleted" + KEEP
            + ".")
