"""Did a test call's audio reach the app as it was played? Frames lost, repeated or changed.

A test or a benchmark that compares what a call decided with what the simulator decides on
the same clip must know whether the app heard the clip or something else. Both are compared
as hearing hears them, without lone frames of digital silence (``ivr.hearing.gaps``: that is
how the snoop tap's one known fault, a frame of silence when the caller's frame comes late,
is undone); this finds whatever else there may be.
"""

from __future__ import annotations

import numpy as np

from ivr.audio import frames_of
from ivr.hearing.gaps import LoneSilenceFilter

FRAME = 320
"""Samples in a 20 ms frame at 16 kHz."""
SHIFTS = (1, 2, 3)
"""How many frames lost or repeated in a row are told from frames changed."""


def frames_damaged(sent: bytes, heard: bytes) -> int | None:
    """How many of ``sent``'s 20 ms frames are not in ``heard`` as they were sent, where the
    two overlap (``heard`` may stop early: the call was hung up); None when the sent audio
    is not found in ``heard`` at all. Both are 16 kHz 16-bit PCM; a lost or repeated frame
    counts once (what follows is found again, shifted)."""
    played = np.frombuffer(_as_heard(sent), "<i2")
    got = np.frombuffer(_as_heard(heard), "<i2")
    sound = np.nonzero(played)[0]
    if sound.size == 0:
        return 0
    first = int(sound[0])
    probe = played[first : first + FRAME // 2]
    if got.size < probe.size:
        return None
    windows = np.lib.stride_tricks.sliding_window_view(got, probe.size)
    found = np.nonzero((windows == probe).all(axis=1))[0]
    if found.size == 0:
        return None
    position = int(found[0]) - first  # where the sent audio's first sample is in what was heard
    frames = [played[k * FRAME : (k + 1) * FRAME] for k in range(len(played) // FRAME)]

    def at(offset: int, index: int) -> bool:
        return (
            0 <= offset and offset + FRAME <= len(got) and index < len(frames)
            and np.array_equal(got[offset : offset + FRAME], frames[index])
        )

    damaged, index = 0, 0
    while index < len(frames) and position + FRAME <= len(got):
        if at(position, index):
            position, index = position + FRAME, index + 1
            continue
        damaged += 1
        extra = next((k for k in SHIFTS if k > 0 and at(position + k * FRAME, index)), None)
        lost = next((k for k in SHIFTS if k > 0 and at(position, index + k)), None)
        if extra is not None:  # frames inserted or repeated before this one
            position += extra * FRAME
        elif lost is not None:  # this frame, and maybe a few more, never arrived
            index += lost
        else:  # arrived changed
            position, index = position + FRAME, index + 1
    return damaged


def _as_heard(pcm: bytes) -> bytes:
    gaps = LoneSilenceFilter()
    kept = [frame for whole in frames_of(pcm) for frame in gaps.push(whole)]
    return b"".join([*kept, *gaps.flush()])
