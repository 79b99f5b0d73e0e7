"""The app side of an externalMedia AudioSocket tap (chan_audiosocket): a TCP server.

The server listens before the channel is created: Asterisk connects during the
externalMedia request (which fails with HTTP 500 if nothing listens). Asterisk sends the
call's UUID first, then slin16 (kind 0x12) messages; it closes the connection when the
channel is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from ivr.audio import TapError
from ivr.media.audiosocket_frames import AudioSocketDecoder, Kind

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0


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
        reader, _ = await self._connected
        decoder = AudioSocketDecoder()
        try:
            while data := await reader.read(65536):
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
