"""The dialog state machine of one call in one flow.

A menu asks its question (plays its prompt) and waits for an answer: speech, judged against
the menu's grammar (``ivr.grammar.verdict``), or keys. A good answer takes its route: to a
dialplan destination (the call leaves the app) or to another menu. A doubtful spoken answer
is confirmed first ("did you say ...?", yes/no or keys 1/2); a doubtful answer whose route
has no confirm prompt is asked again, never taken on doubt. Silence and answers that match
nothing are asked again with the menu's reprompts until its retries run out; then the call
goes to the menu's fallback. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

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
from ivr.dialog.events import (
    CallerHungUp,
    Event,
    KeyPressed,
    PromptFinished,
    SpeechStarted,
    TapFailed,
    Tick,
    Utterance,
)
from ivr.flow.compiled import CompiledFlow, CompiledMenu
from ivr.flow.model import Destination, Menu, Route
from ivr.grammar.verdict import Verdict, judge
from ivr.hearing.heard import Heard

RECOGNITION_GRACE = 2.0
"""Seconds the recognizer may take beyond the longest utterance before we give up on it."""

CONFIRM_KEYS = {"1": "yes", "2": "no"}


class Result(str, enum.Enum):
    """Why the call left the application; the value is what ``IVR_RESULT`` is set to."""

    MATCHED = "matched"
    DTMF = "dtmf"
    NO_INPUT = "no-input"
    NO_MATCH = "no-match"
    ERROR = "error"
    HANGUP = "hangup"


@dataclass(frozen=True)
class Outcome:
    result: Result
    destination: Destination | None
    menu: str
    intent: str | None = None
    transcript: str = ""
    score: float = 0.0


@dataclass(frozen=True)
class _Pending:
    """A spoken answer waiting for the caller's yes or no."""

    intent: str
    route: Route
    transcript: str
    score: float


class _Phase(enum.Enum):
    IDLE = "idle"
    ASKING = "asking"  # the prompt plays; listening too when barge-in is on
    WAITING = "waiting"  # prompt over: the no-input timer runs
    SPEAKING = "speaking"  # the caller speaks: waiting for the recognizer's result
    KEYING = "keying"  # a multi-digit entry: the inter-digit timer runs
    DONE = "done"


class DialogEngine:
    """Runs one call through a flow. Feed it events with their time; perform the actions it returns."""

    def __init__(self, flow: CompiledFlow, *, call_id: str) -> None:
        self.flow = flow
        self.call_id = call_id
        self.outcome: Outcome | None = None
        self._menu_name = flow.start
        self._phase = _Phase.IDLE
        self._deadline: float | None = None
        self._prompt: str | None = None  # playback id of the prompt while it plays
        self._plays = 0
        self._listening = False  # the recognizer is armed (or decoding) for us
        self._deaf = False  # the audio tap failed: keys only
        self._attempt = 0
        self._keys = ""
        self._pending: _Pending | None = None
        self._variables: dict[str, str] = {}
        self._silence_deadline: float | None = None  # the no-input deadline speech interrupted

    @property
    def deadline(self) -> float | None:
        """When the engine wants a ``Tick``, or None."""
        return self._deadline

    @property
    def finished(self) -> bool:
        return self._phase is _Phase.DONE

    @property
    def menu(self) -> Menu:
        return self._compiled.menu

    @property
    def _compiled(self) -> CompiledMenu:
        return self.flow.menus[self._menu_name]

    @property
    def menu_name(self) -> str:
        return self._menu_name

    def start(self, now: float) -> list[Action]:
        """Ask the start menu's question."""
        assert self._phase is _Phase.IDLE, "start() called twice"
        return self._ask(self.menu.prompt)

    def handle(self, event: Event, now: float) -> list[Action]:
        if self._phase is _Phase.DONE:
            return []
        match event:
            case CallerHungUp():
                self._phase, self._deadline = _Phase.DONE, None
                self.outcome = Outcome(Result.HANGUP, None, self._menu_name)
                return []
            case PromptFinished(playback_id) if playback_id == self._prompt:
                return self._prompt_finished(now)
            case SpeechStarted() if self._listening and self._phase in (_Phase.ASKING, _Phase.WAITING):
                return self._speech_started(now)
            case Utterance(heard) if self._listening:
                self._listening = False
                return self._answered(heard, now)
            case KeyPressed(digit):
                return self._key(digit, now)
            case TapFailed():
                return self._tap_failed(now)
            case Tick() if self._deadline is not None and now >= self._deadline:
                return self._timed_out(now)
        return []

    # -- asking ---------------------------------------------------------------------------

    def _ask(self, prompt: tuple[str, ...]) -> list[Action]:
        """Play a question; listen at once if the caller may barge in, else after it."""
        actions: list[Action] = []
        if self._prompt is not None:
            actions.append(StopPrompt(self._prompt))
        self._plays += 1
        self._prompt = f"{self.call_id}-prompt-{self._plays}"
        self._phase, self._deadline, self._keys = _Phase.ASKING, None, ""
        actions.append(Play(self._prompt, prompt))
        if self.menu.barge_in:
            actions += self._listen()
        else:
            # Even when not listening: what the caller says over this prompt is no answer
            # (hearing would otherwise take the call's first words for the first answer).
            actions.append(StopListening())
            self._listening = False
        return actions

    def _listen(self) -> list[Action]:
        compiled = self._compiled
        listening = compiled.confirming if self._pending else compiled.listening
        if self._deaf or listening is None:
            return []
        self._listening = True
        return [Listen(listening)]

    def _prompt_finished(self, now: float) -> list[Action]:
        self._prompt = None
        if self._phase is not _Phase.ASKING:
            return []
        self._phase = _Phase.WAITING
        self._deadline = now + self.menu.timeouts.no_input
        return [] if self._listening else self._listen()

    def _stop_prompt(self) -> list[Action]:
        """Barge-in: the caller answers over the prompt."""
        if self._prompt is None or not self.menu.barge_in:
            return []
        playback_id, self._prompt = self._prompt, None
        return [StopPrompt(playback_id)]

    # -- answers --------------------------------------------------------------------------

    def _speech_started(self, now: float) -> list[Action]:
        timeouts = self.menu.timeouts
        self._silence_deadline = self._deadline if self._phase is _Phase.WAITING else None
        self._phase = _Phase.SPEAKING
        self._deadline = now + timeouts.max_speech + timeouts.end_of_speech + RECOGNITION_GRACE
        return self._stop_prompt()

    def _answered(self, heard: Heard, now: float) -> list[Action]:
        compiled = self._compiled
        confirming = self._pending is not None
        if confirming:
            judgement = judge(heard, self.flow.yes_no, compiled.confirm_policy)
        else:
            assert compiled.matcher is not None, "a menu without a grammar does not listen"
            judgement = judge(heard, compiled.matcher, compiled.policy)
        record: list[Action] = [Judged(self._menu_name, heard, judgement, confirming)]
        if judgement.verdict is Verdict.LISTEN_ON:
            return record + self._heard_nothing(now)
        if confirming:
            return record + self._confirmed(judgement.intent)
        route = self.menu.routes.get(judgement.intent) if judgement.intent else None
        if route is None:
            return record + self._failed(Result.NO_MATCH, judgement.transcript)
        assert judgement.intent is not None
        if judgement.verdict is Verdict.CONFIRM:
            if route.confirm is None:  # never taken on doubt (CompiledMenu.confirms): asked again
                return record + self._failed(Result.NO_MATCH, judgement.transcript)
            self._pending = _Pending(judgement.intent, route, judgement.transcript, judgement.score)
            return record + self._ask(route.confirm)
        return record + self._take(
            judgement.intent, route, Result.MATCHED, judgement.transcript, judgement.score
        )

    def _heard_nothing(self, now: float) -> list[Action]:
        """The "speech" had no words in it (a noise the VAD took for voice): not an answer,
        so listen on. The no-input time it interrupted goes on where it was, so a noisy
        line still ends in a reprompt."""
        self._phase = _Phase.WAITING
        self._deadline = self._silence_deadline or now + self.menu.timeouts.no_input
        return self._listen()

    def _confirmed(self, answer: str | None) -> list[Action]:
        pending = self._pending
        assert pending is not None
        if answer == "yes":
            self._pending = None
            return self._take(pending.intent, pending.route, Result.MATCHED, pending.transcript, pending.score)
        if answer == "no":
            # Not what the caller meant: ask the menu's question again (it costs a retry).
            self._pending = None
            return self._failed(Result.NO_MATCH, pending.transcript, reprompt=self.menu.prompt)
        return self._failed(Result.NO_MATCH, pending.transcript)

    def _key(self, digit: str, now: float) -> list[Action]:
        if self._prompt is not None and not self.menu.barge_in:
            return []  # the prompt plays out before the caller may answer
        if self._pending is not None:
            answer = CONFIRM_KEYS.get(digit)
            return self._stop_prompt() + self._confirmed(answer) if answer else []
        if not self.menu.takes_keys or self._phase is _Phase.IDLE:
            return []
        actions = self._stop_prompt()
        if self._listening:  # keys win over speech
            actions.append(StopListening())
            self._listening = False
        dtmf = self.menu.dtmf
        if digit == dtmf.terminator:
            return actions + self._keyed()
        self._keys += digit
        if len(self._keys) >= dtmf.max_digits:
            return actions + self._keyed()
        self._phase, self._deadline = _Phase.KEYING, now + dtmf.inter_digit
        return actions

    def _keyed(self) -> list[Action]:
        keys, self._keys = self._keys, ""
        intent = self.menu.route_for_keys(keys)
        if intent is None:
            return self._failed(Result.NO_MATCH, keys)
        return self._take(intent, self.menu.routes[intent], Result.DTMF, keys, 100.0)

    def _take(self, intent: str, route: Route, result: Result, transcript: str, score: float) -> list[Action]:
        self._variables.update(route.set)
        if route.menu is None:
            assert route.destination is not None
            return self._leave(result, route.destination, intent=intent, transcript=transcript, score=score)
        self._menu_name, self._attempt = route.menu, 0
        return self._ask(self.menu.prompt)

    # -- failures -------------------------------------------------------------------------

    def _timed_out(self, now: float) -> list[Action]:
        if self._phase is _Phase.KEYING:
            return self._keyed()
        # Waiting: the caller never spoke. Speaking: the recognizer never answered.
        # A "did you say ...?" left unanswered still reports the answer it asked about.
        heard = self._pending.transcript if self._pending is not None else ""
        if self._phase is _Phase.SPEAKING:
            self._listening = False
            return [StopListening(), *self._failed(Result.NO_MATCH, heard)]
        return self._failed(Result.NO_INPUT, heard)

    def _failed(
        self, result: Result, transcript: str, *, reprompt: tuple[str, ...] | None = None
    ) -> list[Action]:
        """Ask again with the next reprompt, or give up to the fallback after the last retry."""
        self._attempt += 1
        menu = self.menu
        if self._attempt > menu.retries:
            return self._leave(result, menu.fallback or self.flow.fallback, transcript=transcript)
        if reprompt is None:
            if self._pending is not None:
                reprompt = self._pending.route.confirm
            else:
                reprompts = menu.no_input if result is Result.NO_INPUT else menu.no_match
                reprompt = reprompts[min(self._attempt, len(reprompts)) - 1] if reprompts else menu.prompt
        assert reprompt is not None
        return self._ask(reprompt)

    def _tap_failed(self, now: float) -> list[Action]:
        """Without audio a menu goes on with keys only, if it has keys; otherwise it gives up."""
        self._deaf = True
        actions: list[Action] = [StopListening()] if self._listening else []
        self._listening = False
        if not self.menu.takes_keys and self._pending is None:
            return self._leave(Result.ERROR, self.menu.fallback or self.flow.fallback)
        if self._phase is _Phase.SPEAKING:
            self._phase, self._deadline = _Phase.WAITING, now + self.menu.timeouts.no_input
        return actions

    # -- leaving --------------------------------------------------------------------------

    def _leave(
        self,
        result: Result,
        destination: Destination,
        *,
        intent: str | None = None,
        transcript: str = "",
        score: float = 0.0,
    ) -> list[Action]:
        """Stop what runs, record the result on the channel and continue in the dialplan."""
        actions: list[Action] = []
        if self._prompt is not None:
            actions.append(StopPrompt(self._prompt))
            self._prompt = None
        if self._listening:
            actions.append(StopListening())
            self._listening = False
        variables = {
            **self._variables,
            "IVR_INTENT": intent or "",
            "IVR_CONFIDENCE": f"{score / 100:.2f}",
            "IVR_TRANSCRIPT": transcript,
            "IVR_FLOW": self.flow.name,
            "IVR_MENU": self._menu_name,
            "IVR_RESULT": result.value,
        }
        actions.append(SetVariables(tuple(variables.items())))
        actions.append(ContinueInDialplan(destination))
        self._phase, self._deadline = _Phase.DONE, None
        self.outcome = Outcome(result, destination, self._menu_name, intent, transcript, score)
        return actions
