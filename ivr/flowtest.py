"""An admin's regression cases for a flow: inputs in, the expected destination out.

    flow: switchboard-ko            # optional: the flow named on the command line wins
    cases:
      - name: sales by voice
        inputs: [{say: 영업부}]
        expect: {context: ivr-dest, extension: sales, result: matched}
      - name: silence ends at the fallback
        inputs: [{silence: true}]
        expect: {extension: s, result: no-input}

Each case runs through the simulator, which runs and hears calls as live calls do: a WAV
input is heard by the same hearing core and recognizer, a ``say`` input is judged by the same
verdict as words heard with full confidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ivr.audio import AudioFileError
from ivr.simulate import Keys, Say, Silence, Simulation, Simulator, Turn, Wav


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Input(_Frozen):
    """One turn of the caller: exactly one of these."""

    say: str | None = None
    wav: Path | None = None
    dtmf: str | None = Field(default=None, pattern=r"^[0-9*#]+$")
    silence: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> Input:
        given = [self.say is not None, self.wav is not None, self.dtmf is not None, self.silence]
        if sum(given) != 1:
            raise ValueError("give exactly one of say, wav, dtmf or silence: true")
        return self

    def turn(self, base: Path) -> Turn:
        if self.say is not None:
            return Say(self.say)
        if self.wav is not None:
            return Wav(self.wav if self.wav.is_absolute() else base / self.wav)
        if self.dtmf is not None:
            return Keys(self.dtmf)
        return Silence()


class Expect(_Frozen):
    """What the call must end with; fields left out are not checked."""

    context: str | None = None
    extension: str | None = None
    priority: int | None = None
    result: str | None = None
    intent: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)


class Case(_Frozen):
    name: str
    inputs: list[Input] = Field(default_factory=list)
    expect: Expect


class Cases(_Frozen):
    flow: str | None = None
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    case: Case
    simulation: Simulation
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


def run_case(simulator: Simulator, case: Case, base: Path) -> CaseResult:
    try:
        simulation = simulator.run([i.turn(base) for i in case.inputs])
    except AudioFileError as exc:
        return CaseResult(case, Simulation(simulator.flow.name), [str(exc)])
    return CaseResult(case, simulation, _problems(case.expect, simulation))


def _problems(expect: Expect, simulation: Simulation) -> list[str]:
    outcome = simulation.outcome
    destination = outcome.destination if outcome else None
    got = {
        "context": destination.context if destination else None,
        "extension": destination.extension if destination else None,
        "priority": destination.priority if destination else None,
        "result": outcome.result.value if outcome else None,
        "intent": outcome.intent if outcome else None,
    }
    wanted = expect.model_dump(exclude={"variables"}, exclude_none=True)
    problems = [f"{key}: expected {value!r}, got {got[key]!r}" for key, value in wanted.items() if got[key] != value]
    problems += [
        f"variable {name}: expected {value!r}, got {simulation.variables.get(name)!r}"
        for name, value in expect.variables.items()
        if simulation.variables.get(name) != value
    ]
    return problems
