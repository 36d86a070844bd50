"""What every command shares: the loaded app, one-line errors, JSON output, days
(YYYY-MM-DD), the operator's sign-in, the options of status and maintenance notices, and
sending in the foreground.

Errors the user can act on (``RnmailError``, a lost database) are printed as one line on
stderr with exit status 1; nothing below ``cli`` calls ``sys.exit``.
"""

from __future__ import annotations

import calendar
import getpass
import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import date
from functools import cached_property, update_wrapper
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rnmail.errors import RnmailError
from rnmail.vocab import MAX_ID

if TYPE_CHECKING:  # imported where used: `rnmail --help` needs neither (docs/performance.md)
    from rnmail.config import Config
    from rnmail.db import Database

log = logging.getLogger("rnmail.cli")
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class App:
    """What a command needs, loaded on first use: the config and the database."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path

    @cached_property
    def config(self) -> Config:
        from rnmail.config import load_config

        return load_config(self.config_path)

    @cached_property
    def db(self) -> Database:
        from rnmail.db import Database

        return Database.of(self.config)

    def ready_db(self) -> Database:
        """The database, checked to hold the rnmail schema."""
        self.db.check_schema()
        return self.db


pass_app = click.make_pass_decorator(App)


def handle_errors(func: F) -> F:
    """Turn RnmailError into one clear line and exit status 1, never a traceback."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RnmailError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            from sqlalchemy import exc as db

            if interrupted(exc):
                raise click.Abort from None
            if isinstance(exc, db.StatementError) and not isinstance(exc, db.DBAPIError) and (
                    isinstance(exc.orig, Exception)):
                exc = exc.orig  # a value the driver could not send: what it was
            # The database gone or locked, a value it cannot hold, a file that is not a
            # database (a plain DatabaseError); a ProgrammingError or an IntegrityError is
            # a bug, shown as one.
            refused = isinstance(exc, db.OperationalError | db.DataError) or (
                type(exc) is db.DatabaseError)
            line = _one_line(exc, refused)
            if line is None:
                raise
            log.debug("the command failed", exc_info=True)  # -vv shows where
            raise click.ClickException(line) from None

    return update_wrapper(wrapper, func)  # type: ignore[return-value]


def _one_line(exc: Exception, database_refused: bool) -> str | None:
    """What the machine did to a command, said in one line: the database refusing
    (``database_refused``), a file or folder that cannot be written or read (full,
    read-only, a file where a folder should be), a number or date beyond what Python or
    the database holds. None for anything else: a bug, shown as one."""
    if database_refused:
        return f"database error: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, OverflowError):
        return f"a number or a date out of range: {exc}"
    return None


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while handling a Ctrl-C: one landing in the connection
    pool's ping left psycopg's connection busy, and the pool's clean-up raised over it
    (``ProgrammingError``: connection in transaction status ACTIVE)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def emit_text(text: str, out: Path | None, what: str) -> None:
    """Print ``text``, or write it to ``out`` (then say so on stderr, as ``what``)."""
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"{what} written to {out}", err=True)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


if TYPE_CHECKING:  # generic from click 8.2 on; setup.cfg allows 8.1
    DayBase = click.ParamType[date]
    _IntParam = click.ParamType[int]
else:
    DayBase = click.ParamType
    _IntParam = click.ParamType


class Day(DayBase):
    """A calendar day written YYYY-MM-DD, as a ``date``; a day that does not exist
    (2026-02-30) is refused as such, not as a format error."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        text = str(value).strip()
        match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
        if match is None:
            self.fail(f"{text!r} is not a day: write it YYYY-MM-DD, e.g. 2026-02-01", param, ctx)
        year, month, day = (int(part) for part in match.groups())
        if not 1 <= month <= 12:
            self.fail(f"no such date: {text} (there is no month {month})", param, ctx)
        days = calendar.monthrange(year, month)[1]
        if not 1 <= day <= days:
            self.fail(f"no such date: {text} ({calendar.month_name[month]} {year} has "
                      f"{days} days)", param, ctx)
        return date(year, month, day)


DAY = Day()


class TicketNumber(_IntParam):
    """A ticket number as people write it: ``8`` or ``#8`` (as rnmail prints it, and as the
    ``[RN #8]`` of a subject shows it); ``RN #8`` and ``[RN #8]`` are taken too."""

    name = "ticket"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().strip("[]").strip()
        if text[:2].upper() == "RN":
            text = text[2:].strip()
        text = text.removeprefix("#").strip()
        if not text.isascii() or not text.isdigit() or not 0 < int(text) <= MAX_ID:
            self.fail(f"{value!r} is not a ticket number (e.g. 8 or #8)", param, ctx)
        return int(text)


TICKET = TicketNumber()
# Any other number that names a row (an announcement, a quarantined mail...), or counts rows:
# over MAX_ID no database holds it (SQLite's driver raised OverflowError).
ROW_ID = click.IntRange(min=1, max=MAX_ID)


def login_name() -> str:
    """The OS user running the command: who acted, in a ticket's history and the audit."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "help desk"


def read_password(from_stdin: bool, confirm: bool = False) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm))


def authenticate(app: App, operator_name: str, password_stdin: bool) -> str:
    """The operator's name once their password is checked; a refusal ends the command."""
    from rnmail.auth import operators

    try:
        password = read_password(password_stdin)
        return operators.authenticate(app.ready_db(), app.config.operators, operator_name,
                                      password)
    except RnmailError as exc:
        raise click.ClickException(str(exc)) from None


def operator_required(func: F) -> F:
    """Add ``--operator``/``--password-stdin`` and pass the authenticated operator's name
    as ``operator``; a wrong password stops the command (and is logged)."""

    @click.option("--operator", "operator_name", envvar="RNMAIL_OPERATOR", required=True,
                  help="Operator name (or $RNMAIL_OPERATOR).")
    @click.option("--password-stdin", is_flag=True,
                  help="Read the operator's password from the first line of stdin.")
    def wrapper(*args: Any, operator_name: str, password_stdin: bool, **kwargs: Any) -> Any:
        app = click.get_current_context().find_object(App)
        assert app is not None
        name = authenticate(app, operator_name, password_stdin)
        return func(*args, operator=name, **kwargs)

    return update_wrapper(wrapper, func)  # type: ignore[return-value]


COMMENT_OPTIONS = [
    click.option("--comment", help="Short comment for all languages (e.g. expected duration)."),
    click.option("--comment-nl", help="The comment in Dutch (overrides --comment)."),
    click.option("--comment-fr", help="The comment in French (overrides --comment)."),
    click.option("--comment-de", help="The comment in German (overrides --comment)."),
]


def comment_options(func: F) -> F:
    for option in reversed(COMMENT_OPTIONS):
        func = option(func)
    return func


def split_list(values: tuple[str, ...]) -> list[str]:
    """``--groups a,b --groups c`` → [a, b, c]."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


# From this many mails a foreground mailing is sent by two processes on PostgreSQL
# (send_in_two): below, the fork and a second set of connections are not worth it.
TWO_PROCESSES_FROM = 1000


def send_foreground(app: App, announcement_id: int | None) -> int:
    """Send the outbox now, with a progress bar for the announcement's deliveries still to
    make on stderr (both processes' when two send); returns how many there were."""
    if announcement_id is None:
        return 0
    from rnmail.dispatch.announce import announcement_status
    from rnmail.dispatch.send import send_outbox
    from rnmail.dispatch.send_in_two import send_in_two

    with app.ready_db().transaction() as session:
        counts = announcement_status(session, announcement_id)["counts"]
    total = int(counts["queued"] + counts["sending"])
    if total == 0:
        return 0

    with click.progressbar(length=total, label=f"announcement #{announcement_id}",
                           file=sys.stderr) as bar:
        def progress(announcement: int | None, state: str) -> None:
            if announcement == announcement_id and state != "queued":
                bar.update(1)

        send = send_in_two if total >= TWO_PROCESSES_FROM else send_outbox
        report = deliver_or_leave_queued(lambda: send(app.ready_db(), app.config, progress))
    if report is not None:
        click.echo(f"{report.sent} sent, {report.retried} deferred, {report.failed} failed "
                   f"(`rnmail announce status {announcement_id}` for the details)", err=True)
    return total


def deliver_or_leave_queued(send: Callable[[], T]) -> T | None:
    """Send what a committed change queued; if the mail server cannot be reached, say the
    mail stays queued and succeed: the change is done, delivery is the outbox's business, and
    running the command again would only queue the notice twice."""
    try:
        return send()
    except RnmailError as exc:
        click.echo(f"not sent now ({exc}): the mail stays queued and will be sent by "
                   "`rnmail run` or `rnmail outbox send`", err=True)
        return None


def parse_vars(values: tuple[str, ...], option: str = "--var") -> dict[str, str]:
    """``NAME=VALUE`` (or ``NAME.LANG=VALUE``, one language's text) → {name: value}."""
    result = {}
    for value in values:
        key, sep, text = value.partition("=")
        name, dot, lang = key.strip().partition(".")
        if not sep or not name.isidentifier() or (dot and not lang.isidentifier()):
            raise click.BadParameter(f"{value!r}: use NAME=VALUE or NAME.LANG=VALUE",
                                     param_hint=option)
        result[key.strip()] = text
    return result
