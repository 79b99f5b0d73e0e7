"""bench/decimator.py: the 16 kHz -> 8 kHz decimator the accuracy benchmark measures with."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from decimator import Decimator  # noqa: E402


def tone(freq: float, seconds: float = 0.5, rate: int = 16000, level: float = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype("<i2")


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_voice_band_passes_and_aliases_are_removed() -> None:
    passed = np.frombuffer(Decimator().push(tone(1000).tobytes()), dtype="<i2")
    assert len(passed) == 4000
    assert abs(rms(passed[100:]) - rms(tone(1000))) / rms(tone(1000)) < 0.02
    stopped = np.frombuffer(Decimator().push(tone(6000).tobytes()), dtype="<i2")
    assert rms(stopped[100:]) < 0.01 * rms(tone(6000))


def test_chunking_changes_nothing() -> None:
    pcm = (tone(440) + tone(2500)).tobytes()
    whole = Decimator().push(pcm)
    decimator = Decimator()
    pieces = b"".join(decimator.push(pcm[i : i + 322]) for i in range(0, len(pcm), 322))
    assert pieces == whole
