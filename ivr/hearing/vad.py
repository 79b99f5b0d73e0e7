"""Voice activity per 20 ms frame: WebRTC's VAD, gated by the line's noise floor."""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

import numpy as np
import webrtcvad

from ivr.audio import SAMPLE_RATE

SILENCE_POWER = 1 / 32768.0**2
"""One least-significant bit: digital silence gets a level (-90 dBFS) rather than -inf."""


def frame_power(frame: bytes) -> float:
    """The mean square of a frame's 16-bit samples, relative to full scale. (A dot product:
    a third of the time ``np.mean(samples**2)`` takes on a 20 ms frame, on every frame of
    every call.)"""
    samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
    return float(samples @ samples) / (samples.size * 32768.0**2) if samples.size else 0.0


@dataclass(frozen=True, slots=True)
class Voice:
    """What the detector made of one frame."""

    power: float
    """``frame_power`` of the frame."""
    webrtc: bool
    """WebRTC's verdict alone (it takes steady noise for voice too)."""
    voiced: bool
    """The verdict: WebRTC's, and the frame stands out of the noise floor."""
    silent: bool = False
    """Digital silence (every sample 0): no signal at all, so nothing about the line's noise
    either. A snoop sends it before the caller's audio starts, a tap that sends nothing in
    silence is filled with it, a G.711 line decodes its silence code to it."""


DIGITAL_SILENCE = Voice(0.0, False, False, silent=True)


class VoiceDetector:
    """Is this 20 ms frame speech? WebRTC's VAD (aggressiveness 0, keeps most, to 3, drops most
    non-speech), then a level gate: the frame must also stand ``margin_db`` above the line's
    noise floor, the quietest frame of the last ``window`` frames. WebRTC's VAD takes steady
    babble or hum for voice, and on such a line an utterance would never end (the endpointer
    would wait for ``max_speech``); the gate changes nothing on a quiet line, whose floor is
    far below any speech. Digital silence is left out of the floor: a hum that follows it
    is the floor from its first frames, not after the silence has left the window."""

    def __init__(self, aggressiveness: int = 2, margin_db: float = 10.0, window: int = 150) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._margin = margin_db
        self._levels: collections.deque[float] = collections.deque(maxlen=window)

    def classify(self, frame: bytes) -> Voice:
        if not any(frame):
            return DIGITAL_SILENCE
        power = frame_power(frame)
        level = 10 * math.log10(power + SILENCE_POWER)
        self._levels.append(level)
        webrtc = self._vad.is_speech(frame, SAMPLE_RATE)
        return Voice(power, webrtc, webrtc and level >= min(self._levels) + self._margin)
