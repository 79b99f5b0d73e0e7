"""The flow tools through the entry point: init, check, simulate, test-flow, graph."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest

from ivr.cli import main
from ivr.project import EXAMPLES_DIR

FLOWS, GRAMMARS = EXAMPLES_DIR / "flows", EXAMPLES_DIR / "grammars"


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


def test_cli_simulate_a_bad_wav_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stereo = tmp_path / "stereo.wav"
    import wave

    with wave.open(str(stereo), "wb") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(16000)
        audio.writeframes(bytes(64))
    code = main(["simulate", "switchboard-ko", "--flows", str(FLOWS), "--grammars", str(GRAMMARS), "--wav", str(stereo)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and str(stereo) in err and "Traceback" not in err


def test_cli_graph_prints_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "switchboard-ko", "--flows", str(FLOWS), "--grammars", str(GRAMMARS)]) == 0
    assert capsys.readouterr().out.startswith("flowchart TD")
