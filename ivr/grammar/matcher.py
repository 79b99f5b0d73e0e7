"""Map a transcript to the grammar intent it most likely names.

In grammar mode Vosk loops over the grammar's words, so a transcript is any sequence of
them ("구매 문의 요금", "요금 요금", or nothing): words outside the grammar never appear, but
a caller's filler words come out as grammar words. Scoring therefore asks two questions of
each phrase, both with rapidfuzz on the normalized text with its spaces removed (so
"기술지원" and "기술 지원" compare equal, which Korean spacing needs):

* was the phrase said? ``fuzz.partial_ratio``, the similarity of the phrase to its best
  aligned window of the transcript: 100 when the phrase appears anywhere in it. When the
  transcript is shorter than the phrase it can hold only part of it, and the plain
  ``fuzz.ratio`` is used instead, so "지원" alone is not taken for "고객 지원".
* how much of the transcript does it explain? ``fuzz.ratio`` of phrase and transcript.

A phrase scores ``0.8 * said + 0.2 * explains`` (0 to 100): a phrase said exactly scores
100, a phrase said among other words at least 80, and when two intents' phrases were both
said, the one covering more of the transcript wins. An intent scores as its best phrase;
ties go to the intent that comes first in the grammar, then to its first such phrase.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz import fuzz

from ivr.grammar.normalize import normalize, phrase_key

if TYPE_CHECKING:
    from ivr.grammar.intents import Grammar

SAID_WEIGHT = 0.8
"""Share of the score for the phrase being said; the rest rewards covering the transcript."""


@dataclass(frozen=True)
class Match:
    """The best intent for a transcript (None if nothing matched) and the best other one."""

    intent: str | None
    score: float
    phrase: str | None
    """The grammar phrase, as written, that gave the score."""
    runner_up: str | None
    runner_up_score: float


NO_MATCH = Match(intent=None, score=0.0, phrase=None, runner_up=None, runner_up_score=0.0)


@dataclass(frozen=True)
class _Phrase:
    intent: str
    text: str
    key: str


class IntentMatcher:
    """Scores transcripts against the phrases of each intent (see the module docstring)."""

    def __init__(self, intents: Mapping[str, Iterable[str]]) -> None:
        self._phrases = tuple(
            _Phrase(intent, text, phrase_key(text))
            for intent, phrases in intents.items()
            for text in phrases
        )
        self._vocabulary = tuple(
            sorted({word for phrase in self._phrases for word in normalize(phrase.text).split()})
        )

    @classmethod
    def from_grammar(cls, grammar: Grammar) -> IntentMatcher:
        """Its phrases with numbers spelled out and synonyms expanded."""
        return cls(grammar.expanded())

    @property
    def vocabulary(self) -> list[str]:
        """The distinct normalized words of all phrases, sorted: Vosk's grammar word list."""
        return list(self._vocabulary)

    def match(self, transcript: str) -> Match:
        said = phrase_key(transcript)
        if not said:
            return NO_MATCH
        best: dict[str, tuple[float, _Phrase]] = {}
        for phrase in self._phrases:
            score = _score(phrase.key, said)
            current = best.get(phrase.intent)
            if score > 0 and (current is None or score > current[0]):
                best[phrase.intent] = (score, phrase)
        ranked = sorted(best.values(), key=lambda scored: -scored[0])  # stable: grammar order
        if not ranked:
            return NO_MATCH
        score, phrase = ranked[0]
        runner_up_score, runner_up = ranked[1] if len(ranked) > 1 else (0.0, None)
        return Match(
            intent=phrase.intent,
            score=score,
            phrase=phrase.text,
            runner_up=runner_up.intent if runner_up else None,
            runner_up_score=runner_up_score,
        )


def _score(phrase: str, transcript: str) -> float:
    explains = fuzz.ratio(phrase, transcript)
    said = fuzz.partial_ratio(phrase, transcript) if len(phrase) <= len(transcript) else explains
    return SAID_WEIGHT * said + (1 - SAID_WEIGHT) * explains
