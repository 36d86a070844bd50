"""A fresh copy of the repository, as a newcomer's clone would be: the files git knows
(tracked, and new ones not ignored), without .venv, var/ or build output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def repo_files() -> list[str]:
    """The repository's files, relative to its root: what a clone of this work tree holds
    (deleted files left out)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, check=True, capture_output=True).stdout
    return [name for name in out.decode().split("\0") if name and (ROOT / name).is_file()]


def copy_repo(dest: Path) -> Path:
    """Copy the repository into ``dest`` (created) and return it."""
    for name in repo_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return dest
