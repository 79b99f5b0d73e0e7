"""What an admin relies on in production: a record of every call, metrics that count it,
and a shutdown that strands nobody (marked `real`: the sandbox Asterisk and the Korean model)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import aiohttp
import pytest

from ivr.flow import load_flows
from ivr.sandbox import CallLab, SandboxInfo
from ivr.sandbox.prompts import SWITCHBOARD_KO_CALLERS
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp

pytestmark = pytest.mark.real


def _records(caplog: pytest.LogCaptureFixture) -> list[dict]:  # type: ignore[type-arg]
    return [r.call for r in caplog.records if r.name == "ivr.calls"]  # type: ignore[attr-defined]


async def test_a_routed_call_leaves_one_record_and_is_counted(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr.calls")
    speech = SWITCHBOARD_KO_CALLERS["sales"].render(sandbox.sounds_dir)
    call = await lab.call(speech=speech, flow="switchboard-ko")
    arrival = await call.arrival()
    assert arrival.extension == "sales"
    await asyncio.wait_for(ivr_app.idle(), 10)
    (record,) = [r for r in _records(caplog) if r["call_id"] == call.other_id]
    assert (record["ended"], record["result"], record["intent"]) == ("routed", "matched", "sales")
    assert record["destination"] == {"context": "ivr-dest", "extension": "sales", "priority": 1}
    answer = record["turns"][0]["answers"][-1]
    assert answer["transcript"] and answer["verdict"] == "accept" and answer["words"][0]["confidence"] > 0
    assert 0 < record["speech_end_to_destination"] < 3
    assert ivr_app.monitoring is not None and ivr_app.monitoring.url is not None
    async with aiohttp.ClientSession() as http, http.get(f"{ivr_app.monitoring.url}metrics") as response:
        metrics = await response.text()
    assert 'ivr_calls_total{flow="switchboard-ko",result="matched"}' in metrics
    assert "ivr_speech_end_to_destination_seconds_count" in metrics


async def test_sigterm_stops_new_dialogs_lets_calls_finish_then_sends_the_rest_to_the_fallback(
    sandbox: SandboxInfo, models: ModelStore, flow_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr.calls")
    app_name = "ivr-shutdown"
    settings = sandbox.app_settings(
        app=app_name, flows_dir=flow_files[0], grammars_dir=flow_files[1],
        default_flow="switchboard-ko", shutdown_grace=3.0, watch_flows=False,
    )
    app = SpeechIvrApp(settings, load_flows(settings.flows_dir, settings.grammars_dir), models)
    running = asyncio.create_task(app.run())
    await asyncio.wait_for(app.ready.wait(), 60)
    async with CallLab(sandbox) as lab:
        endpoint = f"Local/{app_name}@ivr-app"
        silent = await lab.call(endpoint=endpoint, variables={"FLOW": "switchboard-ko"}, hold=60)
        await lab.wait_for(lambda e: e.get("type") == "PlaybackStarted", timeout=15)
        running.cancel()  # what SIGTERM does (speech-ivr run's signal handler)
        await asyncio.sleep(0.3)
        late = await lab.call(endpoint=endpoint, variables={"FLOW": "switchboard-ko"}, hold=60)
        late_arrival = await late.arrival(timeout=10)
        assert (late_arrival.context, late_arrival.variables["Result"]) == ("ivr-fallback", "error")
        silent_arrival = await silent.arrival(timeout=15)  # cut short after the grace
        assert (silent_arrival.context, silent_arrival.variables["Result"]) == ("ivr-fallback", "error")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(running, 15)
        records = [r for r in _records(caplog) if r["call_id"] == silent.other_id]
        assert records and records[0]["problems"] == ["sent to the fallback: the application is shutting down"]
        await lab.end_calls()
        assert await lab.wait_idle() == ([], [])
    assert not app.router.owned()
