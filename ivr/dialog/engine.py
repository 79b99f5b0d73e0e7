"""The dialog state machine of one call in one flow."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ivr.dialog.actions import (
    Action,
    ContinueInDialplan,
    Listen,
    Play,
    SetVariables,
    StopListening,
    StopPrompt,
)
from ivr.dialog.events import (
    CallerHungUp,
    Event,
    PromptFinished,
    PromptStarted,
    SpeechStarted,
    TapFailed,
    Tick,
    Utterance,
)
from ivr.flow.model import Destination, Flow, Menu

RECOGNITION_GRACE = 2.0
"""Seconds the recognizer may take beyond the longest utterance before we give up on it."""


class Result(str, enum.Enum):
    """Why the call left the application; the value is what ``IVR_RESULT`` is set to."""

    MATCHED = "matched"
    NO_INPUT = "no-input"
    NO_MATCH = "no-match"
    ERROR = "error"
    HANGUP = "hangup"


@dataclass(frozen=True)
class Outcome:
    result: Result
    destination: Destination | None
    intent: str | None = None
    transcript: str = ""
    score: float = 0.0


class _State(enum.Enum):
    IDLE = "idle"
    PROMPTING = "prompting"  # the prompt plays; listening too when barge-in is on
    WAITING = "waiting"  # prompt over, no-input timer running
    SPEAKING = "speaking"  # the caller speaks; waiting for the recognizer's result
    DONE = "done"


class DialogEngine:
    """Runs one call through a flow. Feed it events with their time; perform the actions it returns."""

    def __init__(self, flow: Flow, *, call_id: str) -> None:
        self.flow = flow
        self.call_id = call_id
        self.outcome: Outcome | None = None
        self._menu: Menu = flow.start_menu
        self._state = _State.IDLE
        self._deadline: float | None = None
        self._prompt: str | None = None  # playback id of the prompt while it plays
        self._listening = False
        self._plays = 0

    @property
    def deadline(self) -> float | None:
        """When the engine wants a ``Tick``, or None."""
        return self._deadline

    @property
    def finished(self) -> bool:
        return self._state is _State.DONE

    def start(self, now: float) -> list[Action]:
        """Begin the start menu: play its prompt, and listen at once if the caller may barge in."""
        assert self._state is _State.IDLE, "start() called twice"
        self._plays += 1
        self._prompt = f"{self.call_id}-prompt-{self._plays}"
        self._state = _State.PROMPTING
        actions: list[Action] = [Play(self._prompt, self._menu.prompt)]
        if self._menu.barge_in:
            actions.append(self._listen())
        return actions

    def handle(self, event: Event, now: float) -> list[Action]:
        if self._state is _State.DONE:
            return []
        match event:
            case CallerHungUp():
                self._state, self._deadline = _State.DONE, None
                self.outcome = Outcome(Result.HANGUP, None)
                return []
            case PromptStarted():
                return []
            case PromptFinished(playback_id) if playback_id == self._prompt:
                return self._prompt_finished(now)
            case SpeechStarted() if self._state in (_State.PROMPTING, _State.WAITING):
                return self._speech_started(now)
            case Utterance(transcript, match) if self._listening:
                if match.intent in self._menu.routes and match.score >= self._menu.min_score:
                    return self._leave(
                        Result.MATCHED,
                        self._menu.routes[match.intent],
                        intent=match.intent,
                        transcript=transcript,
                        score=match.score,
                    )
                return self._leave(Result.NO_MATCH, self.flow.fallback, transcript=transcript)
            case TapFailed():
                return self._leave(Result.ERROR, self.flow.fallback)
            case Tick() if self._deadline is not None and now >= self._deadline:
                # Waiting: the caller never spoke. Speaking: the recognizer never answered.
                result = Result.NO_INPUT if self._state is _State.WAITING else Result.NO_MATCH
                return self._leave(result, self.flow.fallback)
        return []

    def _listen(self) -> Listen:
        self._listening = True
        return Listen(self._menu.grammar, self._menu.timeouts)

    def _prompt_finished(self, now: float) -> list[Action]:
        self._prompt = None
        if self._state is not _State.PROMPTING:
            return []
        self._state = _State.WAITING
        self._deadline = now + self._menu.timeouts.no_input
        return [] if self._listening else [self._listen()]

    def _speech_started(self, now: float) -> list[Action]:
        timeouts = self._menu.timeouts
        self._state = _State.SPEAKING
        self._deadline = now + timeouts.max_speech + timeouts.end_of_speech + RECOGNITION_GRACE
        if self._prompt is not None and self._menu.barge_in:
            return [StopPrompt(self._prompt)]
        return []

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
        if self._listening:
            actions.append(StopListening())
            self._listening = False
        actions.append(
            SetVariables(
                (
                    ("IVR_INTENT", intent or ""),
                    ("IVR_CONFIDENCE", f"{score / 100:.2f}"),
                    ("IVR_TRANSCRIPT", transcript),
                    ("IVR_FLOW", self.flow.name),
                    ("IVR_RESULT", result.value),
                )
            )
        )
        actions.append(ContinueInDialplan(destination))
        self._state, self._deadline = _State.DONE, None
        self.outcome = Outcome(result, destination, intent, transcript, score)
        return actions
