"""indexes for the agents' queue

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 13:40:00
"""

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# The columns the queue's filters test (channel, category, requester type, assignee,
# service): in the counting indexes, a tab is counted from the index alone, filters or not.
FILTERED = ["channel", "category", "requester_type", "assignee_id", "service_id"]
# name: (table, columns)
INDEXES = {
    # a tab is a status (and for mine an assignee); a page is sorted by age, last activity
    # or number (the row id, in every SQLite index): the page is read in index order and
    # cut at its limit, not sorted from all the tab's tickets
    "ix_ticket_queue_age": ("ticket", ["status", "created_at"]),
    "ix_ticket_queue_activity": ("ticket", ["status", "updated_at"]),
    # the counts: a status (new: and no assignee; mine: and an assignee)...
    "ix_ticket_queue_count": ("ticket", ["status", "assignee_id", "channel", "category",
                                         "requester_type", "service_id"]),
    # ... recently closed: a short range at the end of the closed tickets
    "ix_ticket_queue_closed": ("ticket", ["status", "closed_at", *FILTERED]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
