"""ivr.media.audiosocket: a stream out of step is a broken tap, not a crash."""

from __future__ import annotations

import asyncio
import struct

import pytest

from ivr.audio import TapError
from ivr.media.audiosocket import AudioSocketEndpoint
from ivr.media.audiosocket_frames import DEFAULT_MAX_PAYLOAD, AudioSocketDecoder, Kind, encode


async def test_a_stream_out_of_step_raises_tap_error() -> None:
    endpoint = await AudioSocketEndpoint.listen("127.0.0.1")
    host, port = endpoint.params()["external_host"].rsplit(":", 1)
    _, writer = await asyncio.open_connection(host, int(port))
    try:
        await endpoint.attach({})
        audio = bytes(640)
        writer.write(encode(Kind.UUID, endpoint.uuid.bytes) + encode(Kind.SLIN16, audio))
        await writer.drain()
        stream = aiter(endpoint)
        async with asyncio.timeout(5):
            assert await anext(stream) == audio
            # A header claiming more than the decoder accepts: the stream is out of step.
            writer.write(struct.pack("!BH", Kind.SLIN16, DEFAULT_MAX_PAYLOAD + 1) + b"garbage")
            await writer.drain()
            with pytest.raises(TapError, match="out of step"):
                await anext(stream)
    finally:
        writer.close()
        await endpoint.release()


async def test_asterisk_is_sent_silence_while_no_audio_comes() -> None:
    # chan_audiosocket can wait in a read for the app to send something, holding the call.
    endpoint = await AudioSocketEndpoint.listen("127.0.0.1")
    host, port = endpoint.params()["external_host"].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        await endpoint.attach({})
        writer.write(encode(Kind.UUID, endpoint.uuid.bytes))
        await writer.drain()
        stream = aiter(endpoint)
        waiting = asyncio.ensure_future(anext(stream))
        async with asyncio.timeout(5):
            [message] = AudioSocketDecoder().feed(await reader.readexactly(3 + 320))
        assert (message.kind, message.payload) == (Kind.SLIN, bytes(320))
        writer.write(encode(Kind.SLIN16, bytes(640)))
        async with asyncio.timeout(5):
            assert await waiting == bytes(640)
    finally:
        writer.close()
        await endpoint.release()
