"""Run a flow offline, turn by turn: what the caller says (as text or a WAV file) or keys in,
the trace and the final route out. The dialog engine is the very one calls run on.

Time is simulated: every prompt takes ``PROMPT_SECONDS`` and the caller answers after it
(no barge-in); a silent turn lets the engine's timers run out; when the turns are used up
the caller stays silent until the flow sends the call somewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ivr.dialog.actions import (
    CONFIRM_GRAMMAR,
    Action,
    ContinueInDialplan,
    Listen,
    Play,
    SetVariables,
    StopListening,
    StopPrompt,
)
from ivr.dialog.engine import DialogEngine, Outcome
from ivr.dialog.events import Dtmf, Event, PromptFinished, PromptStarted, SpeechStarted, Tick, Utterance
from ivr.flow.model import Flow
from ivr.grammar.matcher import IntentMatcher

PROMPT_SECONDS = 2.0
SPEECH_SECONDS = 1.0
KEY_SECONDS = 0.3
MAX_STEPS = 1000


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Wav:
    path: Path


@dataclass(frozen=True)
class Keys:
    digits: str


@dataclass(frozen=True)
class Silence:
    pass


Turn = Say | Wav | Keys | Silence

Transcriber = Callable[[Path, IntentMatcher], str]
"""Decodes a WAV file with the real recognizer, restricted to a matcher's vocabulary."""


@dataclass(frozen=True)
class Step:
    at: float
    text: str


@dataclass
class Simulation:
    flow: str
    steps: list[Step] = field(default_factory=list)
    outcome: Outcome | None = None
    variables: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        outcome = self.outcome
        return {
            "flow": self.flow,
            "trace": [{"at": round(s.at, 3), "step": s.text} for s in self.steps],
            "result": outcome.result.value if outcome else None,
            "destination": outcome.destination.model_dump() if outcome and outcome.destination else None,
            "variables": self.variables,
        }

    def report(self) -> str:
        lines = [f"flow {self.flow}"]
        lines += [f"{step.at:7.1f}s  {step.text}" for step in self.steps]
        if self.outcome is not None:
            where = self.outcome.destination or "hangup"
            lines.append(f"route: {where}  IVR_RESULT={self.outcome.result.value}")
        return "\n".join(lines)


class Simulator:
    def __init__(
        self,
        flow: Flow,
        matchers: Mapping[str, IntentMatcher],
        transcribe: Transcriber | None = None,
    ) -> None:
        self.flow = flow
        self._matchers = matchers
        words = flow.yes_no
        self._yes_no = IntentMatcher({"yes": words.yes, "no": words.no} if words else {})
        self._transcribe = transcribe

    def run(self, turns: Sequence[Turn]) -> Simulation:
        run = _Run(self, Simulation(self.flow.name))
        run.perform(run.engine.start(run.now))
        for turn in turns:
            if run.engine.finished:
                run.note(f"(the call has left; {_describe(turn)} is not heard)")
                break
            run.take(turn)
        for _ in range(MAX_STEPS):
            if run.engine.finished:
                break
            run.take(Silence())
        run.simulation.outcome = run.engine.outcome
        return run.simulation

    def matcher(self, grammar: str) -> IntentMatcher:
        return self._yes_no if grammar == CONFIRM_GRAMMAR else self._matchers[grammar]

    def transcribe(self, path: Path, grammar: str) -> str:
        if self._transcribe is None:
            raise ValueError("WAV turns need a recognizer")
        return self._transcribe(path, self.matcher(grammar))


class _Run:
    """One simulated call: the engine, the simulated time, and what is playing or listening."""

    def __init__(self, simulator: Simulator, simulation: Simulation) -> None:
        self.simulator = simulator
        self.simulation = simulation
        self.engine = DialogEngine(simulator.flow, call_id="sim")
        self.now = 0.0
        self.playing: str | None = None
        self.grammar: str | None = None

    def note(self, text: str) -> None:
        self.simulation.steps.append(Step(self.now, text))

    def send(self, event: Event) -> None:
        self.perform(self.engine.handle(event, self.now))

    def perform(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Play(playback_id, media):
                    self.note(f"menu {self.engine.menu_name}: play {', '.join(media)}")
                    self.playing = playback_id
                case StopPrompt():
                    self.note("stop the prompt")
                    self.playing = None
                case Listen(grammar):
                    self.note(f"listen ({'yes/no' if grammar == CONFIRM_GRAMMAR else grammar})")
                    self.grammar = grammar
                case StopListening():
                    self.grammar = None
                case SetVariables():
                    self.simulation.variables = action.as_dict()
                    self.note("set " + " ".join(f"{k}={v!r}" for k, v in action.variables))
                case ContinueInDialplan(destination):
                    self.note(f"continue in the dialplan at {destination}")
        if self.playing is not None:
            playing, self.playing = self.playing, None
            self.send(PromptStarted(playing))
            self.now += PROMPT_SECONDS
            self.send(PromptFinished(playing))

    def take(self, turn: Turn) -> None:
        match turn:
            case Say(text):
                self.speak(text, f"caller says {text!r}")
            case Wav(path):
                if self.grammar is None:
                    self.note(f"caller plays {path}: nobody listens")
                    return
                text = self.simulator.transcribe(path, self.grammar)
                self.speak(text, f"caller plays {path}, heard {text!r}")
            case Keys(digits):
                for digit in digits:
                    self.now += KEY_SECONDS
                    self.note(f"caller presses {digit}")
                    self.send(Dtmf(digit))
                if self.engine.keying:
                    self.wait()
            case Silence():
                self.note("caller stays silent")
                self.wait()

    def speak(self, text: str, description: str) -> None:
        if self.grammar is None:
            self.note(f"{description}: nobody listens")
            return
        match = self.simulator.matcher(self.grammar).match(text)
        self.note(f"{description} -> {match.intent or 'nothing'} (score {match.score:.0f})")
        self.send(SpeechStarted())
        self.now += SPEECH_SECONDS
        self.send(Utterance(text, match))

    def wait(self) -> None:
        deadline = self.engine.deadline
        if deadline is not None:
            self.now = max(self.now, deadline)
            self.send(Tick())


def _describe(turn: Turn) -> str:
    match turn:
        case Say(text):
            return repr(text)
        case Wav(path):
            return str(path)
        case Keys(digits):
            return f"keys {digits}"
    return "silence"
