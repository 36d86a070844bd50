"""Which of fr/nl/de/en a text is written in, to answer in the requester's language.

Most requests say it in their first few words: a vote of the function words that belong to
one of the four languages only (``_vote``) decides those, and lingua, twenty times dearer,
the rest (few such words, or a mix).
"""

from __future__ import annotations

import re
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
# Frequent words of one language alone (not "de", "en", "in", "is", "die", "on"...).
_STOP_WORDS = {
    "fr": "le la les des du un une et est sont pour dans que qui pas vous nous je mon ma "
          "mes votre vos sur avec ce cette au aux bonjour merci madame monsieur ne plus "
          "mais ou par il elle suis ai avez",
    "nl": "het een van ik niet met voor op dat zijn mijn uw wij graag bedankt goedendag "
          "heb heeft kunt naar ook maar nog er bij te als wat deze dit geen wordt worden "
          "mevrouw meneer beste groeten",
    "de": "der das und ist nicht ich mit sie ein eine einen dem zu auf für von bitte "
          "danke ihr ihre mein meine wir haben habe wird sich auch noch aber oder bei aus "
          "nach sehr geehrte guten tag grüße",
    "en": "the and to of my you your for with it this that have please thank thanks "
          "hello dear not be are was can would could from our me at",
}
_VOTES = {word: code for code, words in _STOP_WORDS.items() for word in words.split()}
_WORD = re.compile(r"[^\W\d_]+")
# A word with one of these letters votes too: an English text under a French subject
# (a bounce of our own mail) is not clear enough for the vote.
_LETTERS = (("fr", frozenset("éèêàçùûôîœ")), ("de", frozenset("äöüß")))
MIN_VOTES = 4  # and at least VOTE_MARGIN times as many as the next language
VOTE_MARGIN = 3


@cache
def _detector() -> LanguageDetector:
    # Low-accuracy mode keeps the models to ~20 MB and is reliable on a sentence or more.
    return (
        LanguageDetectorBuilder.from_languages(*_CODES)
        .with_low_accuracy_mode()
        .with_minimum_relative_distance(0.1)
        .build()
    )


def detect_language(text: str) -> str | None:
    """The language code of ``text``, or None when it is too short or unclear."""
    sample = text[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return None
    voted = _vote(sample)
    if voted is not None:
        return voted
    found = _detector().detect_language_of(sample)
    return _CODES.get(found) if found is not None else None


def _vote(sample: str) -> str | None:
    """The language of the sample's function words when they leave no doubt, else None."""
    counts = dict.fromkeys(_STOP_WORDS, 0)
    for word in _WORD.findall(sample.lower()):
        code = _VOTES.get(word)
        if code is not None:
            counts[code] += 1
        elif not word.isascii():
            for code, letters in _LETTERS:
                if not letters.isdisjoint(word):
                    counts[code] += 1
    first, second = sorted(counts.items(), key=lambda item: item[1], reverse=True)[:2]
    if first[1] >= MIN_VOTES and first[1] >= VOTE_MARGIN * second[1]:
        return first[0]
    return None
