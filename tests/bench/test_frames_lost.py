"""bench/frames_lost.py: a phrase found again in what a tap delivered, losses counted by frame."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bench.frames_lost import FRAME, frames_lost, speech_of


def phrase(seconds: float = 1.5, seed: int = 3) -> npt.NDArray[np.int16]:
    """Speech-like 8 kHz audio: noise shaped like syllables, never repeating."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * 8000)) / 8000
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 3 * t)
    return (rng.standard_normal(len(t)) * 3000 * envelope).astype(np.int16)


def tapped(samples: npt.NDArray[np.int16], *, lead: float = 1.0) -> npt.NDArray[np.int16]:
    """What a tap delivers: ``lead`` s of silence then ``samples``, at 16 kHz."""
    wide = np.repeat(samples, 2)
    return np.concatenate([np.zeros(round(lead * 16000), dtype=np.int16), wide])


def test_a_phrase_that_arrived_whole_lost_nothing() -> None:
    sent = phrase()
    loss = frames_lost(sent, tapped(sent))
    assert loss.found and (loss.lost, loss.inserted, loss.damaged, loss.before_tap) == (0, 0, 0, 0)


def test_frames_cut_out_of_the_middle_are_counted() -> None:
    sent = phrase()
    cut = np.concatenate([sent[: 50 * FRAME], sent[53 * FRAME :]])  # 3 frames vanish
    loss = frames_lost(sent, tapped(cut))
    assert (loss.lost, loss.inserted, loss.missing) == (3, 0, 3)


def test_a_late_frame_of_silence_is_inserted_not_lost() -> None:
    sent = phrase()
    late = np.concatenate([sent[: 30 * FRAME], np.zeros(FRAME, dtype=np.int16), sent[30 * FRAME :]])
    loss = frames_lost(sent, tapped(late))
    assert (loss.lost, loss.inserted) == (0, 1)


def test_speech_before_the_tap_opened_is_missing() -> None:
    sent = phrase()
    loss = frames_lost(sent, tapped(sent[20 * FRAME :], lead=0.0))  # the first 400 ms before the tap
    assert loss.found and loss.before_tap == 20 and loss.lost == 0 and loss.damaged == 0


def test_a_phrase_that_never_arrived_is_not_found() -> None:
    loss = frames_lost(phrase(seed=1), tapped(phrase(seed=2)))
    assert not loss.found


def test_the_phrase_is_cut_to_its_sound() -> None:
    quiet = np.zeros(400, dtype=np.int16)
    sent = phrase()
    assert len(speech_of(np.concatenate([quiet, sent, quiet]))) <= len(sent)
