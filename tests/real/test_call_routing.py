"""Real calls through the sandbox Asterisk and the real Korean model, observed from Asterisk's side."""

from __future__ import annotations

import asyncio
import wave

import pytest

from ivr.flow import Flow
from ivr.project import EXAMPLES_DIR
from ivr.sandbox import CallLab, SandboxInfo
from ivr.sandbox.prompts import SWITCHBOARD_KO_CALLERS, confirming
from ivr.telephony.app import SpeechIvrApp
from tests.harness import TEST_PROMPTS

pytestmark = pytest.mark.real

FLOW = "switchboard-ko"


def destination_intents() -> list[str]:
    """The main-menu intents of the Korean flow that lead straight to a destination."""
    from ivr.flow import load_flow

    flow: Flow = load_flow(EXAMPLES_DIR / "flows" / f"{FLOW}.yaml")
    return [intent for intent, route in flow.start_menu.routes.items() if route.menu is None]


@pytest.mark.parametrize("intent", destination_intents())
async def test_a_caller_saying_an_intent_reaches_its_destination(
    intent: str, ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo
) -> None:
    speech = confirming(sandbox.sounds_dir, SWITCHBOARD_KO_CALLERS[intent])
    call = await lab.call(speech=speech, flow=FLOW, delay=1.0)
    arrival = await call.arrival(timeout=30)
    assert (arrival.context, arrival.extension) == ("ivr-dest", intent)
    assert arrival.variables["Intent"] == intent
    assert arrival.variables["Result"] == "matched"
    assert arrival.variables["Flow"] == FLOW
    assert arrival.variables["Menu"] == "main"
    assert arrival.variables["Transcript"]
    assert 0.5 <= float(arrival.variables["Confidence"]) <= 1.0  # the menu's min_score
    await call.gone()
    assert await lab.wait_idle() == ([], [])


async def test_a_silent_caller_reaches_the_fallback_after_the_no_input_timeouts(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo
) -> None:
    # ivr-test: a short prompt, 2 s of no-input, one retry with its own reprompt.
    call = await lab.call(speech=None, flow="ivr-test", delay=0, hold=40)
    arrival = await call.arrival(timeout=40)
    assert (arrival.context, arrival.extension) == ("ivr-fallback", "s")
    assert arrival.variables["Result"] == "no-input"
    assert arrival.variables["Intent"] == ""
    # No earlier than the prompt, 2 s of silence, the reprompt and 2 s of silence again.
    answered = await call.speech_start()
    least = _seconds(sandbox, "ivr-test/ask") + _seconds(sandbox, "ivr-test/again") + 2 * 2.0
    assert arrival.at - answered >= least
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


def _seconds(sandbox: SandboxInfo, prompt: str) -> float:
    assert prompt in TEST_PROMPTS
    with wave.open(str(sandbox.sounds_dir / f"{prompt}.wav")) as audio:
        return audio.getnframes() / audio.getframerate()
