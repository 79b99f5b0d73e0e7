"""The dialog engine, driven by events and a fake clock: no asyncio, no Asterisk."""

from __future__ import annotations

import pytest

from ivr.dialog import (
    CallerHungUp,
    ContinueInDialplan,
    DialogEngine,
    Listen,
    Play,
    PromptFinished,
    PromptStarted,
    SetVariables,
    SpeechStarted,
    StopListening,
    StopPrompt,
    TapFailed,
    Tick,
    Utterance,
)
from ivr.dialog.engine import Result
from ivr.flow.model import Destination, Flow, Menu, Timeouts
from ivr.grammar.matcher import Match

SALES = Destination(context="ivr-dest", extension="sales")
FALLBACK = Destination(context="ivr-fallback", extension="s")


def make_flow(*, barge_in: bool = True) -> Flow:
    return Flow(
        name="test",
        language="ko",
        start="main",
        fallback=FALLBACK,
        menus={
            "main": Menu(
                prompt="sound:main",
                grammar="g",
                routes={"sales": SALES},
                min_score=70,
                barge_in=barge_in,
                timeouts=Timeouts(no_input=5, end_of_speech=0.6, max_speech=8),
            )
        },
    )


def match(intent: str | None, score: float) -> Match:
    return Match(intent=intent, score=score, phrase=intent, runner_up=None, runner_up_score=0.0)


def variables(actions: list) -> dict[str, str]:
    (setvars,) = [a for a in actions if isinstance(a, SetVariables)]
    return setvars.as_dict()


def test_start_plays_the_prompt_and_listens_for_barge_in() -> None:
    engine = DialogEngine(make_flow(), call_id="c1")
    actions = engine.start(now=0.0)
    assert actions == [Play("c1-prompt-1", "sound:main"), Listen("g", make_flow().start_menu.timeouts)]
    assert engine.deadline is None  # no-input is timed from the end of the prompt


def test_without_barge_in_listening_starts_when_the_prompt_ends() -> None:
    engine = DialogEngine(make_flow(barge_in=False), call_id="c1")
    assert [type(a) for a in engine.start(0.0)] == [Play]
    assert engine.handle(PromptStarted("c1-prompt-1"), 0.1) == []
    assert [type(a) for a in engine.handle(PromptFinished("c1-prompt-1"), 3.0)] == [Listen]
    assert engine.deadline == 8.0


def test_a_matched_utterance_routes_to_its_destination_with_the_variables() -> None:
    engine = DialogEngine(make_flow(), call_id="c1")
    engine.start(0.0)
    engine.handle(PromptFinished("c1-prompt-1"), 3.0)
    assert engine.handle(SpeechStarted(), 4.0) == []
    actions = engine.handle(Utterance("영업부", match("sales", 100)), 5.0)
    assert actions[0] == StopListening()
    assert actions[-1] == ContinueInDialplan(SALES)
    assert variables(actions) == {
        "IVR_INTENT": "sales",
        "IVR_CONFIDENCE": "1.00",
        "IVR_TRANSCRIPT": "영업부",
        "IVR_FLOW": "test",
        "IVR_RESULT": "matched",
    }
    assert engine.finished and engine.outcome and engine.outcome.result is Result.MATCHED


def test_speech_over_the_prompt_stops_it_and_routing_waits_for_nothing_else() -> None:
    engine = DialogEngine(make_flow(), call_id="c1")
    engine.start(0.0)
    assert engine.handle(SpeechStarted(), 1.0) == [StopPrompt("c1-prompt-1")]
    engine.handle(PromptFinished("c1-prompt-1"), 1.01)
    actions = engine.handle(Utterance("영업", match("sales", 100)), 2.0)
    assert StopPrompt("c1-prompt-1") not in actions
    assert actions[-1] == ContinueInDialplan(SALES)


def test_a_decision_while_the_prompt_plays_stops_it_before_setting_variables() -> None:
    engine = DialogEngine(make_flow(barge_in=True), call_id="c1")
    engine.start(0.0)
    # The recognizer decided without a speech onset (e.g. very short word): prompt still plays.
    actions = engine.handle(Utterance("영업", match("sales", 100)), 1.0)
    assert actions.index(StopPrompt("c1-prompt-1")) < next(
        i for i, a in enumerate(actions) if isinstance(a, SetVariables)
    )


def test_silence_goes_to_the_fallback_after_the_no_input_timeout() -> None:
    engine = DialogEngine(make_flow(), call_id="c1")
    engine.start(0.0)
    engine.handle(PromptFinished("c1-prompt-1"), 3.0)
    assert engine.handle(Tick(), 7.9) == []
    actions = engine.handle(Tick(), 8.0)
    assert actions[-1] == ContinueInDialplan(FALLBACK)
    assert variables(actions)["IVR_RESULT"] == "no-input"


@pytest.mark.parametrize("utterance", [Utterance("", match(None, 0)), Utterance("요금", match("billing", 100)), Utterance("영어", match("sales", 50))])
def test_no_match_goes_to_the_fallback(utterance: Utterance) -> None:
    # Nothing recognized, an intent this menu has no route for, a score under min_score.
    engine = DialogEngine(make_flow(), call_id="c1")
    engine.start(0.0)
    engine.handle(PromptFinished("c1-prompt-1"), 3.0)
    engine.handle(SpeechStarted(), 4.0)
    actions = engine.handle(utterance, 5.0)
    assert actions[-1] == ContinueInDialplan(FALLBACK)
    assert variables(actions)["IVR_RESULT"] == "no-match"
    assert variables(actions)["IVR_TRANSCRIPT"] == utterance.transcript


def test_a_recognizer_that_never_answers_does_not_strand_the_call() -> None:
    engine = DialogEngine(make_flow(), call_id="c1")
    engine.start(0.0)
    engine.handle(PromptFinished("c1-prompt-1"), 3.0)
    engine.handle(SpeechStarted(), 4.0)
    assert engine.deadline is not None and engine.deadline > 4.0 + 8 + 0.6
    actions = engine.handle(Tick(), engine.deadline)
    assert actions[-1] == ContinueInDialplan(FALLBACK)


def test_a_tap_failure_goes_to_the_fallback_with_error() -> None:
    engine = DialogEngine(make_flow(), call_id="c1")
    engine.start(0.0)
    actions = engine.handle(TapFailed("no audio"), 0.5)
    assert actions[0] == StopPrompt("c1-prompt-1")
    assert variables(actions)["IVR_RESULT"] == "error"
    assert actions[-1] == ContinueInDialplan(FALLBACK)


def test_a_hangup_ends_the_dialog_without_actions() -> None:
    engine = DialogEngine(make_flow(), call_id="c1")
    engine.start(0.0)
    assert engine.handle(CallerHungUp(), 1.0) == []
    assert engine.finished and engine.outcome and engine.outcome.result is Result.HANGUP
    assert engine.handle(Utterance("영업", match("sales", 100)), 2.0) == []
