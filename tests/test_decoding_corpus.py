"""Real-world mail decoded right: a corpus of mislabelled charsets, raw 8-bit headers, broken
header blocks, several inline text parts, tricky senders and CPython's own samples
(tests/data/decoding/, built by its build_corpus.py; manifest.json says what a reader sees).

Every message must be parsed or quarantined with a reason (no crash, nothing lost), and the
sender, subject and body must be right on at least 97 % of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rnmail.errors import Quarantine
from rnmail.ingest.parse import Limits, parse_message
from tests.harness.servers import Dovecot, SmtpServer

DATA = Path(__file__).parent / "data" / "decoding"
MANIFEST: list[dict[str, str]] = json.loads((DATA / "manifest.json").read_text("utf-8"))
LIMITS = Limits(max_attachment_bytes=25 * 2**20)


def _check(entry: dict[str, str]) -> str | None:
    """What is wrong with how rnmail reads this message (None: all right)."""
    raw = (DATA / entry["file"]).read_bytes()
    try:
        mail = parse_message(raw, LIMITS)
    except Quarantine as exc:
        if not exc.reason:
            return "quarantined without a reason"
        return None if entry["outcome"] == "quarantined" else f"quarantined: {exc.reason}"
    if entry["outcome"] == "quarantined":
        return "stored, but it is not a message"
    wrong = []
    if mail.from_addr != entry["sender"]:
        wrong.append(f"sender {mail.from_addr!r} != {entry['sender']!r}")
    if mail.subject != entry["subject"]:
        wrong.append(f"subject {mail.subject!r} != {entry['subject']!r}")
    if entry["body"] not in mail.text:
        wrong.append(f"body {mail.text[:120]!r} lacks {entry['body']!r}")
    if "\x1b" in mail.text or "\x1b" in mail.subject:
        wrong.append("raw ISO-2022 escape sequences kept")
    return "; ".join(wrong) or None


def test_the_corpus_is_big_enough_and_covers_every_class() -> None:
    assert len(MANIFEST) >= 60
    classes = {e["class"] for e in MANIFEST}
    assert {"mislabelled gb2312", "iso-2022-jp extensions", "iso-2022-jp undeclared",
            "whatwg alias", "declared charset fails", "raw 8-bit header",
            "broken header block", "inline parts", "sender", "cpython test_email"} <= classes


def test_sender_subject_and_body_right_on_97_percent() -> None:
    failures: dict[str, str] = {}
    for entry in MANIFEST:
        try:
            problem = _check(entry)
        except Exception as exc:  # a crash: the pipeline would quarantine it as internal
            problem = f"crash {type(exc).__name__}: {exc}"
        if problem:
            failures[entry["file"]] = problem
    crashes = {k: v for k, v in failures.items() if v.startswith("crash")}
    assert not crashes
    ratio = 1 - len(failures) / len(MANIFEST)
    listing = "\n".join(f"{name}: {problem}" for name, problem in sorted(failures.items()))
    assert ratio >= 0.97, f"{ratio:.1%} right; wrong:\n{listing}"


@pytest.mark.parametrize("entry", [e for e in MANIFEST if e["class"] != "cpython test_email"],
                         ids=lambda e: e["file"])
def test_each_shape(entry: dict[str, Any]) -> None:
    assert _check(entry) is None


@pytest.mark.slow
def test_the_whole_corpus_through_the_pipeline_loses_nothing(
        tmp_path: Path, db_url: str, imap: Dovecot, smtp_server: SmtpServer) -> None:
    from rnmail.ingest.quarantine import list_quarantine
    from tests.harness.factories import Desk, make_config

    desk = Desk(make_config(tmp_path, db_url, imap, smtp_server))
    try:
        for entry in MANIFEST:
            imap.append("info", (DATA / entry["file"]).read_bytes())
        outcomes = desk.ingest().outcomes
        assert sum(outcomes.values()) == len(MANIFEST), outcomes
        expected = sum(e["outcome"] == "quarantined" for e in MANIFEST)
        held = list_quarantine(desk.db)
        assert len(held) == outcomes.get("quarantined", 0) == expected
        assert all(q["reason"] and not q["reason"].startswith("internal error") for q in held)
    finally:
        desk.close()
