"""The newcomer's path, run as written: the README's "Quick start" and docs/helpdesk.md's "A
day at the help desk" shell blocks, in a fresh copy of the repository, with a shell that has
no ``rnmail`` on its PATH and no ``RNMAIL_CONFIG``: what the documentation tells a newcomer
to type is all the test types.

What it substitutes, and only that:
- ``.venv``: the copy's ``.venv`` borrows the venv running the tests (its ``bin`` and
  ``lib`` linked, a ``pyvenv.cfg`` copied, scripts/run's "installed" stamp set), so that
  ``scripts/run`` neither creates a venv nor reinstalls rnmail;
- ``scripts/run`` starts the daemon until Ctrl-C: it runs as written until both sample
  requests are tickets with their acknowledgement in ``var/outgoing``, then gets Ctrl-C
  (SIGINT);
- ``scripts/test`` is not run: it is this test suite.
Every other line of those blocks runs as written, in one bash (``set -eo pipefail``), in
order; the test then checks what they must have done.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from rnmail.config import load_config
from tests.harness.repo import copy_repo

QUICK_START_FIRST_BLOCK = ["scripts/run", "scripts/test"]


def section(markdown: str, heading: str) -> str:
    """The text of the ``## heading`` section, its subsections included."""
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:end if end != -1 else len(markdown)]


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", text, flags=re.S | re.M)


def command_lines(block: str) -> list[str]:
    """The block's commands, without comments, continuation lines joined."""
    joined = block.replace("\\\n", " ")
    return [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def borrow_venv(repo: Path) -> None:
    """The copy's .venv: the tests' venv under another name, marked installed for scripts/run."""
    real = Path(sys.prefix)
    venv = repo / ".venv"
    venv.mkdir()
    shutil.copy2(real / "pyvenv.cfg", venv / "pyvenv.cfg")
    for name in ("bin", "lib", "lib64", "include"):
        if (real / name).exists():
            (venv / name).symlink_to(real / name)
    (venv / ".rnmail-installed").touch()  # newer than the copied setup.cfg and pyproject.toml


def newcomer_env() -> dict[str, str]:
    """A login shell's environment: no venv on the PATH, no RNMAIL_CONFIG, no PYTHONPATH."""
    venv_bin = str(Path(sys.prefix) / "bin")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RNMAIL_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(path or ["/usr/bin", "/bin"])
    return env


def written(repo: Path, to: str) -> list[str]:
    """The text of each mail the file transport wrote to ``to``."""
    texts = []
    for path in (repo / "var/outgoing").glob(f"*-{to}.eml"):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(mail, EmailMessage)
        body = mail.get_body(preferencelist=("plain",))
        texts.append(body.get_content() if isinstance(body, EmailMessage) else "")
    return texts


def run_scripts_run(repo: Path, env: dict[str, str]) -> str:
    """``scripts/run`` as written, until the two samples are acknowledged; then Ctrl-C."""
    log = repo / "scripts-run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["scripts/run"], cwd=repo, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                if len(list((repo / "var/outgoing").glob("*.eml"))) >= 2:
                    break
                time.sleep(0.3)
            assert proc.poll() is None, f"scripts/run stopped:\n{log.read_text()}"
            assert len(list((repo / "var/outgoing").glob("*.eml"))) >= 2, log.read_text()
            time.sleep(0.5)  # the daemon records what it sent
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    output = log.read_text()
    assert proc.returncode in (0, 130, -signal.SIGINT), output
    return output


@pytest.mark.slow
def test_the_quick_start_and_a_day_at_the_help_desk_run_as_written(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "rnmail")
    readme = section((repo / "README.md").read_text(), "Quick start")
    day = section((repo / "docs/helpdesk.md").read_text(), "A day at the help desk")
    first, *rest = shell_blocks(readme)
    assert command_lines(first) == QUICK_START_FIRST_BLOCK, "update the substitutions above"
    assert rest and shell_blocks(day)
    borrow_venv(repo)
    env = newcomer_env()
    assert subprocess.run(["bash", "-c", "command -v rnmail"], env=env,
                          capture_output=True).returncode != 0, "rnmail already on the PATH"

    started = run_scripts_run(repo, env)
    assert "sample request dropped: var/maildir/new/fr-citoyen-cle-acces-bloquee.eml" in started

    script = ["set -eo pipefail",
              "trap 'echo \"FAILED: $BASH_COMMAND\" >&2' ERR"]
    for number, block in enumerate([*rest, *shell_blocks(day)]):
        script += [f"echo '=== block {number}'", block]
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output

    blocks = done.stdout.split("=== block ")
    quick = blocks[1]  # ticket list, ticket show 1, outbox list --json
    assert "Ma clé d'accès est bloquée" in quick and "jean.dupont@citizen.example" in quick
    outbox = json.loads(quick[quick.index("\n["):])
    assert {row["to"] for row in outbox} >= {"jean.dupont@citizen.example"}
    assert "staff marie.lambert@rn.example (Marie Lambert, fr) added" in output
    # The reply to the notification reached Jean and closed ticket 1.
    shown = output[output.rindex("#1 ["):]
    assert shown.startswith("#1 [closed]")
    assert "Bonjour, votre clé d'accès est débloquée." in shown
    answers = [text for text in written(repo, "jean.dupont@citizen.example")
               if "Vous pouvez vous reconnecter" in text]
    assert len(answers) == 1
    # The phone call logged, the message for Jan queued.
    assert "message for jan.peeters@rn.example queued" in output
    # Everything the quick start wrote is in var/, nothing next to the example config.
    assert sorted(p.name for p in (repo / "examples").iterdir()) == ["mail", "rnmail.toml"]


def test_every_path_of_the_example_config_is_in_var(tmp_path: Path) -> None:
    """examples/rnmail.toml resolves its paths against its own folder: each one it writes to
    must land in the repository's var/ (the FAQ pages were in examples/var/public)."""
    repo = copy_repo(tmp_path / "rnmail")
    (repo / "var").mkdir()
    (repo / "var/secret").write_text(secrets.token_urlsafe(32) + "\n")
    (repo / "var/secret").chmod(0o600)
    config = load_config(repo / "examples/rnmail.toml")

    found: dict[str, Path] = {}

    def walk(value: object, where: str) -> None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name), f"{where}.{f.name}")
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")
        elif isinstance(value, Path):
            found[where] = value
        elif isinstance(value, str) and value.startswith("sqlite:///"):
            found[where] = Path(value.removeprefix("sqlite:///"))

    walk(config, "config")
    found.pop("config.path")
    assert found["config.helpdesk.public_dir"] == repo / "var/public"
    var, lists = (repo / "var").resolve(), (repo / "lists").resolve()
    for where, path in found.items():
        if where == "config.dispatch.lists_dir":
            assert path == lists  # read, never written
        else:
            assert path.resolve().is_relative_to(var), f"{where}: {path}"

