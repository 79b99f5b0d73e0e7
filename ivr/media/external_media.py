"""The app's end of an ARI externalMedia channel, whatever carries the audio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol


class MediaEndpoint(Protocol):
    """Where Asterisk sends a tap's audio. Created before the externalMedia channel (a UDP
    socket or TCP server must exist first), attached once the channel exists, released
    once Asterisk has deleted it."""

    def params(self) -> dict[str, str]:
        """The externalMedia request's parameters (transport, encapsulation, format, host...)."""
        ...

    async def attach(self, channel: dict[str, Any]) -> None:
        """The externalMedia channel exists (its JSON has ``channelvars``)."""
        ...

    def __aiter__(self) -> AsyncIterator[bytes]:
        """16 kHz 16-bit little-endian PCM until the stream ends."""
        ...

    async def release(self) -> None:
        """Finish with the stream after its channel was deleted; free sockets."""
        ...

