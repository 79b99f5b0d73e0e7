"""ivr.hearing.gaps: a lone frame of digital silence between sounds carries nothing."""

from __future__ import annotations

from ivr.hearing.gaps import LoneSilenceFilter

SOUND = [bytes([i % 250 + 1]) * 640 for i in range(6)]
SILENCE = bytes(640)


def run(frames: list[bytes]) -> tuple[list[bytes], int]:
    gaps = LoneSilenceFilter()
    out = [kept for frame in frames for kept in gaps.push(frame)]
    return out + list(gaps.flush()), gaps.dropped


def test_a_lone_frame_of_silence_in_the_middle_of_sound_is_dropped() -> None:
    out, dropped = run([SOUND[0], SOUND[1], SILENCE, SOUND[2], SOUND[3]])
    assert out == SOUND[:4] and dropped == 1


def test_real_silence_is_kept() -> None:
    frames = [SOUND[0], SILENCE, SILENCE, SOUND[1], SILENCE, SILENCE, SILENCE, SOUND[2]]
    assert run(frames) == (frames, 0)


def test_silence_before_the_first_sound_and_at_the_end_is_kept() -> None:
    frames = [SILENCE, SILENCE, SOUND[0], SOUND[1], SILENCE]
    assert run(frames) == (frames, 0)


def test_two_underruns_in_one_call() -> None:
    out, dropped = run([SOUND[0], SILENCE, SOUND[1], SOUND[2], SILENCE, SOUND[3]])
    assert out == SOUND[:4] and dropped == 2
