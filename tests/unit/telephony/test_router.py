"""Replays ARI event streams recorded from real calls (Asterisk 22.10.1) through the router."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import pytest

from ivr.telephony import router as router_module
from ivr.telephony.router import (
    MAX_ARG_CHARS,
    MAX_ARGS,
    EventRouter,
    caller_args,
    event_channel_id,
    is_own_id,
    new_id,
    owned_by,
)

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
    router.dispatch({"type": "StasisStart", "args": [], "channel": {"id": new_id("tap", "speech-ivr"), "name": "WebSocket/x"}})
    assert calls == []


async def test_released_ids_are_no_longer_owned() -> None:
    router = EventRouter(lambda e: None)
    tap, bridge = new_id("tap", "speech-ivr"), new_id("bridge", "speech-ivr")
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


# -- malformed events: never a crash, one clear line per cause ------------------------------


def router_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "ivr.telephony.router" and r.levelno >= logging.WARNING
    ]


def a_caller_start() -> dict:
    return copy.deepcopy(next(e for e in recorded("ari-events-sample.jsonl") if e["type"] == "StasisStart"))


def malformed_texts() -> list[tuple[str, str]]:
    """Events websocket messages that must be dropped, each with the cause it is logged under."""
    start = a_caller_start()
    no_channel = {k: v for k, v in start.items() if k != "channel"}
    no_id = copy.deepcopy(start)
    del no_id["channel"]["id"]
    int_id = copy.deepcopy(start)
    int_id["channel"]["id"] = 1795558086.153
    empty_id = copy.deepcopy(start)
    empty_id["channel"]["id"] = ""
    dtmf_no_id = {"type": "ChannelDtmfReceived", "digit": "1", "channel": {"name": "PJSIP/x"}}
    return [
        ("not JSON", "this is not json"),
        ("not JSON", ""),
        ("not JSON", '{"type": "StasisStart", "channel": '),  # cut short
        ("not JSON", "[" * 100_000),  # nested past Python's recursion limit
        ("not JSON", '{"type": "Dial", "n": ' + "9" * 5000 + "}"),  # a number Python refuses
        ("not JSON", "\x00\xff garbage " * 100_000),  # a megabyte of it
        ("not a JSON object", "[1, 2, 3]"),
        ("not a JSON object", '"StasisStart"'),
        ("not a JSON object", "null"),
        ("no type", json.dumps({**start, "type": None})),
        ("no type", json.dumps({k: v for k, v in start.items() if k != "type"})),
        ("a channel without an id", json.dumps(no_channel)),
        ("a channel without an id", json.dumps(no_id)),
        ("a channel without an id", json.dumps(int_id)),
        ("a channel without an id", json.dumps(empty_id)),
        ("a channel without an id", json.dumps({**start, "channel": "1795558086.153"})),
        ("a channel without an id", json.dumps(dtmf_no_id)),
    ]


async def test_malformed_messages_are_dropped_with_one_line_per_cause(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[dict] = []
    router = EventRouter(calls.append)
    seen: list[dict] = []
    router.monitors.append(seen.append)
    texts = malformed_texts()

    for _ in range(3):
        for _, text in texts:
            router.dispatch_text(text)

    assert calls == []
    lines = router_warnings(caplog)
    causes = {cause for cause, _ in texts}
    assert len(lines) == len(causes)  # 51 bad messages, one line per cause
    for cause in causes:
        [line] = [line for line in lines if line.startswith(f"ignoring an ARI event: {cause}: ")]
        assert len(line) < 300 and "\n" not in line
    assert not any(r.exc_info for r in caplog.records)


async def test_a_cause_is_said_again_later_with_how_many_went_unsaid(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = EventRouter(lambda e: None)
    for _ in range(1000):
        router.dispatch_text("garbage")
    monkeypatch.setattr(router_module, "COMPLAINT_INTERVAL", 0.0)
    router.dispatch_text("garbage")
    first, second = router_warnings(caplog)
    assert first.startswith("ignoring an ARI event: not JSON: ")
    assert second.endswith("(999 more since the last one)")


async def test_a_recorded_stream_with_garbage_interleaved_routes_as_before(caplog: pytest.LogCaptureFixture) -> None:
    def replay(noise: bool) -> tuple[list[str], list[str]]:
        calls: list[str] = []
        router = EventRouter(lambda event: calls.append(event["channel"]["id"]))
        sunk: list[str] = []
        router.subscribe("1795558095.157", lambda e: sunk.append(e["type"]))
        for event in recorded("ari-events-sample.jsonl") + recorded("ari-events-extra.jsonl"):
            if noise:
                for _, text in malformed_texts()[::4]:
                    router.dispatch_text(text)
                router.dispatch_text(json.dumps({**event, "type": "SomethingNewInAsterisk23"}))
            router.dispatch_text(json.dumps(event))
        return calls, [kind for kind in sunk if kind != "SomethingNewInAsterisk23"]

    assert replay(noise=True) == replay(noise=False)
    unknown = [r.getMessage() for r in caplog.records if "does not know" in r.getMessage()]
    assert unknown == ["an ARI event of a type this app does not know: SomethingNewInAsterisk23 (passed on)"]


@pytest.mark.parametrize(
    ("args", "seen"),
    [
        ("switchboard-ko", []),  # a string, not a list
        ({"flow": "x"}, []),
        (None, []),
        ([1, None, {"flow": "x"}, ["y"]], ["", "", "", ""]),
        (["x" * 1_000_000], ["x" * MAX_ARG_CHARS]),
        (["switchboard-ko"] * 10_000, ["switchboard-ko"] * MAX_ARGS),
        (["a,b)${EVIL}\n../../etc"], ["a,b)${EVIL}\n../../etc"]),  # text is kept: only a flow name
    ],
    ids=["string", "object", "null", "not-strings", "huge", "many", "hostile-text"],
)
async def test_a_caller_with_weird_args_still_becomes_a_call(
    args: object, seen: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[dict] = []
    router = EventRouter(calls.append)
    router.dispatch_text(json.dumps({**a_caller_start(), "args": args}))

    [call] = calls  # every caller must be answered or sent on: never dropped
    assert call["args"] == seen and call["channel"]["id"] == "1795558086.153"
    lines = router_warnings(caplog)
    if args == seen:
        assert lines == []
    else:
        [line] = lines
        assert line.startswith("ignoring an ARI event: StasisStart args out of shape") and len(line) < 300


async def test_a_failing_sink_or_call_handler_does_not_stop_the_router(caplog: pytest.LogCaptureFixture) -> None:
    def broken_on_call(event: dict) -> None:
        raise AssertionError("no catalog yet")

    router = EventRouter(broken_on_call)
    got: list[str] = []

    def sink(event: dict) -> None:
        got.append(event["type"])
        if event["type"] == "ChannelStateChange":
            raise KeyError("digit")

    router.subscribe("1795558086.153", sink)
    events = recorded("ari-events-sample.jsonl")
    for event in events:
        router.dispatch(event)

    # Every event of the channel arrived, the ones after the sink's failure too.
    expected = [e["type"] for e in events if event_channel_id(e) == "1795558086.153" and e["type"] != "StasisStart"]
    assert got == expected and got.index("ChannelStateChange") < len(got) - 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "handling a StasisStart event of channel 1795558086.153 failed: AssertionError('no catalog yet')" in errors
    assert any("ChannelStateChange" in e and "KeyError" in e for e in errors)
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.INFO)


def test_caller_args_are_short_strings() -> None:
    assert caller_args(["switchboard-ko", "x"]) == ["switchboard-ko", "x"]
    assert caller_args([]) == [] and caller_args(None) == [] and caller_args("abc") == []
    assert caller_args(["é" * 300]) == ["é" * MAX_ARG_CHARS]


def test_own_ids_say_which_app_made_them() -> None:
    """Workers share an Asterisk: each cleans up its own leftovers, never another's taps."""
    mine, theirs = new_id("snoop", "speech-ivr-1"), new_id("snoop", "speech-ivr-2")
    assert is_own_id(mine) and is_own_id(theirs)
    assert owned_by(mine, "speech-ivr-1") and not owned_by(theirs, "speech-ivr-1")
    assert owned_by(new_id("bridge", "speech-ivr-2"), "speech-ivr-2")
    assert not owned_by("1795558086.154", "speech-ivr-1") and not owned_by("speech-ivr-tap-0123", "speech-ivr")


async def test_a_call_broadcast_goes_to_its_handler_and_to_no_call() -> None:
    calls: list[dict] = []
    offered: list[dict] = []
    broadcast = {"type": "CallBroadcast", "channel": {"id": "1795558086.153", "name": "PJSIP/caller-1"}, "called": "ivr"}
    EventRouter(calls.append, offered.append).dispatch(broadcast)
    EventRouter(calls.append).dispatch(broadcast)  # an app that is no worker ignores offers
    assert (offered, calls) == ([broadcast], [])
