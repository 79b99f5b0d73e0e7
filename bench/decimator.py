"""16 kHz -> 8 kHz, to measure feeding the recognizer telephone-rate audio.

Every tap delivers 16 kHz (Asterisk upsamples the 8 kHz of a phone call); telephone audio
is 8 kHz at heart, so ``accuracy.py`` also decodes each utterance decimated back to 8 kHz.
It measured no gain (the app keeps 16 kHz), which is why this lives with the benchmark.
A windowed-sinc low-pass at 3.6 kHz, then every other sample; streaming, so chunk
boundaries change nothing.
"""

from __future__ import annotations

import numpy as np

TAPS = 63
CUTOFF = 3600 / 16000  # of the 16 kHz sample rate


def _design() -> np.ndarray:
    n = np.arange(TAPS) - (TAPS - 1) / 2
    kernel = 2 * CUTOFF * np.sinc(2 * CUTOFF * n) * np.hamming(TAPS)
    return kernel / kernel.sum()


KERNEL = _design()


class Decimator:
    """Halves the sample rate of a 16-bit little-endian PCM stream."""

    def __init__(self) -> None:
        self._history = np.zeros(TAPS - 1)
        self._odd = False  # whether the next input sample has an odd index in the stream

    def push(self, pcm: bytes) -> bytes:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        signal = np.concatenate([self._history, samples])
        filtered = np.convolve(signal, KERNEL, mode="valid")  # one output per input sample
        self._history = signal[len(signal) - (TAPS - 1) :]
        kept = filtered[1 if self._odd else 0 :: 2]
        self._odd = (self._odd + len(samples)) % 2 == 1
        return np.clip(np.round(kept), -32768, 32767).astype("<i2").tobytes()
