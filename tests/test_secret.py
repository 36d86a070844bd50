"""``[helpdesk].secret``: rnmail does not start with a secret anyone could know or guess
(empty, short, regular, or any value published in its repository), reads it from a
``secret_file``, and ``rnmail doctor`` says how well it and the stores are kept."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest

from rnmail.config import PUBLISHED_SECRETS, load_config, secret_strength
from rnmail.errors import ConfigError
from tests.harness.factories import TEST_SECRET, write_config
from tests.harness.install import rnmail

ROOT = Path(__file__).resolve().parent.parent


def config_with(tmp_path: Path, line: str) -> Path:
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db")
    path.write_text(path.read_text().replace(f'secret = "{TEST_SECRET}"', line))
    return path


WEAK = [
    "", " ", "change-me", "test-secret", "s3cret", "s", "secret",
    "correct horse battery staple",  # a phrase, 28 characters
    "a" * 64, "0" * 64, "ab" * 40, "0123456789abcdef" * 4,  # long but regular
    secrets.token_hex(31),  # 62 hex digits: 248 bits
    secrets.token_urlsafe(31)[:42],  # 42 base64 characters: 252 bits
    "Passw0rd!" * 6,
]


# ids by index: some values are random, and xdist workers must collect the same names
@pytest.mark.parametrize("value", WEAK, ids=[f"weak-{i}" for i in range(len(WEAK))])
def test_a_weak_secret_stops_rnmail_naming_the_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=re.escape("[helpdesk].secret")):
        load_config(config_with(tmp_path, f'secret = "{value}"'))


def test_every_secret_written_in_the_repository_is_refused(tmp_path: Path) -> None:
    """Whatever their strength: every quoted value given to a secret key anywhere in the
    repository (docs, examples, benches, scripts) is known to the world."""
    found: set[str] = set()
    pattern = re.compile(r"""(?:\bsecret\s*=\s*|"secret"\s*:\s*|secret=)["']([^"'{}]+)["']""")
    for path in ROOT.rglob("*"):
        if not path.is_file() or any(part in (".git", ".venv", "node_modules") or
                                     part.startswith(".") for part in path.parts[len(
                                         ROOT.parts):-1]):
            continue
        if path.suffix not in (".py", ".toml", ".md", ".j2", ".txt", ".cfg", ".sh", "") \
                or path.stat().st_size > 1_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found.update(match.group(1) for match in pattern.finditer(text))
    found.discard(TEST_SECRET)
    assert {"change-me"} <= found
    for value in sorted(found):
        with pytest.raises(ConfigError, match=re.escape("[helpdesk].secret")):
            load_config(config_with(tmp_path, f'secret = "{value}"'))


def test_a_long_published_secret_is_refused_by_its_hash(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    import hashlib

    import rnmail.config as config_module

    strong = secrets.token_urlsafe(32)
    load_config(config_with(tmp_path, f'secret = "{strong}"'))  # strong: accepted
    monkeypatch.setattr(config_module, "PUBLISHED_SECRETS", PUBLISHED_SECRETS | {
        hashlib.sha256(strong.encode()).hexdigest()})
    with pytest.raises(ConfigError, match=r"\[helpdesk\]\.secret: this value is published"):
        load_config(config_with(tmp_path, f'secret = "{strong}"'))


@pytest.mark.parametrize("make", [
    lambda: secrets.token_urlsafe(32), lambda: secrets.token_hex(32),
    lambda: __import__("base64").b64encode(secrets.token_bytes(32)).decode(),  # openssl
])
def test_a_random_key_of_32_bytes_is_accepted(tmp_path: Path, make: object) -> None:
    assert callable(make)
    for _ in range(20):
        value = make()
        assert secret_strength(value) >= 256, value
        assert load_config(config_with(tmp_path, f'secret = "{value}"')).helpdesk.secret \
            == value


def test_the_secret_from_a_file_and_its_mistakes(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    key = secrets.token_urlsafe(32)
    (tmp_path / "secret").write_text(key + "\n")
    path = config_with(tmp_path, 'secret_file = "secret"')  # relative to the config
    assert load_config(path).helpdesk.secret == key
    (tmp_path / "secret").write_text("change-me\n")
    with pytest.raises(ConfigError, match=r"\[helpdesk\]\.secret: "):
        load_config(path)
    (tmp_path / "secret").unlink()
    with pytest.raises(ConfigError, match=r"\[helpdesk\]\.secret_file: cannot read"):
        load_config(path)
    both = config_with(tmp_path, f'secret = "{key}"\nsecret_file = "secret"')
    with pytest.raises(ConfigError, match="either secret or secret_file"):
        load_config(both)
    monkeypatch.setenv("RN_KEY", "change-me")
    with pytest.raises(ConfigError, match=r"\[helpdesk\]\.secret: this value is published"):
        load_config(config_with(tmp_path, 'secret_env = "RN_KEY"'))


def test_rnmail_refuses_to_start_with_the_example_secret(tmp_path: Path) -> None:
    path = config_with(tmp_path, 'secret = "change-me"')
    for command in (("init",), ("ticket", "list"), ("web",), ("run",)):
        code, _out, err = rnmail(path, *command)
        assert code == 1 and "[helpdesk].secret" in err, (command, err)
        assert "Traceback" not in err


def test_scripts_run_generates_a_private_secret_once(tmp_path: Path) -> None:
    """The part of scripts/run that makes var/secret, run as written (the rest of the
    script installs a venv: not here)."""
    script = (ROOT / "scripts" / "run").read_text()
    block = script[script.index("secret_file=var/secret"):script.index("# --- the main job")]
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(os.path.realpath(
        __import__("sys").executable))
    for _ in range(2):
        subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, check=True,
                       capture_output=True)
        if _ == 0:
            first = (tmp_path / "var" / "secret").read_text()
    secret_file = tmp_path / "var" / "secret"
    assert secret_file.read_text() == first  # kept
    assert secret_file.stat().st_mode & 0o077 == 0
    assert secret_strength(first.strip()) >= 256
    example = (ROOT / "examples" / "rnmail.toml").read_text()
    assert 'secret_file = "../var/secret"' in example and "change-me" not in example


def test_doctor_reports_the_secret_and_readable_stores(tmp_path: Path) -> None:
    key = secrets.token_urlsafe(32)
    (tmp_path / "secret").write_text(key + "\n")
    (tmp_path / "secret").chmod(0o644)
    path = config_with(tmp_path, 'secret_file = "secret"')
    assert rnmail(path, "init").code == 0
    (tmp_path / "attachments").mkdir(exist_ok=True)
    (tmp_path / "attachments").chmod(0o755)
    (tmp_path / "rnmail.db").chmod(0o644)
    _code, out, _err = rnmail(path, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out)}
    assert "warning" in checks["secret"]["detail"]
    assert str(tmp_path / "secret") in checks["secret"]["detail"]
    assert "warning" in checks["permissions"]["detail"]
    assert str(tmp_path / "rnmail.db") in checks["permissions"]["detail"]
    assert str(tmp_path / "attachments") in checks["permissions"]["detail"]
    for private in (tmp_path / "secret", tmp_path / "rnmail.db", tmp_path / "attachments",
                    tmp_path):
        private.chmod(0o700 if private.is_dir() else 0o600)
    _code, out, _err = rnmail(path, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out)}
    assert "warning" not in checks["secret"]["detail"], checks["secret"]
    assert "warning" not in checks["permissions"]["detail"], checks["permissions"]


def test_doctor_refuses_plain_cookies_on_a_public_admin_bind(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/rnmail.db", extra="""
[web]
admin_bind = "0.0.0.0:8081"
secure_cookies = false
""")
    assert rnmail(path, "init").code == 0
    _code, out, _err = rnmail(path, "doctor", "--json")
    [admin] = [c for c in json.loads(out) if c["name"] == "web admin"]
    assert not admin["ok"] and "secure_cookies = false" in admin["detail"]
