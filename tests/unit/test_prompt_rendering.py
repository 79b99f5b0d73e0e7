"""``speech-ivr prompts render``: a flow's prompts from FLOW.prompts.yaml, with espeak-ng and sox."""

from __future__ import annotations

import io
import shutil
import textwrap
import wave
from pathlib import Path

import pytest

from ivr.exits import Exit
from ivr.project import EXAMPLES_DIR
from ivr.prompt_rendering import render_flow_prompts
from ivr.sandbox.prompts import PROMPTS, install_prompts

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are not installed",
)

FLOW = """\
name: desk
language: en
start: main
fallback: {context: ivr-fallback, extension: s}
menus:
  main:
    prompt: [sound:desk/main, tone:ring]
    routes:
      sales: {context: ivr-dest, extension: sales, key: 1}
    no_input: [sound:desk/sorry, sound:https://example.com/sorry.wav]
    no_match: sound:desk/sorry
"""

TEXTS = """\
voice: en-us
speed: 170
prompts:
  sound:desk/main: Press 1 for sales.
  sound:desk/sorry: Sorry.
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for directory in ("flows", "grammars", "sounds"):
        (tmp_path / directory).mkdir()
    write(tmp_path / "flows/desk.yaml", FLOW)
    write(tmp_path / "flows/desk.prompts.yaml", TEXTS)
    return tmp_path


def write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def render(project: Path, flow: str = "desk", *, force: bool = False) -> tuple[int, list[str]]:
    """The exit status and printed lines of rendering ``flow`` into ``project/sounds``."""
    out = io.StringIO()
    status = render_flow_prompts(
        flow, project / "flows", project / "grammars", project / "sounds", force=force, out=out
    )
    return status, out.getvalue().replace(f"{project}/", "").splitlines()


def format_of(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path)) as audio:
        rate = audio.getframerate()
        return rate, audio.getnchannels(), audio.getsampwidth(), audio.getnframes() / rate


@needs_espeak
def test_renders_8khz_mono_wav_files_and_skips_what_is_not_a_local_sound(project: Path) -> None:
    status, lines = render(project)
    assert status == Exit.OK
    assert lines == [
        "rendered    sound:desk/main  sounds/desk/main.wav",
        "skipped     tone:ring  not a local sound: file",
        "rendered    sound:desk/sorry  sounds/desk/sorry.wav",
        "skipped     sound:https://example.com/sorry.wav  not a local sound: file",
        "desk: 2 rendered, 0 up to date, 0 without text, 2 skipped in sounds",
    ]
    for name in ("main", "sorry"):
        rate, channels, width, seconds = format_of(project / f"sounds/desk/{name}.wav")
        assert (rate, channels, width) == (8000, 1, 2)
        assert 0.2 < seconds < 5
    assert not list((project / "sounds/desk").glob(".*"))  # no scratch left behind


@needs_espeak
def test_a_second_run_renders_nothing_and_force_renders_again(project: Path) -> None:
    render(project)
    main = project / "sounds/desk/main.wav"
    first = main.stat().st_mtime_ns
    status, lines = render(project)
    assert status == Exit.OK
    assert lines[0] == "up to date  sound:desk/main  sounds/desk/main.wav"
    assert lines[-1] == "desk: 0 rendered, 2 up to date, 0 without text, 2 skipped in sounds"
    assert main.stat().st_mtime_ns == first
    status, lines = render(project, force=True)
    assert (status, lines[-1]) == (
        Exit.OK,
        "desk: 2 rendered, 0 up to date, 0 without text, 2 skipped in sounds",
    )
    assert main.stat().st_mtime_ns != first


@needs_espeak
def test_a_changed_text_or_voice_renders_that_prompt_again(project: Path) -> None:
    render(project)
    before = (project / "sounds/desk/main.wav").read_bytes()
    write(project / "flows/desk.prompts.yaml", TEXTS.replace("Press 1 for sales.", "Press 1."))
    _, lines = render(project)
    assert lines[0].startswith("rendered    sound:desk/main ")
    assert lines[2].startswith("up to date  sound:desk/sorry ")
    assert (project / "sounds/desk/main.wav").read_bytes() != before
    write(project / "flows/desk.prompts.yaml", TEXTS.replace("speed: 170", "speed: 120"))
    assert render(project)[1][-1].startswith("desk: 2 rendered")


@needs_espeak
def test_a_prompt_without_text_is_a_problem_and_the_others_still_render(project: Path) -> None:
    write(project / "flows/desk.prompts.yaml", TEXTS.replace("  sound:desk/sorry: Sorry.\n", ""))
    status, lines = render(project)
    assert status == Exit.PROBLEMS
    assert lines[0].startswith(
        "flows/desk.yaml:10:16: warning: menus.main.no_input[0]: no text for"
    )
    assert "no text     sound:desk/sorry" in lines
    assert lines[-1] == "desk: 1 rendered, 0 up to date, 1 without text, 2 skipped in sounds"
    assert not (project / "sounds/desk/sorry.wav").exists()


@needs_espeak
def test_a_text_the_flow_does_not_play_is_warned_at_its_line(project: Path) -> None:
    write(project / "flows/desk.prompts.yaml", TEXTS + "  sound:desk/old: Old.\n")
    status, lines = render(project)
    assert status == Exit.OK
    assert lines[0] == (
        "flows/desk.prompts.yaml:6:3: warning: prompts.sound:desk/old: no prompt of desk.yaml"
        " plays this media"
    )


def test_a_flow_without_texts_file_has_every_prompt_without_text(project: Path) -> None:
    (project / "flows/desk.prompts.yaml").unlink()
    status, lines = render(project)
    assert status == Exit.PROBLEMS
    assert (
        lines[0]
        == "speech-ivr prompts render: no prompt texts: write them in flows/desk.prompts.yaml"
    )
    assert lines[-1] == "desk: 0 rendered, 0 up to date, 2 without text, 2 skipped in sounds"


@needs_espeak
def test_a_recording_is_never_overwritten(project: Path) -> None:
    recorded = project / "sounds/en/desk/main.gsm"
    recorded.parent.mkdir(parents=True)
    recorded.write_bytes(b"a studio recording")
    mine = project / "sounds/desk/sorry.wav"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"my own recording")
    status, lines = render(project, force=True)
    assert status == Exit.OK
    assert lines[0] == "recorded    sound:desk/main  sounds/en/desk/main.gsm (kept)"
    assert lines[2] == "recorded    sound:desk/sorry  sounds/desk/sorry.wav (kept)"
    assert mine.read_bytes() == b"my own recording"
    assert not (project / "sounds/desk/main.wav").exists()


def test_an_unknown_flow_is_a_usage_error(project: Path) -> None:
    assert render(project, "nope") == (
        Exit.USAGE,
        ["speech-ivr prompts render: no flow 'nope' in flows (flows: desk)"],
    )


def test_a_texts_file_with_errors_is_a_usage_error(project: Path) -> None:
    write(project / "flows/desk.prompts.yaml", "speed: fast\nprompts: {}\n")
    status, lines = render(project)
    assert status == Exit.USAGE
    assert lines == [
        "flows/desk.prompts.yaml:1:8: error: speed: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_a_missing_flows_directory_is_a_usage_error(tmp_path: Path) -> None:
    status, lines = render(tmp_path)
    assert status == Exit.USAGE
    assert lines == ["speech-ivr prompts render: cannot read flows: No such file or directory"]


def test_without_espeak_ng_one_line_says_what_to_do(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty-path")))
    status, lines = render(project)
    assert status == Exit.UNAVAILABLE
    assert lines == [
        (
            "espeak-ng is not installed: apt-get install espeak-ng sox, or record the prompts"
            " yourself (docs/flows.md, Prompts)"
        )
    ]
    assert not (project / "sounds/desk").exists()


@needs_espeak
def test_without_espeak_ng_prompts_up_to_date_need_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    render(project)
    monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty-path")))
    assert render(project)[0] == Exit.OK


@needs_espeak
def test_the_sandbox_installs_exactly_what_prompts_render_renders(tmp_path: Path) -> None:
    sounds = tmp_path / "sounds"
    for flow in ("switchboard-ko", "switchboard-en"):
        out = io.StringIO()
        status = render_flow_prompts(
            flow, EXAMPLES_DIR / "flows", EXAMPLES_DIR / "grammars", sounds, out=out
        )
        assert status == Exit.OK, out.getvalue()
    rendered = sorted(path.relative_to(sounds) for path in sounds.rglob("*.*"))
    assert len(rendered) == 2 * 21  # a .wav and its .key for each prompt

    sandbox = tmp_path / "sandbox" / "speech-ivr"
    media = install_prompts(sandbox)
    assert sorted(media) == sorted(f"speech-ivr/{name}" for name in PROMPTS)
    assert sorted(path.relative_to(sandbox.parent) for path in sandbox.rglob("*.*")) == rendered
    for path in rendered:
        assert (sandbox.parent / path).read_bytes() == (sounds / path).read_bytes(), path


def test_a_recorded_prompt_needs_no_text(project: Path) -> None:
    write(project / "flows/desk.prompts.yaml", "prompts:\n  sound:desk/sorry: Sorry.\n")
    recorded = project / "sounds/desk/main.sln16"
    recorded.parent.mkdir(parents=True)
    recorded.write_bytes(bytes(3200))
    (project / "sounds/desk/sorry.wav").write_bytes(b"recorded too")
    status, lines = render(project)
    assert status == Exit.OK
    assert lines[1] == "recorded    sound:desk/main  sounds/desk/main.sln16 (kept)"


@needs_espeak
def test_a_prompt_espeak_cannot_say_fails_and_the_others_still_render(project: Path) -> None:
    write(project / "flows/desk.prompts.yaml", TEXTS.replace("voice: en-us", "voice: xx-nope"))
    status, lines = render(project)
    assert status == Exit.PROBLEMS
    assert lines[0].startswith("failed      sound:desk/main  espeak-ng failed (exit 1): ")
    assert lines[-1].endswith(
        "0 rendered, 0 up to date, 0 without text, 2 skipped, 2 failed in sounds"
    )
