"""The one text form that grammar phrases and recognizer transcripts are compared in."""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'"})
_STRAY_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")


def normalize(text: str) -> str:
    """Return ``text`` in NFKC, casefolded, without punctuation, with single spaces.

    Punctuation and symbols become spaces, so ``"sales/billing"`` is two words. An
    apostrophe inside a word stays: recognizers spell English contractions such as
    ``don't`` as one word of their vocabulary.

    Digits are kept as written. Spelling them out in words depends on the language and
    belongs between the punctuation and the whitespace steps below.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _remove_punctuation(text)
    return " ".join(text.split())


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
