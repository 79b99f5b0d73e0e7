"""The stream-channel double on the real sandbox Asterisk, and the real module it stands in
for (Wazo's ``res_ari_stream.so`` in the Wazo sandbox): each rule the double reproduces, on the
wire, from both (``server``: ``double`` and ``module``).

What only the double does runs on the double only (``double_only``): the record of what a
client did wrong, ``kill``, its rule for a channel outside Stasis, and the client-first close,
which would freeze the real module's call and Asterisk's shutdown.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp
import numpy as np
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from ivr.sandbox import CallLab, SandboxInfo, parse_timestamp
from tests.stream_channel_double import APP as DOUBLE_APP
from tests.stream_channel_double import StreamChannelDouble

pytestmark = pytest.mark.real

HOLDING_APP = "stream-double-test"
TONE_RMS = 8192 / np.sqrt(2)  # the tone file's level: a sine of amplitude 8192
FRAME = 640
QUIET = 0.5  # seconds without a frame that end a burst of audio
CLOSE_WITHIN = 0.05  # seconds between StasisEnd and the stream's close
SERVERS = ["double", "module"]
double_only = pytest.mark.parametrize("stream_server", ["double"], indirect=True)
"""For a test of what only the double does: it runs on the double, not on the module."""
module_only = pytest.mark.parametrize("stream_server", ["module"], indirect=True)
"""For what the module does and the double does not (yet): it runs on the module only."""


@dataclass(frozen=True)
class StreamServer:
    """A stream-channel server and the Asterisk whose calls it streams: the double on the plain
    sandbox, or the real module (``double`` None) in the Wazo sandbox."""

    info: SandboxInfo
    url: str
    double: StreamChannelDouble | None = None

    @property
    def violations(self) -> list[str]:
        """What a client did that the module would not survive (only the double keeps count)."""
        return self.double.violations if self.double is not None else []


@dataclass(frozen=True)
class HeldCall:
    """A call whose `id` leg is in the holding app; its other leg plays the caller's part."""

    id: str
    name: str
    caller_id: str


class HoldingApp:
    """Stands in for the app under test: test calls go straight into it and stay in Stasis until
    the test continues them or hangs them up.

    Its own app name, not ``speech-ivr``: a second connection for an app name replaces the first
    one in Asterisk ("Replacing Stasis app"), and when it closes the app is destroyed while the
    first websocket stays open and silent (verified), which would break the real app if it runs
    in the same test session. So the calls are originated as ``Local/s@caller`` into this app:
    the ``;1`` leg is in Stasis and reads what the ``;2`` leg plays in the ``caller`` context.
    """

    def __init__(self, info: SandboxInfo) -> None:
        self.info = info
        self._started: dict[str, asyncio.Event] = {}
        self._ended: dict[str, asyncio.Future[float]] = {}
        self._http = aiohttp.ClientSession(headers=info.ari_headers, raise_for_status=True)
        self._events: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._events = await self._http.ws_connect(
            f"{self.info.ari_url}ari/events", params={"app": HOLDING_APP}
        )
        self._reader = asyncio.create_task(self._read(self._events))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._events is not None and self._reader is not None
        await self._events.close()
        await self._reader
        await self._http.close()

    async def call(
        self,
        *,
        speech: str = "",
        formats: str = "ulaw",
        delay: float = 0.5,
        hold: float = 10.0,
    ) -> HeldCall:
        """A call in Stasis whose caller waits `delay` s, plays `speech`, then holds `hold` s."""
        call_id = f"sd-{uuid.uuid4().hex[:12]}"
        self._started[call_id] = asyncio.Event()
        self._ended[call_id] = asyncio.get_running_loop().create_future()
        channel = await self._ari(
            "POST",
            "channels",
            params={
                "endpoint": "Local/s@caller",
                "app": HOLDING_APP,
                "formats": formats,
                "channelId": call_id,
                "otherChannelId": f"{call_id}-caller",
            },
            json={
                "variables": {
                    "CALLER_ID": call_id,
                    "CALLER_DELAY": f"{delay:g}",
                    "SPEECHFILE": speech,
                    "CALLER_HOLD": f"{hold:g}",
                }
            },
        )
        async with asyncio.timeout(5):
            await self._started[call_id].wait()
        return HeldCall(call_id, channel["name"], f"{call_id}-caller")

    async def continue_in_dialplan(
        self, call: HeldCall, context: str = "ivr-dest", extension: str = "sales"
    ) -> None:
        """Send the call on (by default to ivr-dest, which reports it and hangs up at once)."""
        await self._ari(
            "POST",
            f"channels/{call.id}/continue",
            params={"context": context, "extension": extension, "priority": "1"},
        )

    async def hang_up(self, call: HeldCall) -> None:
        await self._ari("DELETE", f"channels/{call.id}")

    async def stasis_end(self, call: HeldCall) -> float:
        """When StasisEnd of the call arrived (`time.time()`)."""
        async with asyncio.timeout(5):
            return await self._ended[call.id]

    async def in_stasis(self, call: HeldCall) -> bool:
        channel = await self._ari("GET", f"channels/{call.id}")
        return bool(channel["dialplan"]["app_name"] == "Stasis")

    async def _ari(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self._http.request(method, f"{self.info.ari_url}ari/{path}", **kwargs) as reply:
            return None if reply.status == 204 else await reply.json()

    async def _read(self, events: aiohttp.ClientWebSocketResponse) -> None:
        async for message in events:
            event = message.json()
            channel_id = event.get("channel", {}).get("id")
            if event["type"] == "StasisStart" and channel_id in self._started:
                self._started[channel_id].set()
            elif event["type"] == "StasisEnd" and channel_id in self._ended:
                self._ended[channel_id].set_result(time.time())


@dataclass
class Received:
    """What a client got: binary frames with their arrival times, and how the stream ended."""

    frames: list[tuple[float, bytes]]
    closed: websockets.ConnectionClosed | None = None
    closed_at: float | None = None

    @property
    def pcm(self) -> bytes:
        return b"".join(frame for _, frame in self.frames)


async def receive(stream: ClientConnection, *, until_quiet: float | None = None) -> Received:
    """Read until the stream closes or, with `until_quiet`, until a burst of frames is followed
    by that many seconds without one."""
    received = Received([])
    while True:
        timeout = until_quiet if until_quiet is not None and received.frames else None
        try:
            async with asyncio.timeout(timeout if timeout else 15):
                message = await stream.recv()
        except TimeoutError:
            if timeout:
                return received
            raise
        except websockets.ConnectionClosed as closed:
            received.closed, received.closed_at = closed, time.time()
            return received
        assert isinstance(message, bytes), f"the module sends only binary frames, got {message!r}"
        received.frames.append((time.time(), message))


async def connect(
    server: StreamServer | StreamChannelDouble, channel: str | None
) -> ClientConnection:
    """Connect the way a client of the real module must: subprotocol, header, no pings."""
    return await websockets.connect(
        server.url,
        subprotocols=[websockets.Subprotocol("stream-channel")],
        additional_headers={} if channel is None else {"Channel-ID": channel},
        ping_interval=None,
    )


def smoothness(samples: np.ndarray) -> float:
    """Mean |x[n] - x[n-1]| / mean |x|: 0.17 for a 440 Hz tone at 16 kHz, ~1.5 byte-swapped."""
    x = samples.astype(float)
    return float(np.mean(np.abs(np.diff(x))) / np.mean(np.abs(x)))


async def speech_times(lab: CallLab, call: HeldCall) -> tuple[float, float]:
    """When the caller started and finished playing its file (the caller context's UserEvents)."""

    def user_event(name: str) -> Callable[[dict[str, Any]], bool]:
        return lambda event: bool(
            event["type"] == "ChannelUserevent"
            and event["eventname"] == name
            and event["userevent"].get("Call") == call.id
        )

    start = await lab.wait_for(user_event("CallerSpeechStart"), timeout=10)
    end = await lab.wait_for(user_event("CallerSpeechEnd"), timeout=10)
    return parse_timestamp(start["timestamp"]), parse_timestamp(end["timestamp"])


async def double_channels(lab: CallLab) -> list[str]:
    return [channel["id"] for channel in await lab.channels() if DOUBLE_APP in channel["id"]]


@pytest.fixture(params=SERVERS)
def stream_server(request: pytest.FixtureRequest) -> StreamServer:
    """The double or the module, by the test's parameter; each Asterisk starts only when a
    test needs it (the module's rootfs is built on first use)."""
    if request.param == "double":
        double: StreamChannelDouble = request.getfixturevalue("stream_channel_double")
        return StreamServer(double.info, double.url, double)
    info: SandboxInfo = request.getfixturevalue("wazo_sandbox")
    return StreamServer(info, f"ws://127.0.0.1:{info.http_port}/ws")


@pytest.fixture
async def lab(stream_server: StreamServer) -> AsyncIterator[CallLab]:
    """Calls on the server's Asterisk (the conftest's lab is on the plain sandbox)."""
    async with CallLab(stream_server.info) as lab:
        yield lab


@pytest.fixture
def tone(stream_server: StreamServer) -> str:
    """One second of 440 Hz at 16 kHz (`.sln16`), as a media name."""
    sounds_dir = stream_server.info.sounds_dir
    directory = sounds_dir / "test"
    directory.mkdir(parents=True, exist_ok=True)
    t = np.arange(16000) / 16000
    samples = np.round(8192 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    samples.tofile(directory / "tone-440.sln16")
    return f"{sounds_dir.name}/test/tone-440"


@pytest.fixture
async def app(stream_server: StreamServer) -> AsyncIterator[HoldingApp]:
    async with HoldingApp(stream_server.info) as holding:
        yield holding


@pytest.fixture
async def server(stream_server: StreamServer, lab: CallLab) -> AsyncIterator[StreamServer]:
    """The server, checked to leave nothing behind; tests that provoke violations of the
    double assert and clear them."""
    stream_server.violations.clear()
    yield stream_server
    assert stream_server.violations == []
    assert await lab.wait_idle() == ([], [])


@pytest.fixture
def double(server: StreamServer) -> StreamChannelDouble:
    """The double itself, for the tests of what only it does (marked ``double_only``)."""
    assert server.double is not None, "a test of the double alone must be marked double_only"
    return server.double


async def test_upgrade_needs_the_subprotocol(server: StreamServer) -> None:
    for subprotocols in (None, [websockets.Subprotocol("media")]):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(
                server.url, subprotocols=subprotocols, additional_headers={"Channel-ID": "x"}
            )
        assert refused.value.response.status_code == 400


@pytest.mark.parametrize("channel", [None, "", "1234567890.999", "Local/nobody@nowhere-1;1"])
async def test_unknown_or_missing_channel_is_closed_at_once(
    server: StreamServer, channel: str | None
) -> None:
    stream = await connect(server, channel)
    opened = time.time()
    assert stream.subprotocol == "stream-channel"
    received = await receive(stream)
    assert received.frames == []
    assert isinstance(received.closed, websockets.ConnectionClosedOK)
    assert received.closed.rcvd is not None
    assert (received.closed.rcvd.code, received.closed.rcvd.reason) == (1000, "")
    assert received.closed_at is not None and received.closed_at - opened < 0.05


@double_only  # the double's own rule: the module would stream the channel (no Stasis check)
async def test_channel_outside_stasis_counts_as_unknown(
    double: StreamChannelDouble, app: HoldingApp
) -> None:
    call = await app.call()
    received = await receive(await connect(double, call.caller_id))  # the leg in the dialplan
    assert isinstance(received.closed, websockets.ConnectionClosedOK)
    assert received.frames == []
    await app.hang_up(call)


async def test_ulaw_call_streams_what_the_caller_says(
    server: StreamServer, app: HoldingApp, lab: CallLab, tone: str
) -> None:
    call = await app.call(speech=tone, formats="ulaw", delay=1.0)
    # Two streams on one channel work, one asking by ARI id, the other by channel name.
    by_id, by_name = await connect(server, call.id), await connect(server, call.name)
    tone_bursts = await asyncio.gather(
        receive(by_id, until_quiet=QUIET), receive(by_name, until_quiet=QUIET)
    )
    speech_start, speech_end = await speech_times(lab, call)

    for burst in tone_bursts:
        arrivals = [at for at, _ in burst.frames]
        sizes = {len(frame) for _, frame in burst.frames[:-1]}
        assert sizes == {FRAME} and 0 < len(burst.frames[-1][1]) <= FRAME
        # Nothing while the caller was in Wait() before the tone, and one second of it.
        assert arrivals[0] >= speech_start
        assert arrivals[-1] <= speech_end + 0.1
        assert 48 <= len(burst.frames) <= 52
        samples = np.frombuffer(burst.pcm, "<i2")[320:-320]  # the tone, ramps left out
        assert np.sqrt(np.mean(samples.astype(float) ** 2)) == pytest.approx(TONE_RMS, rel=0.03)
        assert smoothness(samples) < 0.25  # little-endian; byte-swapped it would be ~1.5

    # Nothing either while the caller holds the line in Wait() after the tone, then the
    # stream closes as the call leaves Stasis (into ivr-dest, which hangs up at once: the
    # module ends a stream at hangup, see the test after next).
    await asyncio.sleep(0.5)
    await app.continue_in_dialplan(call)
    endings = await asyncio.gather(receive(by_id), receive(by_name))
    for ending in endings:
        assert ending.frames == []
        assert isinstance(ending.closed, websockets.ConnectionClosedOK)
        assert ending.closed.rcvd is not None
        assert (ending.closed.rcvd.code, ending.closed.rcvd.reason) == (1000, "")
        assert ending.closed_at is not None
        assert abs(ending.closed_at - await app.stasis_end(call)) < CLOSE_WITHIN


async def test_slin16_call_gets_no_frames(
    server: StreamServer, app: HoldingApp, lab: CallLab, tone: str
) -> None:
    call = await app.call(speech=tone, formats="slin16", delay=0.3)
    stream = await connect(server, call.id)
    listening = asyncio.create_task(receive(stream))
    _, speech_end = await speech_times(lab, call)
    await asyncio.sleep(max(0.0, speech_end + 0.3 - time.time()))
    assert not listening.done()
    assert await double_channels(lab) == []  # no tap at all for it
    await app.hang_up(call)
    received = await listening
    assert received.frames == []
    assert isinstance(received.closed, websockets.ConnectionClosedOK)
    assert received.closed_at is not None
    assert abs(received.closed_at - await app.stasis_end(call)) < CLOSE_WITHIN


@module_only  # the double closes at StasisEnd (it watches STASISSTATUS)
async def test_the_stream_outlives_stasis_until_the_channel_hangs_up(
    server: StreamServer, app: HoldingApp, lab: CallLab, tone: str
) -> None:
    # The module ends a stream when its framehook goes, with the channel. A call sent on into
    # a dialplan that keeps it (here the caller's own part, which holds the line) goes on
    # streaming what it hears: the tone that the other leg plays after the call left Stasis.
    call = await app.call(speech=tone, delay=1.5, hold=10)
    listening = asyncio.create_task(receive(await connect(server, call.id)))
    await app.continue_in_dialplan(call, context="caller", extension="s")
    left = await app.stasis_end(call)
    _, speech_end = await speech_times(lab, call)
    await asyncio.sleep(max(0.0, speech_end + 0.5 - time.time()))
    assert not listening.done()
    await app.hang_up(call)
    hung_up = time.time()
    received = await listening
    assert 48 <= len([at for at, _ in received.frames if at > left]) <= 52
    assert isinstance(received.closed, websockets.ConnectionClosedOK)
    assert received.closed_at is not None and received.closed_at - hung_up < CLOSE_WITHIN


async def test_closes_when_the_caller_hangs_up(
    server: StreamServer, app: HoldingApp, tone: str
) -> None:
    call = await app.call(speech=tone, delay=0.3, hold=0.5)
    received = await receive(await connect(server, call.id))
    assert 48 <= len(received.frames) <= 52
    assert isinstance(received.closed, websockets.ConnectionClosedOK)
    assert received.closed.rcvd is not None and received.closed.rcvd.code == 1000
    assert received.closed_at is not None
    assert abs(received.closed_at - await app.stasis_end(call)) < CLOSE_WITHIN


async def test_pings_go_unanswered_and_are_recorded(
    server: StreamServer, app: HoldingApp
) -> None:
    call = await app.call()
    stream = await connect(server, call.id)
    pong = await stream.ping()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pong, 0.5)
    if server.double is not None:  # the module has no record of it
        assert len(server.violations) == 1 and "ping" in server.violations[0]
        server.violations.clear()
    await app.hang_up(call)
    assert isinstance((await receive(stream)).closed, websockets.ConnectionClosedOK)


@double_only  # under the module this freezes the call and Asterisk's shutdown
@pytest.mark.parametrize("how", ["close", "drop"])
async def test_client_ending_the_stream_first_is_recorded(
    double: StreamChannelDouble, app: HoldingApp, lab: CallLab, tone: str, how: str
) -> None:
    call = await app.call(speech=tone, delay=0.2)
    stream = await connect(double, call.id)
    await stream.recv()  # audio flows
    if how == "close":
        await stream.close()
    else:
        stream.transport.abort()
    async with asyncio.timeout(5):
        while not double.violations or await double_channels(lab):
            await asyncio.sleep(0.05)
    assert len(double.violations) == 1
    expected = "close code 1000" if how == "close" else "without a close frame"
    assert expected in double.violations[0] and "while the channel was up" in double.violations[0]
    double.violations.clear()
    assert await app.in_stasis(call)  # the double tore its tap down, the call goes on
    await app.hang_up(call)


@double_only  # nothing makes the module drop a stream while the call goes on
async def test_kill_drops_the_connection_mid_call(
    double: StreamChannelDouble, app: HoldingApp, lab: CallLab, tone: str
) -> None:
    call = await app.call(speech=tone, delay=0.2)
    stream = await connect(double, call.id)
    await stream.recv()
    assert double.kill(call.id) == 1
    received = await receive(stream)
    assert isinstance(received.closed, websockets.ConnectionClosedError)
    assert received.closed.rcvd is None  # no close frame: the connection just went away
    async with asyncio.timeout(5):
        while await double_channels(lab):
            await asyncio.sleep(0.05)
    assert await app.in_stasis(call)
    await app.continue_in_dialplan(call)
