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


def test_simulate_warns_about_words_no_recognizer_of_the_flow_can_produce(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "switchboard-ko", "--flows", str(FLOWS), "--grammars", str(GRAMMARS), "--say", "안녕 영업부"]) == 0
    err = capsys.readouterr().err
    assert "never hears '안녕'" in err and "영업부" not in err.split("never hears", 1)[1]


def test_simulate_refuses_keys_a_phone_cannot_send(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["simulate", "switchboard-ko", "--flows", str(FLOWS), "--grammars", str(GRAMMARS), "--dtmf", "12x"])
    assert exited.value.code == 2
    assert "'12x' is not DTMF" in capsys.readouterr().err


def test_init_writes_the_example_project_and_refuses_a_full_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["init", str(tmp_path / "p")]) == 0
    written = {str(p.relative_to(tmp_path / "p")) for p in (tmp_path / "p").rglob("*") if p.is_file()}
    assert {"config.toml", "extensions.conf", "flows/switchboard-ko.yaml", "flows/switchboard-ko.cases.yaml", "flows/switchboard-ko.prompts.yaml", "grammars/switchboard-ko.yaml"} <= written
    assert main(["init", str(tmp_path / "p")]) == 2
    assert "is not empty" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path / "p")  # the project's config.toml and directories are found from it
    assert main(["test-flow"]) == 0
    assert "11 passed, 0 failed" in capsys.readouterr().out


def test_test_flow_without_cases_says_where_they_go(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test-flow", "switchboard-en", "--flows", str(FLOWS), "--grammars", str(GRAMMARS)]) == 2
    assert "flow 'switchboard-en' has no test cases: write" in capsys.readouterr().err


def test_the_shipped_systemd_unit_is_valid(tmp_path: Path) -> None:
    import shutil
    import subprocess

    unit = (EXAMPLES_DIR / "speech-ivr.service").read_text()
    assert "LoadCredential=ari_password:" in unit and "RestartPreventExitStatus=2 3" in unit
    # verify it with an executable that exists here in place of the installed script
    checked = tmp_path / "speech-ivr.service"
    checked.write_text(unit.replace("/usr/local/bin/speech-ivr", str(shutil.which("true"))))
    result = subprocess.run(["systemd-analyze", "verify", str(checked)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
