"""The app side of an externalMedia websocket (chan_websocket, ``connection_type=server``).

The app connects to ``ws://ASTERISK_HTTP/media/<MEDIA_WEBSOCKET_CONNECTION_ID>`` with the
``media`` subprotocol and reads binary slin16 frames (little-endian, straight to the
recognizer). It never closes the socket itself: Asterisk does not answer a client's
close handshake (the close would stall for the whole close timeout). The tap is ended by
deleting its channel over ARI; Asterisk then closes with code 1000, and the reader must
keep reading until it does (a reader that stops reading never sees the close).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from ivr.media.chan_websocket import parse_control

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024
CLOSE_TIMEOUT = 2.0


class WebsocketEndpoint:
    def __init__(self, media_url: str) -> None:
        self._media_url = media_url
        self._connection: ClientConnection | None = None
        self._ended = asyncio.Event()

    def params(self) -> dict[str, str]:
        return {"transport": "websocket", "encapsulation": "none", "connection_type": "server", "format": "slin16"}

    async def attach(self, channel: dict[str, Any]) -> None:
        # The tap channel's StasisStart only comes once we are connected.
        self._connection = await websockets.connect(
            self._media_url + channel["channelvars"]["MEDIA_WEBSOCKET_CONNECTION_ID"],
            subprotocols=[websockets.Subprotocol("media")],
            ping_interval=None,
            max_size=MAX_FRAME,
            open_timeout=5,
            close_timeout=1,
        )

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """PCM until Asterisk closes the socket. Control messages are logged, not yielded."""
        assert self._connection is not None, "attach() first"
        try:
            async for message in self._connection:
                if isinstance(message, bytes):
                    yield message
                else:
                    control = parse_control(message)
                    log.debug("media control %s %s", control.event, control.fields)
        except websockets.ConnectionClosedError as exc:
            log.warning("media websocket closed abnormally: %s", exc)
        finally:
            self._ended.set()

    async def release(self) -> None:
        if self._connection is None:
            return
        try:
            await asyncio.wait_for(self._ended.wait(), CLOSE_TIMEOUT)
        except TimeoutError:
            log.warning("Asterisk did not close the media websocket; dropping it")
            self._connection.transport.abort()
