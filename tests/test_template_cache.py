"""Compiled templates kept on disk between commands (``rnmail.util.templatecache``): a
command's own process loads the code a previous one compiled instead of compiling again,
and without a safe directory it compiles as before."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from rnmail.util import templatecache

ROOT = Path(__file__).resolve().parent.parent
# Renders the status page's template in a new process, and says whether Jinja compiled it.
RENDER = """
import jinja2.environment as environment
compiled = []
original = environment.Environment.compile
def counting(self, source, name=None, filename=None, raw=False, defer_init=False):
    compiled.append(name)
    return original(self, source, name, filename, raw, defer_init)
environment.Environment.compile = counting
from rnmail.status.page import compile_templates
compile_templates()
print(len(compiled))
"""


def compiled_in_a_new_process(tmp: Path) -> int:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", RENDER], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout)


def test_the_next_command_loads_what_the_first_compiled(tmp_path: Path) -> None:
    assert compiled_in_a_new_process(tmp_path) == 3  # page, feed, statement
    cache = tmp_path / f"_jinja2-cache-{os.getuid()}"
    assert len(list(cache.iterdir())) == 3
    assert cache.stat().st_mode & 0o777 == 0o700  # the user's own
    assert compiled_in_a_new_process(tmp_path) == 0


def test_an_unsafe_cache_directory_means_compiling_as_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> jinja2.BytecodeCache:
        raise RuntimeError("the cache directory is not owned by this user")

    monkeypatch.setattr(templatecache, "FileSystemBytecodeCache", refused)
    templatecache.bytecode_cache.cache_clear()
    try:
        assert templatecache.bytecode_cache() is None
    finally:
        templatecache.bytecode_cache.cache_clear()
