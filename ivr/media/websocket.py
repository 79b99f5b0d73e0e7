"""The app side of an externalMedia websocket (chan_websocket, ``connection_type=server``).

The app connects to ``ws://ASTERISK_HTTP/media/<MEDIA_WEBSOCKET_CONNECTION_ID>`` with the
``media`` subprotocol and reads binary slin16 frames. It never closes the socket itself:
Asterisk does not answer a client's close handshake (the close would stall for the whole
close timeout). The tap is ended by deleting its channel over ARI; Asterisk then closes
with code 1000, and the reader must keep reading until it does.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import websockets
from websockets.asyncio.client import ClientConnection

from ivr.media.chan_websocket import parse_control

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024


class MediaWebsocket:
    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    @classmethod
    async def connect(cls, media_url: str, connection_id: str) -> MediaWebsocket:
        connection = await websockets.connect(
            media_url + connection_id,
            subprotocols=[websockets.Subprotocol("media")],
            ping_interval=None,
            max_size=MAX_FRAME,
            open_timeout=5,
            close_timeout=1,
        )
        return cls(connection)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """PCM bytes until Asterisk closes the socket. Control messages are logged, not yielded."""
        try:
            async for message in self._connection:
                if isinstance(message, bytes):
                    yield message
                else:
                    control = parse_control(message)
                    log.debug("media control %s %s", control.event, control.fields)
        except websockets.ConnectionClosedError as exc:
            log.warning("media websocket closed abnormally: %s", exc)

    async def abort(self) -> None:
        """Last resort when Asterisk will not close it (its channel could not be deleted)."""
        self._connection.transport.abort()
