"""Endpointing on an injected clock, and cutting byte streams into frames."""

from __future__ import annotations

from ivr.speech.endpoint import Endpoint, Endpointer, EndpointSettings
from ivr.speech.vad import FRAME_BYTES, Framer

SETTINGS = EndpointSettings(end_of_speech=0.6, max_speech=2.0, onset=0.06)


def feed(endpointer: Endpointer, pattern: str, start: float = 0.0) -> list[tuple[float, Endpoint]]:
    """Feed one 20 ms frame per character: 'x' voiced, '.' unvoiced."""
    events = []
    for i, c in enumerate(pattern):
        now = start + i * 0.02
        if (event := endpointer.feed(c == "x", now)) is not None:
            events.append((round(now, 2), event))
    return events


def test_speech_starts_after_the_onset_and_ends_after_the_silence() -> None:
    endpointer = Endpointer(SETTINGS)  # onset: 3 voiced frames among the last 4
    events = feed(endpointer, "..x..xxx" + "x" * 10 + "." * 40)
    assert events[0] == (0.14, Endpoint.SPEECH_STARTED)
    last_voice = 0.02 * 17
    assert events[1] == (round(last_voice + 0.6, 2), Endpoint.SPEECH_ENDED)


def test_one_unvoiced_frame_does_not_delay_the_onset() -> None:
    # A fricative, a frame the VAD misses, then the vowel: speech from the first frame.
    endpointer = Endpointer(SETTINGS)
    assert feed(endpointer, "..xx.x") == [(0.1, Endpoint.SPEECH_STARTED)]
    assert endpointer.deadline == 0.1 + 0.6


def test_a_click_is_not_speech() -> None:
    assert feed(Endpointer(SETTINGS), "..xx..x..x." + "." * 50) == []


def test_the_wall_clock_ends_speech_when_frames_stop_coming() -> None:
    endpointer = Endpointer(SETTINGS)
    feed(endpointer, "xxxxxx")
    assert endpointer.in_speech
    assert endpointer.deadline == 0.1 + 0.6
    assert endpointer.poll(0.69) is None
    assert endpointer.poll(0.70) is Endpoint.SPEECH_ENDED
    assert not endpointer.in_speech and endpointer.deadline is None


def test_max_speech_cuts_an_endless_utterance() -> None:
    events = feed(Endpointer(SETTINGS), "x" * 110)
    # Cut at max_speech; the voice going on is a new utterance.
    assert events == [
        (0.04, Endpoint.SPEECH_STARTED),
        (2.0, Endpoint.SPEECH_ENDED),
        (2.06, Endpoint.SPEECH_STARTED),
    ]


def test_framer_reframes_any_chunking() -> None:
    framer = Framer()
    data = bytes(range(256)) * 10  # 2560 bytes = 4 frames
    chunks = [data[:100], data[100:1000], data[1000:1001], data[1001:]]
    frames = [f for chunk in chunks for f in framer.push(chunk)]
    assert [len(f) for f in frames] == [FRAME_BYTES] * 4
    assert b"".join(frames) == data
    assert list(framer.push(b"\0" * 10)) == []
