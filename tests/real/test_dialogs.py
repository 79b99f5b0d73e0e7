"""The dialog features through the sandbox Asterisk and the real Korean model.

Callers are scripted: espeak-ng phrases and pauses played in a row by the caller leg, so
each step lands while the app is asking the matching question.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ivr.sandbox import CallLab, SandboxInfo, parse_timestamp
from ivr.sandbox.prompts import KO_CALLERS, SWITCHBOARD_KO_CALLERS, script
from ivr.telephony.app import SpeechIvrApp
from ivr.telephony.router import AriEvent

pytestmark = pytest.mark.real


@pytest.fixture
async def app_events(ivr_app: SpeechIvrApp) -> AsyncIterator[list[AriEvent]]:
    """Every ARI event the app receives during the test (PlaybackFinished included)."""
    events: list[AriEvent] = []
    ivr_app.router.monitors.append(events.append)
    yield events
    ivr_app.router.monitors.remove(events.append)


def playbacks(events: list[AriEvent], channel_id: str, kind: str) -> list[AriEvent]:
    return [
        e
        for e in events
        if e["type"] == kind and e["playback"]["target_uri"] == f"channel:{channel_id}"
    ]


async def test_speaking_over_the_prompt_stops_it(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, app_events: list[AriEvent]
) -> None:
    # The main prompt lasts about 10 s; the caller speaks after 1 s.
    call = await lab.call(speech=SWITCHBOARD_KO_CALLERS["sales"].render(sandbox.sounds_dir), flow="switchboard-ko")
    arrival = await call.arrival()
    assert arrival.extension == "sales"
    spoke = await call.speech_start()
    (finished,) = playbacks(app_events, call.other_id, "PlaybackFinished")
    assert finished["playback"]["media_uri"] == "sound:speech-ivr/switchboard-ko/main"
    # Stopped right after the caller started, long before its natural end.
    assert parse_timestamp(finished["timestamp"]) - spoke < 1.5


async def test_a_key_routes_the_call(ivr_app: SpeechIvrApp, lab: CallLab) -> None:
    call = await lab.call(flow="switchboard-ko", delay=0.5, dtmf="3")
    arrival = await call.arrival()
    assert (arrival.context, arrival.extension) == ("ivr-dest", "billing")
    assert arrival.variables["Result"] == "dtmf"
    assert arrival.variables["Transcript"] == "3"


async def test_two_levels_of_sub_menu(ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo) -> None:
    # main: "환불" (support) -> support: "교환" (exchange) -> order: "변경" (change)
    said = script(
        sandbox.sounds_dir,
        SWITCHBOARD_KO_CALLERS["support"], 2.0, KO_CALLERS["support/exchange"], 2.0, KO_CALLERS["order/change"],
    )
    call = await lab.call(speech=said, flow="switchboard-ko")
    arrival = await call.arrival()
    assert (arrival.context, arrival.extension) == ("ivr-dest", "order-change")
    assert arrival.variables["Menu"] == "order"
    assert arrival.variables["Intent"] == "change"


async def test_no_input_is_asked_again_and_answered_the_second_time(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, app_events: list[AriEvent]
) -> None:
    # ivr-test: a short prompt, then 2 s of silence, then the reprompt "다시 말씀하세요".
    call = await lab.call(
        speech=SWITCHBOARD_KO_CALLERS["sales"].render(sandbox.sounds_dir), flow="ivr-test", delay=4.0
    )
    arrival = await call.arrival()
    assert (arrival.extension, arrival.variables["Result"]) == ("sales", "matched")
    prompts = [e["playback"]["media_uri"] for e in playbacks(app_events, call.other_id, "PlaybackStarted")]
    assert prompts == ["sound:speech-ivr/ivr-test/ask", "sound:speech-ivr/ivr-test/again"]


async def test_no_match_until_the_retry_limit_then_the_fallback(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, app_events: list[AriEvent]
) -> None:
    # ivr-test has no route for "support" (환불) and allows one retry.
    support = SWITCHBOARD_KO_CALLERS["support"]
    call = await lab.call(speech=script(sandbox.sounds_dir, support, 2.0, support), flow="ivr-test")
    arrival = await call.arrival()
    assert (arrival.context, arrival.variables["Result"]) == ("ivr-fallback", "no-match")
    assert arrival.variables["Transcript"] == "환불"
    prompts = [e["playback"]["media_uri"] for e in playbacks(app_events, call.other_id, "PlaybackStarted")]
    assert prompts == ["sound:speech-ivr/ivr-test/ask", "sound:speech-ivr/ivr-test/sorry"]


async def test_a_confirmed_answer_is_routed(ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo) -> None:
    said = script(sandbox.sounds_dir, SWITCHBOARD_KO_CALLERS["sales"], 2.0, KO_CALLERS["yes"])
    arrival = await (await lab.call(speech=said, flow="ivr-test-confirm")).arrival()
    assert (arrival.extension, arrival.variables["Result"]) == ("sales", "matched")


async def test_a_denied_answer_is_asked_again(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, app_events: list[AriEvent]
) -> None:
    said = script(
        sandbox.sounds_dir,
        SWITCHBOARD_KO_CALLERS["sales"], 2.0, KO_CALLERS["no"], 2.0,
        SWITCHBOARD_KO_CALLERS["tech"], 2.0, KO_CALLERS["yes"],
    )
    call = await lab.call(speech=said, flow="ivr-test-confirm")
    arrival = await call.arrival()
    assert (arrival.extension, arrival.variables["Result"]) == ("tech", "matched")
    prompts = [e["playback"]["media_uri"] for e in playbacks(app_events, call.other_id, "PlaybackStarted")]
    assert prompts == [
        "sound:speech-ivr/ivr-test/ask",
        "sound:speech-ivr/ivr-test/confirm",
        "sound:speech-ivr/ivr-test/ask",
        "sound:speech-ivr/ivr-test/confirm",
    ]


async def test_the_stasis_argument_picks_the_flow(ivr_app: SpeechIvrApp, lab: CallLab) -> None:
    default = await (await lab.call(flow=None, delay=0.5, dtmf="1")).arrival()
    assert (default.extension, default.variables["Flow"]) == ("sales", "switchboard-ko")
    chosen = await (await lab.call(flow="ivr-test", delay=0.5, dtmf="4")).arrival()
    assert (chosen.extension, chosen.variables["Flow"]) == ("tech", "ivr-test")


async def test_an_unknown_flow_goes_to_the_default_flows_fallback_with_error(
    ivr_app: SpeechIvrApp, lab: CallLab
) -> None:
    arrival = await (await lab.call(flow="no-such-flow")).arrival()
    assert (arrival.context, arrival.extension) == ("ivr-fallback", "s")
    assert (arrival.variables["Result"], arrival.variables["Flow"]) == ("error", "no-such-flow")


async def test_a_flow_edited_during_a_call_changes_new_calls_only(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, flow_files: tuple[Path, Path]
) -> None:
    flow_file = flow_files[0] / "ivr-test.yaml"
    original = flow_file.read_text()
    sales = SWITCHBOARD_KO_CALLERS["sales"].render(sandbox.sounds_dir)
    reloads = ivr_app.reloads
    try:
        # In its menu while the file changes; it speaks after the reload.
        in_progress = await lab.call(speech=sales, flow="ivr-test", delay=3.0)
        await asyncio.sleep(0.5)
        flow_file.write_text(original.replace("extension: sales", "extension: sales-new"))
        await _until(lambda: ivr_app.reloads > reloads)
        assert (await in_progress.arrival()).extension == "sales"
        assert (await (await lab.call(speech=sales, flow="ivr-test")).arrival()).extension == "sales-new"

        # A broken edit is refused: the flows in use stay.
        flow_file.write_text(original.replace("routes:", "routes: [oops"))
        await asyncio.sleep(1.5)
        assert ivr_app.reloads == reloads + 1
        assert (await (await lab.call(speech=sales, flow="ivr-test")).arrival()).extension == "sales-new"
    finally:
        flow_file.write_text(original)
        await _until(lambda: ivr_app.reloads == reloads + 2)


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)
