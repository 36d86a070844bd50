"""Settings: one TOML file loaded once into frozen dataclasses and passed explicitly.

Relative paths in the file (SQLite database, attachments, Maildir, outgoing folder) are
resolved against the directory of the config file, so the daemon behaves the same whatever
its working directory. A secret may come from an environment variable named by the matching
``*_env`` key instead of the file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

import phonenumbers

from rnmail.errors import ConfigError
from rnmail.vocab import RequesterType, StatusState

LANGUAGES = ("fr", "nl", "de", "en")
DEFAULT_CONFIG = "rnmail.toml"

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


@dataclass(frozen=True)
class DatabaseConfig:
    url: str


@dataclass(frozen=True)
class HelpdeskConfig:
    address: str
    name: str
    tag: str
    secret: str
    default_language: str
    attachments_dir: Path
    max_attachment_mb: float
    aliases: tuple[str, ...] = ()
    phone: str = "02/518 21 31"
    fax: str = "02/210 10 31"
    # Working-day hours: [stats].opens/closes (the one source; see _opening_hours). They are
    # here too because every mail's contact block and the public pages print them.
    opens: time = time(8, 30)
    closes: time = time(16, 30)
    public_dir: Path = Path("var/public")  # static pages: the FAQ (and later the status page)
    public_url: str = ""  # where public_dir is served, e.g. https://www.rn.example/helpdesk

    @property
    def opening_hours(self) -> str:
        """The hours as one string, ``8:30–16:30``: what templates long printed."""
        return f"{clock(self.opens)}–{clock(self.closes)}"

    @property
    def own_addresses(self) -> frozenset[str]:
        """Every address that is us: mail from these is never acknowledged (loop safety)."""
        return frozenset(a.lower() for a in (self.address, *self.aliases))


@dataclass(frozen=True)
class MailboxConfig:
    name: str
    kind: str  # info | fax
    type: str  # imap | maildir
    host: str = "127.0.0.1"
    port: int = 143
    security: str = "none"  # none | starttls | ssl
    user: str = ""
    password: str = ""
    auth: str = "password"  # password | xoauth2
    token_command: str = ""
    folder: str = "INBOX"
    done_folder: str = "Processed"
    path: Path | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class SmtpConfig:
    transport: str = "smtp"  # smtp | file
    host: str = "127.0.0.1"
    port: int = 25
    security: str = "none"
    user: str = ""
    password: str = ""
    timeout: float = 30.0
    directory: Path | None = None  # file transport: one .eml per message


@dataclass(frozen=True)
class IngestConfig:
    batch_size: int = 100
    batch_mb: float = 16.0
    max_message_mb: float = 120.0
    max_parts: int = 500
    max_depth: int = 30
    auto_reply_limit: int = 10


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


@dataclass(frozen=True)
class WorkflowConfig:
    reopen_days: int = 14  # a requester's reply reopens a ticket closed this recently
    notify: str = "all"  # all | assignee: who is told of new tickets and replies
    service_answers: str = "review"  # review (by the help desk) | requester (sent straight)
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    # (address glob, requester type), first match wins; e.g. ("*@*.police.example", "police")
    requester_types: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class OutboxConfig:
    max_attempts: int = 8
    retry_base_seconds: float = 60.0
    lease_seconds: float = 300.0
    connections: int = 4  # SMTP connections used in parallel by one sender
    messages_per_connection: int = 100  # then QUIT and reconnect (relays cap a session)
    rate: float = 0.0  # messages per second for the whole installation; 0: no limit


STATUS_STATES = tuple(StatusState)
STATUS_LANGUAGES = ("nl", "fr", "de")


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
    public_dir: Path = Path("var/status")  # index.html, status.json, feed.atom
    public_url: str = ""  # where public_dir is served (links in mails and the feed)
    components: tuple[Component, ...] = DEFAULT_COMPONENTS
    maintenance_state: str = "down"  # the position of components during maintenance
    history_days: int = 30  # resolved incidents shown on the page
    # Maintenance steps that mail the groups besides the announcement, the reminder (when
    # asked for) and the cancellation: "start" and/or "end".
    maintenance_notices: tuple[str, ...] = ("end",)

    def component(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        known = ", ".join(c.name for c in self.components)
        raise ConfigError(f"unknown component {name!r} (known: {known})")


@dataclass(frozen=True)
class DispatchConfig:
    templates_dir: Path | None = None  # extra announcement templates, before the built-in ones
    list_domain: str = ""  # List-Id: <group>.<list_domain>; default: the help desk's domain
    contact: str = ""  # the contact line printed under every announcement
    suppress_after_bounces: int = 3  # hard bounces before an address is suppressed
    lists_dir: Path = Path("lists")  # the group CSV files `lists import` reads by default


@dataclass(frozen=True)
class DaemonConfig:
    poll_seconds: float = 30.0  # how often each mailbox is read
    send_seconds: float = 5.0  # how often the outbox is looked at (sooner when mail is queued)
    stop_seconds: float = 30.0  # on SIGTERM: how long to let the work in hand finish
    metrics_address: str = ""  # e.g. "127.0.0.1:9464": Prometheus metrics; empty: none
    idle: bool = True  # IMAP IDLE between passes where the server offers it
    idle_seconds: float = 600.0  # then a pass anyway (IDLE is renewed before 29 minutes)
    publish_seconds: float = 60.0  # how often the status and FAQ pages are regenerated
    housekeeping_hours: float = 24.0  # temporary files, SQLite upkeep, reminders


@dataclass(frozen=True)
class StatsConfig:
    """Business hours for the figures: times count only while the help desk is open."""

    opens: time = time(8, 30)  # local (Europe/Brussels) time the help desk opens ...
    closes: time = time(16, 30)  # ... and closes, Monday to Friday
    holidays: str = "BE"  # public holidays of this country (the holidays package); "": none
    closed_days: tuple[date, ...] = ()  # extra days the help desk is closed


@dataclass(frozen=True)
class OperatorsConfig:
    max_failures: int = 5  # failed passwords per operator name within lockout_minutes ...
    lockout_minutes: int = 15  # ... lock that name out for this long


@dataclass(frozen=True)
class FaxConfig:
    number_patterns: tuple[str, ...] = DEFAULT_FAX_NUMBER_PATTERNS
    pages_patterns: tuple[str, ...] = DEFAULT_FAX_PAGES_PATTERNS
    number_headers: tuple[str, ...] = DEFAULT_FAX_NUMBER_HEADERS
    pages_headers: tuple[str, ...] = DEFAULT_FAX_PAGES_HEADERS
    region: str = "BE"
    address_pattern: str = "{number}@fax.rn.example"


@dataclass(frozen=True)
class WebConfig:
    """``rnmail web`` (and the daemon with ``in_daemon``): the public status page and FAQ."""

    bind: str = "127.0.0.1:8080"  # any address: the site is public (unlike the metrics)
    status_max_age: int = 30  # Cache-Control max-age of the status files, seconds
    faq_max_age: int = 300  # ... and of the FAQ pages
    in_daemon: bool = False  # `rnmail run` serves the site too
    # The status administration (/admin) listens here only, e.g. "127.0.0.1:8081" behind
    # a TLS proxy; "" (the default) serves no admin.
    admin_bind: str = ""
    secure_cookies: bool = True  # false only for a plain-HTTP test setup
    session_idle_minutes: int = 30  # a session unused this long ends ...
    session_hours: int = 8  # ... and any session after this long
    max_failures_per_address: int = 20  # failed sign-ins from one address per lockout window
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


@dataclass(frozen=True)
class Config:
    path: Path
    database: DatabaseConfig
    helpdesk: HelpdeskConfig
    mailboxes: tuple[MailboxConfig, ...]
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
    web: WebConfig = field(default_factory=WebConfig)

    def mailbox(self, name: str) -> MailboxConfig:
        for box in self.mailboxes:
            if box.name == name:
                return box
        known = ", ".join(b.name for b in self.mailboxes) or "none"
        raise ConfigError(f"no mailbox named {name!r} in {self.path} (configured: {known})")


_SMTP_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


class _Required:
    pass


_REQUIRED = _Required()


def clock(value: time, separator: str = ":") -> str:
    """``8:30``, ``16:30`` (``8.30`` with ``separator="."``): no leading zero."""
    return f"{value.hour}{separator}{value.minute:02d}"


class _Table:
    """Typed reads from one TOML table, with errors that name the file and the key."""

    def __init__(self, data: Any, where: str, base: Path) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a table")
        self.data: dict[str, Any] = data
        self.where = where
        self.base = base
        self.used: set[str] = set()

    def _get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise ConfigError(f"{self.where}: missing required key {key!r}")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{self.where}.{key}: expected {_kind_name(kind)}, got {value!r}")
        return value

    def text(self, key: str, default: Any = None) -> Any:
        return self._get(key, str, default)

    def boolean(self, key: str, default: bool) -> bool:
        return bool(self._get(key, bool, default))

    def integer(self, key: str, default: Any = None) -> Any:
        value = self._get(key, int, default)
        if isinstance(value, int) and value < 0:
            raise ConfigError(f"{self.where}.{key}: must not be negative")
        return value

    def number(self, key: str, default: Any = None) -> Any:
        value = self._get(key, float, default)
        if isinstance(value, float) and value <= 0:
            raise ConfigError(f"{self.where}.{key}: must be positive")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(key, list, None)
        if value is None:
            return default
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.where}.{key}: expected a list of strings")
        return tuple(value)

    def choice(self, key: str, choices: tuple[str, ...], default: Any) -> Any:
        value = self.text(key, default)
        if value not in choices:
            raise ConfigError(f"{self.where}.{key}: {value!r} is not one of {', '.join(choices)}")
        return value

    def path(self, key: str, default: str | None = None) -> Path | None:
        value = self.text(key, default)
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.base / p).resolve()

    def secret(self, key: str, default: Any = "") -> Any:
        """A secret from the file, or from the environment variable named by ``KEY_env``."""
        env_name = self.text(f"{key}_env")
        if env_name and key in self.data:
            raise ConfigError(f"{self.where}: give either {key} or {key}_env, not both")
        if env_name:
            if env_name not in os.environ:
                raise ConfigError(
                    f"{self.where}.{key}_env: environment variable {env_name} is not set"
                )
            return os.environ[env_name]
        return self.text(key, default)

    def check_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(f"{self.where}: unknown key(s) {', '.join(unknown)}")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list"}
    return names.get(kind, str(kind)) if isinstance(kind, type) else "a value"


def resolve_config_path(path: str | os.PathLike[str] | None) -> Path:
    """``--config`` wins, then ``RNMAIL_CONFIG``, then ./rnmail.toml."""
    return Path(path or os.environ.get("RNMAIL_CONFIG") or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the config file; every problem is a ConfigError with one clear line."""
    cfg_path = resolve_config_path(path)
    try:
        raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"config file {cfg_path} not found (use --config PATH or RNMAIL_CONFIG)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {cfg_path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{cfg_path}: invalid TOML: {exc}") from None
    return parse_config(raw, cfg_path.resolve())


def parse_config(raw: dict[str, Any], cfg_path: Path) -> Config:
    base = cfg_path.parent
    top = _Table(raw, str(cfg_path), base)
    for key in ("database", "helpdesk", "mailbox", "smtp", "ingest", "outbox", "fax",
                "workflow", "status", "dispatch", "operators", "daemon", "stats", "web"):
        top.used.add(key)
    top.check_unknown()

    db = _Table(raw.get("database", {}), "[database]", base)
    url = db.secret("url", "sqlite:///var/rnmail.db")
    db.check_unknown()

    hd = _Table(raw.get("helpdesk", {}), "[helpdesk]", base)
    stats = _stats(raw.get("stats", {}), base, _opening_hours(hd.text("opening_hours")))
    helpdesk = HelpdeskConfig(
        address=hd.text("address", _REQUIRED).lower(),
        name=hd.text("name", "Help Desk"),
        tag=hd.text("tag", "RN"),
        secret=hd.secret("secret", _REQUIRED),
        default_language=hd.choice("default_language", LANGUAGES, "fr"),
        attachments_dir=hd.path("attachments_dir", "var/attachments") or base,
        max_attachment_mb=hd.number("max_attachment_mb", 25.0),
        aliases=tuple(a.lower() for a in hd.strings("aliases", ())),
        phone=hd.text("phone", "02/518 21 31"),
        fax=hd.text("fax", "02/210 10 31"),
        opens=stats.opens,
        closes=stats.closes,
        public_dir=hd.path("public_dir", "var/public") or base,
        public_url=hd.text("public_url", "").rstrip("/"),
    )
    hd.check_unknown()
    if not helpdesk.tag.isalnum():
        raise ConfigError("[helpdesk].tag: letters and digits only, e.g. \"RN\"")

    boxes = raw.get("mailbox", [])
    if not isinstance(boxes, list):
        raise ConfigError(f"{cfg_path}: [[mailbox]] must be an array of tables")
    mailboxes = tuple(_mailbox(b, i, base) for i, b in enumerate(boxes))
    names = [b.name for b in mailboxes]
    if len(set(names)) != len(names):
        raise ConfigError(f"{cfg_path}: mailbox names must be unique ({', '.join(names)})")

    st = _Table(raw.get("smtp", {}), "[smtp]", base)
    smtp_security = st.choice("security", ("none", "starttls", "ssl"), "none")
    smtp = SmtpConfig(
        transport=st.choice("transport", ("smtp", "file"), "smtp"),
        host=st.text("host", "127.0.0.1"),
        port=st.integer("port", _SMTP_PORTS[smtp_security]),
        security=smtp_security,
        user=st.text("user", ""),
        password=st.secret("password", ""),
        timeout=st.number("timeout", 30.0),
        directory=st.path("directory", "var/outgoing"),
    )
    st.check_unknown()

    ing = _Table(raw.get("ingest", {}), "[ingest]", base)
    ingest = IngestConfig(
        batch_size=ing.integer("batch_size", 100),
        batch_mb=ing.number("batch_mb", 16.0),
        max_message_mb=ing.number("max_message_mb", 120.0),
        max_parts=ing.integer("max_parts", 500),
        max_depth=ing.integer("max_depth", 30),
        auto_reply_limit=ing.integer("auto_reply_limit", 10),
    )
    ing.check_unknown()
    for key in ("batch_size", "max_parts", "max_depth"):
        if getattr(ingest, key) < 1:
            raise ConfigError(f"[ingest].{key}: must be at least 1")

    ob = _Table(raw.get("outbox", {}), "[outbox]", base)
    outbox = OutboxConfig(
        max_attempts=ob.integer("max_attempts", 8),
        retry_base_seconds=ob.number("retry_base_seconds", 60.0),
        lease_seconds=ob.number("lease_seconds", 300.0),
        connections=ob.integer("connections", 4),
        messages_per_connection=ob.integer("messages_per_connection", 100),
        rate=_rate(ob),
    )
    ob.check_unknown()
    for key in ("max_attempts", "connections", "messages_per_connection"):
        if getattr(outbox, key) < 1:
            raise ConfigError(f"[outbox].{key}: must be at least 1")

    fx = _Table(raw.get("fax", {}), "[fax]", base)
    fax = FaxConfig(
        number_patterns=fx.strings("number_patterns", DEFAULT_FAX_NUMBER_PATTERNS),
        pages_patterns=fx.strings("pages_patterns", DEFAULT_FAX_PAGES_PATTERNS),
        number_headers=fx.strings("number_headers", DEFAULT_FAX_NUMBER_HEADERS),
        pages_headers=fx.strings("pages_headers", DEFAULT_FAX_PAGES_HEADERS),
        region=fx.text("region", "BE"),
        address_pattern=fx.text("address_pattern", "{number}@fax.rn.example"),
    )
    fx.check_unknown()
    _check_patterns(fax)

    dp = _Table(raw.get("dispatch", {}), "[dispatch]", base)
    dispatch = DispatchConfig(
        templates_dir=dp.path("templates_dir"),
        list_domain=dp.text("list_domain", helpdesk.address.rsplit("@", 1)[-1]),
        contact=dp.text("contact", f"{helpdesk.name} — {helpdesk.address} — {helpdesk.phone}"),
        suppress_after_bounces=dp.integer("suppress_after_bounces", 3),
        lists_dir=dp.path("lists_dir", "lists") or base,
    )
    dp.check_unknown()
    if dispatch.suppress_after_bounces < 1:
        raise ConfigError("[dispatch].suppress_after_bounces: must be at least 1")

    op = _Table(raw.get("operators", {}), "[operators]", base)
    operators = OperatorsConfig(
        max_failures=op.integer("max_failures", 5),
        lockout_minutes=op.integer("lockout_minutes", 15),
    )
    op.check_unknown()
    if operators.max_failures < 1 or operators.lockout_minutes < 1:
        raise ConfigError("[operators]: max_failures and lockout_minutes must be at least 1")

    dm = _Table(raw.get("daemon", {}), "[daemon]", base)
    daemon = DaemonConfig(
        poll_seconds=dm.number("poll_seconds", 30.0),
        send_seconds=dm.number("send_seconds", 5.0),
        stop_seconds=dm.number("stop_seconds", 30.0),
        metrics_address=dm.text("metrics_address", ""),
        idle=dm.boolean("idle", True),
        idle_seconds=dm.number("idle_seconds", 600.0),
        publish_seconds=dm.number("publish_seconds", 60.0),
        housekeeping_hours=dm.number("housekeeping_hours", 24.0),
    )
    dm.check_unknown()
    if daemon.metrics_address:
        parse_address(daemon.metrics_address)

    return Config(
        path=cfg_path,
        database=DatabaseConfig(url=_resolve_sqlite(url, base)),
        helpdesk=helpdesk,
        mailboxes=mailboxes,
        smtp=smtp,
        ingest=ingest,
        outbox=outbox,
        fax=fax,
        workflow=_workflow(raw.get("workflow", {}), base),
        status=_status(raw.get("status", {}), base),
        dispatch=dispatch,
        operators=operators,
        daemon=daemon,
        stats=stats,
        web=_web(raw.get("web", {}), base),
    )


MAX_AGE_LIMIT = 31_536_000  # one year, the most HTTP caches honour


def _web(data: Any, base: Path) -> WebConfig:
    t = _Table(data, "[web]", base)
    web = WebConfig(
        bind=t.text("bind", "127.0.0.1:8080"),
        status_max_age=t.integer("status_max_age", 30),
        faq_max_age=t.integer("faq_max_age", 300),
        in_daemon=t.boolean("in_daemon", False),
        admin_bind=t.text("admin_bind", ""),
        secure_cookies=t.boolean("secure_cookies", True),
        session_idle_minutes=t.integer("session_idle_minutes", 30),
        session_hours=t.integer("session_hours", 8),
        max_failures_per_address=t.integer("max_failures_per_address", 20),
        trusted_proxies=tuple(_network(n) for n in t.strings("trusted_proxies", ())),
    )
    t.check_unknown()
    parse_bind(web.bind)
    if web.admin_bind:
        parse_bind(web.admin_bind, "[web].admin_bind")
    for key in ("session_idle_minutes", "session_hours", "max_failures_per_address"):
        if getattr(web, key) < 1:
            raise ConfigError(f"[web].{key}: at least 1")
    for key in ("status_max_age", "faq_max_age"):
        if getattr(web, key) > MAX_AGE_LIMIT:
            raise ConfigError(f"[web].{key}: at most {MAX_AGE_LIMIT} seconds (one year)")
    return web


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ConfigError(f"[web].trusted_proxies: {text!r} is not an IP address or network "
                          "such as \"127.0.0.1\" or \"10.0.0.0/24\"") from None


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


def _stats(data: Any, base: Path, legacy: tuple[time, time] | None = None) -> StatsConfig:
    """``legacy``: the hours of the old ``[helpdesk].opening_hours``, when given."""
    t = _Table(data, "[stats]", base)

    def hour_of(key: str, default: str) -> time:
        value = t.text(key, default)
        try:
            return time.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"[stats].{key}: expected a time such as 08:30, not {value!r}"
                              ) from None

    if legacy is not None:
        for key, hour in zip(("opens", "closes"), legacy, strict=True):
            if key in t.data and hour_of(key, "") != hour:
                raise ConfigError(
                    f"[helpdesk].opening_hours disagrees with [stats].{key}: the hours are "
                    "set once, in [stats]; remove [helpdesk].opening_hours")

    def day(value: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"[stats].closed_days: expected dates such as 2026-12-24, not "
                              f"{value!r}") from None

    opens, closes = legacy or (time(8, 30), time(16, 30))
    stats = StatsConfig(
        opens=hour_of("opens", opens.isoformat("minutes")),
        closes=hour_of("closes", closes.isoformat("minutes")),
        holidays=t.text("holidays", "BE"),
        closed_days=tuple(day(v) for v in t.strings("closed_days", ())),
    )
    t.check_unknown()
    if stats.closes <= stats.opens:
        raise ConfigError("[stats]: closes must be later than opens")
    if stats.holidays:
        import holidays

        if stats.holidays not in holidays.list_supported_countries():
            raise ConfigError(f"[stats].holidays: unknown country code {stats.holidays!r}")
    return stats


def _mailbox(data: Any, index: int, base: Path) -> MailboxConfig:
    t = _Table(data, f"[[mailbox]] #{index + 1}", base)
    name = t.text("name", _REQUIRED)
    t.where = f"[[mailbox]] {name!r}"
    box_type = t.choice("type", ("imap", "maildir"), "imap")
    security = t.choice("security", ("none", "starttls", "ssl"), "none")
    box = MailboxConfig(
        name=name,
        kind=t.choice("kind", ("info", "fax"), "info"),
        type=box_type,
        host=t.text("host", "127.0.0.1"),
        port=t.integer("port", 993 if security == "ssl" else 143),
        security=security,
        user=t.text("user", ""),
        password=t.secret("password", ""),
        auth=t.choice("auth", ("password", "xoauth2"), "password"),
        token_command=t.text("token_command", ""),
        folder=t.text("folder", "INBOX"),
        done_folder=t.text("done_folder", "Processed"),
        path=t.path("path"),
        timeout=t.number("timeout", 30.0),
    )
    t.check_unknown()
    if box.type == "imap" and not box.user:
        raise ConfigError(f"{t.where}: an IMAP mailbox needs 'user'")
    if box.type == "maildir" and box.path is None:
        raise ConfigError(f"{t.where}: a maildir mailbox needs 'path'")
    if box.auth == "xoauth2" and not box.token_command:
        raise ConfigError(f"{t.where}: auth = \"xoauth2\" needs 'token_command'")
    if box.folder == box.done_folder:
        raise ConfigError(f"{t.where}: folder and done_folder must differ")
    return box


def _workflow(data: Any, base: Path) -> WorkflowConfig:
    t = _Table(data, "[workflow]", base)
    rules = t.data.get("requester_types", {})
    t.used.add("requester_types")
    if not isinstance(rules, dict) or not all(isinstance(v, str) for v in rules.values()):
        raise ConfigError("[workflow].requester_types: a table of \"address glob\" = \"type\"")
    for pattern, kind in rules.items():
        if kind not in REQUESTER_TYPES:
            raise ConfigError(f"[workflow].requester_types: {pattern!r} = {kind!r}: the type "
                              f"must be one of {', '.join(REQUESTER_TYPES)}")
    workflow = WorkflowConfig(
        reopen_days=t.integer("reopen_days", 14),
        notify=t.choice("notify", ("all", "assignee"), "all"),
        service_answers=t.choice("service_answers", ("review", "requester"), "review"),
        categories=t.strings("categories", DEFAULT_CATEGORIES),
        requester_types=tuple((p.lower(), k) for p, k in rules.items()),
    )
    t.check_unknown()
    if not workflow.categories:
        raise ConfigError("[workflow].categories: at least one category")
    return workflow


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


def _rate(t: _Table) -> float:
    """[outbox].rate in messages per second; 0 or unset: no limit."""
    if t.data.get("rate", 0) == 0 and not isinstance(t.data.get("rate"), bool):
        t.used.add("rate")
        return 0.0
    return float(t.number("rate"))


def _status(data: Any, base: Path) -> StatusConfig:
    t = _Table(data, "[status]", base)
    components: tuple[Component, ...] = DEFAULT_COMPONENTS
    if "component" in t.data:
        t.used.add("component")
        items = t.data["component"]
        if not isinstance(items, list) or not items:
            raise ConfigError("[status]: [[status.component]] must be a non-empty array of "
                              "tables with name, nl, fr and de")
        components = tuple(_component(item, i, base) for i, item in enumerate(items))
        names = [c.name for c in components]
        if len(set(names)) != len(names):
            raise ConfigError(f"[[status.component]]: names must be unique ({', '.join(names)})")
    status = StatusConfig(
        public_dir=t.path("public_dir", "var/status") or base,
        public_url=t.text("public_url", "").rstrip("/"),
        components=components,
        maintenance_state=t.choice("maintenance_state", ("degraded", "down"), "down"),
        history_days=t.integer("history_days", 30),
        maintenance_notices=t.strings("maintenance_notices", ("end",)),
    )
    t.check_unknown()
    for step in status.maintenance_notices:
        if step not in ("start", "end"):
            raise ConfigError(f"[status].maintenance_notices: {step!r}: only \"start\" and "
                              "\"end\" (the announcement, reminder and cancellation always go)")
    return status


def _component(data: Any, index: int, base: Path) -> Component:
    t = _Table(data, f"[[status.component]] #{index + 1}", base)
    name = t.text("name", _REQUIRED)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", name):
        raise ConfigError(f"{t.where}: name {name!r}: lower-case letters, digits and '-'")
    labels = {lang: t.text(lang, _REQUIRED) for lang in STATUS_LANGUAGES}
    english = t.text("en", "")
    if english:
        labels["en"] = english
    t.check_unknown()
    return Component(name, labels)


def _resolve_sqlite(url: str, base: Path) -> str:
    """Make a relative SQLite path relative to the config file, like every other path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url[len(prefix):]
        if rest and not rest.startswith(":memory:") and not Path(rest).is_absolute():
            return prefix + str((base / rest).resolve())
    return url


def _check_patterns(fax: FaxConfig) -> None:
    for pattern in (*fax.number_patterns, *fax.pages_patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"[fax]: invalid regular expression {pattern!r}: {exc}") from None
    for pattern in fax.number_patterns:
        if "(?P<number>" not in pattern:
            raise ConfigError(f"[fax].number_patterns: {pattern!r} lacks a (?P<number>...) group")
    for pattern in fax.pages_patterns:
        if "(?P<pages>" not in pattern:
            raise ConfigError(f"[fax].pages_patterns: {pattern!r} lacks a (?P<pages>...) group")
    if fax.region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"[fax].region: {fax.region!r} is not a region code such as \"BE\"")
    try:
        fax.address_pattern.format(number="+3222101031", digits="3222101031",
                                   national="022101031")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"[fax].address_pattern: {fax.address_pattern!r} uses an unknown placeholder {exc}; "
            "use {number}, {digits} or {national}"
        ) from None
