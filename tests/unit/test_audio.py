"""ivr.audio: cutting byte streams into frames, and reading the one WAV format the app hears."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from ivr.audio import FRAME_BYTES, SAMPLE_RATE, AudioFileError, Framer, frames_of, read_wav


def test_framer_reframes_any_chunking() -> None:
    framer = Framer()
    data = bytes(range(256)) * 10  # 2560 bytes = 4 frames
    chunks = [data[:100], data[100:1000], data[1000:1001], data[1001:]]
    frames = [f for chunk in chunks for f in framer.push(chunk)]
    assert [len(f) for f in frames] == [FRAME_BYTES] * 4
    assert b"".join(frames) == data
    assert list(framer.push(b"\0" * 10)) == []


def test_frames_of_drops_a_last_partial_frame() -> None:
    assert [len(f) for f in frames_of(bytes(2 * FRAME_BYTES + 5))] == [FRAME_BYTES] * 2


def write_wav(path: Path, pcm: bytes, *, channels: int = 1, rate: int = SAMPLE_RATE) -> Path:
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(channels)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(pcm)
    return path


def test_a_16_khz_mono_file_reads_back_as_its_pcm(tmp_path: Path) -> None:
    pcm = np.arange(-8000, 8000, 7, dtype="<i2").tobytes()
    assert read_wav(write_wav(tmp_path / "good.wav", pcm)) == pcm


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.wav"
    with pytest.raises(AudioFileError, match="no such file") as error:
        read_wav(path)
    assert str(path) in str(error.value)


def test_a_stereo_file_is_refused(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "stereo.wav", bytes(4 * 160), channels=2)
    with pytest.raises(AudioFileError, match="2 channel") as error:
        read_wav(path)
    assert str(path) in str(error.value) and "16 kHz mono" in str(error.value)


def test_an_8_khz_file_is_refused(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "narrow.wav", bytes(2 * 160), rate=8000)
    with pytest.raises(AudioFileError, match="8000 Hz") as error:
        read_wav(path)
    assert str(path) in str(error.value)


def test_a_file_that_is_not_a_wav_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all, just some text long enough to look at")
    with pytest.raises(AudioFileError, match="not a PCM WAV file") as error:
        read_wav(path)
    assert str(path) in str(error.value)
