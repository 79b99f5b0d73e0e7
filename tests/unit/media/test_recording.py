"""ivr.media.recording: a call's recording stays in its directory and in bounded memory."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.media import recording
from ivr.media.recording import RecordingTap, recording_path


@pytest.mark.parametrize(
    "call_id",
    [
        "../../etc/passwd",
        "/etc/cron.d/x",
        "a/../../b",
        "..",
        ".hidden",
        "",
        "line\nbreak\r\x00nul",
        "${EVIL},)(|&;`$(id)`",
        "C:\\Windows\\x",
        "영업부",
        "x" * 10_000,
    ],
)
def test_no_call_id_names_a_file_outside_the_directory(tmp_path: Path, call_id: str) -> None:
    path = recording_path(tmp_path, call_id)
    assert path.parent == tmp_path
    assert path.resolve().parent == tmp_path.resolve()
    assert path.suffix == ".wav" and not path.name.startswith(".")
    assert len(path.name) <= 132
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in path.name)


@pytest.mark.parametrize("call_id", ["1795557394.42", "pbx1-1795557394.42", "speech-ivr-test_1"])
def test_asterisk_ids_keep_their_name(tmp_path: Path, call_id: str) -> None:
    assert recording_path(tmp_path, call_id) == tmp_path / f"{call_id}.wav"


class Tap:
    continuous = True

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk

    async def close(self) -> None:
        pass


async def test_a_long_call_records_only_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(recording, "MAX_RECORDING_BYTES", 6400)  # 200 ms
    chunks = [bytes([n]) * 640 for n in range(1, 21)]  # 400 ms
    tap = RecordingTap(Tap(chunks), recording_path(tmp_path, "1795557394.42"))

    passed = [chunk async for chunk in tap]
    await tap.save()

    assert passed == chunks  # the call hears everything; only the recording is cut
    with wave.open(str(tap.path)) as saved:
        assert saved.readframes(saved.getnframes()) == b"".join(chunks[:10])
    assert tap.truncated
    assert [r.getMessage() for r in caplog.records if r.name == "ivr.media.recording"] == [
        "1795557394.42.wav: recording only the first 0.2 s of the call"
    ]


async def test_each_utterance_is_saved_beside_the_call(tmp_path: Path) -> None:
    import wave

    from ivr.media.recording import RecordingTap

    class Tap:
        continuous = True

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            yield bytes(2 * 16000 * 2)  # 2 s

        async def close(self) -> None:
            pass

    tap = RecordingTap(Tap(), tmp_path / "call.wav")
    async for _ in tap:
        pass
    await tap.save([("call-1.wav", 0.5, 1.25)])
    with wave.open(str(tmp_path / "call-1.wav")) as audio:
        assert audio.getnframes() == 12000 and audio.getframerate() == 16000
    with wave.open(str(tmp_path / "call.wav")) as audio:
        assert audio.getnframes() == 32000
