"""A stand-in for Wazo's ``res_ari_stream`` (the stream-channel websocket) that serves real audio.

Debian's Asterisk has no ``res_ari_stream``, so the tests connect the app's stream-channel
transport to this double instead. It is a websocket server that behaves like the module did on
the wire (the rules in ``ivr/media/stream_channel.py``) and takes its audio from the sandbox
Asterisk:

- ``ws://127.0.0.1:PORT/ws``; an upgrade without the ``stream-channel`` subprotocol gets HTTP 400.
- ``Channel-ID`` names a channel by ARI id or by channel name. A missing or unknown one, or a
  channel that is not in Stasis, is accepted (101) and closed at once with code 1000 and no
  reason. (The module's ~2 ms were measured for unknown channels; that a channel outside Stasis
  counts as unknown is the double's assumption: the module only serves calls in Stasis.)
- For a channel in Stasis the double taps the channel itself, in an ARI app of its own (``APP``,
  never the app under test): a ``spy=in`` snoop and an externalMedia websocket channel in a
  mixing bridge. It re-serves the tap's frames as binary messages (640 bytes of slin16 LE, in
  real time) and deletes its snoop, tap and bridge when the stream ends, however it ends.
- Nothing is sent while no audio reaches the channel. The module sends nothing then, but a snoop
  runs on its own 20 ms clock and sends zeros, so the double drops every all-zero frame. (Digital
  silence *inside* the caller's audio, which the module does forward, is dropped too: a client
  must not count frames to measure silence with either of them.)
- A channel whose native audio is already slin16 (``CHANNEL(audionativeformat)`` is ``(slin16)``,
  e.g. a Local channel originated with ``formats=slin16``) gets no frames at all, like the module
  that fails to build a translation path for it; its socket opens and closes normally.
- The stream closes with code 1000 when the channel hangs up, not when the call leaves Stasis
  (measured on the real module: a routed call that stays up keeps its stream, and the module's
  audio, until its hangup). The double stops forwarding audio when the call leaves Stasis (it
  watches for the ``STASISSTATUS`` variable being set, which ``Stasis()`` does in the same
  millisecond as StasisEnd; it cannot see another app's StasisEnd) and closes at the channel's
  destruction. (A channel that ARI originated straight into an app runs a continued dialplan
  inside that originate, so it sets ``STASISSTATUS`` only when that dialplan ends.)
- The module never reads its socket, so pings go unanswered: the double's connections take the
  pong out of the websocket protocol (``_PonglessProtocol``). What would hurt the real module is
  recorded in ``violations``: a ping, and a client closing (or dropping) the connection while the
  channel is up, which freezes both call legs and Asterisk's shutdown under the module.
- ``kill(channel_id)`` drops the TCP connections of a channel's streams mid-call, as a crash
  would; the client sees the connection end without a close frame (code 1006).

Where the double differs from the module, beyond dropped digital silence: its first frame comes
15-25 ms after the connection opens (it builds the tap first), and its snoop, tap and bridge are
real ARI objects (ids starting with ``stream-double-``) that an app's sweep of leftover channels
must leave alone. ``CHANNEL()`` needs ``func_channel.so``, which the sandbox loads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

import aiohttp
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from ivr.sandbox import SandboxInfo

APP = "stream-double"
"""The double's own ARI app: its snoops, taps and bridges live here, never in the app under test."""
PATH = "/ws"
SUBPROTOCOL = websockets.Subprotocol("stream-channel")
MEDIA_SUBPROTOCOL = websockets.Subprotocol("media")
NATIVE_FORMAT = "CHANNEL(audionativeformat)"
TAP_READY_TIMEOUT = 5.0
TAP_CLOSE_TIMEOUT = 2.0

log = logging.getLogger(__name__)

Event = dict[str, Any]


class StreamChannelDouble:
    """The stream-channel server; use as ``async with StreamChannelDouble(info) as double``."""

    def __init__(self, info: SandboxInfo) -> None:
        self.info = info
        self.violations: list[str] = []
        """What a client did that the real module would not survive, one sentence each."""
        self._ari = _Ari(info)
        self._server: Server | None = None
        self._streams: set[_Stream] = set()
        self._stopping = False

    @property
    def url(self) -> str:
        assert self._server is not None, "the double is not running"
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}{PATH}"

    async def __aenter__(self) -> Self:
        await self._ari.open()
        try:
            self._server = await serve(
                self._serve,
                "127.0.0.1",
                0,
                process_request=_refuse_without_subprotocol,
                subprotocols=[SUBPROTOCOL],
                create_connection=_ModuleConnection,
                ping_interval=None,
            )
        except BaseException:
            await self._ari.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.close()  # closes the open streams with 1001 (going away)
            await self._server.wait_closed()
        await self._ari.close()

    def kill(self, channel_id: str) -> int:
        """Drop the TCP connection of every stream of this channel (ARI id or name) while the
        call goes on; return how many there were."""
        killed = [stream for stream in self._streams if stream.is_for(channel_id)]
        for stream in killed:
            stream.killed = True
            stream.connection.transport.abort()
        return len(killed)

    async def _serve(self, connection: ServerConnection) -> None:
        assert isinstance(connection, _ModuleConnection) and connection.request is not None
        requested = connection.request.headers.get("Channel-ID", "")
        connection.on_ping = lambda: self._violate(
            f"pinged the stream of {requested!r}: the module never answers pings "
            "(connect with ping_interval=None)"
        )
        # Watch for the departure before looking the channel up, so that none is missed.
        left = self._ari.expect(lambda event: _leaves_stasis(event, requested))
        hung_up = self._ari.expect(lambda event: _hangs_up(event, requested))
        try:
            channel = await self._ari.find_in_stasis(requested)
            if channel is None:
                await connection.close()  # like the module: accepted, then 1000 with no reason
                return
            stream = _Stream(channel["id"], channel["name"], connection)
            self._streams.add(stream)
            try:
                await self._run(stream, left, hung_up)
            finally:
                self._streams.discard(stream)
        finally:
            left.cancel()
            hung_up.cancel()

    async def _run(self, stream: _Stream, left: asyncio.Future[Event], hung_up: asyncio.Future[Event]) -> None:
        """Serve one stream until the channel hangs up or the connection ends; audio only
        while the call is in Stasis."""
        connection = stream.connection
        tap: _Tap | None = None
        forwarding: asyncio.Future[None] | None = None
        if not await self._ari.is_native_slin16(stream.channel_id):
            tap = _Tap(self._ari, stream.channel_id)
            forwarding = asyncio.ensure_future(self._forward(tap, connection))
        closed: asyncio.Future[Any] = asyncio.ensure_future(connection.wait_closed())
        try:
            await asyncio.wait({left, closed}, return_when=asyncio.FIRST_COMPLETED)
            if forwarding is not None:
                forwarding.cancel()  # the double's snoop ends with the call's time in Stasis
            if left.done() and not closed.done():
                await asyncio.wait({hung_up, closed}, return_when=asyncio.FIRST_COMPLETED)
            if hung_up.done():
                await connection.close()  # 1000, no reason, as the channel hangs up
            elif not (stream.killed or self._stopping):
                self._violate(
                    f"closed the stream of {stream.name} ({_describe_close(connection)}) "
                    "while the channel was up: the module would freeze both call legs"
                )
        finally:
            closed.cancel()
            if forwarding is not None:
                forwarding.cancel()
            if tap is not None:
                await tap.close()

    async def _forward(self, tap: _Tap, connection: ServerConnection) -> None:
        try:
            async for frame in tap.frames():
                if frame.strip(b"\0"):  # all zeros: the snoop's filler, nothing reached the call
                    await connection.send(frame)
        except websockets.ConnectionClosed:
            pass  # the stream ended; _run decides what that means
        except Exception as error:  # e.g. the call hung up while the tap was being built
            log.warning("stream-channel double: no tap on %s: %r", tap.channel_id, error)

    def _violate(self, what: str) -> None:
        log.warning("stream-channel client: %s", what)
        self.violations.append(what)


@pytest.fixture(scope="session")
async def stream_channel_double(sandbox: SandboxInfo) -> AsyncIterator[StreamChannelDouble]:
    """The stream-channel double on the session's sandbox Asterisk."""
    async with StreamChannelDouble(sandbox) as double:
        yield double


@dataclass(eq=False)
class _Stream:
    """One client connection for a channel in Stasis."""

    channel_id: str
    name: str
    connection: ServerConnection
    killed: bool = False

    def is_for(self, channel: str) -> bool:
        return channel in (self.channel_id, self.name)


class _PonglessProtocol(ServerProtocol):
    """The websocket protocol minus the automatic pong: the module never reads its socket, so a
    client's ping is never answered. The ping still reaches the connection as an event."""

    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.PING:
            self.events.append(frame)
        else:
            super().recv_frame(frame)


class _ModuleConnection(ServerConnection):
    """A server connection that never answers pings and reports them to `on_ping`."""

    def __init__(self, protocol: ServerProtocol, *args: Any, **kwargs: Any) -> None:
        # serve() builds the sans-I/O protocol itself and offers no hook to choose its class;
        # the subclass only overrides a method, so switching the class in place is safe.
        protocol.__class__ = _PonglessProtocol
        super().__init__(protocol, *args, **kwargs)
        self.on_ping: Callable[[], None] = lambda: None

    def process_event(self, event: Request | Response | Frame) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            self.on_ping()
        super().process_event(event)


def _refuse_without_subprotocol(connection: ServerConnection, request: Request) -> Response | None:
    if request.path != PATH:
        return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
    offered = ",".join(request.headers.get_all("Sec-WebSocket-Protocol"))
    if SUBPROTOCOL not in (protocol.strip() for protocol in offered.split(",")):
        return connection.respond(HTTPStatus.BAD_REQUEST, "Bad Request\n")
    return None


def _hangs_up(event: Event, channel: str) -> bool:
    subject = event.get("channel") or {}
    return event["type"] == "ChannelDestroyed" and channel in (subject.get("id"), subject.get("name"))


def _leaves_stasis(event: Event, channel: str) -> bool:
    """Whether `event` says that `channel` (id or name) left Stasis: `Stasis()` returned and set
    STASISSTATUS (it sets it empty on entry), or the channel is gone."""
    subject = event.get("channel") or {}
    if channel not in (subject.get("id"), subject.get("name")):
        return False
    if event["type"] == "ChannelVarset":
        return bool(event["variable"] == "STASISSTATUS" and event["value"])
    return bool(event["type"] == "ChannelDestroyed")


def _describe_close(connection: ServerConnection) -> str:
    received = connection.protocol.close_rcvd
    if received is None:
        return "dropped the connection without a close frame"
    return f"close code {received.code}"


class _Tap:
    """The double's own tap on one channel: a ``spy=in`` snoop and an externalMedia websocket
    channel (slin16) in a mixing bridge, the app's own tap topology (``ivr/telephony/tap.py``).

    It starts building itself at once. Building is never cancelled half-way: an ARI request
    cancelled while in flight may still create its object after `close()` looked for it.
    """

    def __init__(self, ari: _Ari, channel_id: str) -> None:
        tag = uuid.uuid4().hex[:12]
        self.channel_id = channel_id
        # Our own ids, so that a stray object is recognizable as the double's.
        self.snoop_id = f"{APP}-snoop-{tag}"
        self.media_id = f"{APP}-media-{tag}"
        self.bridge_id = f"{APP}-bridge-{tag}"
        self._ari = ari
        self._media: ClientConnection | None = None
        self._opening = asyncio.ensure_future(self._open())

    async def _open(self) -> None:
        # Both must be in Stasis before addChannel (422 otherwise).
        started = [
            self._ari.expect(_stasis_start_of(channel_id))
            for channel_id in (self.snoop_id, self.media_id)
        ]
        try:
            await self._ari.request(
                "POST",
                f"channels/{self.channel_id}/snoop",
                spy="in",
                app=APP,
                snoopId=self.snoop_id,
            )
            media = await self._ari.request(
                "POST",
                "channels/externalMedia",
                app=APP,
                channelId=self.media_id,
                transport="websocket",
                encapsulation="none",
                connection_type="server",
                format="slin16",
            )
            # The media channel enters Stasis only once it is connected: connect, then wait.
            connection_id = media["channelvars"]["MEDIA_WEBSOCKET_CONNECTION_ID"]
            self._media = await websockets.connect(
                f"ws://127.0.0.1:{self._ari.info.http_port}/media/{connection_id}",
                subprotocols=[MEDIA_SUBPROTOCOL],
                ping_interval=None,
                close_timeout=TAP_CLOSE_TIMEOUT,
            )
            async with asyncio.timeout(TAP_READY_TIMEOUT):
                await asyncio.gather(*started)
        finally:
            for future in started:
                future.cancel()
        await self._ari.request("POST", "bridges", type="mixing", bridgeId=self.bridge_id)
        await self._ari.request(
            "POST",
            f"bridges/{self.bridge_id}/addChannel",
            channel=f"{self.snoop_id},{self.media_id}",
        )

    async def frames(self) -> AsyncIterator[bytes]:
        """The tap's slin16 frames (640 bytes, zeros included) until it is closed."""
        await asyncio.shield(self._opening)
        assert self._media is not None
        async for message in self._media:
            if isinstance(message, bytes):
                yield message

    async def close(self) -> None:
        """Delete everything this tap made (whatever exists of it)."""
        with contextlib.suppress(Exception):  # a failure was reported by the frames' reader
            await self._opening
        await self._ari.delete(f"channels/{self.snoop_id}")
        await self._ari.delete(f"channels/{self.media_id}")
        if self._media is not None:
            # Asterisk closes the media socket when its channel goes; read until it has, since
            # a socket nobody reads never notices the close (``ivr/media/websocket.py``).
            try:
                async with asyncio.timeout(TAP_CLOSE_TIMEOUT):
                    async for _ in self._media:
                        pass
            except (TimeoutError, websockets.ConnectionClosed):
                self._media.transport.abort()
        await self._ari.delete(f"bridges/{self.bridge_id}")


def _stasis_start_of(channel_id: str) -> Callable[[Event], bool]:
    """A predicate for the StasisStart of one of the double's own channels."""

    def predicate(event: Event) -> bool:
        return bool(
            event["type"] == "StasisStart"
            and event.get("application") == APP
            and event["channel"]["id"] == channel_id
        )

    return predicate


class _Ari:
    """The double's ARI client: plain aiohttp, its own app, every event of every channel."""

    def __init__(self, info: SandboxInfo) -> None:
        self.info = info
        self._session: aiohttp.ClientSession | None = None
        self._events: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._expected: list[tuple[Callable[[Event], bool], asyncio.Future[Event]]] = []

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(headers=self.info.ari_headers)
        try:
            self._events = await self._session.ws_connect(
                f"{self.info.ari_url}ari/events",
                params={"app": APP, "subscribeAll": "true"},
            )
        except BaseException:
            await self._session.close()
            raise
        self._reader = asyncio.create_task(self._read_events(self._events))

    async def close(self) -> None:
        if self._events is not None:
            await self._events.close()
        if self._reader is not None:
            await self._reader
        if self._session is not None:
            await self._session.close()

    def expect(self, predicate: Callable[[Event], bool]) -> asyncio.Future[Event]:
        """The next event that satisfies `predicate`; cancel the future to stop waiting."""
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._expected.append((predicate, future))
        return future

    async def find_in_stasis(self, channel: str) -> Event | None:
        """The channel with this ARI id or name, if it exists and is in Stasis."""
        if not channel:
            return None
        found: Event | None = None
        if "/" not in channel:  # a name always has "Tech/"; ids never have a slash
            found = await self.request("GET", f"channels/{channel}", missing_ok=True)
        if found is None:
            channels = await self.request("GET", "channels")
            found = next((each for each in channels if each["name"] == channel), None)
        if found is None or found["dialplan"]["app_name"] != "Stasis":
            return None
        return found

    async def is_native_slin16(self, channel_id: str) -> bool:
        """Whether the channel's native audio is slin16. ``CHANNEL(audionativeformat)`` gives
        the format list in parentheses: ``(slin16)``, ``(ulaw)``, ``(slin192)`` (verified)."""
        answer = await self.request(
            "GET", f"channels/{channel_id}/variable", variable=NATIVE_FORMAT, missing_ok=True
        )
        formats = answer["value"].strip("()").split("|") if answer else []
        return "slin16" in formats

    async def request(
        self, method: str, path: str, *, missing_ok: bool = False, **params: str
    ) -> Any:
        """An ARI request; with `missing_ok`, a 404 gives None."""
        assert self._session is not None
        async with self._session.request(
            method, f"{self.info.ari_url}ari/{path}", params=params
        ) as response:
            if response.status == HTTPStatus.NOT_FOUND and missing_ok:
                return None
            response.raise_for_status()
            if response.status == HTTPStatus.NO_CONTENT:
                return None
            return await response.json()

    async def delete(self, path: str) -> None:
        """Delete an ARI object; one that is gone already is fine."""
        await self.request("DELETE", path, missing_ok=True)

    async def _read_events(self, events: aiohttp.ClientWebSocketResponse) -> None:
        async for message in events:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = message.json()
            for predicate, future in self._expected:
                if not future.done() and predicate(event):
                    future.set_result(event)
            self._expected = [(p, future) for p, future in self._expected if not future.done()]
