"""The Alembic revisions build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import column, select, table, text

from rnmail.daemon.scheduler import JOB_FUNCTION, job_store_scheduler, run_scheduled_step
from rnmail.db import MIGRATIONS, Database, migration_revisions
from rnmail.models import Base, include_object
from tests.harness.servers import database

FOLD_FROM = import_module("rnmail.migrations.versions.0003_full_text_search").FOLD_FROM
FOLD_TO = import_module("rnmail.migrations.versions.0003_full_text_search").FOLD_TO

pytestmark = pytest.mark.migrations  # the revisions themselves, not the template's copy


def test_the_revision_files_are_named_by_their_revision() -> None:
    """Commands find the newest revision from the file names, without Alembic
    (``rnmail.db.migration_revisions``): each file is named by its revision, and they
    follow each other in that order."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    chain = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    assert list(migration_revisions()) == chain
    assert chain[-1] == scripts.get_current_head()
    for script in scripts.walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_")


def test_upgrade_head_matches_the_models(db_url: str) -> None:
    db = Database(db_url)
    assert db.revision() is None
    head = db.upgrade()
    assert db.upgrade() == head  # idempotent: init twice is fine
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection,
                                             opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    db.dispose()
    assert diff == []


def test_upgrade_rewrites_stored_jobs_of_the_old_scheduler_module(db_url: str) -> None:
    """A maintenance job stored by a version before the scheduler glue moved (its function
    named ``rnmail.maintenance:run_scheduled_step``) still loads and runs after upgrading."""
    db = Database(db_url)
    assert db.upgrade("0009") == "0009"
    run_at = datetime.now(UTC) + timedelta(days=2)
    with job_store_scheduler(db) as scheduler:
        scheduler.add_job(JOB_FUNCTION, "date", run_date=run_at, args=[7, "start"],
                          id="maintenance-7-start")
    jobs = table("apscheduler_jobs", column("id"), column("job_state"))
    with db.engine.begin() as connection:  # as the previous version wrote it
        state = pickle.loads(connection.execute(select(jobs.c.job_state)).scalar_one())
        state["func"] = "rnmail.maintenance:run_scheduled_step"
        connection.execute(jobs.update().values(job_state=pickle.dumps(state)))

    assert db.upgrade() == db.revision() != "0009"
    with job_store_scheduler(db) as scheduler:
        job = scheduler.get_job("maintenance-7-start")
        assert job.func is run_scheduled_step and job.func_ref == JOB_FUNCTION
        assert job.args == (7, "start") and job.next_run_time == run_at
    db.dispose()


FOLD_SAMPLES = ["", "Carte d'identité", "DEMANDE URGENTE 0470 12 34 56", "Straße Œuvre Æther",
                "ŁÓDŹ Ørsted ħ ı İstanbul", "plain ascii text", "Ĳ ǅ ﬁ ẞ Ω", "a\tb\nc~",
                "ß", "日本語 テキスト", "x\u0301 e\u0301 ç", "zzz ǜ ǚ ǘ ǖ ü aaa"]


def test_fold_is_the_same_after_0028(tmp_path: Path) -> None:
    """PostgreSQL's ``rn_fold`` of 0028 translates only the letters a text holds (an ASCII
    text not at all): every text folds as with 0003's, so the stored search vectors stay
    valid."""
    letters = [FOLD_FROM, f"{FOLD_FROM.upper()} mixed", "".join(reversed(FOLD_FROM)),
               " ".join(FOLD_FROM[i::7] + FOLD_FROM.upper()[i::5] for i in range(7))]
    samples = [*FOLD_SAMPLES, *letters]
    with database("postgresql", tmp_path) as url:
        db = Database(url)
        db.upgrade("0027")
        with db.engine.connect() as connection:
            before = [connection.scalar(text("SELECT rn_fold(:v)"), {"v": v})
                      for v in samples]
        db.upgrade()
        with db.engine.connect() as connection:
            after = [connection.scalar(text("SELECT rn_fold(:v)"), {"v": v})
                     for v in samples]
            ascii_only = connection.scalar(text("SELECT rn_fold(:v)"), {"v": "MiXeD Ascii"})
            nothing = connection.scalar(text("SELECT rn_fold(NULL)"))
        db.dispose()
    assert after == before
    assert before[1] == "carte d'identite" and before[3] == "strasse oeuvre aether"
    assert before[len(FOLD_SAMPLES)] == FOLD_TO
    assert ascii_only == "mixed ascii" and nothing is None
