"""The collector pause around bulk queueing gives the collector back as it found it."""

from __future__ import annotations

import gc
import threading

import pytest

from rnmail.util.gcpause import gc_paused


def test_paused_inside_and_restored_after_an_exception() -> None:
    assert gc.isenabled()

    @gc_paused()
    def work(fail: bool) -> bool:
        if fail:
            raise ValueError("boom")
        return gc.isenabled()

    assert work(False) is False and gc.isenabled()
    with pytest.raises(ValueError):
        work(True)
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        gc.enable()


def test_each_call_of_a_decorated_function_has_its_own_state() -> None:
    """Two threads in the same decorated function: the collector is back on only once
    both are done, whatever the order they leave in."""
    inside, leave = threading.Barrier(2), threading.Event()

    @gc_paused()
    def work() -> None:
        inside.wait(10)
        leave.wait(10)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    leave.set()
    for t in threads:
        t.join(10)
    assert gc.isenabled()
