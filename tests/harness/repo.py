"""A fresh copy of the repository, as a newcomer's clone would be: the files git knows
(tracked, and new ones not ignored), without .venv, var/ or build output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


# Outside a git checkout (an unpacked archive): what .gitignore leaves out, by hand.
IGNORED = {".git", ".venv", "var", "build", "__pycache__", ".pytest_cache", ".mypy_cache",
           ".ruff_cache", "test-artifacts"}


def repo_files() -> list[str]:
    """The repository's files, relative to its root: what a clone of this work tree holds
    (deleted files left out)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                      if p.is_file() and not IGNORED & set(p.relative_to(ROOT).parts)
                      and not p.name.endswith(".egg-info")
                      and not any(part.endswith(".egg-info") for part in p.parts))
    return [name for name in out.decode().split("\0") if name and (ROOT / name).is_file()]


def copy_repo(dest: Path) -> Path:
    """Copy the repository into ``dest`` (created) and return it."""
    for name in repo_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return dest
