"""The dialog engine, driven by events and a fake clock: no asyncio, no Asterisk.

Answers are what hearing reports (words with the recognizer's confidence); the engine judges
them itself, with the menu's matcher and thresholds (``ivr.grammar.verdict``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ivr.dialog.actions import (
    Action,
    ContinueInDialplan,
    Judged,
    Listen,
    Play,
    SetVariables,
    StopListening,
    StopPrompt,
)
from ivr.dialog.engine import DialogEngine, Result
from ivr.dialog.events import (
    CallerHungUp,
    KeyPressed,
    PromptFinished,
    SpeechStarted,
    TapFailed,
    Tick,
    Utterance,
)
from ivr.flow.compiled import CompiledFlow, compile_flow
from ivr.flow.model import Destination, Flow
from ivr.grammar.matcher import IntentMatcher
from ivr.grammar.verdict import Verdict
from ivr.hearing.heard import Heard, Word

SALES = Destination(context="ivr-dest", extension="sales")
BILLING = Destination(context="ivr-dest", extension="billing")
FALLBACK = Destination(context="ivr-fallback", extension="s")
MENU_FALLBACK = Destination(context="ivr-fallback", extension="support")


def make_flow(**main: Any) -> Flow:
    """A flow whose main menu routes sales (key 1), billing (key 2) and support (key 3, a sub-menu)."""
    menu = {
        "prompt": "sound:main",
        "grammar": "g",
        "routes": {
            "sales": {"context": "ivr-dest", "extension": "sales", "key": "1", "set": {"DEPT": "sales"}},
            "billing": {"context": "ivr-dest", "extension": "billing", "key": "2",
                        "confirm": ["sound:did-you-say", "sound:billing"]},
            "support": {"menu": "support", "key": "3", "set": {"DEPT": "support"}},
        },
        "timeouts": {"no_input": 5, "end_of_speech": 0.6, "max_speech": 8},
        "no_input": ["sound:ni-1", "sound:ni-2"],
        "no_match": ["sound:nm-1"],
        **main,
    }
    support = {
        "prompt": "sound:support",
        "grammar": "support",
        "routes": {
            "refund": {"context": "ivr-dest", "extension": "refund", "set": {"TOPIC": "refund"}},
            "delivery": {"menu": "delivery"},
        },
        "retries": 0,
        "fallback": {"context": "ivr-fallback", "extension": "support"},
    }
    delivery = {
        "prompt": "sound:delivery",
        "routes": {"status": {"context": "ivr-dest", "extension": "status", "key": "9"}},
    }
    return Flow.model_validate(
        {
            "name": "test",
            "language": "ko",
            "start": "main",
            "fallback": {"context": "ivr-fallback", "extension": "s"},
            "menus": {"main": menu, "support": support, "delivery": delivery},
            "confirm_words": {"yes": ["yes"], "no": ["no"]},
        }
    )


MATCHERS = {
    "g": IntentMatcher({"sales": ["sales"], "billing": ["billing"], "support": ["support"], "refund": ["refund"]}),
    "support": IntentMatcher({"refund": ["refund"], "delivery": ["delivery"]}),
}


def compiled(flow: Flow) -> CompiledFlow:
    return compile_flow(flow, MATCHERS)


def said(text: str, score: float = 100.0) -> Utterance:
    """Words heard with the confidence that makes the doubt policy score a phrase ``score``
    (40 points off per unit of doubt, see ivr.grammar.verdict)."""
    confidence = 1.0 - (100.0 - score) / 40.0
    assert 0.0 <= confidence <= 1.0, "scores 60 to 100 only"
    words = tuple(Word(word, confidence) for word in text.split())
    return Utterance(Heard(words, 0.0, 0.0, 0.0, 0.0, 0.0))


def listens(grammar: str) -> Callable[[Action], bool]:
    return lambda action: isinstance(action, Listen) and action.listening.grammar == grammar


def judged(actions: list[Action]) -> list[tuple[Verdict, str | None]]:
    return [(a.judgement.verdict, a.judgement.intent) for a in actions if isinstance(a, Judged)]


def variables(actions: list[Action]) -> dict[str, str]:
    (setvars,) = [a for a in actions if isinstance(a, SetVariables)]
    return setvars.as_dict()


def plays(actions: list[Action]) -> list[tuple[str, ...]]:
    return [a.media for a in actions if isinstance(a, Play)]


class Call:
    """An engine with its current time and a record of every action it asked for."""

    def __init__(self, flow: Flow | None = None) -> None:
        self.engine = DialogEngine(compiled(flow or make_flow()), call_id="c1")
        self.now = 0.0
        self.prompt_id = ""
        self.actions = self._record(self.engine.start(self.now))

    def _record(self, actions: list[Action]) -> list[Action]:
        self.actions = actions
        self.prompt_id = next((a.playback_id for a in reversed(actions) if isinstance(a, Play)), self.prompt_id)
        return actions

    def send(self, event: Any, after: float = 0.0) -> list[Action]:
        self.now += after
        return self._record(self.engine.handle(event, self.now))

    def prompt_ends(self, after: float = 1.0) -> list[Action]:
        return self.send(PromptFinished(self.prompt_id), after)

    def silence(self) -> list[Action]:
        """Nothing happens until the engine's deadline."""
        assert self.engine.deadline is not None
        self.now = self.engine.deadline
        return self._record(self.engine.handle(Tick(), self.now))

    def says(self, text: str, score: float = 100.0) -> list[Action]:
        self.send(SpeechStarted(), 0.5)
        return self.send(said(text, score), 1.0)

    def keys(self, digits: str) -> list[Action]:
        actions: list[Action] = []
        for digit in digits:
            actions += self.send(KeyPressed(digit), 0.3)
        return actions


# -- asking and barge-in -------------------------------------------------------------------


def test_start_plays_the_prompt_and_listens_at_once_for_barge_in() -> None:
    call = Call()
    listening = call.engine.flow.menus["main"].listening
    assert call.actions == [Play("c1-prompt-1", ("sound:main",)), Listen(listening)]
    assert listening is not None and listening.grammar == "g"
    assert listening.endpointing.end_of_speech == 0.6 and listening.endpointing.max_speech == 8
    assert set(listening.vocabulary) == {"sales", "billing", "support", "refund"}
    assert call.engine.deadline is None  # no-input is timed from the end of the prompt


def test_without_barge_in_listening_starts_when_the_prompt_ends() -> None:
    call = Call(make_flow(barge_in=False))
    # Not listening from the start: nothing said over the prompt is heard as an answer.
    assert [type(a) for a in call.actions] == [Play, StopListening]
    assert [type(a) for a in call.prompt_ends(3.0)] == [Listen]
    assert call.engine.deadline == pytest.approx(3.0 + 5)


def test_speech_over_the_prompt_stops_it() -> None:
    call = Call()
    assert call.send(SpeechStarted(), 1.0) == [StopPrompt("c1-prompt-1")]
    call.send(PromptFinished("c1-prompt-1"), 0.01)
    actions = call.send(said("sales"), 1.0)
    assert StopPrompt("c1-prompt-1") not in actions
    assert actions[-1] == ContinueInDialplan(SALES)


def test_a_key_over_the_prompt_stops_it_and_the_listening() -> None:
    call = Call()
    actions = call.send(KeyPressed("1"), 0.5)
    assert actions[:2] == [StopPrompt("c1-prompt-1"), StopListening()]
    assert actions[-1] == ContinueInDialplan(SALES)
    assert variables(actions)["IVR_RESULT"] == "dtmf"


def test_without_barge_in_keys_during_the_prompt_are_ignored() -> None:
    call = Call(make_flow(barge_in=False))
    assert call.send(KeyPressed("1"), 0.5) == []
    call.prompt_ends()
    assert call.send(KeyPressed("1"), 0.5)[-1] == ContinueInDialplan(SALES)


# -- routing ---------------------------------------------------------------------------------


def test_a_matched_utterance_routes_with_every_variable() -> None:
    call = Call()
    call.prompt_ends()
    actions = call.says("sales")
    assert judged(actions) == [(Verdict.ACCEPT, "sales")]
    assert actions[-1] == ContinueInDialplan(SALES)
    assert variables(actions) == {
        "DEPT": "sales",
        "IVR_INTENT": "sales",
        "IVR_CONFIDENCE": "1.00",
        "IVR_TRANSCRIPT": "sales",
        "IVR_FLOW": "test",
        "IVR_MENU": "main",
        "IVR_RESULT": "matched",
    }
    assert call.engine.finished and call.engine.outcome and call.engine.outcome.result is Result.MATCHED


def test_a_decision_while_the_prompt_plays_stops_it_before_setting_variables() -> None:
    call = Call()
    actions = call.send(said("sales"), 1.0)  # no onset seen: the prompt still plays
    assert actions.index(StopPrompt("c1-prompt-1")) < next(
        i for i, a in enumerate(actions) if isinstance(a, SetVariables)
    )


def test_sub_menus_two_levels_deep_keep_the_variables_set_on_the_way() -> None:
    call = Call()
    call.prompt_ends()
    actions = call.says("support")
    assert plays(actions) == [("sound:support",)]
    assert listens("support")(actions[-1])
    call.prompt_ends()
    actions = call.says("delivery")
    assert plays(actions) == [("sound:delivery",)]
    assert not any(isinstance(a, Listen) for a in actions)  # the delivery menu takes keys only
    call.prompt_ends()
    actions = call.keys("9")
    assert actions[-1] == ContinueInDialplan(Destination(context="ivr-dest", extension="status"))
    assert variables(actions)["DEPT"] == "support"
    assert variables(actions)["IVR_MENU"] == "delivery"
    assert variables(actions)["IVR_RESULT"] == "dtmf"


# -- keys -----------------------------------------------------------------------------------


def test_multi_digit_entry_ends_with_the_terminator() -> None:
    flow = make_flow(dtmf={"max_digits": 3}, routes={"agent": {"context": "ivr-dest", "extension": "agent", "key": "42"}})
    call = Call(flow)
    call.prompt_ends()
    assert call.keys("42") == [StopListening()]
    actions = call.send(KeyPressed("#"), 0.3)
    assert actions[-1] == ContinueInDialplan(Destination(context="ivr-dest", extension="agent"))
    assert variables(actions)["IVR_TRANSCRIPT"] == "42"


def test_multi_digit_entry_ends_after_the_inter_digit_timeout() -> None:
    flow = make_flow(dtmf={"max_digits": 3, "inter_digit": 2}, routes={"agent": {"context": "ivr-dest", "extension": "agent", "key": "42"}})
    call = Call(flow)
    call.prompt_ends()
    call.keys("42")
    assert call.engine.deadline == pytest.approx(call.now + 2)
    assert call.silence()[-1] == ContinueInDialplan(Destination(context="ivr-dest", extension="agent"))


def test_multi_digit_entry_ends_at_max_digits_and_unknown_keys_are_a_no_match() -> None:
    flow = make_flow(dtmf={"max_digits": 2}, routes={"agent": {"context": "ivr-dest", "extension": "agent", "key": "42"}})
    call = Call(flow)
    call.prompt_ends()
    assert plays(call.keys("77")) == [("sound:nm-1",)]


def test_a_menu_without_keys_ignores_them() -> None:
    call = Call()
    call.prompt_ends()
    call.says("support")
    call.prompt_ends()
    assert call.keys("5") == []


# -- no input, no match, retries ------------------------------------------------------------


def test_silence_gets_escalating_reprompts_then_the_fallback() -> None:
    call = Call()
    call.prompt_ends(3.0)
    assert call.engine.deadline == pytest.approx(8.0)
    assert plays(call.silence()) == [("sound:ni-1",)]
    call.prompt_ends()
    assert plays(call.silence()) == [("sound:ni-2",)]
    call.prompt_ends()
    actions = call.silence()
    assert actions[-1] == ContinueInDialplan(FALLBACK)
    assert variables(actions)["IVR_RESULT"] == "no-input"


def test_no_input_then_an_answer_on_the_second_attempt() -> None:
    call = Call()
    call.prompt_ends()
    call.silence()
    call.prompt_ends()
    assert call.says("sales")[-1] == ContinueInDialplan(SALES)


@pytest.mark.parametrize(
    "utterance",
    [said("refund"), said("sales", 60)],
    ids=["intent-without-route-here", "score-below-min"],
)
def test_no_match_reprompts_until_the_retry_limit_then_the_fallback(utterance: Utterance) -> None:
    call = Call()
    call.prompt_ends()
    for _ in range(2):
        call.send(SpeechStarted(), 0.5)
        assert plays(call.send(utterance, 1.0)) == [("sound:nm-1",)]  # the last reprompt repeats
        call.prompt_ends()
    call.send(SpeechStarted(), 0.5)
    actions = call.send(utterance, 1.0)
    assert actions[-1] == ContinueInDialplan(FALLBACK)
    assert variables(actions)["IVR_RESULT"] == "no-match"
    assert variables(actions)["IVR_TRANSCRIPT"] == utterance.heard.transcript


def test_speech_without_words_is_not_an_answer_and_listening_goes_on() -> None:
    call = Call()
    call.prompt_ends()
    no_input_at = call.engine.deadline
    call.send(SpeechStarted(), 0.5)
    actions = call.send(said(""), 1.0)  # a noise the VAD took for voice
    assert judged(actions) == [(Verdict.LISTEN_ON, None)]
    assert listens("g")(actions[-1]) and len(actions) == 2
    assert call.engine.deadline == no_input_at  # the silence it interrupted goes on
    assert call.says("sales")[-1] == ContinueInDialplan(SALES)


def test_noise_over_the_prompt_leaves_the_full_no_input_time() -> None:
    call = Call()
    call.send(SpeechStarted(), 0.5)  # stops the prompt (barge-in)
    call.send(said(""), 1.0)
    assert call.engine.deadline == call.now + call.engine.menu.timeouts.no_input
    assert plays(call.silence()) == [("sound:ni-1",)]


def test_a_menu_fallback_overrides_the_flows() -> None:
    call = Call()
    call.prompt_ends()
    call.says("support")
    call.prompt_ends()
    actions = call.silence()  # support has no retries
    assert actions[-1] == ContinueInDialplan(MENU_FALLBACK)
    assert variables(actions)["IVR_MENU"] == "support"


def test_a_recognizer_that_never_answers_does_not_strand_the_call() -> None:
    call = Call(make_flow(retries=0))
    call.prompt_ends()
    call.send(SpeechStarted(), 1.0)
    assert call.engine.deadline is not None and call.engine.deadline > call.now + 8 + 0.6
    actions = call.silence()
    assert actions[0] == StopListening()
    assert actions[-1] == ContinueInDialplan(FALLBACK)


# -- confirmation ---------------------------------------------------------------------------


def confirming_call() -> Call:
    call = Call(make_flow(confirm_below=90))
    call.prompt_ends()
    actions = call.says("billing", score=80)
    assert judged(actions) == [(Verdict.CONFIRM, "billing")]
    assert plays(actions) == [("sound:did-you-say", "sound:billing")]
    assert listens("@yes-no")(actions[-1])
    call.prompt_ends()
    return call


def test_a_doubtful_answer_confirmed_with_yes_routes() -> None:
    call = confirming_call()
    actions = call.says("yes")
    assert actions[-1] == ContinueInDialplan(BILLING)
    assert variables(actions)["IVR_INTENT"] == "billing"
    assert variables(actions)["IVR_CONFIDENCE"] == "0.80"


def test_a_doubtful_answer_denied_with_no_asks_the_menu_again() -> None:
    call = confirming_call()
    actions = call.says("no")
    assert plays(actions) == [("sound:main",)]
    assert listens("g")(actions[-1])
    call.prompt_ends()
    assert call.says("sales")[-1] == ContinueInDialplan(SALES)


def test_confirmation_by_keys() -> None:
    call = confirming_call()
    assert call.keys("1")[-1] == ContinueInDialplan(BILLING)
    call = confirming_call()
    assert plays(call.keys("2")) == [("sound:main",)]


def test_an_unanswered_confirmation_reports_the_answer_it_asked_about() -> None:
    call = Call(make_flow(confirm_below=90, retries=0))
    call.prompt_ends()
    call.says("billing", score=80)
    call.prompt_ends()
    actions = call.silence()
    assert actions[-1] == ContinueInDialplan(FALLBACK)
    assert variables(actions)["IVR_RESULT"] == "no-input"
    assert variables(actions)["IVR_TRANSCRIPT"] == "billing"


def test_an_unclear_confirmation_is_asked_again() -> None:
    call = confirming_call()
    assert plays(call.says("sales")) == [("sound:did-you-say", "sound:billing")]


def test_a_confident_answer_is_not_confirmed() -> None:
    call = Call(make_flow(confirm_below=90))
    call.prompt_ends()
    assert call.says("billing", score=95)[-1] == ContinueInDialplan(BILLING)


def test_a_doubtful_answer_without_a_confirm_prompt_is_asked_again_not_taken() -> None:
    call = Call(make_flow(confirm_below=90))  # sales has no confirm prompt
    call.prompt_ends()
    actions = call.says("sales", score=80)
    assert judged(actions) == [(Verdict.CONFIRM, "sales")]
    assert plays(actions) == [("sound:nm-1",)]
    assert not any(isinstance(a, ContinueInDialplan) for a in actions)


def test_words_with_full_confidence_are_judged_like_live_ones() -> None:
    # simulate --say: two intents' words in one answer cost the runner-up penalty.
    call = Call(make_flow(confirm_below=95))
    call.prompt_ends()
    call.send(SpeechStarted(), 0.5)
    actions = call.send(Utterance(Heard.from_text("billing support")), 1.0)
    [(verdict, intent)] = judged(actions)
    assert verdict is Verdict.CONFIRM and intent == "billing"


# -- failures and hangups -------------------------------------------------------------------


def test_a_tap_failure_goes_on_with_keys_when_the_menu_has_keys() -> None:
    call = Call()
    assert call.send(TapFailed("no audio"), 0.5) == [StopListening()]
    call.prompt_ends()
    assert call.keys("2")[-1] == ContinueInDialplan(BILLING)


def test_a_tap_failure_in_a_speech_only_menu_goes_to_the_fallback_with_error() -> None:
    call = Call()
    call.prompt_ends()
    call.says("support")
    actions = call.send(TapFailed("no audio"), 0.5)
    assert actions[0] == StopPrompt(call.engine.call_id + "-prompt-2")
    assert variables(actions)["IVR_RESULT"] == "error"
    assert actions[-1] == ContinueInDialplan(MENU_FALLBACK)


def test_after_a_tap_failure_the_menu_no_longer_listens() -> None:
    call = Call()
    call.send(TapFailed("no audio"), 0.5)
    call.prompt_ends()
    actions = call.silence()
    assert plays(actions) == [("sound:ni-1",)] and not any(isinstance(a, Listen) for a in actions)


def test_a_hangup_ends_the_dialog_without_actions() -> None:
    call = Call()
    assert call.send(CallerHungUp(), 1.0) == []
    assert call.engine.finished and call.engine.outcome and call.engine.outcome.result is Result.HANGUP
    assert call.send(said("sales"), 1.0) == []
