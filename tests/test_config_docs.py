"""docs/configuration.md is generated from the declarations of rnmail.config and kept current."""

from __future__ import annotations

import secrets
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from rnmail.config import Config, load_config, parse_config
from rnmail.config.reference import config_reference_markdown
from rnmail.config.schema import KEY, Key, sections

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = [(toml, cls) for _attr, toml, cls, _array in sections(Config)]


def test_the_reference_is_current() -> None:
    written = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert written == config_reference_markdown(), (
        "docs/configuration.md is out of date: run "
        "`python -m rnmail.config --markdown > docs/configuration.md`")


@pytest.mark.parametrize(("toml", "cls"), SECTIONS, ids=[toml for toml, _cls in SECTIONS])
def test_every_key_and_section_is_documented(toml: str, cls: type) -> None:
    own = cls.__doc__ or ""
    assert own.strip() and not own.startswith(f"{cls.__name__}("), f"[{toml}] has no docstring"
    for f in fields(cls):
        spec = f.metadata.get(KEY)
        assert isinstance(spec, Key), f"[{toml}].{f.name} is not declared with key()"
        assert spec.doc.strip(), f"[{toml}].{f.name} has no doc"
        assert "\n" not in spec.doc, f"[{toml}].{f.name}: the doc is one line"


def test_every_section_is_in_the_reference() -> None:
    text = config_reference_markdown()
    for toml, cls in SECTIONS:
        assert f"`[{toml}]`" in text or f"`[[{toml}]]`" in text
        for f in fields(cls):
            spec: Key = f.metadata[KEY]
            if spec.in_file:
                assert f"| `{spec.name or f.name}`" in text, (toml, f.name)


def test_the_example_config_loads(tmp_path: Path) -> None:
    example = ROOT / "examples" / "rnmail.toml"
    raw = tomllib.loads(example.read_text(encoding="utf-8"))
    assert raw["helpdesk"]["secret_file"] == "../var/secret"  # made by scripts/run
    (tmp_path / "secret").write_text(secrets.token_urlsafe(32) + "\n")
    raw["helpdesk"]["secret_file"] = str(tmp_path / "secret")
    config = parse_config(raw, example)
    assert config.mailbox("info").type == "maildir"
    assert config.smtp.transport == "file"
    assert config.dispatch.lists_dir == ROOT / "lists"


def test_the_example_in_the_reference_works_as_written(tmp_path: Path) -> None:
    """The shape docs/configuration.md shows loads, its secret read from the file it names
    (here a private copy with a random secret)."""
    import re

    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", doc, re.DOTALL)
    assert example
    secret = tmp_path / "secret"
    secret.write_text(secrets.token_urlsafe(32) + "\n")
    secret.chmod(0o600)
    text = example.group(1).replace('"/etc/rnmail/secret"', f'"{secret}"')
    path = tmp_path / "rnmail.toml"
    path.write_text(text)
    config = load_config(path)
    assert config.helpdesk.address == "info@rn.example"
    assert [m.name for m in config.mailboxes] == ["info"]
