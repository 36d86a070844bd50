"""An installation under test: a config file in a tmp folder, a migrated database, and the
``rnmail`` command line run on it (in-process through click's CliRunner)."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import make_msgid
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from click.testing import CliRunner
from sqlalchemy import func, select

from cli.main import main
from rnmail.config import Config, load_config
from rnmail.db import Database
from tests.harness.factories import write_config
from tests.harness.mail import received
from tests.harness.servers import SmtpServer


class Ran(NamedTuple):
    """What one ``rnmail`` command did: exit status, standard output, standard error."""

    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def rnmail(config: Path | None, *args: str, input: str | None = None) -> Ran:
    """``rnmail [--config CONFIG] ARGS`` in-process; ``input`` is its standard input.
    An exception that escapes the command fails the test with its traceback."""
    argv = ["--config", str(config), *args] if config else list(args)
    result = CliRunner().invoke(main, argv, input=input, catch_exceptions=False)
    return Ran(result.exit_code, result.stdout, result.stderr)


def smtp_block(smtp: SmtpServer) -> str:
    """The [smtp] section for the test SMTP server (plain SMTP on loopback)."""
    return f'[smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"'


class Installation:
    """One installation: ``path`` is its config file (its folder is ``root``), ``db`` its
    database, ``smtp`` the SMTP server it sends to (if any), ``operator`` the (name,
    password) that ``as_operator`` signs commands with."""

    def __init__(self, path: Path, smtp: SmtpServer | None = None,
                 operator: tuple[str, str] | None = None) -> None:
        self.path = path
        self.smtp = smtp
        self.operator = operator

    @property
    def root(self) -> Path:
        return self.path.parent

    @cached_property
    def config(self) -> Config:
        return load_config(self.path)

    @cached_property
    def db(self) -> Database:
        return Database.of(self.config)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()

    # --- the command line

    def run(self, *args: str, input: str | None = None) -> Ran:
        return rnmail(self.path, *args, input=input)

    def ok(self, *args: str, input: str | None = None) -> str:
        """The output of a command that must succeed."""
        code, out, err = self.run(*args, input=input)
        assert code == 0, (args, out, err)
        return out

    def fails(self, *args: str, input: str | None = None) -> str:
        """The one line of a refused command (exit 1, no traceback)."""
        code, out, err = self.run(*args, input=input)
        assert code == 1, (args, out, err)
        assert "Traceback" not in out + err
        [line] = err.strip().splitlines()
        assert line.startswith("Error: ")
        return line

    def json(self, *args: str, input: str | None = None) -> Any:
        """The parsed output of ``ARGS --json``, which must succeed."""
        return json.loads(self.ok(*args, "--json", input=input))

    def as_operator(self, *args: str, name: str | None = None,
                    password: str | None = None) -> Ran:
        """A command signed with ``--operator``, the password on standard input."""
        assert self.operator is not None or (name and password)
        default_name, default_password = self.operator or ("", "")
        return self.run(*args, "--operator", name or default_name, "--password-stdin",
                        input=(default_password if password is None else password) + "\n")

    # --- what happened

    def count(self, model: Any, *where: Any) -> int:
        with self.db.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where))
                       or 0)

    def audit(self, action: str | None = None) -> list[dict[str, Any]]:
        """The audit log (``rnmail audit --json``), only ``action``'s events if given."""
        events: list[dict[str, Any]] = self.json("audit")
        return [e for e in events if action is None or e["action"] == action]

    def mails(self, to: str | None = None) -> list[EmailMessage]:
        """What the SMTP server received so far (only for ``to`` if given)."""
        assert self.smtp is not None
        return received(self.smtp, to)

    # --- mail coming in

    def drop(self, *raws: bytes) -> None:
        """Put mails in the Maildir drop folder of ``write_config``'s default mailbox."""
        new = self.root / "maildir" / "new"
        new.mkdir(parents=True, exist_ok=True)
        for raw in raws:
            (new / f"{make_msgid().strip('<>')}.eml").write_bytes(raw)

    def deliver(self, raw: bytes, name: str | None = None) -> str:
        """Drop one mail (as ``name`` in the drop folder) and run ``rnmail ingest once``;
        returns what it printed."""
        if name is None:
            self.drop(raw)
        else:
            new = self.root / "maildir" / "new"
            new.mkdir(parents=True, exist_ok=True)
            (new / name).write_bytes(raw)
        return self.ok("ingest", "once")


def add_members(config: Path, group: str, *members: tuple[str, str]) -> None:
    """(address, language) members added to ``group`` (created if need be)."""
    for address, language in members:
        code, out, err = rnmail(config, "lists", "add", group, address, "--name",
                                f"Dienst {language}", "--language", language, "--create")
        assert code == 0, (out, err)


def install(root: Path, db_url: str, smtp: SmtpServer | None = None, *, mailbox: str = "",
            extra: str = "", operator: tuple[str, str] | None = None,
            init: bool = True) -> Installation:
    """A config file in ``root`` (``write_config``: a Maildir drop folder and the file
    transport unless ``mailbox`` / ``smtp`` say otherwise), the database migrated by
    ``rnmail init`` and the ``operator`` added, unless ``init`` is false."""
    path = write_config(root, db_url, mailbox=mailbox, smtp=smtp_block(smtp) if smtp else "",
                        extra=extra)
    site = Installation(path, smtp, operator)
    if init:
        site.ok("init")
        if operator is not None:
            name, password = operator
            site.ok("operator", "add", name, "--password-stdin", input=password + "\n")
    return site
