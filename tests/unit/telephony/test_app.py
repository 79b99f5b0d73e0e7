"""The app's pure parts: when to connect again."""

from __future__ import annotations

from ivr.telephony.app import RECONNECT_CAP, RECONNECT_FIRST, reconnect_delay


def test_reconnecting_backs_off_exponentially_with_jitter_up_to_a_cap() -> None:
    assert reconnect_delay(0, lambda: 1.0) == RECONNECT_FIRST
    assert reconnect_delay(0, lambda: 0.0) == RECONNECT_FIRST / 2
    assert reconnect_delay(3, lambda: 1.0) == RECONNECT_FIRST * 8
    assert reconnect_delay(50, lambda: 1.0) == RECONNECT_CAP
    assert RECONNECT_CAP / 2 <= reconnect_delay(50) <= RECONNECT_CAP
