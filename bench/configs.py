"""The benchmarks' config files: what every one of them shares (the database, the help
desk, the SMTP server or file transport, the status and list folders), then what a
benchmark adds (``extra``: more sections, TOML's order does not matter)."""

from __future__ import annotations

import secrets
from pathlib import Path


def write_bench_config(path: Path, url: str, work: Path, *, smtp: str = 'host = "127.0.0.1"',
                       status: str = "status", extra: str = "") -> Path:
    """Write the config to ``path``: ``smtp`` is the body of ``[smtp]``, ``status`` the
    public folder's name in ``work``."""
    path.write_text(f"""[database]
url = "{url}"
[helpdesk]
address = "info@rn.example"
name = "Help Desk Registre national"
secret = "{secrets.token_urlsafe(32)}"
[smtp]
{smtp}
[status]
public_dir = "{work}/{status}"
[dispatch]
lists_dir = "{work}/lists"
{extra}""", encoding="utf-8")
    return path
