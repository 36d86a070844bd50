"""The language guess: the function-word vote decides clear texts, lingua the others, and
the vote never contradicts lingua on the help desk's kind of mail."""

from __future__ import annotations

import pytest

from rnmail.ingest.parse import Limits, parse_message
from rnmail.util import language
from rnmail.util.language import detect_language
from tests.harness.corpus import mixed_batch

CLEAR = [
    ("fr", "Demande de certificat\nBonjour, je voudrais obtenir un certificat de résidence "
           "pour mon fils. Pouvez-vous me dire ce que je dois faire ? Merci."),
    ("nl", "Aanvraag attest\nGoedendag, ik zou graag een attest van woonst voor mijn zoon "
           "krijgen. Wat moet ik daarvoor doen? Bedankt."),
    ("de", "Antrag auf Bescheinigung\nSehr geehrte Damen und Herren, ich möchte eine "
           "Meldebescheinigung für meinen Sohn beantragen. Was muss ich tun? Danke."),
    ("en", "Certificate request\nHello, I would like to get a certificate of residence for "
           "my son. Could you tell me what I have to do? Thank you."),
]


@pytest.mark.parametrize(("code", "text"), CLEAR)
def test_vote_decides_a_clear_text(code: str, text: str) -> None:
    assert language._vote(text[:language.SAMPLE_CHARS]) == code
    assert detect_language(text) == code


def test_mixed_text_goes_to_lingua() -> None:
    """An English report under a French subject: the accented words vote for French, too
    close to call, and lingua decides as it did before the vote."""
    text = ("Undeliverable: [RN #1] Clé d'accès bloquée\nYour message to "
            "info@police-zone.example couldn't be delivered.\ninfo@police-zone.example "
            "wasn't found at police-zone.example.")
    sample = text[:language.SAMPLE_CHARS]
    assert language._vote(sample) is None
    found = language._detector().detect_language_of(sample)
    assert found is not None
    assert detect_language(text) == language._CODES[found]


def test_few_function_words_go_to_lingua() -> None:
    text = "Wachtwoord geblokkeerd sinds gisteren, dringend"
    assert language._vote(text) is None
    assert detect_language(text) == "nl"


def test_too_short_gives_the_fallback() -> None:
    assert detect_language("Merci !") is None


def test_vote_agrees_with_lingua_on_the_corpus() -> None:
    limits = Limits(max_attachment_bytes=2**24, max_parts=1000, max_depth=20)
    decided = 0
    for raw in mixed_batch(400, seed=3):
        mail = parse_message(raw, limits)
        sample = f"{mail.subject}\n{mail.display_text}"[:language.SAMPLE_CHARS]
        voted = language._vote(sample)
        if voted is None:
            continue
        decided += 1
        found = language._detector().detect_language_of(sample)
        assert found is not None and language._CODES[found] == voted, sample
    assert decided > 300  # the vote does most of the work
