"""Where an utterance starts and ends, from per-frame voice decisions on the stream's clock.

Vosk's built-in endpoint fires about a second after speech ends (often never in noise), so
utterances are cut here: the caller's speech starts once ``onset`` worth of frames in a
window one frame longer are voiced (one unvoiced frame, say between a fricative and its
vowel, does not restart the count), and ends after ``end_of_speech`` without voice or once
it has lasted ``max_speech``. Times are positions in the audio stream, not the wall clock:
the same audio is cut the same way however late its frames arrive.
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass

from ivr.audio import FRAME_SECONDS


class Endpoint(enum.Enum):
    SPEECH_STARTED = "speech-started"
    SPEECH_ENDED = "speech-ended"


@dataclass(frozen=True)
class EndpointSettings:
    end_of_speech: float = 0.6
    max_speech: float = 10.0
    onset: float = 0.08

    @property
    def onset_frames(self) -> int:
        return max(1, round(self.onset / FRAME_SECONDS))


class Endpointer:
    """Feed it one voiced/unvoiced decision per frame, with the frame's end in the stream."""

    def __init__(self, settings: EndpointSettings) -> None:
        self.settings = settings
        self._recent: collections.deque[tuple[float, bool]] = collections.deque(
            maxlen=settings.onset_frames + 1
        )
        self.started_at: float | None = None
        """Where the speech began (the start of its first voiced frame), once confirmed."""
        self.last_voice: float | None = None
        """The end of the last voiced frame."""

    def feed(self, voiced: bool, at: float) -> Endpoint | None:
        """One frame's voice decision; ``at`` is where the frame ends in the stream."""
        if voiced:
            self.last_voice = at
        if self.started_at is not None:
            assert self.last_voice is not None
            if (
                at - self.last_voice >= self.settings.end_of_speech - 1e-9
                or at - self.started_at >= self.settings.max_speech - 1e-9
            ):
                self.started_at = None
                return Endpoint.SPEECH_ENDED
            return None
        self._recent.append((at, voiced))
        voiced_at = [end for end, was_voiced in self._recent if was_voiced]
        if len(voiced_at) >= self.settings.onset_frames:
            self.started_at = round(voiced_at[0] - FRAME_SECONDS, 6)
            self._recent.clear()
            return Endpoint.SPEECH_STARTED
        return None
