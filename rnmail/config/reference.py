"""The configuration reference, docs/configuration.md, written from the declarations of
``rnmail.config``: ``python -m rnmail.config --markdown > docs/configuration.md``."""

from __future__ import annotations

import inspect
import json
import textwrap
from datetime import date, time
from pathlib import Path
from typing import Any

from rnmail.config import Config
from rnmail.config.schema import REQUIRED, Key, is_path, keys, sections

_PREAMBLE = """\
One TOML file, chosen by `--config PATH`, else the environment variable `RNMAIL_CONFIG`, else
`./rnmail.toml`. It is read once and checked completely: a missing required key, a value of
the wrong type or choice, an unknown section or key, or a value out of range stops rnmail with
one line naming the place (e.g. `[[mailbox]] 'info': an IMAP mailbox needs 'user'`).

{paths}
{secrets}
- **Numbers**: integer keys must not be negative (some must be at least 1, as noted);
  *number* keys accept integers or decimals and must be greater than 0 (unless noted).

This shape works as written (an IMAP info mailbox and an SMTP relay on the same host):

```toml
[database]
url = "sqlite:///var/rnmail.db"

[helpdesk]
address = "info@rn.example"
name = "Help Desk Registre national / Rijksregister"
tag = "RN"                 # subject tag: "[RN #42]"
secret_file = "/etc/rnmail/secret"  # 32 random bytes (a line of `python3 -c 'import
                           # secrets; print(secrets.token_urlsafe(32))'`): signs our
                           # Message-IDs, encrypts the operators' second factors
default_language = "fr"
attachments_dir = "var/attachments"
max_attachment_mb = 25

[[mailbox]]
name = "info"
kind = "info"              # info | fax
host = "127.0.0.1"
port = 143
security = "none"          # none | starttls | ssl
user = "info"
password = "secret"
folder = "INBOX"
done_folder = "Processed"  # a message is moved here once its ticket is committed

[smtp]
host = "127.0.0.1"
security = "none"          # port 25; 587 with starttls, 465 with ssl
```

`examples/rnmail.toml` is the embedded set-up of `scripts/run`: a Maildir mailbox,
`transport = "file"`, the repository's `lists/` and the status page in `var/status`.
"""


def config_reference_markdown() -> str:
    """docs/configuration.md: every section and key, from the declarations above."""
    paths, secrets = ["the SQLite file in `database.url`"], []
    for _attr, toml, cls, _array in sections(Config):
        for f, spec, hint in keys(cls):
            if spec.in_file and is_path(hint):
                paths.append(f"`{toml}.{spec.name or f.name}`")
            if spec.secret:
                secrets.append(f"`{toml}.{spec.name or f.name}`")
    out = ["<!-- Generated from the declarations of rnmail/config/__init__.py by `python -m "
           "rnmail.config --markdown > docs/configuration.md`: edit them, not this file. -->",
           "", "# Configuration reference", "", _PREAMBLE.format(
               paths=_bullet(f"**Relative paths** ({', '.join(paths)}) are resolved against the "
                             "directory of the config file, not the working directory. `~` is "
                             "expanded in the path keys (not in `database.url`)."),
               secrets=_bullet(f"**Secrets from the environment or a file**: {_and(secrets)} "
                               "each have a `*_env` twin naming an environment variable to read "
                               "instead, and a `*_file` twin naming a file whose first line is "
                               "read instead (relative to the config file's directory; e.g. a "
                               "systemd credential). The variable must be set and the file "
                               "readable, or rnmail stops. Giving the key and a twin, or both "
                               "twins, is an error (`[database]: give either url or url_env, "
                               "not both`)."))]
    for _attr, toml, cls, array in sections(Config):
        title = f"`[[{toml}]]` (zero or more)" if array else f"`[{toml}]`"
        out += [f"## {title}", "", inspect.cleandoc(cls.__doc__ or ""), "",
                "| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        for f, spec, hint in keys(cls):
            if spec.in_file:
                out.append("| " + " | ".join(_cell(c) for c in _row(f.name, spec, hint)) + " |")
        out.append("")
    return "\n".join(out)


def _row(attr: str, spec: Key, hint: Any) -> tuple[str, ...]:
    name = spec.name or attr
    shown = f"`{name}` / `{name}_env` / `{name}_file`" if spec.secret else f"`{name}`"
    return shown, _type_doc(spec, hint), _default_doc(spec), _allowed(spec, hint), spec.doc


def _type_doc(spec: Key, hint: Any) -> str:
    if spec.type_doc:
        return spec.type_doc
    names = {str: "string", int: "integer", float: "number", bool: "boolean",
             time: "time, `\"HH:MM\"`", tuple[str, ...]: "list of strings",
             tuple[date, ...]: "list of dates, `\"YYYY-MM-DD\"`"}
    return "path" if is_path(hint) else names[hint]


def _default_doc(spec: Key) -> str:
    if spec.default_doc:
        return spec.default_doc
    if spec.default is REQUIRED:
        return "**required**"
    if spec.default is None:
        return "none"
    return f"`{_toml(spec.default)}`"


def _allowed(spec: Key, hint: Any) -> str:
    if spec.choices:
        listed = ", ".join(f"`{c}`" for c in spec.choices)
        return listed if hint is str else f"each one of {listed}"
    low = spec.min if spec.min is not None else (0 if hint is int else None)
    if spec.max is not None:
        return f"{low} to {spec.max} {spec.unit}".rstrip()
    if low is not None:
        return f"≥ {low}"
    return "> 0" if hint is float else ""


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, time):
        return json.dumps(value.isoformat("minutes"))
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}: declare default_doc=")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _bullet(text: str) -> str:
    return textwrap.fill(text, 95, initial_indent="- ", subsequent_indent="  ",
                         break_long_words=False, break_on_hyphens=False)


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)
