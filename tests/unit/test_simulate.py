"""The offline simulator: the runtime a live call runs on, on a simulated clock."""

from __future__ import annotations

import pytest

from ivr.dialog.actions import Judged, Play
from ivr.flow import load_flows
from ivr.flow.compiled import compile_flows
from ivr.grammar.verdict import Verdict
from ivr.project import EXAMPLES_DIR
from ivr.simulate import CALLER_DELAY, Keys, Say, Silence, SimulationError, Simulator, Wav

FLOWS, GRAMMARS = EXAMPLES_DIR / "flows", EXAMPLES_DIR / "grammars"


@pytest.fixture(scope="module")
def simulator() -> Simulator:
    return Simulator(compile_flows(load_flows(FLOWS, GRAMMARS))["switchboard-ko"])


def test_a_trace_shows_every_turn_and_the_route(simulator: Simulator) -> None:
    simulation = simulator.run([Say("청구"), Say("아니요"), Keys("2"), Say("교환"), Silence(), Say("조회")])
    report = simulation.report()
    assert "heard '청구': confirm billing (score 78)" in report
    assert "play sound:speech-ivr/switchboard-ko/confirm-billing" in report
    assert "play sound:speech-ivr/switchboard-ko/no-input" in report
    assert report.endswith("route: ivr-dest,order-lookup,1  IVR_RESULT=matched")
    assert simulation.variables["DEPARTMENT"] == "support"


def test_say_is_judged_by_the_live_verdict(simulator: Simulator) -> None:
    # Two departments in one answer: a live call hearing these words asks "did you say ...?".
    simulation = simulator.run([Say("영업부 환불")])
    [judged] = simulation.judged
    assert judged.judgement.verdict is Verdict.CONFIRM and judged.judgement.intent == "sales"
    assert round(judged.judgement.score) == 87


def test_the_caller_answers_over_the_prompt_after_the_callers_delay(simulator: Simulator) -> None:
    simulation = simulator.run([Say("상담원")])
    [(at, play)] = [(at, a) for at, a in simulation.actions if isinstance(a, Play)]
    assert at == 0.0
    starts = [step for step in simulation.steps if step.text.startswith("caller says")]
    assert starts[0].at == pytest.approx(CALLER_DELAY)
    assert any(step.text == "stop the prompt" for step in simulation.steps)


def test_the_next_turn_answers_the_next_question(simulator: Simulator) -> None:
    simulation = simulator.run([Say("청구"), Keys("1")])
    confirm_at = next(at for at, a in simulation.actions if isinstance(a, Play) and "confirm" in a.media[0])
    presses = [step.at for step in simulation.steps if step.text.startswith("caller presses")]
    assert presses == [pytest.approx(confirm_at + CALLER_DELAY)]
    assert simulation.outcome is not None and simulation.outcome.intent == "billing"


def test_input_after_the_call_left_is_noted_not_heard(simulator: Simulator) -> None:
    simulation = simulator.run([Keys("1"), Say("상담원")])
    assert simulation.outcome is not None and simulation.outcome.intent == "sales"
    assert "the call has left" in simulation.steps[-1].text


def test_silence_to_the_end_reaches_the_fallback(simulator: Simulator) -> None:
    simulation = simulator.run([])
    assert simulation.outcome is not None and simulation.outcome.result.value == "no-input"
    assert not [a for _, a in simulation.actions if isinstance(a, Judged)]


def test_a_wav_turn_needs_the_model(simulator: Simulator, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SimulationError, match="speech model"):
        simulator.run([Wav(tmp_path / "x.wav")])
