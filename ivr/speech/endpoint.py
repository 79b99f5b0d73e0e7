"""End-of-utterance detection from per-frame voice decisions, on an injected clock.

Vosk's built-in endpoint fires about a second after speech ends (often never in noise),
and some transports send nothing at all while the line is silent, so utterances are cut
here, by the wall clock: the caller's speech starts once ``onset`` worth of frames in a
window one frame longer are voiced (one unvoiced frame, say between a fricative and its
vowel, does not restart the count), and ends after ``end_of_speech`` without voice or
once it has lasted ``max_speech``.
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass


class Endpoint(enum.Enum):
    SPEECH_STARTED = "speech-started"
    SPEECH_ENDED = "speech-ended"


@dataclass(frozen=True)
class EndpointSettings:
    end_of_speech: float = 0.6
    max_speech: float = 10.0
    onset: float = 0.08
    early_decision: float = 0.0
    """How long a partial result must name one intent unambiguously to be taken (0: never)."""
    frame: float = 0.02
    """Duration of the frames ``feed`` is given."""

    @property
    def onset_frames(self) -> int:
        return max(1, round(self.onset / self.frame))


class Endpointer:
    """Feed it one voiced/unvoiced decision per audio frame, and ``poll`` it when frames stop."""

    def __init__(self, settings: EndpointSettings) -> None:
        self.settings = settings
        self._recent: collections.deque[tuple[float, bool]] = collections.deque(
            maxlen=settings.onset_frames + 1
        )
        self._started_at: float | None = None  # speech onset, once confirmed
        self._last_voice: float = 0.0

    @property
    def in_speech(self) -> bool:
        return self._started_at is not None

    @property
    def deadline(self) -> float | None:
        """When ``poll`` would end the utterance if no more voice came, or None outside speech."""
        if self._started_at is None:
            return None
        return min(
            self._last_voice + self.settings.end_of_speech,
            self._started_at + self.settings.max_speech,
        )

    def quiet_for(self, now: float) -> float:
        """How long the caller has been silent (0 while speaking)."""
        return max(0.0, now - self._last_voice)

    def feed(self, voiced: bool, now: float) -> Endpoint | None:
        """One frame's voice decision, stamped with the frame's time."""
        if voiced:
            self._last_voice = now
        if self._started_at is not None:
            return self.poll(now)
        self._recent.append((now, voiced))
        voiced_at = [at for at, was_voiced in self._recent if was_voiced]
        if len(voiced_at) >= self.settings.onset_frames:
            self._started_at = voiced_at[0]
            self._recent.clear()
            return Endpoint.SPEECH_STARTED
        return None

    def poll(self, now: float) -> Endpoint | None:
        deadline = self.deadline
        if deadline is not None and now >= deadline:
            self._started_at = None
            return Endpoint.SPEECH_ENDED
        return None
