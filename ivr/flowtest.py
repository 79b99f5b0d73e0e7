"""Run an admin's regression cases for a flow (``ivr.flow.cases``) and compare the outcome.

Each case runs through the simulator, which runs and hears calls as live calls do: a WAV
input is heard by the same hearing core and recognizer, a ``say`` input is judged by the same
verdict as words heard with full confidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ivr.audio import AudioFileError
from ivr.flow.cases import Case, Expect, Input
from ivr.simulate import Keys, Say, Silence, Simulation, Simulator, Turn, Wav


@dataclass(frozen=True)
class CaseResult:
    case: Case
    simulation: Simulation
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


def run_case(simulator: Simulator, case: Case, base: Path) -> CaseResult:
    """Run ``case``; its WAV inputs are relative to ``base`` (the cases file's directory)."""
    try:
        simulation = simulator.run([_turn(i, base) for i in case.inputs])
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


def _turn(given: Input, base: Path) -> Turn:
    if given.say is not None:
        return Say(given.say)
    if given.wav is not None:
        return Wav(given.wav if given.wav.is_absolute() else base / given.wav)
    if given.dtmf is not None:
        return Keys(given.dtmf)
    return Silence()
