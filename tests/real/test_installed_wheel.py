"""The package as an admin installs it: the built wheel in a fresh virtualenv, used from a
directory that is not a clone. It must hold the example project, start one with `init`, and
check, simulate, test and demo it (marked `real`: the demo needs root and the sandbox)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.real

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ``bin`` directory of a fresh venv with the wheel (and its dependencies) installed."""
    work = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work), str(REPOSITORY)], cwd=work)
    (wheel,) = work.glob("speech_ivr-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for shipped in ("ivr/examples/flows/switchboard-ko.yaml", "ivr/examples/flows/switchboard-ko.cases.yaml", "ivr/examples/grammars/switchboard-ko.yaml", "ivr/examples/config.toml", "ivr/examples/extensions.conf", "ivr/sandbox/templates/extensions.conf"):
        assert shipped in names, f"the wheel lacks {shipped}"
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=work)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=work)
    yield venv / "bin"


def _run(command: list[str], *, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SPEECH_IVR_", "VIRTUAL_ENV", "PYTHONPATH"))}
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def test_an_admin_starts_a_project_from_the_installed_package(installed: Path, tmp_path: Path) -> None:
    speech_ivr = str(installed / "speech-ivr")
    _run([speech_ivr, "init", "my-ivr"], cwd=tmp_path)
    project = tmp_path / "my-ivr"
    assert {"flows", "grammars", "config.toml", "extensions.conf"} <= {p.name for p in project.iterdir()}
    checked = _run([speech_ivr, "check", "--strict"], cwd=project)
    assert "0 errors, 0 warnings" in checked.stdout
    simulated = json.loads(_run([speech_ivr, "simulate", "switchboard-ko", "--say", "영업부", "--json"], cwd=project).stdout)
    assert simulated["destination"]["extension"] == "sales"
    assert "0 failed" in _run([speech_ivr, "test-flow"], cwd=project).stdout


def test_the_installed_package_runs_its_demo(installed: Path, tmp_path: Path) -> None:
    demo = _run([str(installed / "speech-ivr"), "demo"], cwd=tmp_path, timeout=900)
    assert "calls reached the expected destination" in demo.stdout
