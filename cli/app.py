"""What every command shares: the loaded app, one-line errors, JSON output.

Errors the user can act on (``RnmailError``, a lost database) are printed as one line on
stderr with exit status 1; nothing below ``cli`` calls ``sys.exit``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property, update_wrapper
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError

from rnmail.config import Config, load_config
from rnmail.db import Database
from rnmail.errors import RnmailError

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """What a command needs, loaded on first use: the config and the database."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @cached_property
    def db(self) -> Database:
        return Database(self.config.database.url)

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
        except OperationalError as exc:  # the database went away mid-command
            raise click.ClickException(f"database error: {exc.orig}") from None

    return update_wrapper(wrapper, func)  # type: ignore[return-value]


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


