"""The RTP tap's UDP socket under garbage, floods and bursts, on loopback with real sockets.

Whatever arrives, the tap keeps yielding the real stream's audio, holds at most its backlog,
and says what it dropped in one line per cause (naming the call), then once more in total
when it closes: no traceback, no line per packet.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Iterator

import pytest

from ivr.media.guard import BACKLOG_BYTES, BURST_SECONDS, BYTES_PER_SECOND
from ivr.media.rtp import MAX_DATAGRAM, RtpEndpoint
from ivr.media.rtp_packet import HeaderExtension, RtpPacket
from tests.unit.media.hostile import read_for, read_until, tracebacks, warnings

CALL = "1795557394.42"


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


class Asterisk:
    """The tap channel's side: sends RTP from the address the channel reports."""

    def __init__(self) -> None:
        self.sock = udp_socket()
        self.sequence = 0

    @property
    def channel(self) -> dict[str, object]:
        host, port = self.sock.getsockname()
        return {
            "id": "speech-ivr-tap-0123",
            "channelvars": {"UNICASTRTP_LOCAL_ADDRESS": host, "UNICASTRTP_LOCAL_PORT": str(port)},
        }

    def packet(self, samples: bytes) -> bytes:
        """A good slin16 packet (big-endian samples, as Asterisk sends them)."""
        self.sequence += 1
        return RtpPacket(
            payload_type=118, sequence=self.sequence, timestamp=320 * self.sequence, ssrc=7, payload=samples
        ).serialize()

    def audio(self, marker: int) -> tuple[bytes, bytes]:
        """A packet of 320 equal samples, and the little-endian PCM the tap must yield for it."""
        return self.packet(struct.pack("!h", marker) * 320), struct.pack("<h", marker) * 320


@pytest.fixture
async def tap() -> AsyncIterator[tuple[RtpEndpoint, Asterisk, tuple[str, int]]]:
    endpoint = await RtpEndpoint.bind("127.0.0.1", call=CALL)
    asterisk = Asterisk()
    await endpoint.attach(asterisk.channel)
    host, port = endpoint.params()["external_host"].rsplit(":", 1)
    try:
        yield endpoint, asterisk, (host, int(port))
    finally:
        await endpoint.release()
        asterisk.sock.close()


def garbage() -> Iterator[tuple[str, bytes]]:
    """Datagrams that are not a tap's RTP, each with the cause it must be counted under."""
    good = RtpPacket(payload_type=118, sequence=1, timestamp=0, ssrc=7, payload=bytes(640)).serialize()
    malformed = "malformed RTP packets"
    yield malformed, b""
    yield malformed, b"\x80\x76\x00"  # too short
    yield malformed, bytes([0x40]) + good[1:]  # version 1
    yield malformed, bytes([0x00]) + good[1:]  # version 0
    yield malformed, bytes([0x8F]) + good[1:12]  # 15 CSRCs, none there
    yield malformed, bytes([0x90]) + good[1:12] + struct.pack("!HH", 0xBEDE, 0xFFFF)  # extension past the end
    yield malformed, bytes([0x90]) + good[1:12] + b"\xbe"  # cut inside the extension header
    yield malformed, bytes([0xA0]) + good[1:12] + bytes(4) + b"\xff"  # padding past the header
    yield malformed, bytes([0xA0]) + good[1:-1] + b"\x00"  # padding of 0
    not_slin16 = "packets that are not slin16 audio"
    yield not_slin16, RtpPacket(payload_type=0, sequence=2, timestamp=0, ssrc=7, payload=bytes(160)).serialize()
    yield not_slin16, RtpPacket(payload_type=101, sequence=3, timestamp=0, ssrc=7, payload=bytes(4)).serialize()
    yield not_slin16, RtpPacket(payload_type=118, sequence=4, timestamp=0, ssrc=7, payload=bytes(641)).serialize()
    yield f"packets over {MAX_DATAGRAM} bytes", good + bytes(MAX_DATAGRAM)
    yield f"packets over {MAX_DATAGRAM} bytes", bytes(65000)


async def test_garbage_is_dropped_and_the_stream_goes_on(
    tap: tuple[RtpEndpoint, Asterisk, tuple[str, int]], caplog: pytest.LogCaptureFixture
) -> None:
    endpoint, asterisk, address = tap
    stream = aiter(endpoint)
    first, first_pcm = asterisk.audio(1)
    asterisk.sock.sendto(first, address)
    assert await read_until(stream, first_pcm) == [first_pcm]

    causes: dict[str, int] = {}
    for _ in range(3):  # every kind of garbage, three times over
        for cause, datagram in garbage():
            asterisk.sock.sendto(datagram, address)
            causes[cause] = causes.get(cause, 0) + 1
            await asyncio.sleep(0)  # asyncio reads one datagram per turn of the loop
    # Everything legal but odd still parses: CSRCs, an extension and padding around good audio.
    odd_but_good = RtpPacket(
        payload_type=118, sequence=900, timestamp=0, ssrc=7, payload=struct.pack("!h", 2) * 320,
        csrcs=(1, 2, 3), extension=HeaderExtension(0xBEDE, bytes(8)), padding=4, marker=True,
    ).serialize()
    asterisk.sock.sendto(odd_but_good, address)
    asterisk.sequence = 900
    last, last_pcm = asterisk.audio(3)
    asterisk.sock.sendto(last, address)

    assert await read_until(stream, last_pcm) == [struct.pack("<h", 2) * 320, last_pcm]
    assert endpoint.guard.dropped == causes
    await endpoint.release()
    lines = warnings(caplog)
    assert len(lines) == len(causes) + 1 and all(line.startswith(f"call {CALL}: RTP tap") for line in lines)
    assert lines[-1].startswith(f"call {CALL}: RTP tap closed; it dropped ")
    for cause, count in causes.items():
        assert f"{count} {cause}" in lines[-1]
    assert tracebacks(caplog) == []


async def test_a_flood_from_another_address_costs_nothing(
    tap: tuple[RtpEndpoint, Asterisk, tuple[str, int]], caplog: pytest.LogCaptureFixture
) -> None:
    endpoint, asterisk, address = tap
    stream = aiter(endpoint)
    intruder = udp_socket()
    intruder_address = f"127.0.0.1:{intruder.getsockname()[1]}"
    spoof = RtpPacket(payload_type=118, sequence=5, timestamp=0, ssrc=7, payload=bytes(640)).serialize()
    expected = []
    try:
        for burst in range(10):
            for _ in range(200):
                intruder.sendto(spoof, address)
                await asyncio.sleep(0)  # asyncio reads one datagram per turn of the loop
            packet, pcm = asterisk.audio(burst + 1)
            asterisk.sock.sendto(packet, address)
            expected.append(pcm)
            await asyncio.sleep(0.01)
        got = await read_until(stream, expected[-1])
    finally:
        intruder.close()

    assert got == expected  # only the tap's own packets, in order
    assert endpoint.guard.dropped["packets from another address than the tap's"] > 1000
    assert endpoint._protocol.backlog.size == 0  # none of it was kept
    [line] = warnings(caplog)
    assert line.startswith(f"call {CALL}: RTP tap: dropped packets from another address than the tap's")
    assert intruder_address in line


async def test_packets_before_the_tap_exists_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    endpoint = await RtpEndpoint.bind("127.0.0.1", call=CALL)
    asterisk = Asterisk()
    host, port = endpoint.params()["external_host"].rsplit(":", 1)
    try:
        early, _early_pcm = asterisk.audio(1)
        asterisk.sock.sendto(early, (host, int(port)))
        await asyncio.sleep(0.05)
        await endpoint.attach(asterisk.channel)
        later, later_pcm = asterisk.audio(2)
        asterisk.sock.sendto(later, (host, int(port)))
        assert await read_until(aiter(endpoint), later_pcm) == [later_pcm]
    finally:
        await endpoint.release()
        asterisk.sock.close()
    assert endpoint.guard.dropped == {"packets before the tap channel existed": 1}


async def test_a_huge_burst_is_cut_to_the_backlog_and_the_audio_budget(
    tap: tuple[RtpEndpoint, Asterisk, tuple[str, int]], caplog: pytest.LogCaptureFixture
) -> None:
    endpoint, asterisk, address = tap
    for _ in range(3000):  # a minute of audio at once, while nobody reads it
        asterisk.sock.sendto(asterisk.packet(bytes(640)), address)
        await asyncio.sleep(0)  # asyncio reads one datagram per turn of the loop

    assert endpoint._protocol.backlog.size <= BACKLOG_BYTES  # what waits is bounded
    got = await read_for(aiter(endpoint), 1.0)
    heard = sum(map(len, got))
    assert 0 < heard <= BURST_SECONDS * BYTES_PER_SECOND
    assert endpoint.guard.dropped["packets beyond a full backlog"] > 0
    await endpoint.release()
    lines = warnings(caplog)
    assert 2 <= len(lines) <= 3 and all(line.startswith(f"call {CALL}: RTP tap") for line in lines)


async def test_a_flood_on_one_call_leaves_another_call_alone(
    tap: tuple[RtpEndpoint, Asterisk, tuple[str, int]],
) -> None:
    flooded, flooder, flooded_address = tap
    other = await RtpEndpoint.bind("127.0.0.1", call="other")
    other_asterisk = Asterisk()
    await other.attach(other_asterisk.channel)
    host, port = other.params()["external_host"].rsplit(":", 1)
    try:
        stream = aiter(other)
        for n in range(1, 51):
            for _ in range(40):
                flooder.sock.sendto(flooder.packet(bytes(1400)), flooded_address)
                await asyncio.sleep(0)
            packet, pcm = other_asterisk.audio(n)
            other_asterisk.sock.sendto(packet, (host, int(port)))
            assert await read_until(stream, pcm, seconds=2) == [pcm]
    finally:
        await other.release()
        other_asterisk.sock.close()
    assert other.guard.dropped == {}
    # Nobody reads the flooded tap: its backlog filled up to the cap, the rest was dropped.
    assert flooded._protocol.backlog.size <= BACKLOG_BYTES
    assert flooded.guard.dropped["packets beyond a full backlog"] > 0
