"""Keeping what a tap heard: the caller's audio as the recognizer got it, for tuning.

A recording is held in memory until the call ends, so it is capped at
``MAX_RECORDING_SECONDS`` (the rest of a longer call is not kept, and the log says so once).
Its file is named after the call's channel id, an id Asterisk makes: ``recording_path``
keeps that name inside the recording directory whatever characters the id holds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import wave
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from ivr.audio import SAMPLE_RATE, SAMPLE_WIDTH

log = logging.getLogger(__name__)

MAX_RECORDING_SECONDS = 300
"""5 minutes, 9.6 MB of 16 kHz audio: far longer than a caller spends in an IVR menu."""
MAX_RECORDING_BYTES = MAX_RECORDING_SECONDS * SAMPLE_RATE * SAMPLE_WIDTH
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_NAME = 128


def recording_path(directory: Path, call_id: str) -> Path:
    """Where a call's recording goes: ``directory/CALL_ID.wav``, with every character of the id
    other than ASCII letters, digits, ``.``, ``_`` and ``-`` replaced by ``_`` and no leading
    dot, so that no id (``../x``, ``a/b``, a newline) can name a file elsewhere or a hidden one.
    Asterisk's ids (``1795557394.42``, ``host-1795557394.42``) stay as they are."""
    name = _UNSAFE.sub("_", call_id)[:_MAX_NAME].lstrip(".") or "call"
    return directory / f"{name}.wav"


class RecordingTap:
    """Passes a tap's audio through and keeps a copy (the first ``MAX_RECORDING_SECONDS``),
    written to a WAV file by ``save()``."""

    def __init__(self, tap, path: Path) -> None:  # type: ignore[no-untyped-def]
        self._tap = tap
        self.path = path
        self.continuous: bool = tap.continuous
        self._audio = bytearray()
        self.truncated = False
        """The call went on past the cap: the recording has only its start."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for pcm in self._tap:
            room = MAX_RECORDING_BYTES - len(self._audio)
            if len(pcm) <= room:
                self._audio += pcm
            elif not self.truncated:
                self._audio += pcm[: room - room % SAMPLE_WIDTH]
                self.truncated = True
                log.warning(
                    "%s: recording only the first %g s of the call",
                    self.path.name, MAX_RECORDING_BYTES / (SAMPLE_RATE * SAMPLE_WIDTH),
                )
            yield pcm

    async def close(self) -> None:
        await self._tap.close()

    async def save(self, utterances: Sequence[tuple[str, float, float]] = ()) -> None:
        """Write the call's audio, and each of ``utterances`` (a file name in the same
        directory, and its start and end in seconds) on its own."""
        audio = bytes(self._audio)

        def write() -> None:
            _write_wav(self.path, audio)
            for name, start, end in utterances:
                first, last = (SAMPLE_WIDTH * round(t * SAMPLE_RATE) for t in (start, end))
                _write_wav(self.path.with_name(Path(name).name), audio[first:last])

        await asyncio.to_thread(write)


def _write_wav(path: Path, pcm: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with wave.open(str(partial), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(SAMPLE_WIDTH)
        audio.setframerate(SAMPLE_RATE)
        audio.writeframes(pcm)
    partial.replace(path)
