"""The collector pause around bulk queueing gives the collector back as it found it."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rnmail.util.gcpause import gc_paused

ROOT = Path(__file__).resolve().parent.parent


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


# Run in a new process: the hook replaces this interpreter's ``__import__`` for good.
IMPORTS = r'''
import gc, json, sys
from pathlib import Path
from rnmail.util.gcpause import collect_no_imports, gc_paused

folder = Path(sys.argv[1])
(folder / "fresh_a.py").write_text("import fresh_b\nMADE = [[] for _ in range(50_000)]\n")
(folder / "fresh_b.py").write_text("SEEN = __import__('gc').isenabled()\n")
(folder / "broken.py").write_text("raise ValueError('broken at import')\n")
(folder / "later.py").write_text("SEEN = __import__('gc').isenabled()\n")
sys.path.insert(0, str(folder))
collect_no_imports()
seen = {}
frozen = gc.get_freeze_count()
import fresh_a
seen["nested load saw the collector"] = fresh_a.fresh_b.SEEN
seen["on after a load"] = gc.isenabled()
seen["frozen by the load"] = gc.get_freeze_count() - frozen
frozen = gc.get_freeze_count()
for _ in range(3):
    garbage = [[] for _ in range(10)]  # what a daemon's loop has in hand at an import
    import fresh_a
    from fresh_a import MADE
seen["frozen again by loaded names"] = gc.get_freeze_count() - frozen
try:
    import broken
except ValueError:
    seen["on after a failed load"] = gc.isenabled()
with gc_paused():
    import later
    seen["off inside a pause"] = not gc.isenabled()
seen["on after the pause"] = gc.isenabled()
print(json.dumps(seen))
'''


def test_imports_load_without_the_collector_and_freeze_what_they_made(tmp_path: Path) -> None:
    """A module's load (and the loads it makes) runs without the collector, whose objects
    are frozen after; a name already loaded freezes nothing again (a function-local import
    in a loop would otherwise freeze the garbage of the moment, over and over); a load
    that fails and one inside a pause give the collector back as they found it."""
    done = subprocess.run([sys.executable, "-c", IMPORTS, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen.pop("frozen by the load") > 50_000
    assert seen == {"nested load saw the collector": False, "on after a load": True,
                    "frozen again by loaded names": 0, "on after a failed load": True,
                    "off inside a pause": True, "on after the pause": True}


def test_the_program_loads_its_modules_without_the_collector() -> None:
    """``rnmail`` (the console script's ``cli.program.run``) installs the hook before it
    imports click and the commands: a command's own module imports are loaded under it."""
    code = ("import builtins, sys\nfrom cli.program import run\nsys.argv[1:] = ['--help']\n"
            "try:\n    run()\nexcept SystemExit:\n"
            "    print(builtins.__import__.__module__, file=sys.stderr)")
    env = {key: value for key, value in os.environ.items() if key != "RNMAIL_CONFIG"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**env, "PYTHONPATH": str(ROOT)})
    assert "Commands:" in done.stdout
    assert done.stderr.strip() == "rnmail.util.gcpause"
