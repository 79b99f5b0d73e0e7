"""ivr.espeak: text to Asterisk sound files with espeak-ng and sox."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr import espeak

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are not installed",
)


@needs_espeak
def test_a_stamped_file_is_rendered_again_only_when_what_it_says_changes(tmp_path: Path) -> None:
    target = tmp_path / "a" / "hello.wav"
    assert espeak.render("Hello.", target, voice="en-us", speed=160)
    assert espeak.stamp_of(target).read_text() == espeak.speech_key("Hello.", "en-us", 160)
    assert not espeak.render("Hello.", target, voice="en-us", speed=160)
    assert espeak.render("Hello.", target, voice="en-us", speed=160, force=True)
    assert espeak.render("Hello.", target, voice="en-us", speed=150)


@needs_espeak
def test_an_unstamped_file_is_rendered_once(tmp_path: Path) -> None:
    target = tmp_path / "x.sln16"
    assert espeak.render("Hi.", target, voice="en-us", speed=160, stamped=False)
    assert not espeak.stamp_of(target).exists()
    assert not espeak.render("Bye.", target, voice="en-us", speed=160, stamped=False)
    assert 0.1 < espeak.sound_seconds(target) < 2


@needs_espeak
def test_a_text_starting_with_a_dash_is_words(tmp_path: Path) -> None:
    assert espeak.render("-v nope", tmp_path / "dash.wav", voice="en-us", speed=160)


@needs_espeak
def test_an_unknown_voice_fails_with_espeaks_own_words(tmp_path: Path) -> None:
    with pytest.raises(espeak.EspeakError, match="espeak-ng failed .*voice does not exist"):
        espeak.render("Hello.", tmp_path / "x.wav", voice="xx-nope", speed=160)
    assert list(tmp_path.iterdir()) == []  # nor scratch files


def test_only_wav_and_sln16_are_rendered(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="extension"):
        espeak.render("Hello.", tmp_path / "x.mp3", voice="en-us", speed=160)


def test_a_missing_tool_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda tool: None if tool == "sox" else f"/usr/bin/{tool}")
    with pytest.raises(espeak.EspeakMissing, match="^sox is not installed: apt-get install"):
        espeak.render("Hello.", tmp_path / "x.wav", voice="en-us", speed=160)
