"""stored maintenance jobs name the job function's new home

The APScheduler glue moved from ``rnmail.maintenance`` to ``rnmail.daemon.scheduler``; each
stored job names its function by reference inside its pickled state, so the rows written by
earlier versions are rewritten (and back on downgrade). No table changes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:30:00
"""

import pickle

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD = "rnmail.maintenance:run_scheduled_step"
NEW = "rnmail.daemon.scheduler:run_scheduled_step"
JOBS = sa.table("apscheduler_jobs", sa.column("id", sa.Unicode(191)),
                sa.column("job_state", sa.LargeBinary()))


def _rename(old: str, new: str) -> None:
    connection = op.get_bind()
    for job_id, state in connection.execute(sa.select(JOBS.c.id, JOBS.c.job_state)).all():
        job = pickle.loads(state)
        if job.get("func") != old:
            continue
        job["func"] = new
        connection.execute(JOBS.update().where(JOBS.c.id == job_id).values(
            job_state=pickle.dumps(job, pickle.HIGHEST_PROTOCOL)))


def upgrade() -> None:
    _rename(OLD, NEW)


def downgrade() -> None:
    _rename(NEW, OLD)
