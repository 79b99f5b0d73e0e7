"""Frames lost: how much of what a phone said never reached the recognizer. Pure (numpy).

The load bench compares each call's recording (``record_dir``: the tap's audio as the app
received it, 16 kHz) with the phrase its phone sent (8 kHz). The phrase is cut into 100 ms
chunks; each chunk with sound is found in the recording by normalized cross-correlation,
the first anywhere, each next one near where the one before it says it should be. A chunk
found earlier than that lost audio in between (whole 20 ms frames: ``lost``); later, audio was
put in (a snoop's late frame, a frame of silence that hearing takes out again: ``inserted``).
A phrase whose start lies before the recording's start was spoken before the tap was open
(``before_tap``). A chunk that matches nothing well is ``damaged`` (the audio was altered or
replaced, not shifted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

RATE = 8000
FRAME = 160
"""One 20 ms frame at 8 kHz."""
CHUNK = 800
"""100 ms: long enough to be found unambiguously, short enough to place a loss."""
SEARCH = 1600
"""How far (200 ms) a chunk may sit from where the one before it says it should."""
FOUND = 0.9
"""A chunk correlating at least this well is where it was found (a G.711 line gives 0.99)."""
SOUND = 100.0
"""RMS below which a chunk is taken as a pause: it cannot be placed."""


@dataclass(frozen=True)
class FrameLoss:
    found: bool
    """Any of the phrase was in the recording."""
    before_tap: int = 0
    """Frames of the phrase sent before the recording began (the tap was not open yet)."""
    lost: int = 0
    """Frames of the phrase that vanished between chunks found."""
    inserted: int = 0
    """Frames put in between chunks found."""
    damaged: int = 0
    """Chunks with sound that matched nowhere near where they should be."""

    @property
    def missing(self) -> int:
        """Frames the recognizer never got: lost on the way, or sent before the tap."""
        return self.before_tap + self.lost


def speech_of(samples: npt.NDArray[np.int16], level: int = 64) -> npt.NDArray[np.int16]:
    """``samples`` from the first to the last sample louder than ``level``."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > level)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples[:0]


def frames_lost(sent: npt.NDArray[np.int16], received: npt.NDArray[np.int16]) -> FrameLoss:
    """Compare ``sent`` (8 kHz, the phrase alone: ``speech_of``) with ``received`` (16 kHz)."""
    heard = _to_8k(received)
    phrase = sent.astype(np.float64)
    placed: tuple[int, int] | None = None  # (chunk index, where it is in ``heard``)
    first: tuple[int, int] | None = None
    lost = inserted = damaged = 0
    unplaced: list[int] = []  # chunks with sound before the first one found
    for index in range(len(phrase) // CHUNK):
        chunk = phrase[index * CHUNK : (index + 1) * CHUNK]
        if np.sqrt(np.mean(chunk**2)) < SOUND:
            continue
        if placed is None:
            at, score = _best(heard, chunk, 0, len(heard) - CHUNK)
            if score < FOUND:
                unplaced.append(index)
                continue
            placed = first = (index, at)
            continue
        expected = placed[1] + (index - placed[0]) * CHUNK
        at, score = _best(heard, chunk, expected - SEARCH, expected + SEARCH)
        if score < FOUND:
            damaged += 1
            continue
        shift = round((at - expected) / FRAME)
        lost += max(0, -shift)
        inserted += max(0, shift)
        placed = (index, at)
    if first is None:
        return FrameLoss(found=False, damaged=len(unplaced))
    start = first[1] - first[0] * CHUNK  # where the phrase's first sample would be
    before_tap = -start // FRAME if start < 0 else 0
    # An unplaced chunk that would begin before the recording did was sent before the tap.
    damaged += sum(start + index * CHUNK >= 0 for index in unplaced)
    return FrameLoss(True, before_tap, lost, inserted, damaged)


def _to_8k(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    """16 kHz to 8 kHz, well enough to correlate: the mean of each pair of samples."""
    pairs = samples[: len(samples) // 2 * 2].astype(np.float64).reshape(-1, 2)
    return pairs.mean(axis=1)


def _best(signal: npt.NDArray[np.float64], chunk: npt.NDArray[np.float64], low: int, high: int) -> tuple[int, float]:
    """Where in ``signal`` between offsets ``low`` and ``high`` ``chunk`` fits best, and how
    well (normalized correlation, 1 is a perfect fit)."""
    low, high = max(0, low), min(len(signal) - len(chunk), high)
    if high < low:
        return 0, 0.0
    window = signal[low : high + len(chunk)]
    dots = np.correlate(window, chunk, mode="valid")
    energy = np.cumsum(np.concatenate([[0.0], window**2]))
    norms = np.sqrt(np.maximum(energy[len(chunk) :] - energy[: -len(chunk)], 1e-9)) * np.linalg.norm(chunk)
    scores = dots / norms
    best = int(np.argmax(scores))
    return low + best, float(scores[best])
