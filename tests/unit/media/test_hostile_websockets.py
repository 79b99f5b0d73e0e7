"""The websocket taps (chan_websocket's media socket, Wazo's stream-channel) under bad frames.

A websockets server on loopback plays the Asterisk side and sends what a broken or hostile
peer could: binary frames of odd lengths or far longer than 20 ms, text frames that are not
the protocol's, a frame over the size limit, a flood. The taps keep yielding the real audio,
bound what they hold, and log one line per cause naming the call.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import websockets
from websockets.asyncio.server import ServerConnection, serve

from ivr.audio import TapError
from ivr.media import guard
from ivr.media.guard import BACKLOG_BYTES, BURST_SECONDS, BYTES_PER_SECOND, MAX_SPEED
from ivr.media.stream_channel import StreamChannelTap
from ivr.media.websocket import LONG_FRAME, MAX_FRAME, WebsocketEndpoint
from tests.unit.media.hostile import tracebacks, warnings

CALL = "1795557394.42"
Frame = str | bytes
Script = Callable[[ServerConnection], Awaitable[None]]


def pcm(marker: int, samples: int = 320) -> bytes:
    return struct.pack("<h", marker) * samples


def sends(*frames: Frame) -> Script:
    """A server that sends these frames, then closes normally (code 1000), like Asterisk."""

    async def script(ws: ServerConnection) -> None:
        for frame in frames:
            await ws.send(frame)
        await ws.close()

    return script


@asynccontextmanager
async def server(script: Script, subprotocol: str) -> AsyncIterator[str]:
    async def handler(ws: ServerConnection) -> None:
        await script(ws)

    async with serve(
        handler, "127.0.0.1", 0, subprotocols=[websockets.Subprotocol(subprotocol)], max_size=None
    ) as running:
        port = next(iter(running.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def media_tap(url: str) -> WebsocketEndpoint:
    endpoint = WebsocketEndpoint(url + "/media/", call=CALL)
    await endpoint.attach({"id": "speech-ivr-tap-1", "channelvars": {"MEDIA_WEBSOCKET_CONNECTION_ID": "c0ffee"}})
    return endpoint


async def everything(stream: AsyncIterator[bytes], seconds: float = 5.0) -> list[bytes]:
    async with asyncio.timeout(seconds):
        return [chunk async for chunk in stream]


BAD_TEXT = [
    "HELLO there",  # not a control message at all
    '{"event": "NOPE", "x": 1}',  # JSON, but no event chan_websocket sends
    "[" * 60_000,  # JSON nested past Python's recursion limit
    '{"event": ' + "9" * 5000 + "}",  # a number Python will not read
]


async def test_media_websocket_drops_what_is_not_audio(caplog: pytest.LogCaptureFixture) -> None:
    long = pcm(3, samples=16_000)  # one second in one frame
    script = sends(
        "MEDIA_START connection_id:c0ffee channel:WebSocket/c0ffee/0x1 channel_id:1.2 format:slin16 "
        "optimal_frame_size:640 ptime:20",
        pcm(1),
        bytes(641),
        *BAD_TEXT,
        '{"event":"ERROR","channel_id":"1.2","error_text":"Unable to parse JSON command"}',
        long,
        pcm(2),
        bytes(3),
        "DTMF_END digit:1 channel_id:1.2",
    )
    async with server(script, "media") as url:
        endpoint = await media_tap(url)
        got = await everything(aiter(endpoint))
        await endpoint.release()

    assert got == [pcm(1), long, pcm(2)]
    counts = endpoint.guard
    assert counts.dropped == {
        "audio of an odd length": 2,
        "text frames that are not chan_websocket's": len(BAD_TEXT),
        "error reports from Asterisk": 1,
    }
    assert counts.noticed == {f"frames longer than {LONG_FRAME} bytes": 1}
    lines = warnings(caplog)
    assert len(lines) == 5 and all(line.startswith(f"call {CALL}: media websocket tap") for line in lines)
    assert all(len(line) < 400 and "\n" not in line for line in lines)
    assert lines[-1].startswith(f"call {CALL}: media websocket tap closed; it dropped ")
    assert tracebacks(caplog) == []


async def test_a_frame_over_the_limit_ends_the_media_tap_with_its_cause() -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send(pcm(1))
        await ws.send(bytes(MAX_FRAME + 2))
        await ws.wait_closed()

    async with server(script, "media") as url:
        endpoint = await media_tap(url)
        stream = aiter(endpoint)
        async with asyncio.timeout(5):
            assert await anext(stream) == pcm(1)
            with pytest.raises(TapError, match="media websocket failed.*1009"):
                await anext(stream)
        await endpoint.release()


async def test_a_flood_of_audio_is_cut_to_real_time(caplog: pytest.LogCaptureFixture) -> None:
    frames = 30 * 50  # 30 s of audio, sent as fast as the socket takes it

    async def script(ws: ServerConnection) -> None:
        for _ in range(frames):
            await ws.send(bytes(640))
        await ws.close()

    started = asyncio.get_running_loop().time()
    async with server(script, "media") as url:
        endpoint = await media_tap(url)
        got = await everything(aiter(endpoint), seconds=20)
        await endpoint.release()
    took = asyncio.get_running_loop().time() - started

    heard = sum(map(len, got))
    assert heard <= (BURST_SECONDS + MAX_SPEED * took) * BYTES_PER_SECOND
    assert endpoint.guard.dropped["audio arriving faster than real time"] == frames - len(got) > 0
    assert len(warnings(caplog)) == 2  # the first drop, and the totals


class StreamChannel:
    """The stream-channel side: checks the handshake, then runs a script."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.channel_ids: list[str | None] = []

    async def __call__(self, ws: ServerConnection) -> None:
        self.channel_ids.append(ws.request.headers.get("Channel-ID") if ws.request else None)
        await self.script(ws)


async def gone() -> bool:
    return False


async def test_stream_channel_drops_what_is_not_audio(caplog: pytest.LogCaptureFixture) -> None:
    long = pcm(5, samples=8000)
    module = StreamChannel(sends(pcm(1), *BAD_TEXT, bytes(999), long, pcm(2)))
    async with server(module, "stream-channel") as url:
        tap = await StreamChannelTap.open(url + "/ws", CALL, still_here=gone)
        got = await everything(aiter(tap))
        await tap.close()

    assert module.channel_ids == [CALL]
    assert got == [pcm(1), long, pcm(2)]
    assert tap.guard.dropped == {
        "text frames (the module sends only audio)": len(BAD_TEXT),
        "audio of an odd length": 1,
    }
    lines = warnings(caplog)
    assert len(lines) == 4 and all(line.startswith(f"call {CALL}: stream-channel tap") for line in lines)
    assert tracebacks(caplog) == []


async def test_stream_channel_holds_at_most_its_backlog_while_nobody_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if the frames came in real time while the reader was stuck: no audio budget limit.
    monkeypatch.setattr(guard, "BURST_SECONDS", 1e6)
    sent = asyncio.Event()

    async def flood(ws: ServerConnection) -> None:
        for _ in range(40 * 50):  # 40 s of audio at once
            await ws.send(bytes(640))
        sent.set()
        await asyncio.sleep(0.2)  # the tap's reader takes it all in meanwhile
        await ws.close()

    async with server(StreamChannel(flood), "stream-channel") as url:
        tap = await StreamChannelTap.open(url + "/ws", CALL, still_here=gone)
        async with asyncio.timeout(10):
            await sent.wait()
        await asyncio.sleep(0.1)
        held = tap._frames.size
        got = await everything(aiter(tap))
        await tap.close()

    assert held == sum(map(len, got)) == BACKLOG_BYTES
    assert tap.guard.dropped == {"frames beyond a full backlog": 40 * 50 - len(got)}


async def test_stream_channel_that_fails_mid_call_says_why() -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send(pcm(1))
        await ws.send(bytes(MAX_FRAME + 2))
        await ws.wait_closed()

    async def still_here() -> bool:
        return True

    async with server(StreamChannel(script), "stream-channel") as url:
        tap = await StreamChannelTap.open(url + "/ws", CALL, still_here=still_here)
        stream = aiter(tap)
        async with asyncio.timeout(5):
            assert await anext(stream) == pcm(1)
            with pytest.raises(TapError, match="stream-channel websocket failed.*1009"):
                await anext(stream)
        await tap.close()
