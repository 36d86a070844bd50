"""The benchmarks' config files: what every one of them shares (the database, the help
desk, the SMTP server or file transport, the status and list folders), then what a
benchmark adds (``extra``: more sections, TOML's order does not matter)."""

from __future__ import annotations

import compileall
import importlib.machinery
import secrets
import sys
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


def compile_as_installed() -> None:
    """Write the bytecode of the ``rnmail`` and ``cli`` packages found first on the path
    (the working tree, or the copy PYTHONPATH puts first), as ``pip install`` does
    for an installation: an editable checkout has none until a run writes it, and under
    PYTHONDONTWRITEBYTECODE no run does, so each command measured would compile some 50
    modules from source (about 40 ms of ``rnmail ticket show``)."""
    here = Path(__file__).resolve().parent  # whose cli.py is not the package
    path = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    for package in ("rnmail", "cli"):
        spec = importlib.machinery.PathFinder.find_spec(package, path)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"package {package} not found")
        for folder in spec.submodule_search_locations:
            compileall.compile_dir(folder, quiet=1)
