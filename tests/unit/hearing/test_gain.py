"""ivr.hearing.gain: quiet callers are brought up to the recognizer's level, nothing else."""

import math

import numpy as np
import pytest

from ivr.hearing.gain import MAX_GAIN_DB, TARGET_DBFS, GainControl, amplify
from ivr.hearing.vad import frame_power


def tone(dbfs: float, samples: int = 320) -> bytes:
    amplitude = 32768 * 10 ** (dbfs / 20) * math.sqrt(2)  # a sine's RMS is amplitude / sqrt 2
    t = np.arange(samples) / 16000
    return np.round(amplitude * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


def dbfs(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return 10 * math.log10(np.mean(samples**2) / 32768**2)


def test_quiet_speech_is_brought_to_the_target() -> None:
    control = GainControl()
    for _ in range(30):
        control.observe(frame_power(tone(-44)), voiced=True)
    assert dbfs(amplify(tone(-44), control.gain_db)) == pytest.approx(TARGET_DBFS, abs=0.2)


def test_the_boost_is_capped() -> None:
    control = GainControl()
    control.observe(frame_power(tone(-70)), voiced=True)
    assert control.gain_db == MAX_GAIN_DB


def test_loud_speech_and_unknown_levels_pass_unchanged() -> None:
    control = GainControl()
    assert amplify(tone(-44), control.gain_db) == tone(-44)  # nothing voiced heard yet
    control.observe(frame_power(tone(-10)), voiced=True)
    assert amplify(tone(-10), control.gain_db) == tone(-10)


def test_only_voiced_frames_move_the_speech_level() -> None:
    control = GainControl()
    control.observe(frame_power(tone(-44)), voiced=True)
    for _ in range(100):
        control.observe(frame_power(tone(-70)), voiced=False)  # line noise between words
    assert control.gain_db == pytest.approx(20, abs=0.1)


def test_noise_taken_for_voice_is_not_boosted() -> None:
    control = GainControl()
    for _ in range(20):
        control.observe(frame_power(tone(-50)), voiced=False)
        control.observe(frame_power(tone(-47)), voiced=True)
    assert control.gain_db == 0.0


def test_the_level_follows_smoothly() -> None:
    control = GainControl()
    for _ in range(50):
        control.observe(frame_power(tone(-24)), voiced=True)
    control.observe(frame_power(tone(-50)), voiced=True)  # one quiet frame barely moves it
    assert control.gain_db < 1.0


def test_boosting_clips_instead_of_wrapping() -> None:
    control = GainControl()
    control.observe(frame_power(tone(-44)), voiced=True)
    loud = np.frombuffer(amplify(tone(-3), control.gain_db), dtype="<i2")
    assert loud.max() == 32767 and loud.min() == -32768
