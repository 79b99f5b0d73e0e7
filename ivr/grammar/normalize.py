"""The one text form that grammar phrases and recognizer transcripts are compared in."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence

from num2words import num2words

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'"})
_STRAY_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")


_NUMBER = re.compile(r"\d+")


def normalize(text: str, language: str | None = None) -> str:
    """Return ``text`` in NFKC, casefolded, without punctuation, with single spaces.

    Punctuation and symbols become spaces, so ``"sales/billing"`` is two words. An
    apostrophe inside a word stays: recognizers spell English contractions such as
    ``don't`` as one word of their vocabulary. With a ``language``, numbers are spelled out
    in it (``3번`` -> ``삼 번``, ``24 hours`` -> ``twenty-four hours``): recognizers output words.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    if language is not None:
        text = _NUMBER.sub(lambda number: f" {_spell(int(number.group()), language)} ", text)
    text = _remove_punctuation(text)
    return " ".join(text.split())


def _spell(number: int, language: str) -> str:
    try:
        return num2words(number, lang=language)
    except NotImplementedError:
        return str(number)


def expand_synonyms(phrase: str, synonyms: Mapping[str, Sequence[str]]) -> Iterator[str]:
    """The phrase and every variant with its words replaced by their synonyms."""
    options = [[word, *synonyms.get(word, ())] for word in phrase.split()]
    for combination in itertools.product(*options):
        yield " ".join(combination)


def _remove_punctuation(text: str) -> str:
    spaced = "".join(
        " " if unicodedata.category(char)[0] in "PS" and char != "'" else char
        for char in text.translate(_APOSTROPHES)
    )
    return _STRAY_APOSTROPHE.sub(" ", spaced)


def phrase_key(text: str) -> str:
    """The form phrases and transcripts are compared in: normalized, without spaces (Korean
    spacing varies). Phrases with equal keys are indistinguishable to the matcher."""
    return "".join(normalize(text).split())
