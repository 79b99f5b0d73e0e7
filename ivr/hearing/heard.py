"""What hearing is asked for and what it reports: the words of an utterance and when they came.

All times are positions in the call's audio stream, in seconds from its first frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ivr.hearing.endpointer import EndpointSettings


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    confidence: float
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True)
class Transcript:
    """The recognizer's words for the audio it was given (times from its first sample)."""

    words: tuple[Word, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)


@dataclass(frozen=True)
class Listening:
    """How to hear the next utterance: compiled once per menu (``ivr.flow.compiled``)."""

    grammar: str
    """The grammar's name (for logs and call records)."""
    vocabulary: tuple[str, ...]
    """The only words the recognizer may output."""
    endpointing: EndpointSettings
    early_decision: float = 0.0
    """How long a partial result must stand, with the caller silent as long, to end the
    utterance before the whole end-of-speech silence (0: never)."""
    decisive: Callable[[str], bool] = field(default=lambda words: False, compare=False)
    """Do these words (a partial result) name one intent beyond doubt? Only then may the
    early decision end the utterance."""


@dataclass(frozen=True)
class Heard:
    """One utterance: the recognizer's words and where the caller spoke."""

    words: tuple[Word, ...]
    """With their times as positions in the stream."""
    audio_start: float
    """Where the audio given to the recognizer starts (the pre-roll before the speech)."""
    speech_start: float
    """The start of the first voiced frame."""
    speech_end: float
    """The end of the last voiced frame."""
    ended: float
    """Where the utterance was ended: end-of-speech silence, max speech, or early decision."""
    voiced: float
    """Seconds of voiced frames in the utterance."""
    early: bool = False
    """Ended by the early decision."""

    @property
    def transcript(self) -> str:
        return " ".join(w.word for w in self.words)

    @property
    def scored_words(self) -> list[tuple[str, float]]:
        return [(w.word, w.confidence) for w in self.words]

    @classmethod
    def from_text(cls, text: str) -> Heard:
        """Words heard with full confidence and nothing else known (``simulate --say``)."""
        words = tuple(Word(word, 1.0) for word in text.split())
        return cls(words, 0.0, 0.0, 0.0, 0.0, 0.0)
