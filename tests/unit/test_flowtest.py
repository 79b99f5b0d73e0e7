"""An admin's regression cases, run through the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.flow import load_flows
from ivr.flow.cases import Cases, load_cases
from ivr.flow.compiled import compile_flows
from ivr.flowtest import run_case
from ivr.project import EXAMPLES_DIR
from ivr.simulate import Simulator

FLOWS, GRAMMARS = EXAMPLES_DIR / "flows", EXAMPLES_DIR / "grammars"


@pytest.fixture(scope="module")
def simulator() -> Simulator:
    return Simulator(compile_flows(load_flows(FLOWS, GRAMMARS))["switchboard-ko"])


def test_the_shipped_cases_pass(simulator: Simulator) -> None:
    cases_file = FLOWS / "switchboard-ko.cases.yaml"
    cases = load_cases(cases_file)
    results = [run_case(simulator, case, cases_file.parent) for case in cases.cases]
    assert [r.case.name for r in results if not r.passed] == []


def test_a_failed_case_says_what_differs(simulator: Simulator) -> None:
    cases = Cases.model_validate(
        {"cases": [{"name": "wrong", "inputs": [{"dtmf": "1"}], "expect": {"extension": "billing", "variables": {"X": "1"}}}]}
    )
    result = run_case(simulator, cases.cases[0], Path("."))
    assert result.problems == ["extension: expected 'billing', got 'sales'", "variable X: expected '1', got None"]


def test_a_case_with_a_bad_wav_file_fails_with_its_name(tmp_path: Path) -> None:
    simulator = Simulator(compile_flows(load_flows(FLOWS, GRAMMARS))["switchboard-ko"], model=object())  # type: ignore[arg-type]
    cases = Cases.model_validate({"cases": [{"name": "bad", "inputs": [{"wav": "missing.wav"}], "expect": {}}]})
    result = run_case(simulator, cases.cases[0], tmp_path)
    assert result.problems == [f"{tmp_path / 'missing.wav'}: no such file"]
