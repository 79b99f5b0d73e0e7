"""Faults that must strand nobody: each call ends at a destination, a fallback or a clean
hangup, its record says why, and nothing (channel, bridge, tap) is left (marked `real`)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from ivr.flow import load_flows
from ivr.sandbox import CallLab, SandboxInfo
from ivr.sandbox.prompts import KO_CALLERS, SWITCHBOARD_KO_CALLERS, script
from ivr.speech.models import ModelStore
from ivr.speech.recognizer import GrammarRecognizer
from ivr.telephony.app import SpeechIvrApp, serving
from tests.ari_proxy import ari_proxy

pytestmark = pytest.mark.real


def _record(caplog: pytest.LogCaptureFixture, call_id: str) -> dict:  # type: ignore[type-arg]
    (record,) = [r.call for r in caplog.records if r.name == "ivr.calls" and r.call["call_id"] == call_id]  # type: ignore[attr-defined]
    return record


async def _nothing_left(app: SpeechIvrApp, lab: CallLab) -> None:
    await lab.end_calls()
    await asyncio.wait_for(app.idle(), 15)
    assert await lab.wait_idle() == ([], [])
    assert not app.router.owned()


async def test_a_cut_ari_connection_mid_call_is_made_again_and_the_call_still_routes(
    sandbox: SandboxInfo, models: ModelStore, flow_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr.calls")
    async with ari_proxy(sandbox.http_port) as proxy:
        settings = sandbox.app_settings(
            ari_url=proxy.url, app="ivr-faults", flows_dir=flow_files[0], grammars_dir=flow_files[1],
            default_flow="switchboard-ko", watch_flows=False,
        )
        app = SpeechIvrApp(settings, load_flows(*flow_files), models)
        async with serving(app), CallLab(sandbox) as lab:
            speech = SWITCHBOARD_KO_CALLERS["sales"].render(sandbox.sounds_dir)
            call = await lab.call(endpoint="Local/ivr-faults@ivr-app", variables={"FLOW": "switchboard-ko"}, speech=speech, delay=2.5)
            await lab.wait_for(lambda e: e.get("type") == "PlaybackStarted", timeout=15)
            assert proxy.cut_events() == 2
            arrival = await call.arrival(timeout=30)
            assert (arrival.context, arrival.extension) == ("ivr-dest", "sales")
            await asyncio.wait_for(app.ready.wait(), 10)  # registered again
            assert app.metrics.reconnects._value.get() >= 1  # type: ignore[attr-defined]
            await _nothing_left(app, lab)
    assert _record(caplog, call.other_id)["ended"] == "routed"


async def test_a_recognizer_failing_for_one_call_leaves_the_others_alone(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr.calls")
    accept = GrammarRecognizer.accept

    def failing_on_tech(self: GrammarRecognizer, pcm: bytes) -> str:
        words = accept(self, pcm)
        if "오류" in words:
            raise RuntimeError("injected fault")
        return words

    monkeypatch.setattr(GrammarRecognizer, "accept", failing_on_tech)
    faulty = await lab.call(speech=SWITCHBOARD_KO_CALLERS["tech"].render(sandbox.sounds_dir), flow="ivr-test-speech")
    healthy = await lab.call(speech=SWITCHBOARD_KO_CALLERS["sales"].render(sandbox.sounds_dir), flow="ivr-test-speech")
    faulty_arrival, healthy_arrival = await asyncio.gather(faulty.arrival(), healthy.arrival())
    assert (faulty_arrival.context, faulty_arrival.variables["Result"]) == ("ivr-fallback", "error")
    assert (healthy_arrival.extension, healthy_arrival.variables["Result"]) == ("sales", "matched")
    await asyncio.wait_for(ivr_app.idle(), 10)
    assert any("injected fault" in problem for problem in _record(caplog, faulty.other_id)["problems"])


async def test_a_bad_flow_file_saved_mid_call_changes_nothing(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, flow_files: tuple[Path, Path]
) -> None:
    broken = flow_files[0] / "broken.yaml"
    said = script(sandbox.sounds_dir, 3.0, SWITCHBOARD_KO_CALLERS["sales"])
    call = await lab.call(speech=said, flow="switchboard-ko")
    await lab.wait_for(lambda e: e.get("type") == "PlaybackStarted", timeout=15)
    try:
        reloads = ivr_app.reloads
        broken.write_text("name: broken\nlanguage: ko\nstart: [\n")
        assert await ivr_app.reload() is False  # the watcher would do the same; now, to be sure
        assert ivr_app.reloads == reloads
        assert (await call.arrival()).extension == "sales"
        later = await lab.call(speech=SWITCHBOARD_KO_CALLERS["sales"].render(sandbox.sounds_dir), flow="switchboard-ko")
        assert (await later.arrival()).extension == "sales"
    finally:
        broken.unlink()


@pytest.mark.parametrize(
    ("stage", "flow", "speech", "hangup_after"),
    [
        ("during the prompt", "switchboard-ko", None, 0.5),
        ("while speaking", "ivr-test-speech", "long", 2.0),
        ("at the confirmation", "ivr-test-confirm", "sales", 4.0),
        ("at the decision", "ivr-test-speech", "sales", 2.1),
    ],
)
async def test_a_caller_hanging_up_at_any_stage_leaves_nothing(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, caplog: pytest.LogCaptureFixture,
    stage: str, flow: str, speech: str | None, hangup_after: float,
) -> None:
    caplog.set_level(logging.INFO, logger="ivr.calls")
    if speech == "long":
        media = script(sandbox.sounds_dir, KO_CALLERS["no"], 0.2, KO_CALLERS["no"], 0.2, KO_CALLERS["no"])
    elif speech is not None:
        media = SWITCHBOARD_KO_CALLERS[speech].render(sandbox.sounds_dir)
    else:
        media = None
    call = await lab.call(speech=media, flow=flow, delay=1.0, hangup_after=hangup_after)
    await call.gone()
    await asyncio.wait_for(ivr_app.idle(), 15)
    record = _record(caplog, call.other_id)
    assert record["ended"] in ("hung up", "routed"), stage  # a decision may just beat the hangup
    assert await lab.wait_idle() == ([], [])
    assert not ivr_app.router.owned()
