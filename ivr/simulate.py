"""Run a flow offline, turn by turn, on a simulated clock: what the caller says (as text or a
WAV file) or keys in, the trace and the final route out.

Nothing here decides anything: the call runs through the runtime a live call runs through
(``ivr.runtime.conversation``: the same dialog engine, the same verdicts), and WAV turns are
heard by the same hearing core (``ivr.hearing.core``: VAD, gain, endpointing, early decision)
with the real recognizer, fed the file's 20 ms frames as a tap would. Only the call's
surroundings are simulated:

- the caller's line carries silence except while a WAV turn plays; each turn starts
  ``caller_delay`` after the question it answers is asked (at once if the menu takes
  barge-in, else once its prompt has played) and after the caller's previous turn ended,
  like the sandbox's test callers;
- a prompt takes ``prompt_seconds``;
- ``Say`` turns are heard as their words with full confidence, ``SPEECH_SECONDS`` after
  the caller starts;
- when the turns are used up the caller stays silent until the flow sends the call on.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vosk

from ivr.audio import FRAME_BYTES, FRAME_SECONDS, SILENT_FRAME, frames_of, read_wav
from ivr.dialog.actions import Action, Judged, Listen
from ivr.dialog.engine import DialogEngine, Outcome
from ivr.dialog.events import Event, KeyPressed, PromptFinished, SpeechStarted, Tick, Utterance
from ivr.flow.compiled import YES_NO_GRAMMAR, CompiledFlow
from ivr.flow.model import Destination
from ivr.grammar.normalize import normalize
from ivr.hearing.core import (
    Abandon,
    Decode,
    Finish,
    HeardUtterance,
    HearingCore,
    Output,
    SpeechBegan,
)
from ivr.hearing.decoding import CallDecoding, Decoded
from ivr.hearing.heard import Heard, Listening, Transcript
from ivr.runtime.conversation import Conversation
from ivr.speech.recognizer import GrammarRecognizer

PROMPT_SECONDS = 2.0
CALLER_DELAY = 1.0
"""The sandbox's test callers also start speaking a second after the call is answered."""
SPEECH_SECONDS = 1.0
KEY_SECONDS = 0.3
MAX_SECONDS = 600.0


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
    judged: list[Judged] = field(default_factory=list)
    """Every answer heard and its verdict, in order."""
    actions: list[tuple[float, Action]] = field(default_factory=list)
    """Everything the engine asked for, with the simulated time."""

    def as_json(self) -> dict[str, object]:
        outcome = self.outcome
        return {
            "flow": self.flow,
            "trace": [{"at": round(s.at, 3), "step": s.text} for s in self.steps],
            "heard": [
                {
                    "menu": j.menu,
                    "transcript": j.heard.transcript,
                    "words": [[w.word, round(w.confidence, 3)] for w in j.heard.words],
                    "verdict": j.judgement.verdict.value,
                    "intent": j.judgement.intent,
                    "score": round(j.judgement.score, 1),
                }
                for j in self.judged
            ],
            "result": outcome.result.value if outcome else None,
            "destination": outcome.destination.model_dump() if outcome and outcome.destination else None,
            "variables": self.variables,
        }

    def report(self) -> str:
        lines = [f"flow {self.flow}"]
        lines += [f"{step.at:7.2f}s  {step.text}" for step in self.steps]
        if self.outcome is not None:
            where = self.outcome.destination or "hangup"
            lines.append(f"route: {where}  IVR_RESULT={self.outcome.result.value}")
        return "\n".join(lines)


class SimulationError(ValueError):
    """A turn that cannot be simulated (a WAV file without a model, a bad file)."""


class Simulator:
    def __init__(
        self,
        flow: CompiledFlow,
        model: vosk.Model | None = None,
        *,
        prompt_seconds: float = PROMPT_SECONDS,
        caller_delay: float = CALLER_DELAY,
    ) -> None:
        self.flow = flow
        self.model = model
        """The flow language's model: needed for WAV turns only."""
        self.prompt_seconds = prompt_seconds
        self.caller_delay = caller_delay

    def run(self, turns: Sequence[Turn], *, stop: Callable[[Action], bool] | None = None) -> Simulation:
        """Simulate a call; ``stop``: end it early, once an action satisfies it."""
        if any(isinstance(turn, Wav) for turn in turns) and self.model is None:
            raise SimulationError("WAV turns need the flow's speech model")
        audio = {turn.path: read_wav(turn.path) for turn in turns if isinstance(turn, Wav)}
        return _Run(self, turns, audio, stop).simulation


def _now(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never waits (the simulated ports answer at once) to its end."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("a simulated call port waited for something")


class _Ears:
    """The hearing core with its recognizer work done in place (simulated time stands still
    meanwhile)."""

    def __init__(self, model: vosk.Model | None, events: collections.deque[Event]) -> None:
        self.core = HearingCore()
        self._model = model
        self._events = events
        self._decoding = CallDecoding(self._new_recognizer)
        self.grammar: str | None = None
        """The grammar listened with, None while not listening."""

    def _new_recognizer(self, vocabulary: tuple[str, ...]) -> GrammarRecognizer:
        if self._model is None:
            raise SimulationError("hearing speech needs the flow's speech model")
        return GrammarRecognizer(self._model, vocabulary)

    def listen(self, listening: Listening) -> None:
        self.grammar = listening.grammar
        self._perform(self.core.listen(listening))

    def stop(self) -> None:
        self.grammar = None
        self._perform(self.core.stop())

    def hear(self, frame: bytes) -> None:
        self._perform(self.core.receive(frame))

    def _perform(self, outputs: list[Output]) -> None:
        for output in outputs:
            match output:
                case SpeechBegan():
                    self._events.append(SpeechStarted())
                case HeardUtterance(heard):
                    self.grammar = None
                    self._events.append(Utterance(heard))
                case Decode(utterance):
                    decoded = self._decoding.perform(output)
                    if isinstance(decoded, Decoded):
                        self._perform(self.core.decoded(utterance, decoded.chunk, decoded.early))
                case Finish(utterance):
                    transcript = self._decoding.perform(output)
                    assert isinstance(transcript, Transcript)
                    self._perform(self.core.finished(utterance, transcript))
                case Abandon():
                    self._decoding.perform(output)


class _Run:
    """One simulated call: the clock, the caller's turns and line, the prompt playing."""

    def __init__(
        self,
        simulator: Simulator,
        turns: Sequence[Turn],
        audio: Mapping[Path, bytes],
        stop: Callable[[Action], bool] | None,
    ) -> None:
        self.simulator = simulator
        self._stop = stop
        self._stopped = False
        self.simulation = Simulation(simulator.flow.name)
        self.now = 0.0
        self.events: collections.deque[Event] = collections.deque()
        self.ears = _Ears(simulator.model, self.events)
        self.engine = DialogEngine(simulator.flow, call_id="sim")
        self.conversation = Conversation(self.engine, self, self.ears, observe=self._observe)
        self._prompt: tuple[str, float] | None = None  # playing: its id and when it ends
        self._cue: float | None = None  # when the last question could first be answered
        self._turns = collections.deque(turns)
        self._turn_started = -1.0  # cues before the current turn began are not for the next
        self._busy_until = 0.0  # the current turn's end (a silence lasts until the next cue)
        self._line: collections.deque[bytes] = collections.deque()  # the caller's frames to come
        self._keys: collections.deque[tuple[float, str]] = collections.deque()
        self._say: tuple[float, str] | None = None
        self._audio = audio
        self._simulate()

    # -- the call port ----------------------------------------------------------------------

    async def play(self, playback_id: str, media: Sequence[str]) -> None:
        self.note(f"menu {self.engine.menu_name}: play {', '.join(media)}")
        self._prompt = (playback_id, self.now + self.simulator.prompt_seconds)
        if self.engine.menu.barge_in:
            self._cue = self.now

    async def stop_prompt(self, playback_id: str) -> None:
        if self._prompt is not None and self._prompt[0] == playback_id:
            self.note("stop the prompt")
            self._prompt = None
            self.events.append(PromptFinished(playback_id))

    async def set_variables(self, variables: Mapping[str, str]) -> None:
        self.simulation.variables = dict(variables)
        self.note("set " + " ".join(f"{k}={v!r}" for k, v in variables.items()))

    async def leave(self, destination: Destination) -> None:
        self.note(f"continue in the dialplan at {destination}")

    # -- the run ----------------------------------------------------------------------------

    def note(self, text: str) -> None:
        self.simulation.steps.append(Step(round(self.now, 3), text))

    def _observe(self, action: Action) -> None:
        self.simulation.actions.append((round(self.now, 3), action))
        if self._stop is not None and self._stop(action):
            self._stopped = True
        match action:
            case Listen(listening):
                grammar = "yes/no" if listening.grammar == YES_NO_GRAMMAR else listening.grammar
                self.note(f"listen ({grammar})")
            case Judged(heard=heard, judgement=judgement):
                self.simulation.judged.append(action)
                where = f" (speech {heard.speech_start:.2f}-{heard.speech_end:.2f} s)" if heard.ended else ""
                verdict = judgement.verdict.value + (f" {judgement.intent}" if judgement.intent else "")
                self.note(f"heard {heard.transcript!r}{where}: {verdict} (score {judgement.score:.0f})")

    def _simulate(self) -> None:
        _now(self.conversation.start(self.now))
        while not self.engine.finished and not self._stopped and self.now < MAX_SECONDS:
            self._step()
        if self._turns and self.engine.finished:
            unheard = ", ".join(map(_describe, self._turns))
            self.note(f"(the call has left; {unheard} not heard)")
        self.simulation.outcome = self.engine.outcome

    def _step(self) -> None:
        """One 20 ms frame of simulated time."""
        if self._prompt is not None and self._prompt[1] <= self.now + 1e-9:
            playback_id, _ = self._prompt
            self._prompt = None
            if not self.engine.menu.barge_in:
                self._cue = self.now
            self._handle(PromptFinished(playback_id))
        self._caller()
        deadline = self.engine.deadline
        if deadline is not None and deadline <= self.now + 1e-9:
            self._handle(Tick())
        self.ears.hear(self._line.popleft() if self._line else SILENT_FRAME)
        self._flush()
        self.now = round(self.now + FRAME_SECONDS, 6)

    def _handle(self, event: Event) -> None:
        self.events.append(event)
        self._flush()

    def _flush(self) -> None:
        while self.events and not self.engine.finished:
            _now(self.conversation.handle(self.events.popleft(), self.now))

    def _caller(self) -> None:
        """The caller's turns: start the next when it is due, and carry out the current one."""
        cue = self._cue
        answered = cue is not None and cue > self._turn_started
        if answered and self._busy_until == float("inf"):
            self._busy_until = cue  # a silence ends when the next question is asked
        if self._turns and answered and self.now >= max(cue, self._busy_until) + self.simulator.caller_delay - 1e-9:
            self._start(self._turns.popleft())
        while self._keys and self._keys[0][0] <= self.now + 1e-9:
            _, digit = self._keys.popleft()
            self.note(f"caller presses {digit}")
            self._handle(KeyPressed(digit))
        if self._say is not None and self._say[0] <= self.now + 1e-9:
            _, text = self._say
            self._say = None
            if self.ears.grammar is not None:
                self.ears.stop()
                self._handle(Utterance(Heard.from_text(text)))

    def _start(self, turn: Turn) -> None:
        self._turn_started = self.now
        match turn:
            case Say(text):
                listening = self.ears.grammar is not None
                self.note(f"caller says {text!r}" + ("" if listening else ": nobody listens"))
                if listening:
                    self._handle(SpeechStarted())
                    self._say = (self.now + SPEECH_SECONDS, text)
                self._busy_until = self.now + SPEECH_SECONDS
            case Wav(path):
                pcm = self._audio[path]
                self.note(f"caller plays {path} ({len(pcm) / FRAME_BYTES * FRAME_SECONDS:.2f} s)")
                self._line.extend(frames_of(pcm))
                self._busy_until = self.now + len(self._line) * FRAME_SECONDS
            case Keys(digits):
                self._keys.extend((self.now + i * KEY_SECONDS, d) for i, d in enumerate(digits))
                self._busy_until = self.now + len(digits) * KEY_SECONDS
            case Silence():
                self.note("caller stays silent")
                self._busy_until = float("inf")


def unheard_words(flow: CompiledFlow, text: str) -> list[str]:
    """The words of ``text`` that no recognizer of ``flow`` can output (each listens only for
    its grammar's words, or the yes/no words): a ``--say`` with them tests what no caller's
    audio can ever be heard as."""
    heard = {
        word
        for menu in flow.menus.values()
        for listening in (menu.listening, menu.confirming)
        if listening is not None
        for word in listening.vocabulary
    }
    return [word for word in dict.fromkeys(normalize(text, flow.language).split()) if word not in heard]


def _describe(turn: Turn) -> str:
    match turn:
        case Say(text):
            return repr(text)
        case Wav(path):
            return str(path)
        case Keys(digits):
            return f"keys {digits}"
    return "silence"
