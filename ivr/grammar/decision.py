"""How sure is a match? The matcher's score, lowered by what casts doubt on it.

A grammar-restricted recognizer hears any sound as grammar words, often with confidence 1.0,
so the matcher's score alone sends a caller asking about the weather to some department.
The evidence that a match is doubtful, kept because it measured best on the accuracy
benchmark (``bench/accuracy.py --replay`` sweeps it), is:

- the recognizer's own confidence in the words of the matched phrase (low on forced words);
- a runner-up intent scoring close to the best one (out-of-grammar speech comes out as words
  of several intents: the median margin is 2 points for it, 67 for right answers).

Measured and left out: a penalty per word outside the matched phrase (it sinks carrier
sentences, "환불 부탁합니다", as much as out-of-grammar ones), agreement among Vosk's n-best
alternatives, and agreement with a second decoding at 8 kHz (both as common on wrong and
out-of-grammar answers as on right ones).

The result stays on the matcher's 0-100 scale, so a menu's ``min_score`` (reject below) and
``confirm_below`` (confirm below) apply to it unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from ivr.grammar.matcher import Match
from ivr.grammar.normalize import phrase_key


@dataclass(frozen=True)
class Penalties:
    """Points taken off the matcher's score; the defaults come from the accuracy benchmark."""

    doubt: float = 40.0
    """Times (1 - the lowest confidence among the matched phrase's words)."""
    close_runner_up: float = 0.5
    """Per point the runner-up comes closer than ``margin`` to the best score."""
    margin: float = 20.0


DEFAULT_PENALTIES = Penalties()


def judge(match: Match, words: Sequence[tuple[str, float]], penalties: Penalties = DEFAULT_PENALTIES) -> Match:
    """The match with its score lowered by the evidence; ``words`` are the utterance's
    grammar words with the recognizer's confidence in each."""
    if match.intent is None or match.phrase is None:
        return match
    phrase = phrase_key(match.phrase)
    # Spacing varies ("기술 지원" for "기술지원"): a word is the phrase's if it is part of it.
    in_phrase = [phrase_key(word) in phrase for word, _ in words]
    confidences = [confidence for (_, confidence), inside in zip(words, in_phrase) if inside]
    doubt = 1.0 - min(confidences, default=0.0)
    close = max(0.0, penalties.margin - (match.score - match.runner_up_score))
    score = (
        match.score
        - penalties.doubt * doubt
        - penalties.close_runner_up * close
    )
    return dataclasses.replace(match, score=max(0.0, min(100.0, score)))
