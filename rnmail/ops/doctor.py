"""Doctor: check an installation end to end, one clear line per check.

``run_checks`` loads the config and then checks, each on its own (one failing check never
stops the next): the database and its schema revision, every mailbox (IMAP login and
folders, or the Maildir), the SMTP server (or the file transport's folder), the public
directories, the installation secret (strength, and who may read where it comes from), the
sender authentication (the configured mail gateway against the headers of the last mails), the
permissions of the database and the blob store (a warning when group or others may read
them), the web admin (``Secure`` cookies off a loopback address) and every template in every
language. Nothing is changed except probe files,
written and deleted again, and the public directories, created when missing (``status
publish`` and ``faq publish`` would create them too). Network checks use the configured
timeouts, capped at ``MAX_TIMEOUT`` seconds.
"""

from __future__ import annotations

import asyncio
import imaplib
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import TemplateSyntaxError, UndefinedError

from rnmail.config import LANGUAGES, Config, MailboxConfig, load_config, parse_bind
from rnmail.db import MIGRATIONS, Database, make_engine
from rnmail.dispatch.announce import list_templates, mailing_directories, preview_template
from rnmail.dispatch.render import render
from rnmail.dispatch.variables import template_variables
from rnmail.errors import RnmailError
from rnmail.ingest.fetch import ImapSource, close_quietly, oauth_token
from rnmail.ingest.staff import QUOTED_ONLY, Problem
from rnmail.models import Operator
from rnmail.ops.gateway_check import check_gateway

MAX_TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(config_path: str | os.PathLike[str] | None) -> list[Check]:
    """Every check, in order; a config that does not load is the only check then."""
    try:
        config = load_config(config_path)
    except RnmailError as exc:
        return [Check("config", False, _one_line(exc))]
    checks = [Check("config", True, f"{config.path} loaded")]
    checks.append(_guard("database", lambda: check_database(config)))
    if checks[-1].ok:
        checks.append(_guard("sender authentication", lambda: check_gateway(config)))
    for box in config.mailboxes:
        name = f"{box.type} {box.name}"
        if box.type == "maildir":
            checks.append(_guard(name, partial(check_maildir, box)))
        else:
            checks.append(_guard(name, partial(check_imap, box)))
    checks.append(_guard("smtp", lambda: check_smtp(config)))
    checks.append(_guard("helpdesk public_dir",
                         lambda: check_writable(config.helpdesk.public_dir)))
    checks.append(_guard("status public_dir", lambda: check_writable(config.status.public_dir)))
    checks.append(_guard("secret", lambda: check_secret(config)))
    checks.append(_guard("permissions", lambda: check_permissions(config)))
    if config.web.admin_bind:
        checks.append(_guard("web admin", lambda: check_admin(config)))
    checks.extend(check_templates(config))
    return checks


def _guard(name: str, check: Callable[[], str]) -> Check:
    """Run one check: its detail when it passes, its error on one line when it fails."""
    try:
        return Check(name, True, check())
    except Exception as exc:  # whatever went wrong is this check's failure, not the run's
        return Check(name, False, _one_line(exc))


class Failed(Exception):
    """A check's failure, with the line to print."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, RnmailError | Failed):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _timeout(configured: float) -> float:
    return min(configured, MAX_TIMEOUT)


# --------------------------------------------------------------------------- database


def check_database(config: Config) -> str:
    from alembic.config import Config as AlembicConfig
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    newest = scripts.get_current_head()
    url = make_url(config.database.url)
    safe_url = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not Path(url.database).exists():
            raise Failed(f"{safe_url}: the database file does not exist (expected schema "
                         f"{newest}): run `rnmail init`")
        engine = make_engine(config.database.url)
    elif url.get_backend_name() == "postgresql":
        engine = create_engine(url, connect_args={"connect_timeout": int(MAX_TIMEOUT)})
    else:
        engine = create_engine(url)
    try:
        try:
            with engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
        except Exception as exc:
            cause = getattr(exc, "orig", None) or exc
            raise Failed(f"{safe_url}: cannot connect: {_one_line(cause)}") from None
    finally:
        engine.dispose()
    if current is None:
        raise Failed(f"{safe_url}: no rnmail schema (expected schema {newest}): run `rnmail init`")
    if current == newest:
        return f"schema {current} (newest)"
    try:
        scripts.get_revision(current)
    except Exception:
        raise Failed(f"schema {current} is unknown to this rnmail (its newest is {newest}): "
                     "the database was migrated by a newer version") from None
    raise Failed(f"schema {current}, expected schema {newest}: run `rnmail init`")


# --------------------------------------------------------------------------- mailboxes


def check_imap(cfg: MailboxConfig) -> str:
    """Log in, check the folder and the done folder, count the messages; then log out."""
    from imap_tools.errors import MailboxLoginError

    cfg = replace(cfg, timeout=_timeout(cfg.timeout))
    where = f"{cfg.host}:{cfg.port}"
    token = oauth_token(cfg) if cfg.auth == "xoauth2" else ""
    try:
        box = ImapSource(cfg)._connect()
    except (OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
        raise Failed(f"{where}: cannot connect: {_one_line(exc)}") from None
    try:
        try:
            if cfg.auth == "xoauth2":
                box.xoauth2(cfg.user, token, initial_folder=None)
            else:
                box.login(cfg.user, cfg.password, initial_folder=None)
        except (MailboxLoginError, imaplib.IMAP4.error) as exc:
            raise Failed(f"{where}: login refused for user {cfg.user!r} ({cfg.auth}): "
                         f"{_server_said(exc)}") from None
        if not box.folder.exists(cfg.folder):
            raise Failed(f"{where}: logged in as {cfg.user!r}, but folder {cfg.folder!r} "
                         "does not exist")
        count = int(box.folder.status(cfg.folder, ["MESSAGES"])["MESSAGES"])
        done = ("exists" if box.folder.exists(cfg.done_folder)
                else "missing, will be created on the first ingest pass")
        return (f"{where}: logged in as {cfg.user!r} ({cfg.auth}); {cfg.folder!r}: "
                f"{count} message(s); done folder {cfg.done_folder!r} {done}")
    finally:
        close_quietly(box)


def _server_said(exc: Exception) -> str:
    """The server's own words from a refused login (imap-tools wraps them in a tuple)."""
    text = _one_line(exc)
    for part in getattr(exc, "command_result", ()) or ():
        if isinstance(part, list):
            said = b" ".join(p for p in part if isinstance(p, bytes))
            if said:
                return " ".join(said.decode("utf-8", "replace").split())
    return text


def check_maildir(cfg: MailboxConfig) -> str:
    assert cfg.path is not None
    path = cfg.path
    if not path.is_dir():
        raise Failed(f"{path} does not exist or is not a directory")
    missing = [sub for sub in ("cur", "new", "tmp") if not (path / sub).is_dir()]
    if missing:
        raise Failed(f"{path}: missing {', '.join(f'{m}/' for m in missing)} "
                     "(a Maildir has cur/, new/ and tmp/)")
    _probe(path / "tmp")
    _probe(path)  # the done folder .NAME is made here
    count = sum(1 for sub in ("new", "cur") for entry in os.scandir(path / sub)
                if entry.is_file() and not entry.name.startswith("."))
    return f"{path}: writable; {count} message(s) waiting"


# --------------------------------------------------------------------------- SMTP


def check_smtp(config: Config) -> str:
    cfg = config.smtp
    if cfg.transport == "file":
        assert cfg.directory is not None
        check_writable(cfg.directory)
        return f"file transport: {cfg.directory} writable"
    return asyncio.run(_smtp_session(config))


async def _smtp_session(config: Config) -> str:
    import aiosmtplib

    cfg = config.smtp
    where = f"{cfg.host}:{cfg.port}"
    context = ssl.create_default_context() if cfg.security != "none" else None
    client = aiosmtplib.SMTP(hostname=cfg.host, port=cfg.port, timeout=_timeout(cfg.timeout),
                             use_tls=cfg.security == "ssl",
                             start_tls=cfg.security == "starttls", tls_context=context)
    done = [f"{where}: connected"]
    try:
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise Failed(f"{where}: cannot connect: {_smtp_error(exc)}") from None
        if cfg.security != "none":
            done.append("TLS" if cfg.security == "ssl" else "STARTTLS")
        if cfg.user:
            try:
                await client.login(cfg.user, cfg.password)
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise Failed(f"{where}: login refused for user {cfg.user!r}: "
                             f"{_smtp_error(exc)}") from None
            done.append(f"logged in as {cfg.user!r}")
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise Failed(f"{where}: QUIT failed: {_smtp_error(exc)}") from None
        return ", ".join(done)
    finally:
        if client.is_connected:
            client.close()


def _smtp_error(exc: Exception) -> str:
    """aiosmtplib's messages say what happened; other errors keep their type's name."""
    import aiosmtplib

    text = " ".join(str(exc).split())
    return text if isinstance(exc, aiosmtplib.SMTPException) and text else _one_line(exc)


# --------------------------------------------------------------------------- directories


def check_admin(config: Config) -> str:
    """The status administration can be used, and safely: someone can sign in with a
    second factor, and cookies without ``Secure`` stay on this machine."""
    import ipaddress

    from sqlalchemy import func, select

    host, _port = parse_bind(config.web.admin_bind, "[web].admin_bind")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not config.web.secure_cookies and not loopback:
        raise RnmailError(f"[web].secure_cookies = false on {config.web.admin_bind}: session "
                          "cookies would travel in clear; keep it true (HTTPS in front)")
    db = Database(config.database.url)
    try:
        with db.transaction() as session:
            ready = session.scalar(select(func.count()).select_from(Operator).where(
                Operator.active.is_(True), Operator.totp_secret.is_not(None))) or 0
    finally:
        db.dispose()
    if not ready:
        raise RnmailError("no active operator has a second factor: nobody can sign in "
                          "(rnmail operator totp NAME)")
    cookies = "Secure cookies" if config.web.secure_cookies else "plain-HTTP cookies (loopback)"
    return f"on {config.web.admin_bind}, {ready} operator(s) with a second factor, {cookies}"


def check_secret(config: Config) -> str:
    """``[helpdesk].secret`` (already refused by the config when weak or published): its
    estimated strength, and whether the file it is read from is private."""
    import tomllib

    from rnmail.config import secret_strength

    bits = secret_strength(config.helpdesk.secret)
    raw = tomllib.loads(config.path.read_text(encoding="utf-8")).get("helpdesk", {})
    if raw.get("secret_env"):
        return f"{bits} bits estimated, from ${raw['secret_env']}"
    source = Path(raw["secret_file"]).expanduser() if raw.get("secret_file") else config.path
    if not source.is_absolute():
        source = (config.path.parent / source).resolve()
    exposed = _exposed([source])
    where = f"from {source}" if raw.get("secret_file") else "in the config file"
    if exposed:
        return (f"{bits} bits estimated, {where}; warning: {exposed} (chmod 600: whoever "
                "reads the secret can forge staff replies)")
    return f"{bits} bits estimated, {where}"


def check_permissions(config: Config) -> str:
    """A warning when group or others may read the SQLite database or the blob store (the
    raw mails, attachments)."""
    paths = [config.helpdesk.attachments_dir]
    if config.database.url.startswith("sqlite"):
        database = Path(config.database.url.split("///", 1)[-1].split("?", 1)[0])
        paths[:0] = [database, database.parent]
    exposed = _exposed(paths)
    if exposed:
        return f"warning: {exposed} (chmod o-rwx,g-rwx, or a private parent folder)"
    return "database and blob store readable by their owner only"


def _exposed(paths: list[Path]) -> str:
    """The paths that group or others may read, with their mode; "" when none."""
    shown = []
    for path in paths:
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            continue
        if mode & 0o044:
            who = {0o044: "group and others", 0o004: "others", 0o040: "its group"}
            shown.append(f"{path} is readable by {who[mode & 0o044]} ({mode:o})")
    return "; ".join(shown)


def check_writable(directory: Path) -> str:
    """Create ``directory`` when missing, then write and delete a probe file in it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Failed(f"{directory}: cannot create: {exc.strerror or exc}") from None
    _probe(directory)
    return f"{directory} writable"


def _probe(directory: Path) -> None:
    probe = directory / f".rnmail-doctor-{os.getpid()}.tmp"
    try:
        probe.write_bytes(b"rnmail doctor\n")
        probe.unlink()
    except OSError as exc:
        raise Failed(f"{directory}: not writable: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- templates

# Sample contexts for the templates of ticket mail, with the variables their callers pass
# (ingest.respond, ingest.staff, dispatch.answer, access). Several contexts per template
# render the conditional parts too.
_WHEN = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
_TICKET = SimpleNamespace(
    id=1234, subject="Clé d'accès bloquée", channel="mail", status="open",
    category="access-key", requester="jan@gemeente.example", requester_name="Jan Peeters",
    requester_type="municipality",
)
_HISTORY = [
    SimpleNamespace(date=_WHEN, from_name="Jan Peeters", from_addr="jan@gemeente.example",
                    display_text="Mijn toegangssleutel is geblokkeerd."),
    SimpleNamespace(date=None, from_name="", from_addr="info@rn.example",
                    display_text="Interne nota."),
]


def _ticket_samples(config: Config) -> dict[str, list[dict[str, Any]]]:
    hd = config.helpdesk
    reply = {"tag": hd.tag, "ticket_id": 1234, "subject": "Clé d'accès bloquée",
             "helpdesk_name": hd.name}
    acknowledgement = {**reply, "requester_name": "Jan Peeters",
                       "faq_url": "https://www.rn.example/helpdesk/faq/fr.html",
                       "disturbance": None}
    notification = {"tag": hd.tag, "ticket": _TICKET, "event": "new",
                    "sender": "Jan Peeters <jan@gemeente.example>",
                    "text": "Mijn toegangssleutel is geblokkeerd.",
                    "attachments": ["scan.pdf"], "faq": [(7, "Clé d'accès bloquée ?")],
                    "unverified": False}
    return {
        "acknowledgement": [
            acknowledgement,
            {**acknowledgement, "requester_name": "", "faq_url": "", "disturbance": {
                "banner": "Perturbation", "components": ["Services web"],
                "comment": "En cours d'analyse."}},
        ],
        "notification": [
            notification,
            {**notification, "event": "reply", "attachments": [], "faq": []},
            {**notification, "event": "service"},
            {**notification, "unverified": True},
        ],
        "answer": [{**reply, "text": "Votre clé d'accès a été débloquée."}],
        "delegation": [{"tag": hd.tag, "ticket": _TICKET,
                        "service": SimpleNamespace(name="web-services", email="ws@rn.example"),
                        "note": "Pouvez-vous vérifier ?", "history": _HISTORY}],
        "phone_message": [{"caller": "Jan Peeters", "phone": "+3222101031",
                           "text": "Rappeler svp.", "taken_at": _WHEN}],
        "staff_error": [{"tag": hd.tag, "ticket_id": 1234, "errors": [
            Problem("staff", "#assign nobody@rn.example"),
            Problem("unknown", "#categorie", suggestion="#category"), QUOTED_ONLY]}],
        "staff_unsent": [{"tag": hd.tag, "ticket_id": ticket_id, "why": why,
                          "subject": "RE: [RN #1234] Clé d'accès bloquée"}
                         for ticket_id, why in ((1234, "no-reference"), (1234, "forward"),
                                                (1234, "colleague"), (None, "other-mail"))],
        "access_unblocked": [{**reply, "user_name": "Jan Peeters", "action": action}
                             for action in ("reset", "new-key")],
        "fetch_alert": [{"mailbox": "info", "since": _WHEN, "until": _WHEN, "recovered": done,
                         "error": "imap.rn.example: login refused for user 'info'",
                         "helpdesk_name": hd.name} for done in (False, True)],
    }


# What a mailing's sender gives with --var: enough for the built-in circular.
MAILING_SAMPLE = {"subject": "Nouvelle procédure", "reference": "RN/2026/001",
                  "body": "Première ligne.\nDeuxième ligne.\n\nNouveau paragraphe."}


def check_templates(config: Config) -> list[Check]:
    """One check per template: it renders in every language (a language without its own
    file falls back to the default language, as when sending)."""
    checks = []
    for name, contexts in _ticket_samples(config).items():
        def ticket(language: str, name: str = name, contexts: Any = contexts) -> str:
            used = ""
            for context in contexts:
                used = render(name, language, config.helpdesk.default_language,
                              context, helpdesk=config.helpdesk).language
            return used

        checks.append(_template_check(name, ticket))
    try:
        listed = list_templates(config)
    except Exception as exc:
        return [*checks, Check("templates", False, f"cannot list templates: {_one_line(exc)}")]
    for entry in listed:
        template, kind = entry["name"], entry["kind"]

        def notice(language: str, template: str = template, kind: str = kind) -> str:
            variables: dict[str, str] = {}
            if kind == "mailing":  # the sample's values of the variables it takes
                takes = template_variables(mailing_directories(config), template)
                variables = {k: v for k, v in MAILING_SAMPLE.items() if k in takes}
            return preview_template(config, template, language, variables).language

        checks.append(_template_check(template, notice, mailing=kind == "mailing"))
    return checks


def _template_check(name: str, render_in: Callable[[str], str], mailing: bool = False
                    ) -> Check:
    failures: dict[str, list[str]] = {}  # error → languages (a fallback fails them all)
    notes: dict[str, list[str]] = {}
    for language in LANGUAGES:
        try:
            used = render_in(language)
        except Exception as exc:
            if mailing and isinstance(exc.__context__, UndefinedError):
                # A mailing's own variables come from the sender (--var): not a fault.
                note = f"needs --var: {exc.__context__.message}"
                notes.setdefault(note, []).append(language)
                continue
            failures.setdefault(_template_error(exc), []).append(language)
            continue
        if used != language:
            notes.setdefault(f"falls back to {used}", []).append(language)
    if failures:
        return Check(f"template {name}", False, _grouped(failures))
    detail = f"renders in {', '.join(LANGUAGES)}"
    return Check(f"template {name}", True, f"{detail} ({_grouped(notes)})" if notes else detail)


def _grouped(by_text: dict[str, list[str]]) -> str:
    return "; ".join(f"{', '.join(languages)}: {text}" for text, languages in by_text.items())


def _template_error(exc: BaseException) -> str:
    if isinstance(exc, TemplateSyntaxError):
        return f"{exc.name or exc.filename}, line {exc.lineno}: syntax error: {exc.message}"
    return _one_line(exc)
