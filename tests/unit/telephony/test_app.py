"""The app's pure parts: when to connect again, which callers a previous run left in it."""

from __future__ import annotations

from ivr.telephony.app import RECONNECT_CAP, RECONNECT_FIRST, reconnect_delay, stranded_args


def test_reconnecting_backs_off_exponentially_with_jitter_up_to_a_cap() -> None:
    assert reconnect_delay(0, lambda: 1.0) == RECONNECT_FIRST
    assert reconnect_delay(0, lambda: 0.0) == RECONNECT_FIRST / 2
    assert reconnect_delay(3, lambda: 1.0) == RECONNECT_FIRST * 8
    assert reconnect_delay(50, lambda: 1.0) == RECONNECT_CAP
    assert RECONNECT_CAP / 2 <= reconnect_delay(50) <= RECONNECT_CAP


def test_a_caller_stranded_in_stasis_keeps_the_arguments_it_came_with() -> None:
    def channel(app_name: str, app_data: str) -> dict:
        return {"id": "1795558086.153", "dialplan": {"app_name": app_name, "app_data": app_data}}

    assert stranded_args(channel("Stasis", "speech-ivr,switchboard-ko"), "speech-ivr", ()) == ["switchboard-ko"]
    assert stranded_args(channel("Stasis", "speech-ivr"), "speech-ivr", ()) == []
    assert stranded_args(channel("Stasis", "other,switchboard-ko"), "speech-ivr", ()) is None
    assert stranded_args(channel("Playback", "hello"), "speech-ivr", ()) is None


def test_a_broadcast_call_is_stranded_here_only_when_asterisk_lists_it_in_this_app() -> None:
    """StasisBroadcast(TIMEOUT,FILTER,ARGS) names no app (what Asterisk 22.10.1 shows in the
    channel's dialplan), and its arguments are colon-delimited."""
    claimed = {"id": "1795558086.153", "dialplan": {"app_name": "StasisBroadcast", "app_data": "2000,^speech-ivr-,switchboard-ko:x"}}
    default = {"id": "1795558086.155", "dialplan": {"app_name": "StasisBroadcast", "app_data": "2000,^speech-ivr-"}}
    assert stranded_args(claimed, "speech-ivr-1", {"1795558086.153"}) == ["switchboard-ko", "x"]
    assert stranded_args(claimed, "speech-ivr-2", set()) is None
    assert stranded_args(default, "speech-ivr-1", {"1795558086.155"}) == []
