"""Voice activity per 20 ms frame (WebRTC's VAD), over a byte stream cut into frames."""

from __future__ import annotations

from collections.abc import Iterator

import webrtcvad

from ivr.speech.recognizer import SAMPLE_RATE

FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * 2 * FRAME_MS // 1000  # 640: 20 ms of 16 kHz 16-bit mono


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


class VoiceDetector:
    """Is this 20 ms frame speech? Aggressiveness 0 (keeps most) to 3 (drops most non-speech)."""

    def __init__(self, aggressiveness: int = 2) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, frame: bytes) -> bool:
        return self._vad.is_speech(frame, SAMPLE_RATE)
