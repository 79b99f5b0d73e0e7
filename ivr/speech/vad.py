"""Voice activity per 20 ms frame (WebRTC's VAD), over a byte stream cut into frames."""

from __future__ import annotations

import collections
import math
from collections.abc import Iterator

import numpy as np
import webrtcvad

from ivr.speech.recognizer import SAMPLE_RATE

FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * 2 * FRAME_MS // 1000  # 640: 20 ms of 16 kHz 16-bit mono


class Framer:
    """Cut a PCM byte stream into whole 20 ms frames; transports do not promise frame boundaries."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def push(self, data: bytes) -> Iterator[bytes]:
        self._pending += data
        whole = len(self._pending) - len(self._pending) % FRAME_BYTES
        for offset in range(0, whole, FRAME_BYTES):
            yield bytes(self._pending[offset : offset + FRAME_BYTES])
        del self._pending[:whole]


class VoiceDetector:
    """Is this 20 ms frame speech? WebRTC's VAD (aggressiveness 0, keeps most, to 3, drops most
    non-speech), then a level gate: the frame must also stand ``margin_db`` above the line's
    noise floor, the quietest frame of the last ``window`` frames. WebRTC's VAD takes steady
    babble or hum for voice, and on such a line an utterance would never end (the endpointer
    would wait for ``max_speech``); the gate changes nothing on a quiet line, whose floor is
    far below any speech."""

    def __init__(self, aggressiveness: int = 2, margin_db: float = 10.0, window: int = 150) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._margin = margin_db
        self._levels: collections.deque[float] = collections.deque(maxlen=window)

    def is_speech(self, frame: bytes, power: float | None = None) -> bool:
        """``power``: the frame's ``frame_power``, if the caller has it already."""
        level = 10 * math.log10((frame_power(frame) if power is None else power) + SILENCE_POWER)
        self._levels.append(level)
        if not self._vad.is_speech(frame, SAMPLE_RATE):
            return False
        return level >= min(self._levels) + self._margin


SILENCE_POWER = 1 / 32768.0**2
"""One least-significant bit: digital silence gets a level (-90 dBFS) rather than -inf."""


def frame_power(frame: bytes) -> float:
    """The mean square of a frame's 16-bit samples, relative to full scale."""
    samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
    return float(np.mean(samples**2)) / 32768.0**2 if samples.size else 0.0
