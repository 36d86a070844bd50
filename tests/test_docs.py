"""The documentation: links that lead somewhere, an audience for each guide, a fresh docs/cli.md."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
# The hand-written guides, each opening with who it is for (docs/configuration.md is
# generated from the config schema by its own script, docs/cli.md by scripts/gen-docs).
GUIDES = ["architecture", "helpdesk", "operations", "installation", "guarantees",
          "development", "performance", "cli"]

LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked out."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation but - and _
    dropped, each space a '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, duplicates numbered as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = anchor(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    targets = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        line = re.sub(r"`[^`]*`", lambda m: "" if "](" not in m.group(0) else m.group(0), line)
        targets.extend(LINK.findall(line))
    return targets


def test_the_anchor_rules() -> None:
    assert anchor("Staff and second-line mail") == "staff-and-second-line-mail"
    assert anchor("Loop protection (RFC 3834)") == "loop-protection-rfc-3834"
    assert (anchor("`rnmail web [--bind HOST:PORT] [--admin-bind HOST:PORT]`")
            == "rnmail-web---bind-hostport---admin-bind-hostport")
    assert anchor("The public site (`rnmail web`)") == "the-public-site-rnmail-web"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_a_file_and_a_heading(doc: Path) -> None:
    problems = []
    for target in links(doc):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, file: ...
            continue
        file_part, _, fragment = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            problems.append(f"{target}: no file {dest.relative_to(ROOT)}")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            problems.append(f"{target}: no heading #{fragment} in {dest.relative_to(ROOT)}")
    assert not problems, f"{doc.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", GUIDES)
def test_each_guide_says_first_who_it_is_for(name: str) -> None:
    text = (ROOT / "docs" / f"{name}.md").read_text(encoding="utf-8")
    title, blank, first, *_ = text.splitlines()
    assert title.startswith("# ") and blank == ""
    assert first.startswith("For "), f"docs/{name}.md: the first paragraph says who it is for"


def test_the_readme_is_short_and_maps_the_docs() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    for name in GUIDES:
        assert f"docs/{name}.md" in text


def test_cli_md_is_what_gen_docs_writes() -> None:
    render = runpy.run_path(str(ROOT / "scripts" / "gen-docs"))["render"]
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render(), "docs/cli.md is stale: run scripts/gen-docs"


SOURCE_PATH = re.compile(r"`((?:rnmail|cli|tests|bench|scripts)/[\w./-]*)`")
MODULE = re.compile(r"`(rnmail(?:\.\w+)+)`")
FILE_NAMES = {"db", "env", "lock", "mo", "po", "pot", "service", "toml"}  # rnmail.toml is a file


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_paths_and_modules_named_in_the_docs_exist(doc: Path) -> None:
    """A file, folder or module the docs name in code spans is in the tree: a move that
    leaves the docs behind fails here."""
    text = doc.read_text(encoding="utf-8")
    missing = [p for p in SOURCE_PATH.findall(text)
               if not (ROOT / p.rstrip("/")).exists() and "*" not in p]
    for dotted in MODULE.findall(text):
        parts = dotted.split(".")
        if len(parts) == 2 and parts[1] in FILE_NAMES:
            continue
        # the longest prefix that is a module or package; the rest are attributes
        if not any((ROOT.joinpath(*parts[:n]).with_suffix(".py")).is_file()
                   or (ROOT.joinpath(*parts[:n]) / "__init__.py").is_file()
                   for n in range(2, len(parts) + 1)):
            missing.append(dotted)
    assert missing == []
