"""Endpointing on the stream's clock: one voice decision per frame, with the frame's end."""

from __future__ import annotations

import pytest

from ivr.audio import FRAME_SECONDS
from ivr.hearing.endpointer import Endpoint, Endpointer, EndpointSettings

SETTINGS = EndpointSettings(end_of_speech=0.6, max_speech=2.0, onset=0.06)


def feed(endpointer: Endpointer, pattern: str, start: float = 0.0) -> list[tuple[float, Endpoint]]:
    """Feed one 20 ms frame per character: 'x' voiced, '.' unvoiced; each frame is fed with
    the position of its end in the stream."""
    events = []
    for i, c in enumerate(pattern):
        at = start + (i + 1) * FRAME_SECONDS
        if (event := endpointer.feed(c == "x", at)) is not None:
            events.append((round(at, 2), event))
    return events


def test_speech_starts_after_the_onset_and_ends_after_the_silence() -> None:
    endpointer = Endpointer(SETTINGS)  # onset: 3 voiced frames among the last 4
    events = feed(endpointer, "..x..xxx" + "x" * 10 + "." * 40)
    assert events[0] == (0.16, Endpoint.SPEECH_STARTED)
    last_voice = 0.02 * 18  # the end of the last voiced frame
    assert endpointer.last_voice == pytest.approx(last_voice)
    assert events[1] == (round(last_voice + 0.6, 2), Endpoint.SPEECH_ENDED)
    assert len(events) == 2 and endpointer.started_at is None


def test_speech_starts_where_its_first_voiced_frame_starts() -> None:
    endpointer = Endpointer(SETTINGS)
    feed(endpointer, "..x..xxx")
    assert endpointer.started_at is not None
    assert endpointer.started_at == pytest.approx(0.10)  # the frame 0.10-0.12


def test_one_unvoiced_frame_does_not_delay_the_onset() -> None:
    # A fricative, a frame the VAD misses, then the vowel: speech from the first frame.
    endpointer = Endpointer(SETTINGS)
    assert feed(endpointer, "..xx.x") == [(0.12, Endpoint.SPEECH_STARTED)]
    assert endpointer.started_at == pytest.approx(0.04)
    assert endpointer.last_voice == pytest.approx(0.12)


def test_a_click_is_not_speech() -> None:
    endpointer = Endpointer(SETTINGS)
    assert feed(endpointer, "..xx..x..x." + "." * 50) == []
    assert endpointer.started_at is None and endpointer.started_at is None


def test_speech_ends_after_end_of_speech_of_unvoiced_frames() -> None:
    endpointer = Endpointer(SETTINGS)
    assert feed(endpointer, "xxxx" + "." * 29) == [(0.06, Endpoint.SPEECH_STARTED)]
    at = 33 * FRAME_SECONDS
    assert endpointer.started_at is not None
    assert at - endpointer.last_voice == pytest.approx(0.58)
    assert endpointer.feed(False, at + FRAME_SECONDS) is Endpoint.SPEECH_ENDED
    assert endpointer.started_at is None


def test_max_speech_cuts_an_endless_utterance() -> None:
    events = feed(Endpointer(SETTINGS), "x" * 110)
    # Cut at max_speech; the voice going on is a new utterance.
    assert events == [
        (0.06, Endpoint.SPEECH_STARTED),
        (2.0, Endpoint.SPEECH_ENDED),
        (2.06, Endpoint.SPEECH_STARTED),
    ]
