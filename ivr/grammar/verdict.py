"""The verdict on an answer: accept, confirm, reject, or listen on. The one place it is decided.

Live calls (the dialog engine), ``speech-ivr simulate`` and ``test-flow``, and the benchmarks
all call ``judge``: what was heard, a menu's matcher and its thresholds in, the verdict out.

A grammar-restricted recognizer hears any sound as grammar words, often with confidence 1.0,
so the matcher's score alone sends a caller asking about the weather to some department.
The score is therefore lowered by what casts doubt on it, kept because it measured best on
the accuracy benchmark's tuning corpus (``bench/accuracy.py --corpus tune``):

- the recognizer's own confidence in the words of the matched phrase (low on forced words);
- a runner-up intent scoring close to the best one (out-of-grammar speech comes out as words
  of several intents);
- speech that no recognized word accounts for: the recognizer forces out-of-grammar speech
  onto a word or two that cover little of it (on the tuning corpus this took false accepts
  from 5 % to 1 % and wrong intents from 9 % to 4 %, at the same share of right answers).

Measured and left out: a penalty per word outside the matched phrase (it sinks carrier
sentences, "환불 부탁합니다", as much as out-of-grammar ones), agreement among Vosk's n-best
alternatives, and agreement with a second decoding at 8 kHz (both as common on wrong and
out-of-grammar answers as on right ones).

The result stays on the matcher's 0-100 scale, so a menu's ``min_score`` (reject below) and
``confirm_below`` (confirm below) apply to it unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ivr.grammar.matcher import NO_MATCH, IntentMatcher, Match
from ivr.grammar.normalize import phrase_key
from ivr.hearing.heard import Heard


class Verdict(enum.Enum):
    ACCEPT = "accept"
    """Take the intent's route."""
    CONFIRM = "confirm"
    """Ask "did you say ...?" first."""
    REJECT = "reject"
    """Not understood: ask again."""
    LISTEN_ON = "listen-on"
    """No words at all (a cough, line noise the VAD took for voice): not an answer."""


@dataclass(frozen=True)
class Penalties:
    """Points taken off the matcher's score; the defaults come from the accuracy benchmark."""

    doubt: float = 40.0
    """Times (1 - the lowest confidence among the matched phrase's words)."""
    close_runner_up: float = 0.5
    """Per point the runner-up comes closer than ``margin`` to the best score."""
    margin: float = 20.0
    unexplained: float = 20.0
    """Per second of the caller's speech that no recognized word accounts for, beyond
    ``slack``: out-of-grammar speech is forced onto a word or two that cover little of it."""
    slack: float = 0.2


DEFAULT_PENALTIES = Penalties()


@dataclass(frozen=True)
class Policy:
    """A menu's thresholds (``Menu.min_score``, ``Menu.confirm_below``) and the penalties."""

    min_score: float
    confirm_below: float = 0.0
    penalties: Penalties = DEFAULT_PENALTIES


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    intent: str | None
    """The intent accepted or to confirm; None when rejected or not an answer."""
    score: float
    """The matcher's score less the doubt penalties (0-100)."""
    match: Match
    """The matcher's own result, before the penalties."""
    transcript: str


def judge(heard: Heard, matcher: IntentMatcher, policy: Policy) -> Judgement:
    """What to do with an answer heard in a menu."""
    transcript = heard.transcript
    if not heard.words:
        return Judgement(Verdict.LISTEN_ON, None, 0.0, NO_MATCH, transcript)
    match = matcher.match(transcript)
    score = doubtful_score(match, heard.scored_words, policy.penalties)
    if policy.penalties.unexplained:
        excess = max(0.0, unexplained_speech(heard) - policy.penalties.slack)
        score = max(0.0, score - policy.penalties.unexplained * excess)
    if match.intent is None or score < policy.min_score:
        return Judgement(Verdict.REJECT, None, score, match, transcript)
    verdict = Verdict.CONFIRM if score < policy.confirm_below else Verdict.ACCEPT
    return Judgement(verdict, match.intent, score, match, transcript)


def decisive(matcher: IntentMatcher, words: str) -> bool:
    """Do these words (a partial result, without confidences) name one intent beyond doubt:
    exactly one of its phrases, no other word, no runner-up close behind? Only then may the
    early decision end an utterance before the whole end-of-speech silence."""
    match = matcher.match(words)
    scored = [(word, 1.0) for word in words.split()]
    return match.intent is not None and doubtful_score(match, scored, DEFAULT_PENALTIES) >= 100


def unexplained_speech(heard: Heard) -> float:
    """Seconds between the start and the end of the caller's speech that no word covers."""
    start, end = heard.speech_start, heard.speech_end
    covered, reached = 0.0, start
    for word in sorted(heard.words, key=lambda w: w.start):
        begin, finish = max(word.start, reached), min(word.end, end)
        if finish > begin:
            covered += finish - begin
            reached = finish
    return max(0.0, end - start - covered)


def doubtful_score(match: Match, words: Sequence[tuple[str, float]], penalties: Penalties) -> float:
    """The match's score lowered by the evidence; ``words`` are the utterance's grammar words
    with the recognizer's confidence in each."""
    if match.intent is None or match.phrase is None:
        return match.score
    phrase = phrase_key(match.phrase)
    # Spacing varies ("기술 지원" for "기술지원"): a word is the phrase's if it is part of it.
    in_phrase = [phrase_key(word) in phrase for word, _ in words]
    confidences = [confidence for (_, confidence), inside in zip(words, in_phrase) if inside]
    doubt = 1.0 - min(confidences, default=0.0)
    close = max(0.0, penalties.margin - (match.score - match.runner_up_score))
    score = match.score - penalties.doubt * doubt - penalties.close_runner_up * close
    return max(0.0, min(100.0, score))


