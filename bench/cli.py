"""How long an ``rnmail`` command takes to start: the commands agents run all day.

Makes a throwaway installation in a temp folder (SQLite, the file transport, ``rnmail
init`` and ``rnmail demo``), then runs each command below as a subprocess ``--runs`` times
(interleaved, after one warm-up round, so the disk is warm and the ``.pyc`` files written)
and prints the median and p90 wall time of each. The raw baselines are measured in the
same rounds: the interpreter alone (``python -c pass``) and the imports a command cannot do
without (click, SQLAlchemy, its ORM); each command's median is printed as a ratio to them,
which stays comparable on a busy machine where the milliseconds do not. ``--profile`` adds
where each command's imports go (``python -X importtime``, summed per library). Then the
same rounds again with the command server running (``rnmail serve-commands``, what ``rnmail
run`` keeps with ``[daemon].command_socket``): the console script hands it the command.

Run (from the repo root)::

    .venv/bin/python bench/cli.py
    .venv/bin/python bench/cli.py --runs 20 --profile

Results: docs/performance.md, "CLI start".
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from configs import compile_as_installed  # bench/configs.py, beside this file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the commands' `cli` package, before this file

CONFIG = """\
[database]
url = "sqlite:///rnmail.db"

[helpdesk]
address = "info@rn.example"
secret = "{secret}"
attachments_dir = "attachments"

[[mailbox]]
name = "info"
type = "maildir"
path = "maildir"

[smtp]
transport = "file"
directory = "outgoing"

[status]
public_dir = "status"
"""

# The commands (read-only on the demo data) and their targets in ms (issue 20), or None.
COMMANDS: list[tuple[str, tuple[str, ...], float | None]] = [
    ("rnmail --help", ("--help",), 250),
    ("rnmail ticket --help", ("ticket", "--help"), None),
    ("rnmail ticket show 1", ("ticket", "show", "1"), 400),
    ("rnmail ticket show 1 --json", ("ticket", "show", "1", "--json"), None),
    ("rnmail ticket list --json", ("ticket", "list", "--json"), None),
    ("rnmail status show --json", ("status", "show", "--json"), 400),
]

BASELINES: list[tuple[str, str]] = [
    ("python -c pass", "pass"),
    ("python -c 'import click'", "import click"),
    ("python -c 'import sqlalchemy'", "import sqlalchemy"),
    ("python -c 'import sqlalchemy.orm'", "import sqlalchemy.orm"),
]


def rnmail_command() -> list[str]:
    """The ``rnmail`` console script of this interpreter's environment (what agents run),
    or its equivalent when the package is not installed."""
    script = Path(sys.executable).parent / "rnmail"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())"]


def install(folder: Path) -> dict[str, str]:
    """A fresh installation with the demo data; the environment that selects it."""
    (folder / "rnmail.toml").write_text(CONFIG.format(secret=secrets.token_urlsafe(32)))
    env = {**os.environ, "RNMAIL_CONFIG": str(folder / "rnmail.toml"),
           "PYTHONPATH": str(ROOT)}
    for args in (("init",), ("demo",)):
        subprocess.run([*rnmail_command(), *args], cwd=folder, env=env, check=True,
                       capture_output=True)
    return env


def wall(argv: list[str], folder: Path, env: dict[str, str]) -> float:
    """One run's wall time in ms; a failed command stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}")
    return elapsed


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def heaviest_imports(argv: list[str], folder: Path, env: dict[str, str],
                     top: int) -> list[tuple[int, str]]:
    """Where ``argv``'s imports go: ``python -X importtime``'s own time of each module (µs),
    summed per library (per subpackage for ``rnmail`` and ``cli``), the ``top`` largest."""
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=folder, env=env,
                          capture_output=True, text=True)
    spent: Counter[str] = Counter()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _cumulative, name = line.removeprefix("import time:").split("|")
        parts = name.strip().split(".")
        spent[".".join(parts[:2] if parts[0] in ("rnmail", "cli") else parts[:1])] += int(own)
    return [(spent.total(), "(all)"), *((us, name) for name, us in spent.most_common(top))]


def measure(runs: list[tuple[str, list[str], float | None]], rounds: int, folder: Path,
            env: dict[str, str]) -> dict[str, list[float]]:
    """Each run's wall times (ms) over ``rounds`` interleaved rounds, after a warm-up round."""
    times: dict[str, list[float]] = {label: [] for label, _argv, _target in runs}
    for round_number in range(rounds + 1):  # round 0 warms up, not counted
        for label, argv, _target in runs:
            elapsed = wall(argv, folder, env)
            if round_number:
                times[label].append(elapsed)
    return times


def report(title: str, runs: list[tuple[str, list[str], float | None]],
           times: dict[str, list[float]]) -> None:
    median = {label: statistics.median(values) for label, values in times.items()}
    interpreter = median[BASELINES[0][0]]
    orm = median[BASELINES[-1][0]]
    print(f"\n{title}: {len(times[BASELINES[0][0]])} runs each, wall ms; ratios to `python -c "
          f"pass` and to `import sqlalchemy.orm` of the same rounds")
    print(f"{'command':<36} {'median':>7} {'p90':>7} {'×pass':>6} {'×orm':>6}  target")
    for label, _argv, target in runs:
        verdict = "" if target is None else (
            f"< {target:.0f}: {'met' if median[label] < target else 'MISSED'}")
        print(f"{label:<36} {median[label]:7.0f} {p90(times[label]):7.0f} "
              f"{median[label] / interpreter:6.1f} {median[label] / orm:6.2f}  {verdict}")


def serve_commands(folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``rnmail serve-commands`` for the installation (what ``rnmail run`` keeps with
    ``[daemon].command_socket``), once its socket answers."""
    config = folder / "rnmail.toml"
    config.write_text(config.read_text() + '\n[daemon]\ncommand_socket = "commands.sock"\n')
    server = subprocess.Popen([*rnmail_command(), "serve-commands"], cwd=folder, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (folder / "commands.sock").exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("rnmail serve-commands did not start")
        time.sleep(0.05)
    # The socket is taken before the imports: one command waits until the server is ready.
    wall([*rnmail_command(), "status", "show", "--json"], folder, env)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--profile", action="store_true",
                        help="Also print where each command's imports go (-X importtime).")
    args = parser.parse_args()
    compile_as_installed()

    with tempfile.TemporaryDirectory(prefix="rnmail-bench-cli-") as tmp:
        folder = Path(tmp)
        env = install(folder)
        runs: list[tuple[str, list[str], float | None]] = [
            *((label, [sys.executable, "-c", code], None) for label, code in BASELINES),
            *((label, [*rnmail_command(), *argv], target) for label, argv, target in COMMANDS),
        ]
        report("Each command in a new process", runs, measure(runs, args.runs, folder, env))

        if args.profile:
            for label, argv, _target in runs[len(BASELINES):]:
                print(f"\n{label}: imports, ms of -X importtime (its own overhead included)")
                for spent, name in heaviest_imports(argv[1:] if argv[0] == sys.executable
                                                    else argv, folder, env, 10):
                    print(f"  {spent / 1000:7.1f}  {name}")

        server = serve_commands(folder, env)
        try:
            report("With the command server ([daemon].command_socket, `rnmail run`)", runs,
                   measure(runs, args.runs, folder, env))
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
