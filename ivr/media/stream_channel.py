"""Wazo's stream-channel websocket (``res_ari_stream``): the caller's audio, no Asterisk objects.

Rules of the real module (verified on the wire against Debian's Asterisk 22.10.1 with the
module built from its source), and what this client does:

- upgrade on ``/ws`` with the ``stream-channel`` subprotocol and a ``Channel-ID`` header;
  no authentication (bind it to loopback);
- binary frames of 20 ms slin16 little-endian, only what the caller's channel reads, and
  only while frames reach the channel: nothing at all in a silent stretch, so no-input and
  end-of-speech are timed on the wall clock and a quiet stream is not a broken one;
- the module never reads the socket, so it never answers pings: pings are off;
- **the client must never close first**: a client close while frames flow freezes both
  call legs and Asterisk's shutdown. The module ends a stream only when its channel hangs
  up, not when the call leaves Stasis (a call routed to a queue keeps streaming): so
  ``close()`` only stops using the frames, and the reader goes on reading (and dropping)
  them in the background until the module ends the stream (``lingering_streams``);
- an unknown channel is accepted and closed at once with code 1000, exactly like a call
  that ended: when the stream closes, the channel is looked up before the close is
  trusted as a hangup.

What else the socket may carry (``ivr.media.guard``): text frames (the module sends none),
binary frames of an odd length or faster than real time are dropped, frames longer than
``LONG_FRAME`` are used but noticed; each cause is logged once. Frames wait for the tap's
reader in a ``Backlog`` of at most 10 s of audio. A frame over ``MAX_FRAME`` makes the
websockets library fail the connection (code 1009): the one client close this module
cannot rule out, and only for a server that is not the module (it sends 640 bytes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import websockets
from websockets.asyncio.client import ClientConnection

from ivr.audio import FRAME_BYTES, TapError
from ivr.media.guard import Backlog, TapGuard

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024
LONG_FRAME = 5 * FRAME_BYTES
"""100 ms: the module sends 20 ms frames."""

_lingering: set[asyncio.Task[None]] = set()
"""Readers of streams whose calls have left: they end when the module ends the stream."""


def lingering_streams() -> int:
    """Streams of calls that have left, still open until their channel hangs up."""
    return len(_lingering)


async def streams_ended(timeout: float) -> bool:
    """Wait up to ``timeout`` for the lingering streams to end (on shutdown: quitting with a
    stream open is a client close, which freezes that call in the module)."""
    if _lingering:
        await asyncio.wait(set(_lingering), timeout=timeout)
    return not _lingering


class StreamChannelTap:
    continuous = False
    """Frames stop when no audio reaches the channel: a quiet stream is not a broken one."""

    def __init__(
        self,
        connection: ClientConnection,
        still_here: Callable[[], Awaitable[bool]],
        *,
        call: str | None = None,
    ) -> None:
        self._connection = connection
        self._still_here = still_here
        self._frames = Backlog()
        self._closed = False
        self._failure: str | None = None
        self.guard = TapGuard("stream-channel", call)
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls,
        url: str,
        channel_id: str,
        *,
        still_here: Callable[[], Awaitable[bool]],
        call: str | None = None,
    ) -> StreamChannelTap:
        """Stream ``channel_id``; ``call`` names the call in log lines (the channel id if unset)."""
        connection = await websockets.connect(
            url,
            subprotocols=[websockets.Subprotocol("stream-channel")],
            additional_headers={"Channel-ID": channel_id},
            ping_interval=None,
            max_size=MAX_FRAME,
            open_timeout=5,
        )
        return cls(connection, still_here, call=call or channel_id)

    async def _read(self) -> None:
        """Read every frame, always: a reader that stops would never see the module's close."""
        guard = self.guard
        try:
            async for message in self._connection:
                if self._closed:
                    continue
                if not isinstance(message, bytes):
                    guard.drop("text frames (the module sends only audio)", message)
                    continue
                if len(message) > LONG_FRAME:
                    guard.notice(f"frames longer than {LONG_FRAME} bytes", f"{len(message)} bytes")
                if guard.admit(message) and not self._frames.put(message):
                    guard.drop("frames beyond a full backlog", f"{self._frames.size} bytes waiting")
        except websockets.ConnectionClosedError as exc:
            self._failure = f"the stream-channel websocket failed: {exc}"
        finally:
            self._frames.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (frame := await self._frames.get()) is not None:
            yield frame
        if self._closed:
            return
        try:
            still_here = await self._still_here()
        except Exception as exc:
            raise TapError(f"stream-channel closed the stream; the call could not be looked up: {exc!r}") from exc
        if still_here:
            raise TapError(self._failure or "stream-channel closed the stream while the call is still in Stasis")
        if self._failure is not None:
            log.info("%s: %s as the call left", self.guard.label, self._failure)

    async def close(self) -> None:
        """Stop using the frames; never close the stream (the module ends it at the hangup)."""
        self._closed = True
        if not self._reader.done():
            _lingering.add(self._reader)
            self._reader.add_done_callback(_lingering.discard)
        self.guard.report()
