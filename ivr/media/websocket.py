"""The app side of an externalMedia websocket (chan_websocket, ``connection_type=server``).

The app connects to ``ws://ASTERISK_HTTP/media/<MEDIA_WEBSOCKET_CONNECTION_ID>`` with the
``media`` subprotocol and reads binary slin16 frames (little-endian, straight to the
recognizer). It never closes the socket itself: Asterisk does not answer a client's
close handshake (the close would stall for the whole close timeout). The tap is ended by
deleting its channel over ARI; Asterisk then closes with code 1000, and the reader must
keep reading until it does (a reader that stops reading never sees the close).

What the socket may carry besides that (``ivr.media.guard``): binary frames of an odd
length or faster than real time are dropped, frames longer than ``LONG_FRAME`` are heard
all the same but noticed, text frames that are none of chan_websocket's events are dropped;
each cause is logged once. A frame over ``MAX_FRAME`` is no audio tap's: the websockets
library fails the connection (code 1009), which ends the tap with a ``TapError`` naming it.
The library reads at most 16 frames ahead of the reader, so a call holds at most
16 x ``MAX_FRAME`` here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from ivr.audio import FRAME_BYTES, TapError
from ivr.media.chan_websocket import EVENTS, parse_control
from ivr.media.guard import TapGuard

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024
LONG_FRAME = 5 * FRAME_BYTES
"""100 ms: Asterisk sends 20 ms frames (the last one of a file may be shorter)."""
CLOSE_TIMEOUT = 2.0


class WebsocketEndpoint:
    def __init__(self, media_url: str, *, call: str | None = None) -> None:
        """``call`` names the call in log lines."""
        self._media_url = media_url
        self._connection: ClientConnection | None = None
        self._ended = asyncio.Event()
        self.guard = TapGuard("media websocket", call)

    def params(self) -> dict[str, str]:
        return {"transport": "websocket", "encapsulation": "none", "connection_type": "server", "format": "slin16"}

    async def attach(self, channel: dict[str, Any]) -> None:
        self.guard.tap = channel.get("id")
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
        """PCM until Asterisk closes the socket. Control messages are logged, not yielded;
        a connection that fails raises ``TapError``."""
        assert self._connection is not None, "attach() first"
        guard = self.guard
        try:
            async for message in self._connection:
                if isinstance(message, bytes):
                    if len(message) > LONG_FRAME:
                        guard.notice(f"frames longer than {LONG_FRAME} bytes", f"{len(message)} bytes")
                    if guard.admit(message):
                        yield message
                    continue
                control = parse_control(message)
                if control.event not in EVENTS:
                    guard.drop("text frames that are not chan_websocket's", message)
                elif control.event == "ERROR":
                    guard.drop("error reports from Asterisk", message)
                else:
                    log.debug("media control %s %s", control.event, control.fields)
        except websockets.ConnectionClosedError as exc:
            raise TapError(f"the media websocket failed: {exc}") from None
        finally:
            self._ended.set()

    async def release(self) -> None:
        if self._connection is not None:
            try:
                await asyncio.wait_for(self._ended.wait(), CLOSE_TIMEOUT)
            except TimeoutError:
                log.warning("%s: Asterisk did not close the media websocket; dropping it", self.guard.label)
                self._connection.transport.abort()
        self.guard.report()
