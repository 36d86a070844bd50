"""A pause of Python's cyclic garbage collector around bulk work that makes no cycles.

Queueing a mailing builds a row, a Message-ID and a header block per recipient: tens of
thousands of short-lived objects, none of them in a cycle. Each allocation burst triggers
collections that walk every tracked object of the process (the ORM's, the templates', the
loaded catalogues'); measured on 5,000 recipients, they were about 40 % of the queueing time.
Reference counting still frees everything at once; the collector runs again afterwards.

A program's start is the same kind of work: importing SQLAlchemy, the models and a
command's modules makes a few hundred thousand objects that live until the process ends,
and the collections their allocations trigger walked them again and again (about 70 ms of
``rnmail ticket show``'s 650 on a slow day): ``collect_no_imports()``.
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import sys
from collections.abc import Callable
from typing import Any


class gc_paused(contextlib.ContextDecorator):
    """``with gc_paused():`` or ``@gc_paused()``: no cyclic collection inside, the
    collector's previous state afterwards (also on an exception)."""

    def _recreate_cm(self) -> gc_paused:
        return gc_paused()  # a fresh one per call of a decorated function (threads)

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


def collect_no_imports() -> None:
    """From now on in this process, each module an ``import`` statement loads is loaded
    without the cyclic collector, and what the load made is then frozen out of it
    (``gc.freeze``): a module's classes, functions and tables live as long as the process.

    For a program's process only (``cli.program``), never one that goes on to run other
    code, such as the tests'. Statements naming a loaded module, relative imports and
    imports inside a pause pass straight through: a function-local import in a loop costs
    one dictionary lookup more, and nothing is frozen again. What a freeze holds that is
    later garbage in a cycle is never collected; a long-running process (``rnmail run``)
    loads its modules once, so that is bounded by what was alive at those few loads.
    """
    builtins.__import__ = _loading_without_collection(builtins.__import__)


def _loading_without_collection(load: Callable[..., Any]) -> Callable[..., Any]:
    def __import__(name: str, globals: Any = None, locals: Any = None,
                   fromlist: Any = (), level: int = 0) -> Any:
        if level or name in sys.modules or not gc.isenabled():
            return load(name, globals, locals, fromlist, level)
        gc.disable()
        try:
            return load(name, globals, locals, fromlist, level)
        finally:
            gc.freeze()
            gc.enable()

    return __import__
