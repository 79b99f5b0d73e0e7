"""Real calls through the sandbox Asterisk and the real Korean model, observed from Asterisk's side."""

from __future__ import annotations

import asyncio
import wave

import pytest

from ivr.sandbox import CallLab, SandboxInfo
from ivr.sandbox.prompts import PROMPTS, SWITCHBOARD_KO_CALLERS
from ivr.telephony.app import SpeechIvrApp

pytestmark = pytest.mark.real

FLOW = "switchboard-ko"


@pytest.mark.parametrize("intent", sorted(SWITCHBOARD_KO_CALLERS))
async def test_a_caller_saying_an_intent_reaches_its_destination(
    intent: str, ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo
) -> None:
    speech = SWITCHBOARD_KO_CALLERS[intent].render(sandbox.sounds_dir)
    call = await lab.call(speech=speech, flow=FLOW, delay=1.0)
    arrival = await call.arrival(timeout=30)
    assert (arrival.context, arrival.extension) == ("ivr-dest", intent)
    assert arrival.variables["Intent"] == intent
    assert arrival.variables["Result"] == "matched"
    assert arrival.variables["Flow"] == FLOW
    assert arrival.variables["Transcript"]
    assert 0.7 <= float(arrival.variables["Confidence"]) <= 1.0
    await call.gone()
    assert await lab.wait_idle() == ([], [])


async def test_a_silent_caller_reaches_the_fallback_after_the_no_input_timeout(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo
) -> None:
    call = await lab.call(speech=None, flow=FLOW, delay=0, hold=40)
    arrival = await call.arrival(timeout=40)
    assert (arrival.context, arrival.extension) == ("ivr-fallback", "s")
    assert arrival.variables["Result"] == "no-input"
    assert arrival.variables["Intent"] == ""
    # No earlier than the prompt plus the menu's 5 s of no-input.
    answered = await call.speech_start()
    assert arrival.at - answered >= _prompt_seconds(sandbox) + 5.0
    await call.gone()
    assert await lab.wait_idle() == ([], [])


async def test_a_caller_hanging_up_during_the_prompt_leaves_nothing_behind(
    ivr_app: SpeechIvrApp, lab: CallLab
) -> None:
    call = await lab.call(flow=FLOW, hangup_after=1.5)
    await call.gone()
    # No channel (caller, snoop, tap) and no bridge is left in Asterisk, no task in the app.
    assert await lab.wait_idle() == ([], [])
    await asyncio.wait_for(ivr_app.idle(), timeout=5)
    assert ivr_app.active_calls == 0


def _prompt_seconds(sandbox: SandboxInfo) -> float:
    name = next(iter(PROMPTS))
    assert name == f"{FLOW}/main"
    with wave.open(str(sandbox.sounds_dir / f"{name}.wav")) as prompt:
        return prompt.getnframes() / prompt.getframerate()
