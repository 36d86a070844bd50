"""The queue's tabs and sort orders (``rnmail.tickets.queue``): the words of the desk's
addresses and of ``ticket queue``'s options. Apart from the queue's module, which imports the
ORM, so that ``rnmail ticket --help`` does not."""

from __future__ import annotations

from enum import StrEnum


class QueueTab(StrEnum):
    """The tabs of the queue (``rnmail.tickets.queue``): the desk's and ``ticket queue``'s."""

    NEW = "new"
    MINE = "mine"
    OPEN = "open"
    PENDING = "pending"
    DELEGATED = "delegated"
    CLOSED = "closed"


class QueueSort(StrEnum):
    AGE = "age"  # by when the ticket was opened; descending: the oldest first
    ACTIVITY = "activity"  # by its last activity (``updated_at``); descending: latest first
    NUMBER = "number"  # by its number; descending: the newest first
    DUE = "due"  # by its next due time (rnmail.tickets.due); descending: the most urgent first
