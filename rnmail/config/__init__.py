"""Settings: one TOML file loaded once into frozen dataclasses and passed explicitly.

Every key of the file is declared once, here, on its dataclass field, with ``key()``: its
default, its bounds or choices and one line of documentation; a section's prose is its class
docstring. ``parse_config`` reads a file by walking these declarations (``schema.Loader``),
and ``reference.config_reference_markdown()`` writes the configuration reference from them:
``python -m rnmail.config --markdown > docs/configuration.md`` (tests/test_config_docs.py
fails when that file is not current).

Relative paths in the file (SQLite database, attachments, Maildir, outgoing folder) are
resolved against the directory of the config file, so the daemon behaves the same whatever
its working directory. A secret may come from an environment variable named by the matching
``*_env`` key instead of the file.

What a declaration cannot say is a small named hook: a key's ``parse`` (checks, and may
convert, the value read, e.g. ``[web].bind``), a key's ``read`` (its own way of reading, e.g.
``[workflow].requester_types``, ``[[status.component]]``), a key's ``derive`` (a default that
depends on other keys, e.g. ``[smtp].port``) and a section's check across keys
(``_SECTION_CHECKS``). The old ``[helpdesk].opening_hours`` key is read by ``_legacy_hours``.

This module is long for one job: it is the schema, and most of its lines are the declarations
of the keys; the generic loader is ``schema.py``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rnmail.config.privacy import PrivacyConfig
from rnmail.config.schema import KEY, REQUIRED, Loader, Parser, Table, key
from rnmail.errors import ConfigError
from rnmail.i18n import N_
from rnmail.vocab import RequesterType, StatusState

LANGUAGES = ("fr", "nl", "de", "en")
DEFAULT_CONFIG = "rnmail.toml"
DEFAULT_HOLIDAYS = "BE"  # Belgium's public holidays

DEFAULT_FAX_NUMBER_PATTERNS = (
    # "Fax from 02/210.10.31 (3 pages)", "Fax van +32 2 210 10 31", "Télécopie de 0032 2 ..."
    r"(?i)(?:fax|t[ée]l[ée]copie|telefax)\s*(?:from|van|de|von|du|:)?\s*:?\s*"
    r"(?P<number>\+?\d(?:[\s./()-]{0,2}\d){6,})",
    r"(?P<number>(?:\+|00)32(?:[\s./()-]{0,2}\d){7,})",
    r"(?P<number>\b0\d{1,3}[\s./-]?\d{2,3}[\s./-]?\d{2}[\s./-]?\d{2}\b)",
)
DEFAULT_FAX_PAGES_PATTERNS = (r"(?i)(?P<pages>\d{1,4})\s*(?:pages?|pagina'?s?|seiten|p\.)",)
DEFAULT_FAX_NUMBER_HEADERS = ("X-Fax-Sender", "X-Fax-From", "X-Fax-Number", "X-Sender-Fax")
DEFAULT_FAX_PAGES_HEADERS = ("X-Fax-Pages", "X-Pages")

REQUESTER_TYPES = tuple(RequesterType)  # the vocabulary: rnmail.vocab
DEFAULT_CATEGORIES = (
    "access-key",        # access keys, unblocking (counted apart in the figures)
    "certificate",
    "address-change",
    "data-correction",
    "legal",
    "web-services",
    "other",
)
STATUS_STATES = tuple(StatusState)
STATUS_LANGUAGES = ("nl", "fr", "de")
MAX_AGE_LIMIT = 31_536_000  # one year, the most HTTP caches honour
_SMTP_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


def clock(value: time, separator: str = ":") -> str:
    """``8:30``, ``16:30`` (``8.30`` with ``separator="."``): no leading zero."""
    return f"{value.hour}{separator}{value.minute:02d}"


# ------------------------------------------------------------- hooks: what is not declarative

def _lower(value: str, t: Table, name: str) -> str:
    return value.lower()


def _lower_each(value: tuple[str, ...], t: Table, name: str) -> tuple[str, ...]:
    return tuple(v.lower() for v in value)


def _no_trailing_slash(value: str, t: Table, name: str) -> str:
    return value.rstrip("/")


def _sqlite_path(url: str, t: Table, name: str) -> str:
    """Make a relative SQLite path relative to the config file, like every other path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url[len(prefix):]
        if rest and not rest.startswith(":memory:") and not Path(rest).is_absolute():
            return prefix + str((t.base / rest).resolve())
    return url


def _timezone(value: str, t: Table, name: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[helpdesk].timezone: unknown time zone {value!r}; use an IANA "
                          "name such as \"Europe/Brussels\"") from None
    return value


def _tag(value: str, t: Table, name: str) -> str:
    if not value.isalnum():
        raise ConfigError("[helpdesk].tag: letters and digits only, e.g. \"RN\"")
    return value


# SHA-256 of the secrets that were ever written in rnmail's repository (examples, docs,
# tests, benches): anyone can read them, so anyone could sign a staff reply with them.
PUBLISHED_SECRETS = frozenset({
    "e2186dbdb1bb4193608605e84f33208765b5693b55edd4f730a719a100eeea6f",  # change-me
    "9caf06bb4436cdbfa20af9121a626bc1093c4f54b31c0fa937957856135345b6",  # test-secret
    "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0",  # s3cret
    "043a718774c572bd8a25adbeb1bfcd5c0256ae11cecf9f9c3f925d0e52beaf89",  # s
    "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b",  # secret
    "1b32c28cb38c05480eccc1bd60ff97029b57a05c96718b96dad7e9d84894f549",  # bench
    "0159438a9235d6abde38e49fb98944660d067d6b9b03d8a8f4ee4e522feb62cb",  # bench-secret
    "c0be31ae0d0ca562f12504d0a1edd02cb4413d7f53bf109b7c1cadf8455e86d1",  # bench-secret-bench
    "613a5522e36a4a26b8e32c2f09786e64aebc403c37483f23865c6071d51d0ecf",  # soak-secret-soak
    "a5cbe3bfd39531c719eaf6a658666fe0e7952ed3a225f683798f553258fa0a9d",  # key-from-env
})
SECRET_BITS = 256  # 32 random bytes
NEW_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def secret_strength(value: str) -> int:
    """A conservative estimate of the bits of entropy of a secret: 4 a character for hex,
    at most 6 for anything else (base64, urlsafe or a phrase), and 0 for a value that is
    visibly not random (few distinct characters, or a repeated pattern)."""
    text = value.strip().rstrip("=")
    if not text:
        return 0
    per_char = 4 if re.fullmatch(r"[0-9a-fA-F]+", text) else 6
    counts = [text.count(c) for c in set(text)]
    shannon = -sum(n / len(text) * math.log2(n / len(text)) for n in counts)
    grams = [text[i:i + 4] for i in range(len(text) - 3)]
    if shannon < 3.0 or (grams and len(set(grams)) < 0.9 * len(grams)):
        return 0
    return per_char * len(text)


def _installation_secret(value: str, t: Table, name: str) -> str:
    """``[helpdesk].secret``: refused when empty, too weak to be a key, or published."""
    where = f"{t.where}.{name}"
    if not value.strip():
        raise ConfigError(f"{where}: empty; generate one with {NEW_SECRET}")
    if hashlib.sha256(value.encode()).hexdigest() in PUBLISHED_SECRETS or \
            hashlib.sha256(value.strip().encode()).hexdigest() in PUBLISHED_SECRETS:
        raise ConfigError(f"{where}: this value is published (an example or a test of "
                          f"rnmail): anyone could forge staff replies with it; generate one "
                          f"with {NEW_SECRET}")
    if secret_strength(value) < SECRET_BITS:
        raise ConfigError(f"{where}: too short or too regular to be a key (at least 32 random "
                          f"bytes: 43 base64 characters or 64 hex digits); generate one with "
                          f"{NEW_SECRET}")
    return value


def _bind(value: str, t: Table, name: str) -> str:
    parse_bind(value)
    return value


def _admin_bind(value: str, t: Table, name: str) -> str:
    if value:
        parse_bind(value, "[web].admin_bind")
    return value


def _metrics_address(value: str, t: Table, name: str) -> str:
    if value:
        parse_address(value)
    return value


def _networks(t: Table, name: str, default: Any) -> tuple[Any, ...]:
    return tuple(_network(n) for n in t.strings(name, default))


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ConfigError(f"[web].trusted_proxies: {text!r} is not an IP address or network "
                          "such as \"127.0.0.1\" or \"10.0.0.0/24\"") from None


def _rate(t: Table, name: str, default: Any) -> float:
    """[outbox].rate in messages per second; 0 or unset: no limit."""
    if t.data.get(name, 0) == 0 and not isinstance(t.data.get(name), bool):
        t.used.add(name)
        return 0.0
    return float(t.number(name))


def _zero_or_positive(t: Table, name: str, default: Any) -> float:
    """A positive number, or ``0`` for "off" (a plain number key must be positive)."""
    value = t.data.get(name)
    if value == 0 and not isinstance(value, bool):
        t.used.add(name)
        return 0.0
    return float(t.number(name, default))


def _categories(value: tuple[str, ...], t: Table, name: str) -> tuple[str, ...]:
    if not value:
        raise ConfigError("[workflow].categories: at least one category")
    return value


def _requester_types(t: Table, name: str, default: Any) -> tuple[tuple[str, str], ...]:
    rules = t.data.get(name, {})
    t.used.add(name)
    if not isinstance(rules, dict) or not all(isinstance(v, str) for v in rules.values()):
        raise ConfigError("[workflow].requester_types: a table of \"address glob\" = \"type\"")
    for pattern, kind in rules.items():
        if kind not in REQUESTER_TYPES:
            raise ConfigError(f"[workflow].requester_types: {pattern!r} = {kind!r}: the type "
                              f"must be one of {', '.join(REQUESTER_TYPES)}")
    return tuple((p.lower(), k) for p, k in rules.items())


def _maintenance_steps(value: tuple[str, ...], t: Table, name: str) -> tuple[str, ...]:
    for step in value:
        if step not in ("start", "end"):
            raise ConfigError(f"[status].maintenance_notices: {step!r}: only \"start\" and "
                              "\"end\" (the announcement, reminder and cancellation always go)")
    return value


def _components(t: Table, name: str, default: Any) -> tuple[Component, ...]:
    """``[[status.component]]``: any replaces the default components."""
    if name not in t.data:
        return tuple(default)
    t.used.add(name)
    items = t.data[name]
    if not isinstance(items, list) or not items:
        raise ConfigError("[status]: [[status.component]] must be a non-empty array of "
                          "tables with name, nl, fr and de")
    components = tuple(_component(item, i, t.base) for i, item in enumerate(items))
    names = [c.name for c in components]
    if len(set(names)) != len(names):
        raise ConfigError(f"[[status.component]]: names must be unique ({', '.join(names)})")
    return components


def _component(data: Any, index: int, base: Path) -> Component:
    t = Table(data, f"[[status.component]] #{index + 1}", base)
    name = t.text("name", REQUIRED)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", name):
        raise ConfigError(f"{t.where}: name {name!r}: lower-case letters, digits and '-'")
    labels = {lang: t.text(lang, REQUIRED) for lang in STATUS_LANGUAGES}
    english = t.text("en", "")
    if english:
        labels["en"] = english
    t.check_unknown()
    return Component(name, labels)


def _patterns(group: str) -> Parser:
    """The fax patterns: each must compile and have its ``(?P<group>...)``."""
    def check(value: tuple[str, ...], t: Table, name: str) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"[fax]: invalid regular expression {pattern!r}: {exc}"
                                  ) from None
        for pattern in value:
            if f"(?P<{group}>" not in pattern:
                raise ConfigError(f"[fax].{name}: {pattern!r} lacks a (?P<{group}>...) group")
        return value
    return check


def _region(value: str, t: Table, name: str) -> str:
    """A region code libphonenumber knows; the default is taken as it is, so that loading
    the configuration (every command) does not import libphonenumber's metadata."""
    if value == "BE":
        return value
    import phonenumbers

    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"[fax].region: {value!r} is not a region code such as \"BE\"")
    return value


def _address_pattern(value: str, t: Table, name: str) -> str:
    try:
        value.format(number="+3222101031", digits="3222101031", national="022101031")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"[fax].address_pattern: {value!r} uses an unknown placeholder {exc}; "
            "use {number}, {digits} or {national}"
        ) from None
    return value


def _holidays(value: str, t: Table, name: str) -> str:
    """A country of the ``holidays`` package. Listing them imports every country's module,
    up to a third of a second that each command paid: the default needs no look-up
    (tests/test_stats.py counts its holidays)."""
    if value and value != DEFAULT_HOLIDAYS:
        import holidays

        if value not in holidays.list_supported_countries():
            raise ConfigError(f"[stats].holidays: unknown country code {value!r}")
    return value


def _smtp_port(values: dict[str, Any], loader: Loader) -> int:
    return _SMTP_PORTS[values["security"]]


def _imap_port(values: dict[str, Any], loader: Loader) -> int:
    return 993 if values["security"] == "ssl" else 143


def _list_domain(values: dict[str, Any], loader: Loader) -> str:
    return str(loader.section("helpdesk").address.rsplit("@", 1)[-1])


def _contact(values: dict[str, Any], loader: Loader) -> str:
    hd = loader.section("helpdesk")
    return f"{hd.name} — {hd.address} — {hd.phone}"


def _stats_timezone(values: dict[str, Any], loader: Loader) -> str:
    # From the table, not the section: [helpdesk] reads [stats] first (opens, closes).
    return str(loader.table("helpdesk").data.get("timezone", "Europe/Brussels"))


def _opens(values: dict[str, Any], loader: Loader) -> time:
    legacy = _legacy_hours(loader)
    return legacy[0] if legacy else time(8, 30)


def _closes(values: dict[str, Any], loader: Loader) -> time:
    legacy = _legacy_hours(loader)
    return legacy[1] if legacy else time(16, 30)


# ------------------------------------------------------------------------------ the sections


@dataclass(frozen=True)
class DatabaseConfig:
    """To keep a PostgreSQL password out of the file, give the URL through `url_env`, or leave
    the password out of the URL and let libpq find it in `PGPASSWORD` or `~/.pgpass`."""

    url: str = key(
        "sqlite:///var/rnmail.db", code_default=REQUIRED, secret=True, parse=_sqlite_path,
        doc="SQLAlchemy URL. SQLite: `sqlite:///relative/path.db` (relative to the config "
            "file's directory) or `sqlite:////absolute/path.db`; the parent directory is "
            "created; WAL mode. PostgreSQL: `postgresql+psycopg://user@host/db` (also "
            "`user:password@host:port`).")


@dataclass(frozen=True)
class HelpdeskConfig:
    """Who the help desk is: its address, name, contact block and stores.

    The old key `opening_hours` (a string such as `"8:30–16:30"`, `"08:30-16:30"`,
    `"8h30 - 16h30"`, `"8.30 tot 16.30 uur"`) is kept so that older files still load: the
    hours are `[stats].opens` and `closes`, and it sets them when `[stats]` does not; a value
    that `[stats]` contradicts, or one that is not two times, stops rnmail."""

    address: str = key(
        parse=_lower,
        doc="The help desk's address: From of every outgoing mail, and the e-mail address of "
            "the contact block; mail from it is never acknowledged. Lower-cased.")
    name: str = key(
        "Help Desk", code_default=REQUIRED,
        doc="Display name in From; first line of the contact block; signature of "
            "acknowledgements; title of the FAQ pages.")
    tag: str = key(
        "RN", code_default=REQUIRED, parse=_tag,
        doc="Subject tag, `[RN #42]`; letters and digits only.")
    secret: str = key(
        secret=True, parse=_installation_secret,
        doc="HMAC-SHA256 key that signs the Message-IDs of our mail "
            "(`<rn.KIND.TICKET.NONCE.SIG@domain>`, domain of `address`); the operators' TOTP "
            "secrets are encrypted with a key derived from it. At least 32 random bytes (43 "
            "base64 characters or 64 hex digits, e.g. `python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`): an empty, short, regular or published value "
            "(any that appears in rnmail's repository) stops rnmail. Staff and second-line "
            "replies are recognised by it: after a change, replies to earlier notifications and "
            "delegation mails are ordinary mail, and each operator needs a new second factor "
            "(`rnmail operator totp NAME`).")
    default_language: str = key(
        "fr", code_default=REQUIRED, choices=LANGUAGES,
        doc="Used when the language of a request cannot be detected (fewer than 12 letters in "
            "the first 200 characters of subject and text, or unclear), for hand-made tickets "
            "without `--language`, for delegation mails, as the first fallback when a template "
            "is missing in a language (then `fr`) and when an FAQ entry lacks the language "
            "asked for.")
    attachments_dir: Path = key(
        Path("var/attachments"), code_default=REQUIRED,
        doc="Content-addressed store (`<aa>/<bb>/<sha256>`) of attachments **and of every raw "
            "message** (.eml), kept for the archive. Created by `rnmail init`.")
    max_attachment_mb: float = key(
        25.0, code_default=REQUIRED,
        doc="A larger attachment is not stored but recorded as omitted, with its name, size "
            "and reason.")
    aliases: tuple[str, ...] = key(
        (), parse=_lower_each,
        doc="Other addresses that are the help desk: never acknowledged, never added as "
            "participants. Lower-cased.")
    phone: str = key(
        "02/518 21 31",
        doc="Phone number of the contact block (every mail, the status and FAQ pages); `\"\"` "
            "leaves the line out.")
    fax: str = key("02/210 10 31",
                   doc="Fax number of the contact block; `\"\"` leaves the line out.")
    # Working-day hours: [stats].opens/closes (the one source). They are here too because
    # every mail's contact block and the public pages print them.
    opens: time = key(time(8, 30), in_file=False,
                      derive=lambda values, loader: loader.section("stats").opens,
                      doc="`[stats].opens`, for the contact block.")
    closes: time = key(time(16, 30), in_file=False,
                       derive=lambda values, loader: loader.section("stats").closes,
                       doc="`[stats].closes`, for the contact block.")
    timezone: str = key(
        "Europe/Brussels", parse=_timezone, type_doc="IANA time zone",
        doc="The time zone of every time a person reads: the command line's text output, "
            "the mails, the web admin, the status and FAQ pages, the report; also the zone "
            "of the times operators type (`maintenance schedule --start`) and of the days, "
            "weekdays and hours the figures count. Times are stored in UTC whatever it "
            "says, and `--json` prints them in ISO 8601 with their UTC offset (`+00:00`).")
    public_dir: Path = key(
        Path("var/public"),
        doc="Folder of the public static pages (the FAQ): `rnmail faq publish` writes "
            "`faq/<lang>.html` into it (created when needed).")
    public_url: str = key(
        "", parse=_no_trailing_slash,
        doc="Where `public_dir` is served, e.g. `\"https://www.rn.example/helpdesk\"` (a "
            "trailing `/` is dropped). When set, acknowledgements link to "
            "`<public_url>/faq/<lang>.html` in the requester's language.")

    answer_hold_minutes: int = key(
        30, min=0, unit="minutes",
        doc="Two agents, one ticket: an answer to the requester written within this many "
            "minutes after a colleague's answer to the same ticket is held, not sent: kept on "
            "the ticket, and its author is shown the colleague's answer (an error mail with "
            "the command `#send`; `ticket reply` refused until `--anyway`). `0`: never held.")

    @property
    def zone(self) -> ZoneInfo:
        """``timezone`` as a ``ZoneInfo`` (cached by the zoneinfo module)."""
        return ZoneInfo(self.timezone)

    @property
    def opening_hours(self) -> str:
        """The hours as one string, ``8:30–16:30``: what templates long printed."""
        return f"{clock(self.opens)}–{clock(self.closes)}"

    @cached_property
    def own_addresses(self) -> frozenset[str]:
        """Every address that is us: mail from these is never acknowledged (loop safety).
        Cached: the ingest asks several times a mail."""
        return frozenset(a.lower() for a in (self.address, *self.aliases))


@dataclass(frozen=True)
class MailboxConfig:
    """Each `[[mailbox]]` table is one source of mail. Every message in its folder is
    processed, whatever its `\\Seen` flag, and moved to `done_folder` once what it produced is
    committed. `host`, `port`, `security`, `user`, `password`, `auth`, `token_command`,
    `folder` and `timeout` only matter for IMAP, `path` only for Maildir.

    **XOAUTH2.** The token is obtained before each connection is opened (a pass that reads
    ahead opens a second one), so a slow helper never keeps an idle connection waiting. A
    failing helper stops that mailbox with one line, never the command line (it may hold a
    secret): `IMAP NAME: token_command exited with status N: <last line of its stderr>`, or
    `… printed no token`, `… timed out after 60 s`, `… cannot run: …`. A token the server
    refuses gives `IMAP NAME (host:port): login refused for user 'USER'`. Other mailboxes are
    still read."""

    name: str = key(
        doc="Unique name; used by `ingest once --mailbox`, in the processed-message records "
            "and in the quarantine.")
    kind: str = key(
        "info", code_default=REQUIRED, choices=("info", "fax"),
        doc="`info`: the requester is the sender (Reply-To first, for the acknowledgement). "
            "`fax`: mail from the fax gateway, one mail per fax; the requester is the sender's "
            "fax number (see `[fax]`), channel `fax`.")
    type: str = key("imap", code_default=REQUIRED, choices=("imap", "maildir"),
                    doc="Where the mail is.")
    host: str = key("127.0.0.1", doc="IMAP server.")
    port: int = key(143, derive=_imap_port, min=1, max=65535,
                    default_doc="`993` when `security = \"ssl\"`, "
                    "else `143`", doc="IMAP port.")
    security: str = key(
        "none", choices=("none", "starttls", "ssl"),
        doc="IMAP transport security. With `ssl` and `starttls` the server certificate and "
            "host name are verified (system CA store).")
    user: str = key("", doc="IMAP login; required for `type = \"imap\"`.")
    password: str = key("", secret=True, doc="IMAP password (`auth = \"password\"`).")
    auth: str = key(
        "password", choices=("password", "xoauth2"),
        doc="`xoauth2` for mailboxes that only allow OAuth2 (Microsoft 365): logs in with "
            "`user` and a token from `token_command`.")
    token_command: str = key(
        "",
        doc="Required with `xoauth2`: a command (split like a shell would, run without a "
            "shell, 60 s limit) that prints an access token on stdout, e.g. an MSAL helper.")
    folder: str = key("INBOX", doc="IMAP folder to process; must exist. Not used by Maildir "
                      "mailboxes.")
    done_folder: str = key(
        "Processed",
        doc="Where processed messages are moved; created if missing; must differ from "
            "`folder`. For a Maildir: the subfolder `<path>/.<done_folder>/cur/`.")
    path: Path | None = key(
        None,
        doc="Required for `type = \"maildir\"`: the Maildir. Files in `new/` and `cur/` (names "
            "not starting with `.`) are processed; `new/`, `cur/`, `tmp/` are created. "
            "Dropping an `.eml` file into `new/` is enough.")
    timeout: float = key(30.0, doc="IMAP connection timeout, seconds.")


@dataclass(frozen=True)
class SmtpConfig:
    """How mail leaves: an SMTP relay, or `.eml` files in a folder."""

    transport: str = key(
        "smtp", choices=("smtp", "file"),
        doc="`smtp`: deliver through the SMTP server below. `file`: write each message to "
            "`directory` as an `.eml` file (no mail server needed).")
    host: str = key("127.0.0.1", doc="SMTP server (relay).")
    port: int = key(25, derive=_smtp_port, min=1, max=65535,
                    default_doc="by `security`: `25` (`none`), `587` "
                    "(`starttls`), `465` (`ssl`)", doc="SMTP port.")
    security: str = key(
        "none", choices=("none", "starttls", "ssl"),
        doc="`ssl`: TLS from the start; `starttls`: STARTTLS; `none`: no TLS. The certificate "
            "is verified (system CA store).")
    user: str = key("", doc="SMTP login; no authentication when empty.")
    password: str = key("", secret=True, doc="SMTP password.")
    timeout: float = key(30.0, doc="SMTP timeout, seconds.")
    directory: Path | None = key(
        Path("var/outgoing"), code_default=None,
        doc="`file` transport: one `<random>-<recipient>.eml` per recipient.")


@dataclass(frozen=True)
class IngestConfig:
    """How mailboxes are read."""

    batch_size: int = key(100, min=1, doc="Messages processed in one transaction and moved "
                          "together.")
    batch_mb: float = key(
        16.0,
        doc="A batch also stops at this many megabytes (a single larger message makes a batch "
            "of its own), so memory stays flat whatever the mailbox size.")
    max_message_mb: float = key(120.0, doc="A larger message goes to the quarantine.")
    max_parts: int = key(500, min=1, doc="A message with more MIME parts goes to the "
                         "quarantine.")
    max_depth: int = key(30, min=1, doc="A message with deeper MIME nesting goes to the "
                         "quarantine.")
    auto_reply_limit: int = key(
        10,
        doc="At most this many automatic mails (acknowledgements) per address since midnight "
            "UTC; `0` sends none. Also the most notices a day to one staff address that a mail "
            "from it was not sent on (anyone can forge a staff member's From).")
    auto_reply_domain_limit: int = key(
        200, min=0,
        doc="At most this many automatic mails (acknowledgements) per recipient domain since "
            "midnight UTC, whatever the addresses: forged senders cannot make the help desk "
            "mail a whole organisation; `0` sends none. Must stay above the new tickets a day "
            "from the largest webmail domain (gmail.com, hotmail.com, skynet.be, …), whose "
            "requesters get no acknowledgement past it.")
    trusted_authserv_id: str = key(
        "", parse=lambda value, t, name: value.strip().lower(),
        doc="The authserv-id your own mail gateway writes in its `Authentication-Results` "
            "(RFC 8601), e.g. `mx.rn.example`. Only its topmost block is read (never one the "
            "sender wrote: see *Who really sent it* in docs/helpdesk.md): a mail failing DMARC, "
            "or SPF and DKIM when there is no DMARC result, is *unverified* — a ticket, but "
            "not attributed to the directory user of its From, no acknowledgement, "
            "\"sender not verified\" on the desk. Empty: nothing is read, nothing changes.")
    trusted_without_authserv_id: bool = key(
        False,
        doc="The gateway writes its `Authentication-Results` without an authserv-id "
            "(Microsoft 365 / Exchange Online does): the topmost such headers are its own.")
    spam_flag_headers: tuple[str, ...] = key(
        ("X-Spam-Flag", "X-Spam"),
        doc="Headers whose value `YES` (any case) marks spam, honoured with or without a "
            "trusted gateway (a sender flagging their own mail only hurts themselves).")
    spam_status_headers: tuple[str, ...] = key(
        ("X-Spam-Status",),
        doc="SpamAssassin-style status headers: `Yes, …` marks spam; their `score=` is read "
            "(topmost header only) when a trusted gateway is configured.")
    spam_score_headers: tuple[str, ...] = key(
        ("X-Spam-Score", "X-Rspamd-Score"),
        doc="Headers holding a spam score, read (topmost header only) when a trusted gateway "
            "is configured.")
    spam_threshold: float = key(
        5.0, doc="A spam score above this sends the mail to the spam state.")


@dataclass(frozen=True)
class WorkflowConfig:
    """How tickets are handled (see *Ticket life cycle* in the README).

    ```toml
    [workflow]
    reopen_days = 14
    notify = "all"              # all | assignee
    service_answers = "review"  # review | requester
    categories = ["access-key", "certificate", "address-change", "data-correction", "legal",
                  "web-services", "other"]

    [workflow.requester_types]  # address glob = requester type; the first match wins
    "*@*.police.example" = "police"
    "bevolking@*" = "municipality"
    ```"""

    reopen_days: int = key(
        14,
        doc="A requester's mail to a ticket closed at most this many days ago reopens it; to "
            "one closed longer ago it opens a new ticket linked to the old one.")
    notify: str = key(
        "all", choices=("all", "assignee"),
        doc="Who is notified of new tickets, requesters' replies and second-line answers: "
            "every staff member, or only the ticket's assignee when it has one who is still on "
            "the staff (else everyone).")
    service_answers: str = key(
        "review", choices=("review", "requester"),
        doc="A second-line answer is kept as an internal note for the help desk to pass on "
            "(`review`), or sent straight to the requester (`requester`; kept as a note all "
            "the same when the ticket is closed, the requester cannot be reached by mail or "
            "the answer has no text). The staff are notified either way.")
    recently_closed_days: int = key(
        14, min=1,
        doc="The queue's *recently closed* tab (`ticket queue --tab closed`, the desk) shows "
            "the tickets closed in the last this many days.")
    presence_minutes: int = key(
        5, min=0, max=1440, unit="minutes",
        doc="The desk's ticket page names the colleagues who opened the same ticket within "
            "the last this many minutes (*Also open by Marie Lambert, 2 minutes ago*), so "
            "that two agents do not answer it at once; 0: never.")
    categories: tuple[str, ...] = key(
        DEFAULT_CATEGORIES, parse=_categories,
        doc="The categories a ticket may have (`ticket new --category`, `ticket set "
            "--category`, `#category`); at least one.")
    # (address glob, requester type), first match wins; e.g. ("*@*.police.example", "police")
    requester_types: tuple[tuple[str, str], ...] = key(
        (), read=_requester_types, type_doc="table of strings", default_doc="`{}`",
        doc="`\"address glob\" = \"type\"` rules (`fnmatch`, case-insensitive: `*`, `?`, "
            "`[…]`), tried in file order on the requester's address (or E.164 number, for a "
            "fax or a phone ticket) when a ticket is made; no match gives `other`. Types: "
            + ", ".join(f"`{t}`" for t in REQUESTER_TYPES) + ".")


@dataclass(frozen=True)
class OutboxConfig:
    """How queued mail is sent."""

    max_attempts: int = key(8, min=1, doc="After this many attempts ending in a temporary "
                            "failure a mail is `failed`.")
    retry_base_seconds: float = key(
        60.0,
        doc="After the n-th temporary failure the next attempt waits "
            "`retry_base_seconds × 2^(n−1)`, at most 6 hours.")
    lease_seconds: float = key(300.0, doc="A mail taken by a sender that died is taken up "
                               "again after this long.")
    connections: int = key(
        4, min=1,
        doc="SMTP connections one sender (`outbox send`, a foreground announcement, the "
            "scheduler) uses in parallel.")
    messages_per_connection: int = key(
        100, min=1,
        doc="After this many mails a connection is closed (QUIT) and a new one opened: relays "
            "cap a session.")
    rate: float = key(
        0.0, min=0, read=_rate, default_doc="`0` (no limit)",
        doc="At most this many mails a second for the whole installation, every process and "
            "connection together (shared through the database); `0` or left out: no limit.")


@dataclass(frozen=True)
class Component:
    """A part of the register's system with its own position on the status page."""

    name: str
    labels: dict[str, str]  # nl/fr/de (en optional) → label shown on the page

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels.get("fr") or self.name


DEFAULT_COMPONENTS = (
    Component("natural-persons", {
        "nl": "Toegang tot de natuurlijke personen", "fr": "Accès aux personnes physiques",
        "de": "Zugang zu natürlichen Personen", "en": "Access to natural persons"}),
    Component("web-services", {
        "nl": "Webdiensten", "fr": "Services web", "de": "Webdienste", "en": "Web services"}),
)


@dataclass(frozen=True)
class StatusConfig:
    """The system status and its public page (see *The public status page* and
    *Announcements and outages* in the README).

    ```toml
    [status]
    public_dir = "var/status"
    public_url = "https://status.rn.example"
    maintenance_state = "down"          # degraded | down
    maintenance_notices = ["end"]       # "start" and/or "end"

    [[status.component]]                # these two are the default; any replaces them all
    name = "natural-persons"
    nl = "Toegang tot de natuurlijke personen"
    fr = "Accès aux personnes physiques"
    de = "Zugang zu natürlichen Personen"
    en = "Access to natural persons"

    [[status.component]]
    name = "web-services"
    nl = "Webdiensten"
    fr = "Services web"
    de = "Webdienste"
    en = "Web services"
    ```"""

    public_dir: Path = key(
        Path("var/status"),
        doc="Where `index.html`, `status.json`, `feed.atom` and the accessibility statement "
            "`accessibility.html` are written (created when needed) after every change, "
            "maintenance step and `status publish`.")
    public_url: str = key(
        "", parse=_no_trailing_slash,
        doc="Where `public_dir` is served (a trailing `/` is dropped). When set, the notices "
            "and `incident_solved` mails point to it and the feed links to it.")
    accessibility_contact: str = key(
        "", parse=_lower,
        doc="The e-mail address the accessibility statement (`accessibility.html`, beside "
            "the page) gives for reporting a problem with the public pages; empty: "
            "`[helpdesk].address`. The statement gives `[helpdesk].phone` too.")
    components: tuple[Component, ...] = key(
        DEFAULT_COMPONENTS, name="component", read=_components, type_doc="array of tables",
        default_doc="the two of the example above",
        doc="`[[status.component]]`, at least one, names unique: `name` (**required**; "
            "lower-case letters, digits and `-`, at most 64 characters: what `--component` "
            "takes), `nl`, `fr`, `de` (**required**: the labels on the page and in the mails), "
            "`en` (optional; else English mails use the French label). Any replaces the "
            "default components.")
    maintenance_state: str = key(
        "down", choices=("degraded", "down"),
        doc="The position of a maintenance's components while it runs (a component set worse "
            "by hand stays so).")
    history_days: int = key(30, doc="Resolved incidents are shown on the page this many days.")
    repeat_window_minutes: int = key(
        60, min=0,
        doc="`status set --notify` with the same position, components, comment and groups as "
            "a notice sent within this many minutes is refused unless `--again` (0: never "
            "refused): running a command twice mails nobody twice.")
    max_maintenance_days: float = key(
        7.0, min=0.01,
        doc="A maintenance longer than this is refused unless confirmed (`maintenance "
            "schedule --yes`): a slip such as `--duration 30d` for `30h` mails every group "
            "with the wrong end.")
    # Maintenance steps that mail the groups besides the announcement, the reminder (when
    # asked for) and the cancellation: "start" and/or "end".
    maintenance_notices: tuple[str, ...] = key(
        ("end",), choices=("start", "end"), parse=_maintenance_steps,
        doc="The timed steps that also mail the maintenance's groups; the announcement, the "
            "reminder (when asked for) and the cancellation always do.")

    def component(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        known = ", ".join(c.name for c in self.components)
        raise ConfigError.translatable(N_("unknown component {name} (known: {known})"),
                                       name=repr(name), known=known)


@dataclass(frozen=True)
class DispatchConfig:
    """Mailings to the user groups."""

    templates_dir: Path | None = key(
        None,
        doc="Extra mailing templates (`<name>.<lang>.j2`, blocks `subject`, `text` and "
            "optionally `html`) for `announce --template`, looked up before the built-in "
            "`rnmail/templates/mailings/`. The notices (`status_change`, `maintenance`, "
            "`incident_solved`) are always the built-in ones. The contact block is added to "
            "them: do not repeat it.")
    list_domain: str = key(
        "", derive=_list_domain, default_doc="the domain of `helpdesk.address`",
        doc="Announcements carry `List-Id: <GROUP.list_domain>`, e.g. "
            "`<municipalities.rn.example>`.")
    contact: str = key(
        "", derive=_contact, default_doc="`\"NAME — ADDRESS — PHONE\"` of `[helpdesk]`",
        doc="A one-line contact, `{{ contact }}` for templates of `templates_dir` that print "
            "it. The built-in templates no longer do: every mail ends with the contact block.")
    suppress_after_bounces: int = key(
        3, min=1,
        doc="An address is suppressed (`rnmail lists bounced`) once this many of our mails to "
            "it bounced permanently; announcements skip it.")
    lists_dir: Path = key(
        Path("lists"),
        doc="Folder of the user-group CSV files: `rnmail lists import` and `lists validate` "
            "without FILES read every `*.csv` in it.")


@dataclass(frozen=True)
class DaemonConfig:
    """How `rnmail run` paces its work."""

    poll_seconds: float = key(30.0, doc="How often each mailbox is read (also the first "
                              "retry delay when it cannot be).")
    send_seconds: float = key(
        5.0,
        doc="How often the outbox is looked at; a poll or a maintenance step that queued mail "
            "wakes the sender at once.")
    stop_seconds: float = key(
        30.0,
        doc="On SIGTERM/SIGINT, how long the work in hand may take to finish before it is "
            "cancelled.")
    metrics_address: str = key(
        "", parse=_metrics_address, default_doc="`\"\"` (off)",
        doc="A loopback `host:port` (e.g. `\"127.0.0.1:9464\"`) where `rnmail run` serves "
            "Prometheus metrics at `/metrics`: `rnmail_messages_ingested_total{mailbox,"
            "outcome}`, `rnmail_tickets_created_total{mailbox}`, `rnmail_mails_total{result}` "
            "(sent/deferred/failed, this process), "
            "`rnmail_last_successful_poll_timestamp_seconds{mailbox}`, and read from the "
            "database at each scrape `rnmail_outbox_messages{state}`, `rnmail_quarantine_held`, "
            "`rnmail_spam_held` (mail held as spam, waiting for `spam release` or `spam "
            "delete`), `rnmail_suppressed_addresses`, `rnmail_database_up`. Any other address "
            "is refused.")
    idle: bool = key(
        True,
        doc="Between passes, wait with IMAP IDLE on each IMAP mailbox where the server offers "
            "it, so new mail is read at once; without IDLE (or `false`) the mailbox is polled "
            "every `poll_seconds`.")
    idle_seconds: float = key(
        600.0,
        doc="How long one IDLE may last before a pass is made anyway (capped at 25 minutes, "
            "RFC 2177).")
    publish_seconds: float = key(
        60.0,
        doc="How often the status page and the FAQ pages are regenerated from the database (a "
            "maintenance window opens by the clock; an FAQ entry published with `rnmail faq` "
            "appears without `faq publish`). A page whose content did not change is not "
            "rewritten.")
    housekeeping_hours: float = key(
        24.0,
        doc="How often (and once at start) the daemon removes temporary files older than an "
            "hour that a killed process left in the public and attachments folders, runs "
            "SQLite's `PRAGMA optimize` and truncates its WAL file, and logs one warning each "
            "for messages held in quarantine and mail that failed in the last 24 hours.")
    reminder_seconds: float = key(
        300.0,
        doc="How often (and once at start) the daemon brings back to the queue the pending "
            "tickets whose day (`ticket pending --until`, `#pending DAY`) has come, in "
            "`[helpdesk].timezone`, and does what `[reminders]` says is due; each change is "
            "in the ticket's history, by `scheduler`.")
    command_socket: Path | None = key(
        None,
        doc="A Unix socket (e.g. `\"/run/rnmail/commands.sock\"`) where `rnmail run` keeps a warm "
            "rnmail (`rnmail serve-commands`): the commands agents and operators type "
            "(`ticket`, `status`, `directory`, `faq`, `stats`…) run in a ready copy of it and "
            "answer in tens of milliseconds instead of half a second. Only the same user's "
            "commands are taken (the socket is 0600 and the caller's uid is checked); without "
            "the daemon, or for any other command, `rnmail` runs as before. Off when unset.")
    fetch_alert_minutes: float = key(
        15.0, min=0, unit="minutes", read=_zero_or_positive,
        doc="When reading a mailbox has failed for this long, the staff (every active member, "
            "each in their language) get one alert mail naming the mailbox, since when and the "
            "error, and one \"fetching recovered\" mail when it works again; besides the log "
            "lines and metrics. The time of the first failure is kept in the database, so a "
            "restart or a second instance neither forgets it nor mails twice. Checked at each "
            "retry (the retries slow down to one every 5 minutes). `0` sends none.")


@dataclass(frozen=True)
class StatsConfig:
    """The help desk's opening hours: business hours for `rnmail stats times` and the report
    (times count only while the help desk is open), and the hours printed in the contact block
    of every mail and public page."""

    opens: time = key(
        time(8, 30), derive=_opens,
        default_doc="`\"08:30\"` (or from the old `[helpdesk].opening_hours`)",
        doc="When the help desk opens, Monday to Friday (in `[helpdesk].timezone`).")
    closes: time = key(
        time(16, 30), derive=_closes, default_doc="`\"16:30\"` (idem)",
        doc="When it closes; must be later than `opens`.")
    holidays: str = key(
        DEFAULT_HOLIDAYS, parse=_holidays, type_doc="country code",
        doc="Public holidays of this country (the `holidays` package) are closed days; `\"\"` "
            "for none.")
    closed_days: tuple[date, ...] = key(
        (), doc="Extra days the help desk is closed (e.g. a bridge day).")
    # The zone has one key, [helpdesk].timezone (checked there); the figures read it here.
    timezone: str = key("Europe/Brussels", in_file=False, derive=_stats_timezone,
                        doc="`[helpdesk].timezone`, for the figures' days and hours.")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Span:
    """A due-time target: ``amount`` business hours (``unit`` "h") or business days ("d",
    each the length of a day's opening hours of `[stats]`)."""

    amount: float
    unit: str

    def seconds(self, day_length: int) -> int:
        return round(self.amount * (3600 if self.unit == "h" else day_length))

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit}"


MAX_SPAN_DAYS = 3650  # ten years: longer is a typo, and past it dates overflow


def parse_span(value: Any, where: str) -> Span:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hd])\s*", value) if isinstance(
        value, str) else None
    if match is None or not 0 < float(match[1]) <= (MAX_SPAN_DAYS * (24 if match[2] == "h"
                                                                      else 1)):
        raise ConfigError(f"{where}: a positive number of business hours or days up to "
                          f"{MAX_SPAN_DAYS}d, e.g. \"4h\" or \"5d\" (got {value!r})")
    return Span(float(match[1]), match[2])


def _span(t: Table, name: str, default: Any) -> Span:
    if name not in t.data:
        assert isinstance(default, Span)
        return default
    t.used.add(name)
    return parse_span(t.data[name], f"{t.where}.{name}")


@dataclass(frozen=True)
class DueTarget:
    """``[[due.target]]``: the targets of the tickets of a category and/or requester type."""

    category: str | None
    requester_type: str | None
    first_response: Span | None
    resolution: Span | None

    def matches(self, category: str | None, requester_type: str | None) -> bool:
        return ((self.category is None or self.category == category)
                and (self.requester_type is None or self.requester_type == requester_type))


def _array_of_tables(t: Table, name: str, section: str) -> list[Table] | None:
    """The tables of ``[[section.name]]``, each named by its place for the errors; None
    when the file has none."""
    if name not in t.data:
        return None
    t.used.add(name)
    items = t.data[name]
    if not isinstance(items, list):
        raise ConfigError(f"[{section}]: [[{section}.{name}]] must be an array of tables")
    return [Table(item, f"[[{section}.{name}]] #{index + 1}", t.base)
            for index, item in enumerate(items)]


def _due_targets(t: Table, name: str, default: Any) -> tuple[DueTarget, ...]:
    tables = _array_of_tables(t, name, "due")
    if tables is None:
        return tuple(default)
    targets = []
    for one in tables:
        where = one.where
        category, kind = one.text("category", None), one.text("requester_type", None)
        if category is None and kind is None:
            raise ConfigError(f"{where}: give category, requester_type or both")
        spans = {k: parse_span(one.data[k], f"{where}.{k}") if k in one.data else None
                 for k in ("first_response", "resolution")}
        one.used.update(k for k in spans if k in one.data)
        if not any(spans.values()):
            raise ConfigError(f"{where}: give first_response, resolution or both")
        one.check_unknown()
        targets.append(DueTarget(category, kind, spans["first_response"],
                                 spans["resolution"]))
    return tuple(targets)


@dataclass(frozen=True)
class DueConfig:
    """Due times (SLA): when an open ticket must have its first answer and be resolved,
    counted on the business calendar of `[stats]` (opening hours, public holidays, closed
    days). A target is business hours (`"4h"`) or business days (`"5d"`, a day being the
    opening hours of one working day). Time a ticket spends pending (waiting for the
    requester) or closed does not count toward its resolution. The first `[[due.target]]`
    whose `category` and `requester_type` (each optional) match a ticket gives its targets;
    a target it leaves out, and a ticket no target matches, take the defaults below.
    After changing the targets, `rnmail ticket due --recompute` updates the open tickets.

    ```toml
    [due]
    first_response = "4h"
    resolution = "5d"

    [[due.target]]
    category = "access-key"
    first_response = "2h"
    resolution = "1d"

    [[due.target]]
    requester_type = "police"
    resolution = "2d"
    ```"""

    first_response: Span = key(
        Span(4, "h"), read=_span, type_doc="business hours or days", default_doc="`\"4h\"`",
        doc="The default first-response target: `\"<n>h\"` or `\"<n>d\"`.")
    resolution: Span = key(
        Span(5, "d"), read=_span, type_doc="business hours or days", default_doc="`\"5d\"`",
        doc="The default resolution target.")
    targets: tuple[DueTarget, ...] = key(
        (), name="target", read=_due_targets, type_doc="array of tables",
        default_doc="none",
        doc="`[[due.target]]`, tried in order: `category` and/or `requester_type` (at least "
            "one), `first_response` and/or `resolution` (at least one).")

    def spans(self, category: str | None, requester_type: str | None) -> tuple[Span, Span]:
        """(first response, resolution) targets of a ticket of that category and type."""
        for target in self.targets:
            if target.matches(category, requester_type):
                return (target.first_response or self.first_response,
                        target.resolution or self.resolution)
        return self.first_response, self.resolution


@dataclass(frozen=True)
class ServiceReminder:
    """``[[reminders.service]]``: a second-line service's own reminder rhythm."""

    name: str
    days: int


def _service_reminders(t: Table, name: str, default: Any) -> tuple[ServiceReminder, ...]:
    tables = _array_of_tables(t, name, "reminders")
    if tables is None:
        return tuple(default)
    found = []
    for one in tables:
        found.append(ServiceReminder(one.text("name", REQUIRED), one.integer("days", REQUIRED)))
        if found[-1].days < 1:
            raise ConfigError(f"{one.where}.days: at least 1 business day")
        one.check_unknown()
    return tuple(found)


@dataclass(frozen=True)
class AutoClose:
    """``[[reminders.autoclose]]``: pending tickets of a category closed after a time
    without the requester's answer."""

    category: str
    after: Span


def _autocloses(t: Table, name: str, default: Any) -> tuple[AutoClose, ...]:
    tables = _array_of_tables(t, name, "reminders")
    if tables is None:
        return tuple(default)
    found = []
    for one in tables:
        where = one.where
        category = one.text("category", REQUIRED)
        if "after" not in one.data:
            raise ConfigError(f"{where}: give after, e.g. \"10d\"")
        one.used.add("after")
        found.append(AutoClose(category, parse_span(one.data["after"], f"{where}.after")))
        one.check_unknown()
    return tuple(found)


@dataclass(frozen=True)
class RemindersConfig:
    """What the daemon's scheduler does so that no ticket stalls (every
    `[daemon].reminder_seconds`, on the business calendar of `[stats]`; each step once,
    ever, and in the ticket's history by `scheduler`):

    - a **delegated** ticket whose service has not answered gets a reminder mail to the
      service, in the delegation's thread, every `service_days` business days, at most
      `service_reminders` times; `service_days` later still, its assignee (or, unassigned,
      every staff member) is told it is overdue;
    - a ticket about to break its **due time** (`[due]`, within `warn_before` business
      time) warns its assignee (or the team), once per due time; still open once that time
      has passed, it tells them it is late, once (not for a due time more than a day past:
      a daemon back from a stop does not send the backlog);
    - a **pending** ticket of a category listed in `[[reminders.autoclose]]` whose requester
      has not answered for `after` business time is closed, with a last mail in their
      language (off by default; a ticket waiting until a day, `ticket pending --until`,
      comes back that day instead).

    ```toml
    [reminders]
    service_days = 3
    service_reminders = 2

    [[reminders.service]]
    name = "population-gent"
    days = 5

    [[reminders.autoclose]]
    category = "access-key"
    after = "10d"
    ```"""

    service_days: int = key(
        3, min=1, unit="business days",
        doc="Business days a delegated ticket waits for its service's answer before each "
            "reminder (and, after the last one, before the overdue notice).")
    service_reminders: int = key(
        2, min=0,
        doc="Reminders sent to a service for one delegation at most; 0 sends none and tells "
            "the assignee at once after `service_days`.")
    services: tuple[ServiceReminder, ...] = key(
        (), name="service", read=_service_reminders, type_doc="array of tables",
        default_doc="none",
        doc="`[[reminders.service]]`: `name` (a service of `rnmail service list`) and its "
            "own `days` instead of `service_days`.")
    warn_before: Span = key(
        Span(1, "h"), read=_span, type_doc="business hours or days", default_doc="`\"1h\"`",
        doc="How long before a due time its ticket's assignee (or the team) is warned.")
    warn: bool = key(True, doc="Whether tickets about to break a due time, or that broke "
                                "it, warn anyone.")
    autoclose: tuple[AutoClose, ...] = key(
        (), read=_autocloses, type_doc="array of tables", default_doc="none (off)",
        doc="`[[reminders.autoclose]]`: `category` (`\"*\"`: every category, and none) "
            "and `after` (business time, e.g. `\"10d\"`) since the ticket was set pending "
            "without the requester's answer.")

    def service_days_for(self, service: str) -> int:
        for one in self.services:
            if one.name == service:
                return one.days
        return self.service_days

    def autoclose_after(self, category: str | None) -> Span | None:
        for one in self.autoclose:
            if one.category in ("*", category):
                return one.after
        return None


@dataclass(frozen=True)
class OperatorsConfig:
    """Who may run `status set`, `maintenance schedule`/`cancel` and `announce` (see
    *Operators* in the README)."""

    max_failures: int = key(
        5, min=1,
        doc="Wrong passwords for one operator name within `lockout_minutes` that lock the "
            "name.")
    lockout_minutes: int = key(
        15, min=1,
        doc="The window in which failures are counted, and so how long a lock lasts: every "
            "attempt is refused until fewer than `max_failures` failures are that recent.")


@dataclass(frozen=True)
class FaxConfig:
    """How the sender of a fax is found in the gateway's mail. The first `number_headers`
    header whose value is a valid phone number wins; else the `number_patterns` are tried on
    the subject, then on the first 2,000 characters of the body, pattern by pattern, and the
    first match that is a valid number (checked with `phonenumbers` for `region`) wins. It is
    stored in E.164 (`02/210.10.31` → `+3222101031`). The page count comes from the first
    `pages_headers` header holding only digits, else from the first match of
    `pages_patterns`. A fax without a recognisable number still becomes a ticket (requester:
    the gateway's From address) but gets no acknowledgement.

    Checked at start-up: every pattern must compile and have its named group, `region` must
    be a region code phonenumbers knows, and `address_pattern` may only use the placeholders
    below.

    The default `number_patterns`, in order:

    1. the word *fax*, *télécopie* (accents optional) or *telefax*, in any case, optionally
       followed by *from*, *van*, *de*, *von*, *du* or a colon, then a number: an optional `+`
       and at least seven digits, with up to two of space `.` `/` `(` `)` `-` between digits
       (`Fax from 02/210.10.31`, `Fax van +32 2 210 10 31`, `Télécopie de 0032 2 …`);
    2. any Belgian international number: `+32` or `0032` followed by at least seven digits
       with the same separators;
    3. a Belgian national number: `0`, one to three digits, then groups of two or three, two
       and two digits, optionally separated by space, `.`, `/` or `-` (`02/210.10.31`,
       `02 210 10 31`).

    The default `pages_patterns`: one to four digits followed by *page(s)*, *pagina's* /
    *paginas*, *Seiten* or *p.*, in any case (`3 pages`, `2 pagina's`, `4 Seiten`)."""

    number_patterns: tuple[str, ...] = key(
        DEFAULT_FAX_NUMBER_PATTERNS, parse=_patterns("number"),
        type_doc="list of regular expressions",
        doc="Python regular expressions, each with a `(?P<number>…)` group.")
    pages_patterns: tuple[str, ...] = key(
        DEFAULT_FAX_PAGES_PATTERNS, parse=_patterns("pages"),
        type_doc="list of regular expressions", doc="Each with a `(?P<pages>…)` group.")
    number_headers: tuple[str, ...] = key(
        DEFAULT_FAX_NUMBER_HEADERS, doc="Headers that may hold the sender's number.")
    pages_headers: tuple[str, ...] = key(
        DEFAULT_FAX_PAGES_HEADERS, doc="Headers that may hold the page count.")
    region: str = key(
        "BE", parse=_region,
        doc="Country (ISO 3166 code) for numbers written without a country code.")
    address_pattern: str = key(
        "{number}@fax.rn.example", parse=_address_pattern,
        doc="The mail address that reaches a fax number through the gateway: where the "
            "acknowledgement of a fax goes. Placeholders: `{number}` E.164 (`+3222101031`), "
            "`{digits}` the same without `+` (`3222101031`), `{national}` the national "
            "digits (`022101031`).")


@dataclass(frozen=True)
class WebConfig:
    """The public site of `rnmail web` (the status page and the FAQ; also served by the
    daemon with `in_daemon`) and its status administration (see *`rnmail web`* in the
    README)."""

    bind: str = key(
        "127.0.0.1:8080", parse=_bind,
        doc="`host:port` to listen on. Any address, unlike `metrics_address` (the site is "
            "public): `\"0.0.0.0:8080\"` (every IPv4 interface), `\"[::]:8080\"`, "
            "`\"web.rn.example:80\"`; an IPv6 address goes in brackets. `rnmail web --bind` "
            "overrides it.")
    status_max_age: int = key(
        30, max=MAX_AGE_LIMIT, unit="seconds (one year)",
        doc="`Cache-Control: public, max-age=` of the status files (`/`, `status.json`, "
            "`feed.atom`, `/nl` …), in seconds: how stale a cache may serve the page.")
    faq_max_age: int = key(300, max=MAX_AGE_LIMIT, unit="seconds (one year)",
                           doc="The same for the FAQ pages and `/faq/`.")
    in_daemon: bool = key(
        False,
        doc="`rnmail run` serves the site too, in its own event loop, on `bind`, and the admin "
            "on `admin_bind` (they stop with the daemon; what the admin queues wakes the "
            "daemon's sender). The site and the sender then share that loop: under thousands "
            "of requests a second a mailing slows down markedly (see [performance]"
            "(performance.md#the-public-site-rnmail-web-benchwebpy)); "
            "a site that may get a rush is better served by its own `rnmail web`.")
    admin_bind: str = key(
        "", parse=_admin_bind, default_doc="`\"\"` (none)",
        doc="`host:port` of the status administration (`/admin`), a listener of its own, e.g. "
            "`\"127.0.0.1:8081\"`; the public site has no `/admin`. Put it on a loopback or "
            "internal address behind the TLS proxy that staff reach. `rnmail web --admin-bind` "
            "overrides it.")
    secure_cookies: bool = key(
        True,
        doc="The admin's and the desk's cookies carry `Secure` (sent over HTTPS only). "
            "`false` only for a plain-HTTP test setup.")
    session_idle_minutes: int = key(30, min=1, doc="An admin or desk session unused this "
                                    "long ends (sign in again).")
    session_hours: int = key(8, min=1, doc="Any admin or desk session ends after "
                       "this long.")
    max_failures_per_address: int = key(
        20, min=1,
        doc="Failed sign-ins (admin and desk together) from one client address within "
            "`[operators].lockout_minutes` before that address is refused (besides the "
            "per-name limit of `[operators].max_failures`).")
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = key(
        (), read=_networks, type_doc="list of strings",
        doc="Addresses or networks (`\"127.0.0.1\"`, `\"10.0.0.0/24\"`) of the reverse proxies "
            "in front of the admin. A request from one of them names its client with "
            "`X-Forwarded-For`: the last address there that is not a trusted proxy is the "
            "client for the audit log and the per-address limit. From any other address, or "
            "when the header holds no address, the header is ignored.")
    remote_user_header: str = key(
        "", default_doc="`\"\"` (off)",
        doc="Single sign-on for the desk (`/desk/`): the request header in which a reverse "
            "proxy names the signed-in staff member by their e-mail address, e.g. "
            "`\"X-Remote-User\"`. Honoured only on requests from `trusted_proxies` (from "
            "any other address the header is ignored and the desk asks for the password "
            "and code); the member must be on the staff (`rnmail staff add`). Empty: off.")
    header_timeout: float = key(
        10.0, min=1, max=300, unit="seconds",
        doc="Both listeners (public site and admin): a connection must send a request's "
            "complete headers within this many seconds of opening (or of the previous "
            "answer, for a kept-alive connection), else it is closed (slowloris). Also how "
            "long an idle kept-alive connection stays open.")
    max_connections_per_address: int = key(
        64, min=1,
        doc="Both listeners: open connections from one client address (the connection's, "
            "not `X-Forwarded-For`) beyond this are closed at once. Connections from "
            "`trusted_proxies` are not counted: the reverse proxy limits its own clients.")


@dataclass(frozen=True)
class Config:
    """The whole file: one field per section, in the order of the reference."""

    path: Path
    database: DatabaseConfig
    helpdesk: HelpdeskConfig
    mailboxes: tuple[MailboxConfig, ...] = field(metadata={KEY: "mailbox"})  # [[mailbox]]
    smtp: SmtpConfig
    ingest: IngestConfig = field(default_factory=IngestConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    fax: FaxConfig = field(default_factory=FaxConfig)
    workflow: WorkflowConfig = field(default_factory=WorkflowConfig)
    status: StatusConfig = field(default_factory=StatusConfig)
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    operators: OperatorsConfig = field(default_factory=OperatorsConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    due: DueConfig = field(default_factory=DueConfig)
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    web: WebConfig = field(default_factory=WebConfig)

    def mailbox(self, name: str) -> MailboxConfig:
        for box in self.mailboxes:
            if box.name == name:
                return box
        known = ", ".join(b.name for b in self.mailboxes) or "none"
        raise ConfigError(f"no mailbox named {name!r} in {self.path} (configured: {known})")


def _check_mailbox(box: MailboxConfig, where: str) -> None:
    if box.type == "imap" and not box.user:
        raise ConfigError(f"{where}: an IMAP mailbox needs 'user'")
    if box.type == "maildir" and box.path is None:
        raise ConfigError(f"{where}: a maildir mailbox needs 'path'")
    if box.auth == "xoauth2" and not box.token_command:
        raise ConfigError(f"{where}: auth = \"xoauth2\" needs 'token_command'")
    if box.folder == box.done_folder:
        raise ConfigError(f"{where}: folder and done_folder must differ")


def _check_hours(stats: StatsConfig, where: str) -> None:
    if stats.closes <= stats.opens:
        raise ConfigError("[stats]: closes must be later than opens")


# Checks across the keys of one section, run once it is read (``where`` names the table).
_SECTION_CHECKS: dict[type, Callable[[Any, str], None]] = {
    MailboxConfig: _check_mailbox,
    StatsConfig: _check_hours,
}

def resolve_config_path(path: str | os.PathLike[str] | None) -> Path:
    """``--config`` wins, then ``RNMAIL_CONFIG``, then ./rnmail.toml."""
    return Path(path or os.environ.get("RNMAIL_CONFIG") or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the config file; every problem is a ConfigError with one clear line."""
    cfg_path = resolve_config_path(path)
    try:
        raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        # In the repository, after the quick start: say which file that is.
        example = Path("examples/rnmail.toml")
        hint = (f"; here: export RNMAIL_CONFIG=$PWD/{example}"
                if path is None and example.is_file() else "")
        raise ConfigError(
            f"config file {cfg_path} not found (use --config PATH or RNMAIL_CONFIG{hint})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {cfg_path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{cfg_path}: invalid TOML: {exc}") from None
    return parse_config(raw, cfg_path.resolve())


def parse_config(raw: dict[str, Any], cfg_path: Path) -> Config:
    config: Config = Loader(Config, raw, cfg_path, _SECTION_CHECKS).load()
    return config


_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")


def parse_bind(address: str, where: str = "[web].bind") -> tuple[str, int]:
    """``127.0.0.1:8080``, ``[::]:8080`` or ``web.rn.example:80`` → (host, port). Any
    address: the public site may listen on every interface."""
    host, sep, port = address.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    host = host[1:-1] if bracketed else host
    try:
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            if bracketed or not _HOSTNAME.fullmatch(host):
                raise
        else:
            if ip.version == 6 and not bracketed:
                raise ValueError  # "::1:8080" is ambiguous: "[::1]:8080"
    except ValueError:
        raise ConfigError(f"{where} {address!r}: an address and port, e.g. \"127.0.0.1:8080\", "
                          "\"0.0.0.0:8080\" or \"[::]:8080\"") from None
    return host, int(port)


def parse_address(address: str) -> tuple[str, int]:
    """``127.0.0.1:9464`` → (host, port); only loopback addresses: the page is not public."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError(f"[daemon].metrics_address {address!r}: a loopback address and port, "
                          "e.g. \"127.0.0.1:9464\"") from None
    return host, number


# "8:30–16:30", "08:30-16:30", "8h30 - 16h30", "8.30 tot 16.30 uur": the old free-text key
_HOURS = re.compile(
    r"\s*(\d{1,2})(?:[:.h](\d{2}))?\s*(?:h|uur|uhr)?\s*(?:[-–—]|to|à|tot|bis)"
    r"\s*(\d{1,2})(?:[:.h](\d{2}))?\s*(?:h|uur|uhr)?\s*", re.IGNORECASE)


def _opening_hours(value: str | None) -> tuple[time, time] | None:
    """The old ``[helpdesk].opening_hours`` string, read as (opens, closes); None if absent.

    Kept so that older configuration files still load: the hours are ``[stats].opens`` and
    ``closes``, and this key only supplies them when ``[stats]`` does not."""
    if value is None:
        return None
    found = _HOURS.fullmatch(value)
    try:
        if not found:
            raise ValueError
        h1, m1, h2, m2 = found.groups()
        return time(int(h1), int(m1 or 0)), time(int(h2), int(m2 or 0))
    except ValueError:
        raise ConfigError(f"[helpdesk].opening_hours: expected hours such as \"8:30–16:30\", "
                          f"not {value!r} (better: [stats].opens and closes)") from None


def _legacy_hours(loader: Loader) -> tuple[time, time] | None:
    """The hours of the old ``[helpdesk].opening_hours``, when given: the defaults of
    ``[stats]``, which must not contradict them (read once, when [stats] is)."""
    if "opening_hours" not in loader.memo:
        hours = _opening_hours(loader.table("helpdesk").text("opening_hours"))
        stats = loader.table("stats")
        for name, hour in zip(("opens", "closes"), hours or (), strict=False):
            if name in stats.data and stats.hour(name, "") != hour:
                raise ConfigError(
                    f"[helpdesk].opening_hours disagrees with [stats].{name}: the hours are "
                    "set once, in [stats]; remove [helpdesk].opening_hours")
        loader.memo["opening_hours"] = hours
    known: tuple[time, time] | None = loader.memo["opening_hours"]
    return known
