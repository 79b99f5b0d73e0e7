"""What an admin relies on in production: a record of every call, metrics that count it,
and a shutdown that strands nobody (marked `real`: the sandbox Asterisk and the Korean model)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import wave
from pathlib import Path

import aiohttp
import pytest

from ivr.flow import load_flows
from ivr.sandbox import CallLab, Pcm, SandboxInfo, SipCaller, caller_pcap
from ivr.sandbox.prompts import PROMPTS, SWITCHBOARD_KO_CALLERS, install_prompts
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp, serving
from tests.harness import TEST_PROMPTS, ProcessUse, left_in_process, sandbox_of_its_own

pytestmark = pytest.mark.real


def _records(caplog: pytest.LogCaptureFixture) -> list[dict]:  # type: ignore[type-arg]
    return [r.call for r in caplog.records if r.name == "ivr.calls"]  # type: ignore[attr-defined]


async def test_a_routed_call_leaves_one_record_and_is_counted(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, caplog: pytest.LogCaptureFixture, heard_dir: Path
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
    # the shared app keeps recordings: the call's, and the answer's own, named in the record
    assert (heard_dir / record["recording"]).is_file()
    with wave.open(str(heard_dir / answer["recording"])) as audio:
        assert 0.3 < audio.getnframes() / audio.getframerate() < 3
    assert ivr_app.monitoring is not None and ivr_app.monitoring.url is not None
    async with aiohttp.ClientSession() as http, http.get(f"{ivr_app.monitoring.url}metrics") as response:
        metrics = await response.text()
    assert 'ivr_calls_total{flow="switchboard-ko",result="matched"}' in metrics
    assert "ivr_speech_end_to_destination_seconds_count" in metrics


async def test_sigterm_stops_new_dialogs_lets_calls_finish_then_sends_the_rest_to_the_fallback(
    models: ModelStore, flow_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """SIGTERM (what ``speech-ivr run``'s handler does: the app's task is cancelled) while a
    silent SIP caller hears the menu: a SIP call that arrives after it goes at once to the
    fallback with IVR_RESULT=error, the caller in progress gets the grace (3 s here) and is
    then sent to the fallback too, its record says why, and the app exits leaving nothing:
    no channel or bridge in Asterisk, no task or file descriptor in this process.

    The app is one of its own (it is stopped) under the name SIP calls reach, speech-ivr, so
    it runs on a sandbox of its own: the session's app has that name on the shared one."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    before = ProcessUse.now()
    async with sandbox_of_its_own("shutdown") as sandbox:
        info = sandbox.status()
        assert info is not None and info.sip_port is not None
        await asyncio.to_thread(install_prompts, info.sounds_dir, {**PROMPTS, **TEST_PROMPTS})
        settings = info.app_settings(
            flows_dir=flow_files[0], grammars_dir=flow_files[1],
            default_flow="switchboard-ko", shutdown_grace=3.0, watch_flows=False,
        )
        app = SpeechIvrApp(settings, load_flows(settings.flows_dir, settings.grammars_dir), models)
        running = asyncio.create_task(app.run())
        await asyncio.wait_for(app.ready.wait(), 60)
        silence = caller_pcap(tmp_path / "silent.pcap", Pcm.silence(1.0))
        async with CallLab(info) as lab:
            async with SipCaller(lab, info.sip_port, silence.path, extension="switchboard-ko", hold=60) as silent:
                await lab.wait_for(lambda e: e.get("type") == "PlaybackStarted", timeout=15)
                running.cancel()  # what SIGTERM does (speech-ivr run's signal handler)
                await asyncio.sleep(0.3)
                async with SipCaller(lab, info.sip_port, silence.path, extension="switchboard-ko", hold=60) as late:
                    late_arrival = await late.call.arrival(timeout=10)
                assert (late_arrival.context, late_arrival.variables["Result"]) == ("ivr-fallback", "error")
                silent_arrival = await silent.call.arrival(timeout=15)  # cut short after the grace
                assert (silent_arrival.context, silent_arrival.variables["Result"]) == ("ivr-fallback", "error")
            assert silent.result is not None and silent.result.ok, silent.result and silent.result.summary()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(running, 15)
            records = [r for r in _records(caplog) if r["call_id"] == silent.call.id]
            assert records and records[0]["problems"] == ["sent to the fallback: the application is shutting down"]
            await lab.end_calls()
            assert await lab.wait_idle() == ([], [])
    assert not app.router.owned()
    assert not await left_in_process(before)


async def test_beyond_max_recognitions_a_call_goes_on_with_keys_and_is_counted(
    sandbox: SandboxInfo, models: ModelStore, flow_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Admission control: one call may be heard at a time; a second one is not left waiting
    for a recognizer, its menu takes keys only (a speech-only menu sends it to the fallback)."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    settings = sandbox.app_settings(
        app="ivr-admission", flows_dir=flow_files[0], grammars_dir=flow_files[1],
        default_flow="switchboard-ko", watch_flows=False, max_recognitions=1,
    )
    app = SpeechIvrApp(settings, load_flows(settings.flows_dir, settings.grammars_dir), models)
    async with serving(app), CallLab(sandbox) as lab:
        endpoint = "Local/ivr-admission@ivr-app"
        await lab.call(endpoint=endpoint, variables={"FLOW": "switchboard-ko"}, hold=30)  # heard, holding the one recognizer
        await lab.wait_for(lambda e: e.get("type") == "PlaybackStarted", timeout=15)
        keyed = await lab.call(endpoint=endpoint, variables={"FLOW": "switchboard-ko"}, dtmf="3", delay=2.0)
        spoken = await lab.call(endpoint=endpoint, variables={"FLOW": "ivr-test-speech"})
        keyed_arrival, spoken_arrival = await asyncio.gather(keyed.arrival(timeout=20), spoken.arrival(timeout=20))
        assert (keyed_arrival.extension, keyed_arrival.variables["Result"]) == ("billing", "dtmf")
        assert (spoken_arrival.context, spoken_arrival.variables["Result"]) == ("ivr-fallback", "error")
        assert app.admission.refused == 2 and app.admission.heard == 1
        await lab.end_calls()
        await asyncio.wait_for(app.idle(), 15)
        assert app.admission.heard == 0
    problems = [r.call["problems"] for r in caplog.records if r.name == "ivr.calls" and r.call["call_id"] == keyed.other_id]  # type: ignore[attr-defined]
    assert problems and "no recognizer free" in problems[0][0]
