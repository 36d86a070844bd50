"""What an ``rnmail`` command imports before it does anything: agents run ``rnmail ticket
show`` all day, and each import of a library the command does not use is paid every time
(docs/performance.md, *CLI start*). Checked on the module lists of ``python -X importtime``,
not on times; and ``rnmail --help`` lists the commands from ``cli.main.COMMANDS`` without
importing them, so that table must say what the commands say."""

from __future__ import annotations

import gc
import importlib
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.main import COMMANDS, main
from tests.harness.factories import write_config
from tests.harness.install import rnmail

ROOT = Path(__file__).resolve().parent.parent
RUN = "import sys; from cli.main import main; sys.exit(main(prog_name='rnmail'))"

# Libraries for mail, pages, charts, languages, phone numbers, translation catalogues,
# migrations, the scheduler and passwords: what no read-only command of the desk needs (the
# config's default fax region is taken without libphonenumber; a ticket's stored numbers
# are already E.164).
NEVER_FOR_A_LOOK = {"matplotlib", "lingua", "aiohttp", "alembic", "jinja2", "aiosmtplib",
                    "imap_tools", "apscheduler", "holidays", "cryptography", "argon2",
                    "phonenumbers", "babel.messages"}
# Listing the commands opens neither the config nor the database.
NOT_FOR_HELP = NEVER_FOR_A_LOOK | {"sqlalchemy", "rnmail.config", "rnmail.models", "rnmail.db"}


def imported(config: Path | None, *args: str) -> set[str]:
    """The modules ``rnmail ARGS`` imports, run as agents run it: a new process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if config is not None:
        env["RNMAIL_CONFIG"] = str(config)
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", RUN, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    names = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:")}
    assert "cli.main" in names and "click" in names  # the profile is read as it should be
    return names


def among(names: set[str], heavy: set[str]) -> set[str]:
    """The modules of ``names`` that are, or are inside, one of ``heavy``."""
    return {name for name in names
            if any(name == root or name.startswith(root + ".") for root in heavy)}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """An installation with one ticket, on SQLite (what is imported does not depend on the
    database: the look-up is the same)."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db")
    assert rnmail(config, "init").code == 0
    made = rnmail(config, "ticket", "new", "--channel", "phone", "--phone", "+3225112233",
                  "--subject", "Carte d'identité", "--note", "Rappeler demain.")
    assert made.code == 0, made.output
    return config


def test_help_imports_no_command_nor_library() -> None:
    names = imported(None, "--help")
    assert among(names, NOT_FOR_HELP) == set()
    assert {name for name in names if name.startswith("cli.")} == {"cli.main", "cli.app"}


@pytest.mark.parametrize("group", ["ticket", "status", "directory", "outbox"])
def test_a_group_s_help_opens_no_database(group: str) -> None:
    """What agents and operators ask most: a group's commands and their options, without
    the ORM (``ticket --help`` took 330 ms when it imported the queue's module)."""
    names = imported(None, group, "--help")
    assert among(names, NOT_FOR_HELP) == set()


@pytest.mark.parametrize("args", [("ticket", "show", "1"), ("ticket", "show", "1", "--json"),
                                  ("ticket", "list", "--json"), ("status", "show", "--json")])
def test_a_look_imports_only_what_it_reads_with(site: Path, args: tuple[str, ...]) -> None:
    names = imported(site, *args)
    assert "sqlalchemy.orm" in names  # it did open the database
    assert among(names, NEVER_FOR_A_LOOK) == set()
    # on SQLite, not PostgreSQL's dialect: a model's ``postgresql_where`` loaded it (116 ms)
    assert among(names, {"sqlalchemy.dialects.postgresql", "psycopg"}) == set()


def test_the_status_read_by_an_operator_needs_no_calendar_nor_locale_data(site: Path) -> None:
    """``status show --json`` reads and writes nothing that needs the due times' business
    calendar (loaded at a session's first flush) or Babel's locale data (text output only)."""
    names = imported(site, "status", "show", "--json")
    assert among(names, {"babel", "rnmail.tickets.due", "rnmail.stats", "rnmail.shapes"}) == set()


def test_the_table_of_commands_says_what_the_commands_say() -> None:
    """Each entry names a command of the module of its name, whose short help at any
    width is the one ``--help`` writes from the entry."""
    for name, summary in COMMANDS.items():
        attribute = name.replace("-", "_")
        command = getattr(importlib.import_module(f"cli.{attribute}"), attribute)
        assert isinstance(command, click.Command) and command.name == name
        for width in (20, 45, 74, 200):
            assert (click.Command(name, help=summary).get_short_help_str(width)
                    == command.get_short_help_str(width)), (name, width)


def test_help_lists_every_command_as_when_all_are_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """``rnmail --help`` in a new process (no command loaded) and here once every command is
    loaded: the same text."""
    monkeypatch.setenv("COLUMNS", "80")  # 78 wide, as the one below
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    lazy = subprocess.run([sys.executable, "-c", RUN, "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    ctx = click.Context(main)
    for name in main.list_commands(ctx):
        assert main.get_command(ctx, name) is not None, name
    assert set(main.commands) == {*COMMANDS, "init"}
    loaded = CliRunner().invoke(main, ["--help"], prog_name="rnmail", terminal_width=78)
    assert lazy.returncode == loaded.exit_code == 0
    assert lazy.stdout == loaded.stdout
    assert "  ticket          Tickets: inspect them, log calls, answer, delegate and...\n" in (
        lazy.stdout)


def test_only_a_program_run_freezes_what_it_made(site: Path) -> None:
    """``rnmail`` as a program leaves what it made to the end of the process, out of the
    cyclic collector (``gc.freeze``); in a process that goes on (click's test runner, as
    here) nothing is frozen, and its garbage is collected as ever."""
    before = gc.get_freeze_count()
    assert rnmail(site, "ticket", "show", "1").code == 0
    assert gc.get_freeze_count() == before
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RNMAIL_CONFIG": str(site)}
    code = ("import gc, sys\nfrom cli.main import main\ntry:\n    main()\n"
            "except SystemExit:\n    print(gc.get_freeze_count(), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, "ticket", "show", "1"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert "Carte d'identité" in done.stdout
    assert int(done.stderr.strip()) > 50_000
