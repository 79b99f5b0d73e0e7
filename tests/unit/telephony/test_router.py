"""Replays ARI event streams recorded from real calls (Asterisk 22.10.1) through the router."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.telephony.router import EventRouter, event_channel_id, is_own_id, new_id

DATA = Path(__file__).resolve().parents[2] / "data"


def recorded(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


async def test_only_callers_become_calls_and_own_channels_resolve_their_waiters() -> None:
    events = recorded("ari-events-sample.jsonl")
    calls: list[str] = []
    router = EventRouter(lambda event: calls.append(event["channel"]["name"]))
    # The first call's tap: the recorded snoop and websocket channels were the app's own.
    snoop = router.expect("1795558086.154")
    tap = router.expect("1795558086.155")
    per_channel: dict[str, list[str]] = {}
    for channel_id in ("1795558086.153", "1795558095.157", "1795558097.159"):
        router.subscribe(channel_id, lambda e, c=channel_id: per_channel.setdefault(c, []).append(e["type"]))

    for event in events:
        router.dispatch(event)

    assert calls == [
        "Local/s@ivr-in-00000030;2",
        "Local/s@ivr-in-00000031;2",
        "Local/s@ivr-in-00000032;2",
        "Local/s@lab-ivr-in-00000033;2",
    ]
    assert snoop.result()["channel"]["name"].startswith("Snoop/")
    assert tap.result()["channel"]["name"].startswith("WebSocket/")
    # Playback events reach the caller through their target_uri.
    assert per_channel["1795558086.153"][-1] == "StasisEnd"
    assert "PlaybackFinished" in per_channel["1795558086.153"]
    assert per_channel["1795558095.157"].count("ChannelDtmfReceived") == 3
    assert per_channel["1795558097.159"][-3:] == ["ChannelHangupRequest", "PlaybackFinished", "StasisEnd"]


async def test_a_leftover_own_channel_is_never_taken_for_a_caller() -> None:
    calls: list[dict] = []
    router = EventRouter(calls.append)
    router.dispatch({"type": "StasisStart", "args": [], "channel": {"id": new_id("tap"), "name": "WebSocket/x"}})
    assert calls == []


async def test_released_ids_are_no_longer_owned() -> None:
    router = EventRouter(lambda e: None)
    tap, bridge = new_id("tap"), new_id("bridge")
    future = router.expect(tap)
    router.claim(bridge)
    assert router.owned() == {tap, bridge} and is_own_id(tap)
    router.release(tap)
    router.release(bridge)
    assert router.owned() == frozenset() and future.cancelled()


@pytest.mark.parametrize("name", ["ari-events-sample.jsonl", "ari-events-extra.jsonl"])
def test_every_recorded_channel_or_playback_event_names_its_channel(name: str) -> None:
    for event in recorded(name):
        if "channel" in event or "playback" in event:
            assert event_channel_id(event), event["type"]
