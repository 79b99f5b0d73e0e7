"""The app side of an externalMedia AudioSocket tap (chan_audiosocket): a TCP server.

The server listens before the channel is created: Asterisk connects during the
externalMedia request (which fails with HTTP 500 if nothing listens). Asterisk sends the
call's UUID first, then slin16 (kind 0x12) messages; it closes the connection when the
channel is deleted.

The app sends nothing back, with one exception. chan_audiosocket reads the socket with a
read that returns only once the app has sent a message; when its channel thread reads
with nothing sent (as it sometimes does right after the tap joins its bridge), it waits
there holding the channel: no audio is sent, and neither the tap nor the snoop nor the
caller's channel can be hung up. Seen in the sandbox: the tap had sent only its UUID, and
one 20 ms message of silence written to its socket freed the whole call. So when no audio
has come for ``NUDGE_AFTER``, the endpoint sends such a message (the snoop the tap is
bridged with drops what it is sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from ivr.audio import TapError
from ivr.media.audiosocket_frames import AudioSocketDecoder, Kind, encode

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0
NUDGE_AFTER = 0.1
"""A snoop sends a frame every 20 ms: this long without one, Asterisk may be waiting for us."""
NUDGE = encode(Kind.SLIN, bytes(320))
"""20 ms of silence (8 kHz slin: the kind chan_audiosocket reads)."""


class AudioSocketEndpoint:
    def __init__(self) -> None:
        self.uuid = uuid.uuid4()
        self._server: asyncio.Server | None = None
        self._connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.get_running_loop().create_future()
        )
        self._ended = asyncio.Event()

    @classmethod
    async def listen(cls, host: str) -> AudioSocketEndpoint:
        endpoint = cls()
        endpoint._server = await asyncio.start_server(endpoint._accept, host, 0)
        return endpoint

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._connected.done():
            writer.close()  # one connection per tap
        else:
            self._connected.set_result((reader, writer))

    def params(self) -> dict[str, str]:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return {
            "external_host": f"{host}:{port}",
            "transport": "tcp",
            "encapsulation": "audiosocket",
            "format": "slin16",
            "data": str(self.uuid),
        }

    async def attach(self, channel: dict[str, Any]) -> None:
        await asyncio.wait_for(asyncio.shield(self._connected), CONNECT_TIMEOUT)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        reader, writer = await self._connected
        decoder = AudioSocketDecoder()
        try:
            while data := await self._read(reader, writer):
                for message in decoder.feed(data):
                    if message.kind is Kind.SLIN16:
                        yield message.payload
                    elif message.kind is Kind.UUID and message.uuid != self.uuid:
                        log.warning("AudioSocket connection for another call: %s", message.uuid)
                        return
                    elif message.kind is Kind.HANGUP:
                        return
        except ValueError as exc:  # out of step: nothing after this can be trusted
            raise TapError(f"AudioSocket stream out of step: {exc}") from exc
        except OSError as exc:
            raise TapError(f"AudioSocket connection failed: {exc!r}") from exc
        finally:
            self._ended.set()

    @staticmethod
    async def _read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        """The next bytes from Asterisk, nudging it while none come (see the module docstring)."""
        while True:
            try:
                async with asyncio.timeout(NUDGE_AFTER):
                    return await reader.read(65536)
            except TimeoutError:
                writer.write(NUDGE)

    async def release(self) -> None:
        if self._server is not None:
            self._server.close()
        if not self._connected.done():
            self._connected.cancel()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ended.wait(), CLOSE_TIMEOUT)
        _, writer = self._connected.result()
        writer.close()
