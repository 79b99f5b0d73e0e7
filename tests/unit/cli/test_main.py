"""The entry point itself: common options everywhere, one line per mistake, exit statuses,
and no secret in any output, run as an admin runs it (the installed ``speech-ivr`` script)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.cli.main import parser
from ivr.exits import Exit

SPEECH_IVR = Path(sys.executable).with_name("speech-ivr")
SECRET = "hunter2-Very-Secret"


def _commands(top: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every leaf subcommand, by its full name (``models list``)."""
    found = {}
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                leaves = _commands(sub)
                found |= {f"{name} {leaf}": p for leaf, p in leaves.items()} if leaves else {name: sub}
    return found


def test_every_command_takes_the_common_options() -> None:
    commands = _commands(parser())
    assert {"run", "check", "simulate", "test-flow", "graph", "init", "demo", "call", "models list", "models install", "prompts render"} <= set(commands)
    for name, sub in commands.items():
        options = {option for action in sub._actions for option in action.option_strings}
        assert {"--config", "--flows", "--grammars", "-v"} <= options, name


def _speech_ivr(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SPEECH_IVR_")} | (env or {})
    return subprocess.run([str(SPEECH_IVR), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "files", "env", "expected"),
    [
        (["simulate", "switchboard-ko", "--say", "x"], {}, {}, "speech-ivr simulate: no flows directory"),
        (["graph", "switchboard-ko"], {}, {}, "speech-ivr graph: no flows directory"),
        (["test-flow"], {}, {}, "speech-ivr test-flow: no flows directory"),
        (["check", "--config", "config.toml"], {"config.toml": "[models\n"}, {}, "config.toml: not valid TOML"),
        (["check"], {"config.toml": f'ari_pasword = "{SECRET}"\n'}, {}, "config.toml:1: ari_pasword: not a setting (did you mean ari_password?)"),
        (["check"], {"config.toml": "ari_password = 12345678\n"}, {}, "config.toml:1: ari_password: input should be a valid string"),
        (["check"], {}, {"SPEECH_IVR_MODELS": "{en: x}"}, "$SPEECH_IVR_MODELS: not JSON"),
        (["check"], {}, {"SPEECH_IVR_ARI_PASWORD": SECRET}, "$SPEECH_IVR_ARI_PASWORD: not a setting"),
        (["run", "--config", "nowhere.toml"], {}, {"SPEECH_IVR_ARI_PASSWORD": SECRET}, "--config nowhere.toml: no such file"),
        (["simulate", "switchboard-ko", "--wav", "missing.wav"], {}, {}, "missing.wav"),
    ],
)
def test_a_mistake_is_one_line_with_a_usage_exit_status_and_no_secret(
    tmp_path: Path, args: list[str], files: dict[str, str], env: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = _speech_ivr(*args, cwd=tmp_path, env=env)
    assert result.returncode == Exit.USAGE, result.stderr
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stdout + result.stderr
    assert "12345678" not in result.stderr


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda path: path.write_bytes(b"not a wav at all"), "not a PCM WAV file"),
        (lambda path: _wav(path, channels=2), "mono"),
        (lambda path: _wav(path, width=4), "16-bit"),
        (lambda path: _wav(path, rate=8000), "16000"),
    ],
)
def test_a_bad_wav_file_is_one_line(tmp_path: Path, make, expected: str) -> None:  # type: ignore[no-untyped-def]
    from ivr.project import EXAMPLES_DIR

    wav = tmp_path / "caller.wav"
    make(wav)
    result = _speech_ivr("simulate", "switchboard-ko", "--wav", str(wav), cwd=EXAMPLES_DIR, env={})
    assert result.returncode == Exit.USAGE, result.stderr
    assert result.stderr.count("\n") == 1 and str(wav) in result.stderr and expected in result.stderr, result.stderr


def _wav(path: Path, *, channels: int = 1, width: int = 2, rate: int = 16000) -> None:
    import wave

    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(channels)
        audio.setsampwidth(width)
        audio.setframerate(rate)
        audio.writeframes(bytes(channels * width * 320))


def test_an_english_flow_without_its_model(tmp_path: Path) -> None:
    from ivr.project import EXAMPLES_DIR

    wav = tmp_path / "caller.wav"
    _wav(wav)
    result = _speech_ivr("simulate", "switchboard-en", "--wav", str(wav), cwd=EXAMPLES_DIR, env={})
    assert result.returncode == Exit.USAGE, result.stderr
    assert result.stderr.count("\n") == 1
    assert "flow 'switchboard-en' is in 'en' and WAV input needs its model" in result.stderr


def test_check_strict_fails_on_warnings(tmp_path: Path) -> None:
    import shutil

    from ivr.project import EXAMPLES_DIR

    shutil.copytree(EXAMPLES_DIR, tmp_path / "p")
    flow = tmp_path / "p" / "flows" / "switchboard-ko.yaml"
    # an intent of the grammar without a route is a warning ("no route for ...")
    route = (
        "      operator:\n        context: ivr-dest\n        extension: operator\n"
        '        key: "0"\n        confirm: sound:speech-ivr/switchboard-ko/confirm-operator\n'
    )
    assert route in flow.read_text()
    flow.write_text(flow.read_text().replace(route, ""))
    assert _speech_ivr("check", "--no-vocabulary", cwd=tmp_path / "p").returncode == Exit.OK
    strict = _speech_ivr("check", "--no-vocabulary", "--strict", cwd=tmp_path / "p")
    assert strict.returncode == Exit.PROBLEMS and "warning" in strict.stdout
