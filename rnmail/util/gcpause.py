"""A pause of Python's cyclic garbage collector around bulk work that makes no cycles.

Queueing a mailing builds a row, a Message-ID and a header block per recipient: tens of
thousands of short-lived objects, none of them in a cycle. Each allocation burst triggers
collections that walk every tracked object of the process (the ORM's, the templates', the
loaded catalogues'); measured on 5,000 recipients, they were about 40 % of the queueing time.
Reference counting still frees everything at once; the collector runs again afterwards.
"""

from __future__ import annotations

import contextlib
import gc


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
