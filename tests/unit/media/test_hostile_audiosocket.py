"""The AudioSocket tap's TCP server under garbage, stalls and extra connections, on loopback.

Only a connection whose first message is the tap's UUID becomes the tap; whatever else
connects is closed and counted without taking its place, and within the tap's stream,
messages a tap does not use are skipped, one log line per cause naming the call.
"""

from __future__ import annotations

import asyncio
import struct
import uuid
from collections.abc import AsyncIterator

import pytest

from ivr.audio import TapError
from ivr.media import audiosocket
from ivr.media.audiosocket import AudioSocketEndpoint
from ivr.media.audiosocket_frames import MAX_LENGTH, AudioSocketDecoder, Kind, encode
from tests.unit.media.hostile import read_until, tracebacks, warnings

CALL = "1795557394.42"
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def endpoint(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AudioSocketEndpoint]:
    monkeypatch.setattr(audiosocket, "HANDSHAKE_TIMEOUT", 0.3)
    endpoint = await AudioSocketEndpoint.listen("127.0.0.1", call=CALL)
    host, port = endpoint.params()["external_host"].rsplit(":", 1)
    ADDRESSES[id(endpoint)] = (host, int(port))
    try:
        yield endpoint
    finally:
        await endpoint.release()


ADDRESSES: dict[int, tuple[str, int]] = {}
"""Where each endpoint listened (``params()`` needs a server still listening)."""


async def connect(endpoint: AudioSocketEndpoint) -> Streams:
    return await asyncio.open_connection(*ADDRESSES[id(endpoint)])


async def closed_by_the_tap(reader: asyncio.StreamReader) -> bool:
    """Did the tap close this connection (whatever it was sent first)?"""
    try:
        async with asyncio.timeout(2):
            while await reader.read(4096):
                pass
    except ConnectionResetError:
        pass
    return True


def audio(marker: int) -> tuple[bytes, bytes]:
    pcm = struct.pack("<h", marker) * 320
    return encode(Kind.SLIN16, pcm), pcm


async def test_messages_a_tap_does_not_use_are_skipped(
    endpoint: AudioSocketEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    _reader, writer = await connect(endpoint)
    await endpoint.attach({})
    first, first_pcm = audio(1)
    last, last_pcm = audio(2)
    writer.write(encode(Kind.UUID, endpoint.uuid.bytes) + first)
    for kind in (0x42, 0x02, 0x11, 0x13, 0x16, 0xFE):  # kinds nobody defined, or other rates
        writer.write(encode(kind, b"\x99" * 100))
    writer.write(encode(Kind.SLIN, bytes(320)))  # 8 kHz audio: not what a slin16 tap hears
    writer.write(encode(Kind.ERROR, b"\x04"))
    writer.write(encode(Kind.DTMF, b"5"))  # DTMF comes over ARI: skipped without a word
    writer.write(encode(Kind.SLIN16, bytes(641)))  # odd: would shift every later sample
    writer.write(encode(Kind.UUID, endpoint.uuid.bytes))  # the same UUID again: harmless
    writer.write(last)
    await writer.drain()

    stream = aiter(endpoint)
    assert await read_until(stream, last_pcm) == [first_pcm, last_pcm]
    assert endpoint.guard.dropped == {
        "messages of a kind a tap does not use": 8,
        "audio of an odd length": 1,
    }
    lines = warnings(caplog)
    assert len(lines) == 2 and all(line.startswith(f"call {CALL}: AudioSocket tap: dropped") for line in lines)
    assert "kind 0x42, 100 bytes" in lines[0]
    writer.close()
    await stream.aclose()
    await endpoint.release()
    assert warnings(caplog)[-1] == (
        f"call {CALL}: AudioSocket tap closed; it dropped 8 messages of a kind a tap does not use, "
        "1 audio of an odd length"
    )


async def test_a_length_beyond_what_asterisk_sends_ends_the_tap(endpoint: AudioSocketEndpoint) -> None:
    _reader, writer = await connect(endpoint)
    await endpoint.attach({})
    first, first_pcm = audio(1)
    # The largest length the 16-bit field can claim, and a stream that stops there.
    writer.write(encode(Kind.UUID, endpoint.uuid.bytes) + first + struct.pack("!BH", Kind.SLIN16, MAX_LENGTH))
    await writer.drain()
    stream = aiter(endpoint)
    assert await read_until(stream, first_pcm) == [first_pcm]
    with pytest.raises(TapError, match=f"claims {MAX_LENGTH} bytes.*out of step"):
        async with asyncio.timeout(2):
            await anext(stream)
    writer.close()


async def test_a_second_uuid_mid_stream_ends_the_tap(endpoint: AudioSocketEndpoint) -> None:
    _reader, writer = await connect(endpoint)
    await endpoint.attach({})
    writer.write(encode(Kind.UUID, endpoint.uuid.bytes) + encode(Kind.UUID, uuid.uuid4().bytes))
    await writer.drain()
    with pytest.raises(TapError, match="a second UUID"):
        async with asyncio.timeout(2):
            await anext(aiter(endpoint))
    writer.close()


async def test_strangers_on_the_port_never_take_the_tap(
    endpoint: AudioSocketEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    garbage = await connect(endpoint)
    garbage[1].write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # kind 0x47, length 0x4554: out of step
    half = await connect(endpoint)
    half[1].write(b"\x01\x00")  # half a header, then nothing
    other = await connect(endpoint)
    other[1].write(encode(Kind.UUID, uuid.uuid4().bytes))  # another call's tap
    silent = await connect(endpoint)  # connects and says nothing
    for _, writer in (garbage, half, other):
        await writer.drain()
    await endpoint.attach({})  # a connection came: the externalMedia request would succeed

    # Asterisk's connection, last of all: it is the tap.
    _reader, writer = await connect(endpoint)
    first, first_pcm = audio(7)
    writer.write(encode(Kind.UUID, endpoint.uuid.bytes) + first)
    await writer.drain()
    assert await read_until(aiter(endpoint), first_pcm) == [first_pcm]

    for stranger in (garbage, half, other, silent):
        assert await closed_by_the_tap(stranger[0])
        stranger[1].close()
    # Now that the tap is in, the port is closed.
    with pytest.raises(OSError):
        await connect(endpoint)
    lines = warnings(caplog)
    assert len(lines) == 1, lines  # four strangers, one cause, one line
    assert lines[0].startswith(f"call {CALL}: AudioSocket tap: dropped connections that are not the tap's")
    assert endpoint.guard.dropped == {"connections that are not the tap's": 4}
    assert tracebacks(caplog) == []
    writer.close()


async def test_squatters_cannot_keep_asterisk_out(
    endpoint: AudioSocketEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    # More silent connections than are heard out at once: each new one pushes the oldest out,
    # and Asterisk's connection, which sends its UUID at once, gets in among them.
    squatters = [await connect(endpoint) for _ in range(3 * audiosocket.MAX_HANDSHAKES)]
    _reader, writer = await connect(endpoint)
    first, first_pcm = audio(3)
    writer.write(encode(Kind.UUID, endpoint.uuid.bytes) + first)
    assert await read_until(aiter(endpoint), first_pcm) == [first_pcm]
    for squatter_reader, squatter_writer in squatters:
        assert await closed_by_the_tap(squatter_reader)
        squatter_writer.close()
    assert endpoint.guard.dropped == {"connections that are not the tap's": len(squatters)}
    [line] = warnings(caplog)
    assert "pushed out by newer connections" in line
    writer.close()


async def test_a_peer_that_stalls_mid_header_gets_its_message_when_the_rest_comes(
    endpoint: AudioSocketEndpoint,
) -> None:
    reader, writer = await connect(endpoint)
    await endpoint.attach({})
    message, pcm = audio(9)
    writer.write(encode(Kind.UUID, endpoint.uuid.bytes) + message[:2])
    await writer.drain()
    stream = aiter(endpoint)
    waiting = asyncio.ensure_future(anext(stream))
    # While it stalls, the tap nudges Asterisk (20 ms of 8 kHz silence) and waits.
    async with asyncio.timeout(2):
        [nudge] = AudioSocketDecoder().feed(await reader.readexactly(3 + 320))
    assert nudge.kind is Kind.SLIN and not waiting.done()
    writer.write(message[2:])
    async with asyncio.timeout(2):
        assert await waiting == pcm
    writer.close()


async def test_a_stall_before_the_uuid_is_timed_out(
    endpoint: AudioSocketEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = await connect(endpoint)
    writer.write(encode(Kind.UUID, endpoint.uuid.bytes)[:5])  # the UUID, cut short
    await writer.drain()
    assert await closed_by_the_tap(reader)
    [line] = warnings(caplog)
    assert "no UUID within" in line
    writer.close()
