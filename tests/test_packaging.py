"""Installing rnmail is quiet and gives a complete package: building it (a wheel, as
``pip install .`` does, and an editable one, as ``pip install -e .`` does) prints none of
setuptools' "Package 'rnmail.templates.mail' is absent from the packages configuration"
warnings, and the wheel holds every file of rnmail/ and cli/ - the mail templates and the
gettext catalogues included, without which an installed rnmail cannot write a mail."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.harness.repo import copy_repo, repo_files

BUILD = """
import sys
from setuptools import build_meta
out = sys.argv[1]
names = [build_meta.build_wheel(out), build_meta.build_editable(out)]
open(out + "/built.txt", "w").write(" ".join(names))
"""


@pytest.mark.slow
def test_a_build_is_quiet_and_the_wheel_holds_the_templates_and_catalogues(
        tmp_path: Path) -> None:
    source = copy_repo(tmp_path / "src")
    dist = tmp_path / "dist"
    dist.mkdir()
    # The PEP 517 hooks pip calls, in this venv (setuptools and wheel come with .[dev]):
    # no build isolation, so no network.
    built = subprocess.run([sys.executable, "-c", BUILD, str(dist)], cwd=source,
                           capture_output=True, text=True, timeout=300)
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    assert "absent from the `packages` configuration" not in output, output
    assert "absent from" not in output

    wheel, _editable = (dist / "built.txt").read_text().split()
    with zipfile.ZipFile(dist / wheel) as zf:
        inside = set(zf.namelist())
    wanted = {name for name in repo_files() if name.startswith(("rnmail/", "cli/"))}
    assert wanted - inside == set(), "missing from the wheel"
    for name in ("rnmail/templates/mail/acknowledgement.fr.j2",
                 "rnmail/templates/mailings/circular.de.j2",
                 "rnmail/i18n/nl/LC_MESSAGES/rnmail.po",
                 "rnmail/i18n/nl/LC_MESSAGES/rnmail.mo",
                 "rnmail/migrations/script.py.mako"):
        assert name in inside
    assert not any("__pycache__" in name or name.startswith("tests/") for name in inside)
