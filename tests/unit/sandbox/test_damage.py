"""ivr.sandbox.damage: frames of a test call's audio lost, repeated or changed on the way."""

from __future__ import annotations

import numpy as np
import pytest

from ivr.sandbox.damage import FRAME, frames_damaged

SENT = np.random.default_rng(1).integers(-3000, 3000, 16000 * 2).astype(np.int16)
"""Two seconds of noise: no two 20 ms frames alike, so a frame off is never found by accident."""
MIDDLE = len(SENT) // FRAME // 2
"""The frame the damage is done to: well inside, so what follows can be found again."""


def _frame(index: int) -> slice:
    return slice(index * FRAME, (index + 1) * FRAME)


def _damaged(heard: np.ndarray) -> int | None:
    return frames_damaged(SENT.tobytes(), heard.astype(np.int16).tobytes())


def test_identical_audio_is_intact() -> None:
    assert _damaged(SENT) == 0


@pytest.mark.parametrize("frames", [1, 3, 50])
def test_leading_silence_in_what_was_heard_is_not_damage(frames: int) -> None:
    assert _damaged(np.concatenate([np.zeros(frames * FRAME, np.int16), SENT])) == 0


def test_a_lost_frame_counts_once() -> None:
    heard = np.concatenate([SENT[: MIDDLE * FRAME], SENT[(MIDDLE + 1) * FRAME :]])
    assert _damaged(heard) == 1


def test_a_repeated_frame_counts_once() -> None:
    heard = np.concatenate([SENT[: (MIDDLE + 1) * FRAME], SENT[MIDDLE * FRAME :]])
    assert _damaged(heard) == 1


def test_a_changed_frame_counts_once() -> None:
    heard = SENT.copy()
    heard[_frame(MIDDLE)] //= 2
    assert _damaged(heard) == 1


def test_when_the_call_hung_up_early_only_the_overlap_counts() -> None:
    cut = SENT[: MIDDLE * FRAME]
    assert _damaged(cut) == 0
    changed = cut.copy()
    changed[_frame(MIDDLE // 2)] //= 2
    assert _damaged(changed) == 1


def test_sent_audio_not_heard_at_all() -> None:
    other = np.random.default_rng(2).integers(-3000, 3000, len(SENT)).astype(np.int16)
    assert _damaged(other) is None
    assert _damaged(np.zeros(len(SENT), np.int16)) is None


def test_silence_sent_is_never_damaged() -> None:
    silence = np.zeros(len(SENT), np.int16).tobytes()
    assert frames_damaged(silence, SENT.tobytes()) == 0
    assert frames_damaged(silence, b"") == 0
