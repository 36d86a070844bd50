"""Steps of scheduled jobs that happen once, ever (``rnmail.models.ScheduledStep``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rnmail.models import ScheduledStep


def claim_step(session: Session, key: str, ticket_id: int | None = None) -> bool:
    """Record the step ``key`` in the caller's transaction; False when it was done already
    (by an earlier run, or by another instance at this moment: the unique key decides,
    and that instance's commit makes this one's insert fail). The caller does the step only
    on True, in the same transaction, so the step and its record commit together."""
    if session.scalar(select(ScheduledStep.key).where(ScheduledStep.key == key)):
        return False
    try:
        with session.begin_nested():
            session.add(ScheduledStep(key=key, ticket_id=ticket_id))
            session.flush()
    except IntegrityError:
        return False
    return True


def step_done(session: Session, key: str) -> bool:
    return session.scalar(select(ScheduledStep.key).where(ScheduledStep.key == key)) is not None
