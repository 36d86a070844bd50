"""Which of fr/nl/de/en a text is written in, to answer in the requester's language."""

from __future__ import annotations

from functools import cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

_CODES = {
    Language.FRENCH: "fr",
    Language.DUTCH: "nl",
    Language.GERMAN: "de",
    Language.ENGLISH: "en",
}
MIN_LETTERS = 12
SAMPLE_CHARS = 200  # the opening of a request tells its language; more only costs time


@cache
def _detector() -> LanguageDetector:
    # Low-accuracy mode keeps the models to ~20 MB and is reliable on a sentence or more.
    return (
        LanguageDetectorBuilder.from_languages(*_CODES)
        .with_low_accuracy_mode()
        .with_minimum_relative_distance(0.1)
        .build()
    )


def detect_language(text: str, fallback: str) -> str:
    """The language code of ``text``, or ``fallback`` when it is too short or unclear."""
    sample = text[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return fallback
    found = _detector().detect_language_of(sample)
    return _CODES.get(found, fallback) if found is not None else fallback
