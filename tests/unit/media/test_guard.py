"""ivr.media.guard: one log line per cause, totals at the end, audio within real time."""

from __future__ import annotations

import pytest

from ivr.media.guard import (
    BACKLOG_BYTES,
    BURST_SECONDS,
    BYTES_PER_SECOND,
    MAX_SPEED,
    Backlog,
    TapGuard,
)
from tests.unit.media.hostile import warnings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_cause_is_logged_once_and_totalled_when_the_tap_closes(caplog: pytest.LogCaptureFixture) -> None:
    guard = TapGuard("RTP", "1795557394.42")
    for port in range(1000):
        guard.drop("packets from another address", f"10.0.0.9:{port}")
    guard.drop("malformed RTP packets", "RTP packet too short: 3 bytes")
    guard.notice("frames longer than 3200 bytes", "6400 bytes")
    guard.report()
    guard.report()  # once only

    tap, more = "call 1795557394.42: RTP tap", "more are counted until the tap closes"
    assert warnings(caplog) == [
        f"{tap}: dropped packets from another address (10.0.0.9:0); {more}",
        f"{tap}: dropped malformed RTP packets (RTP packet too short: 3 bytes); {more}",
        f"{tap}: frames longer than 3200 bytes (6400 bytes), used all the same; {more}",
        (
            f"{tap} closed; it dropped 1000 packets from another address, 1 malformed RTP packets;"
            " used 1 frames longer than 3200 bytes"
        ),
    ]


def test_a_clean_tap_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    guard = TapGuard("RTP", "c")
    assert guard.admit(bytes(640))
    guard.report()
    assert warnings(caplog) == []


def test_examples_cannot_forge_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    guard = TapGuard("media websocket", "c")
    guard.drop("text frames", "MEDIA_START\n2026-01-01 CRITICAL forged line" + "x" * 1000)
    guard.drop("binary", b"\x00\x01\n" * 100)
    [text, binary] = warnings(caplog)
    assert "\n" not in text and "\\n2026-01-01" in text and len(text) < 300
    assert "\n" not in binary and len(binary) < 300


def test_audio_of_an_odd_length_is_dropped() -> None:
    guard = TapGuard("RTP", "c")
    assert not guard.admit(bytes(641))
    assert guard.admit(bytes(640))
    assert guard.dropped == {"audio of an odd length": 1}


def test_audio_faster_than_real_time_is_dropped_beyond_a_burst() -> None:
    clock = Clock()
    guard = TapGuard("RTP", "c", clock=clock)
    second = bytes(BYTES_PER_SECOND)
    admitted = sum(guard.admit(second) for _ in range(int(BURST_SECONDS) + 5))
    assert admitted == int(BURST_SECONDS)  # a stalled loop catching up: heard
    clock.now += 1.0
    admitted = sum(guard.admit(second) for _ in range(10))
    assert admitted == int(MAX_SPEED)  # then no more than MAX_SPEED times real time
    clock.now += 1000.0  # after a long quiet spell the budget is a burst again, not more
    assert sum(guard.admit(second) for _ in range(100)) == int(BURST_SECONDS)
    assert guard.dropped["audio arriving faster than real time"] == 5 + 8 + 100 - int(BURST_SECONDS)


def test_real_time_audio_is_never_dropped() -> None:
    clock = Clock()
    guard = TapGuard("RTP", "c", clock=clock)
    for _ in range(100_000):  # 2000 s of 20 ms frames
        assert guard.admit(bytes(640))
        clock.now += 0.02


async def test_the_backlog_is_bounded_in_bytes() -> None:
    backlog = Backlog()
    frame = bytes(640)
    accepted = sum(backlog.put(frame) for _ in range(BACKLOG_BYTES // 640 + 100))
    assert accepted == BACKLOG_BYTES // 640 and backlog.size == BACKLOG_BYTES
    assert await backlog.get() == frame and backlog.put(frame)
    backlog.close()
    assert not backlog.put(frame)
    got = 0
    while await backlog.get() is not None:
        got += 1
    assert got == accepted and backlog.size == 0
