"""End-of-utterance detection from per-frame voice decisions, on an injected clock.

Vosk's built-in endpoint fires about a second after speech ends (often never in noise),
and some transports send nothing at all while the line is silent, so utterances are cut
here, by the wall clock: the caller's speech starts after ``onset`` of continuous voice,
and ends after ``end_of_speech`` without voice or once it has lasted ``max_speech``.
"""

from __future__ import annotations

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


class Endpointer:
    """Feed it one voiced/unvoiced decision per audio frame, and ``poll`` it when frames stop."""

    def __init__(self, settings: EndpointSettings) -> None:
        self.settings = settings
        self._voiced_since: float | None = None  # start of the current run of voiced frames
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

    def feed(self, voiced: bool, now: float) -> Endpoint | None:
        if not voiced:
            self._voiced_since = None
            return self.poll(now)
        self._last_voice = now
        if self._started_at is not None:
            return self.poll(now)
        if self._voiced_since is None:
            self._voiced_since = now
        if now - self._voiced_since >= self.settings.onset:
            self._started_at = self._voiced_since
            return Endpoint.SPEECH_STARTED
        return None

    def poll(self, now: float) -> Endpoint | None:
        deadline = self.deadline
        if deadline is not None and now >= deadline:
            self._started_at = self._voiced_since = None
            return Endpoint.SPEECH_ENDED
        return None
