"""Keeping what a tap heard: the caller's audio as the recognizer got it, for tuning."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

from ivr.audio import SAMPLE_RATE


class RecordingTap:
    """Passes a tap's audio through and keeps a copy, written to a WAV file by ``save()``."""

    def __init__(self, tap, path: Path) -> None:  # type: ignore[no-untyped-def]
        self._tap = tap
        self.path = path
        self.continuous: bool = tap.continuous
        self._audio = bytearray()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for pcm in self._tap:
            self._audio += pcm
            yield pcm

    async def close(self) -> None:
        await self._tap.close()

    async def save(self) -> None:
        await asyncio.to_thread(_write_wav, self.path, bytes(self._audio))


def _write_wav(path: Path, pcm: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with wave.open(str(partial), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(SAMPLE_RATE)
        audio.writeframes(pcm)
    partial.replace(path)
