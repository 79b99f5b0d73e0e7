"""The app side of an externalMedia AudioSocket tap (chan_audiosocket): a TCP server.

The server listens before the channel is created: Asterisk connects during the
externalMedia request (which fails with HTTP 500 if nothing listens). Asterisk sends the
call's UUID first, then slin16 (kind 0x12) messages; it closes the connection when the
channel is deleted.

Anyone who can reach the port can connect to it, so a connection becomes the tap only once
its first message is this tap's UUID, within ``HANDSHAKE_TIMEOUT``: a port scanner, a peer
that sends garbage or half a header and stalls, or a second connection for the same call is
closed (and counted, ``ivr.media.guard``) without taking the place of Asterisk's. At most
``MAX_HANDSHAKES`` connections are heard out at once: a new one pushes the oldest out, so
squatters cannot keep Asterisk's out (it sends its UUID at once). The server stops listening
as soon as the tap's connection is in. After that, messages of kinds a tap does not use are
skipped and counted; a length beyond what Asterisk ever sends means the stream is out of
step, which ends the tap (``TapError``).

The app sends nothing back, with one exception. chan_audiosocket reads the socket with a
read that returns only once the app has sent a message; when its channel thread reads
with nothing sent (as it sometimes does right after the tap joins its bridge), it waits
there holding the channel: no audio is sent, and neither the tap nor the snoop nor the
caller's channel can be hung up. Seen in the sandbox: the tap had sent only its UUID, and
one 20 ms message of silence written to its socket freed the whole call. So when no audio
has come for ``NUDGE_AFTER``, the endpoint sends such a message (the snoop the tap is
bridged with drops what it is sent), unless the peer has stopped reading what it was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from ivr.audio import TapError
from ivr.media.audiosocket_frames import AudioSocketDecoder, Kind, Message, encode
from ivr.media.guard import TapGuard

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0
HANDSHAKE_TIMEOUT = 2.0
"""How long a new connection has to send its UUID (Asterisk sends it at once)."""
MAX_HANDSHAKES = 4
"""Connections heard out at once before the tap's is in; a new one closes the oldest."""
READ_SIZE = 65536
NUDGE_AFTER = 0.1
"""A snoop sends a frame every 20 ms: this long without one, Asterisk may be waiting for us."""
NUDGE = encode(Kind.SLIN, bytes(320))
"""20 ms of silence (8 kHz slin: the kind chan_audiosocket reads)."""
MAX_UNSENT = 16 * len(NUDGE)
"""Nudges left unread by the peer before nudging stops (a peer that never reads)."""

_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter, AudioSocketDecoder, list[Message]]
"""The tap's connection: its streams, its decoder and the messages that came with the UUID."""


class AudioSocketEndpoint:
    def __init__(self, call: str | None = None) -> None:
        self.uuid = uuid.uuid4()
        self.guard = TapGuard("AudioSocket", call)
        self._server: asyncio.Server | None = None
        self._connected: asyncio.Future[_Connection] = asyncio.get_running_loop().create_future()
        self._handshaking: deque[asyncio.StreamWriter] = deque()
        self._pushed_out: set[asyncio.StreamWriter] = set()
        self._arrived = asyncio.Event()
        """A connection came (the tap's is the one that sends its UUID)."""
        self._ended = asyncio.Event()

    @classmethod
    async def listen(cls, host: str, *, call: str | None = None) -> AudioSocketEndpoint:
        """A TCP server on ``host`` and a free port; ``call`` names the call in log lines."""
        endpoint = cls(call)
        endpoint._server = await asyncio.start_server(endpoint._accept, host, 0)
        return endpoint

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        if self._connected.done():
            self.guard.drop("connections after the tap's", peer)
            writer.close()
            return
        if len(self._handshaking) >= MAX_HANDSHAKES:
            oldest = self._handshaking.popleft()
            self._pushed_out.add(oldest)
            oldest.transport.abort()  # its handshake reads the end of its stream
        self._handshaking.append(writer)
        self._arrived.set()
        try:
            decoder, messages, refused = await self._handshake(reader)
        finally:
            if writer in self._handshaking:
                self._handshaking.remove(writer)
        if writer in self._pushed_out:
            self._pushed_out.discard(writer)
            refused = "pushed out by newer connections before it sent a UUID"
        elif refused is None and self._connected.done():
            refused = "the tap was closed" if self._connected.cancelled() else "a second connection with its UUID"
        if refused is not None:
            self.guard.drop("connections that are not the tap's", f"{peer}: {refused}")
            writer.close()
            return
        self._connected.set_result((reader, writer, decoder, messages))
        if self._server is not None:
            self._server.close()  # the tap is in: nobody else may connect

    async def _handshake(
        self, reader: asyncio.StreamReader
    ) -> tuple[AudioSocketDecoder, list[Message], str | None]:
        """Read a connection's first message. Returns the decoder, the messages that came
        after the UUID, and why the connection is refused (None when it is this tap's)."""
        decoder = AudioSocketDecoder()
        messages: list[Message] = []
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT):
                while not messages:
                    data = await reader.read(READ_SIZE)
                    if not data:
                        return decoder, [], "closed before its UUID"
                    messages = decoder.feed(data)
        except TimeoutError:
            return decoder, [], f"no UUID within {HANDSHAKE_TIMEOUT:g} s"
        except (ValueError, OSError) as exc:
            return decoder, [], str(exc) or repr(exc)
        first = messages[0]
        if first.kind != Kind.UUID or len(first.payload) != 16:
            return decoder, [], f"its first message is {_describe(first)}, not a UUID"
        if first.uuid != self.uuid:
            return decoder, [], f"UUID {first.uuid} of another tap"
        return decoder, messages[1:], None

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
        """Asterisk connects during the externalMedia request: fail now if nobody did. (Its
        UUID may still be on the way: the stream waits for the connection that sends it.)"""
        self.guard.tap = channel.get("id")
        await asyncio.wait_for(self._arrived.wait(), CONNECT_TIMEOUT)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        await asyncio.wait([self._connected])  # unlike awaiting it, never cancels the future
        if self._connected.cancelled():
            return  # released before Asterisk connected
        reader, writer, decoder, messages = self._connected.result()
        guard = self.guard
        try:
            while True:
                for message in messages:
                    if message.kind is Kind.SLIN16:
                        if guard.admit(message.payload):
                            yield message.payload
                    elif message.kind is Kind.HANGUP:
                        return
                    elif message.kind is Kind.UUID:
                        if message.payload != self.uuid.bytes:
                            second = message.payload.hex()
                            raise TapError(f"AudioSocket stream out of step: a second UUID {second}")
                    elif message.kind is not Kind.DTMF:  # DTMF comes over ARI
                        guard.drop("messages of a kind a tap does not use", _describe(message))
                decoder.feed(b"")  # raises if the stream went out of step after these messages
                data = await self._read(reader, writer)
                if not data:
                    return
                messages = decoder.feed(data)
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
                    return await reader.read(READ_SIZE)
            except TimeoutError:
                if writer.transport.get_write_buffer_size() < MAX_UNSENT:
                    writer.write(NUDGE)

    async def release(self) -> None:
        if self._server is not None:
            self._server.close()
        if not self._connected.done():
            self._connected.cancel()
        elif not self._connected.cancelled():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended.wait(), CLOSE_TIMEOUT)
            writer = self._connected.result()[1]
            writer.close()
        self.guard.report()


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


def _describe(message: Message) -> str:
    start = f" {message.payload[:8].hex()}" if message.payload else ""
    return f"kind 0x{message.kind:02x}, {len(message.payload)} bytes{start}"
