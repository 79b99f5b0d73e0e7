"""The audio every part of the app speaks: one format, cut into frames, behind one tap interface.

Every transport (``ivr.media``) yields the caller's audio as 16 kHz mono 16-bit signed
little-endian PCM, with no frame boundaries promised; the hearing core takes it in whole
20 ms frames; a tap that breaks, whatever its wire, raises ``TapError``.
"""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Protocol

SAMPLE_RATE = 16000
SAMPLE_WIDTH = 2
"""Bytes per sample: 16-bit signed little-endian."""
FRAME_MS = 20
FRAME_SECONDS = FRAME_MS / 1000
FRAME_BYTES = SAMPLE_RATE * SAMPLE_WIDTH * FRAME_MS // 1000
"""640: one 20 ms frame."""
SILENT_FRAME = bytes(FRAME_BYTES)


class TapError(RuntimeError):
    """A tap could not be made, or its audio stopped (or stopped making sense) while the call
    goes on. Every transport turns its own failures, parse errors included, into this."""


class AudioTap(Protocol):
    """The caller's audio for one call, from whatever transport."""

    continuous: bool
    """Frames flow in silence too (a snoop's timer), so a stream that stalls is broken; when
    False (Wazo's stream-channel), nothing arrives while no audio reaches the channel."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        """PCM until the stream ends; raises ``TapError`` if it breaks."""
        ...

    async def close(self) -> None:
        """Stop tapping (idempotent); the stream then ends."""
        ...


class Framer:
    """Cut a PCM byte stream into whole 20 ms frames; transports do not promise frame boundaries."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def push(self, data: bytes) -> Iterator[bytes]:
        self._pending += data
        whole = len(self._pending) - len(self._pending) % FRAME_BYTES
        for offset in range(0, whole, FRAME_BYTES):
            yield bytes(self._pending[offset : offset + FRAME_BYTES])
        del self._pending[:whole]


def frames_of(pcm: bytes) -> Iterator[bytes]:
    """The whole 20 ms frames of a PCM buffer (a last partial frame is dropped)."""
    return Framer().push(pcm)


class AudioFileError(ValueError):
    """A sound file that is not what the recognizer hears (says which file and why)."""


def read_wav(path: Path) -> bytes:
    """The PCM of a 16 kHz mono 16-bit WAV file (what every tap yields)."""
    try:
        with wave.open(str(path)) as audio:
            shape = (audio.getnchannels(), audio.getsampwidth(), audio.getframerate())
            pcm = audio.readframes(audio.getnframes())
    except FileNotFoundError:
        raise AudioFileError(f"{path}: no such file") from None
    except (wave.Error, EOFError) as exc:
        raise AudioFileError(f"{path}: not a PCM WAV file ({exc})") from None
    if shape != (1, SAMPLE_WIDTH, SAMPLE_RATE):
        channels, width, rate = shape
        raise AudioFileError(
            f"{path}: {channels} channel(s), {8 * width}-bit, {rate} Hz; the recognizer hears "
            f"16 kHz mono 16-bit audio: sox {path} -r 16000 -c 1 -b 16 OUT.wav"
        )
    return pcm
