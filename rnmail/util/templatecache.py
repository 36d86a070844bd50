"""Compiled templates kept on disk from one command to the next.

A command's own process compiles every Jinja template it renders, 3-15 ms each: ``status
set --notify`` renders ten (the notice in each language, the status page, its feed and its
statement), about a tenth of a second each time an operator runs it. Jinja's bytecode cache
keeps the compiled code in a directory of the user's own (``_jinja2-cache-<uid>`` in the
temporary directory, created 0700 and refused by Jinja when another user owns it or can
write it), keyed by each template's name and source: a changed template is compiled again,
and a cache written by another Python version is ignored.
"""

from __future__ import annotations

import logging
from functools import cache

from jinja2 import BytecodeCache, FileSystemBytecodeCache

log = logging.getLogger(__name__)


@cache
def bytecode_cache() -> BytecodeCache | None:
    """The cache, or None (templates compiled as before) when its directory cannot be
    made safely."""
    try:
        return FileSystemBytecodeCache()
    except (OSError, RuntimeError) as exc:
        log.debug("no template bytecode cache: %s", exc)
        return None
