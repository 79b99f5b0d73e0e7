"""ivr.hearing.vad: WebRTC's voice decisions, gated by the line's noise floor."""

from __future__ import annotations

import numpy as np

from ivr.audio import FRAME_BYTES, Framer
from ivr.hearing.vad import VoiceDetector


def frames(signal: np.ndarray) -> list[bytes]:
    pcm = np.clip(signal, -32768, 32767).astype("<i2").tobytes()
    return list(Framer().push(pcm))


def voiced_like(seconds: float, level: float, seed: int, syllables: bool = True) -> np.ndarray:
    """A buzzy vowel-like signal WebRTC's VAD calls speech: harmonics of 150 Hz, modulated
    four times a second like syllables, or steady like a hum."""
    t = np.arange(int(seconds * 16000)) / 16000
    rng = np.random.default_rng(seed)
    harmonics = sum(np.sin(2 * np.pi * 150 * k * t + rng.uniform(0, 6)) / k for k in range(1, 20))
    return level * harmonics * ((0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) if syllables else 1.0)


def line_noise(seconds: float, seed: int = 9) -> np.ndarray:
    """A quiet line: white noise at about -60 dBFS."""
    return np.random.default_rng(seed).standard_normal(int(seconds * 16000)) * 30


def test_speech_on_a_quiet_line_is_voiced() -> None:
    detector = VoiceDetector()
    silence = frames(line_noise(1.0))
    speech = frames(voiced_like(1.0, 3000, seed=1) + line_noise(1.0, seed=10))
    decisions = [detector.classify(f).voiced for f in silence + speech]
    assert not any(decisions[: len(silence)])
    assert sum(decisions[len(silence) :]) > 0.8 * len(speech)


def test_a_steady_noise_webrtc_takes_for_voice_stops_counting_once_it_is_the_floor() -> None:
    noise = voiced_like(4.0, 1000, seed=2, syllables=False)  # a hum WebRTC alone calls voice
    plain, gated = VoiceDetector(margin_db=-1000), VoiceDetector()
    hum = frames(noise)
    assert sum(plain.classify(f).voiced for f in hum) > 0.8 * len(hum)
    decisions = [gated.classify(f).voiced for f in hum]
    assert not any(decisions[-50:])  # the last second: the hum is the floor


def test_speech_over_that_noise_still_counts() -> None:
    detector = VoiceDetector()
    for frame in frames(voiced_like(3.0, 1000, seed=3, syllables=False)):
        detector.classify(frame)
    louder = voiced_like(1.0, 1000, seed=4, syllables=False) + voiced_like(1.0, 5000, seed=5)
    decisions = "".join("v" if detector.classify(f).voiced else "." for f in frames(louder))
    # The syllables' troughs sink into the hum, their peaks stand out: the gaps are far
    # shorter than any end-of-speech silence, so the endpointer hears one utterance.
    assert decisions.count("v") > 0.5 * len(decisions)
    assert max(len(gap) for gap in decisions.split("v")) < 10


def test_digital_silence_says_nothing_about_the_lines_noise() -> None:
    # Zeros before the caller's audio (a snoop before the first frame, a filled gap), then a
    # hum WebRTC calls voice: the hum is the floor from its first frames on.
    detector = VoiceDetector()
    assert not any(detector.classify(f).voiced for f in frames(np.zeros(32000)))
    hum = [detector.classify(f) for f in frames(voiced_like(1.0, 1000, seed=2, syllables=False))]
    assert all(v.webrtc for v in hum[5:])
    assert not any(v.voiced for v in hum[5:])
    assert detector.classify(bytes(FRAME_BYTES)).silent
