"""The app side of an externalMedia RTP tap (chan_rtp, UnicastRTP): a UDP socket.

The socket is bound before the channel is created (Asterisk sends as soon as the tap is
bridged). Packets come from ``UNICASTRTP_LOCAL_ADDRESS:PORT``; their slin16 payload is
big-endian (network order) and is byte-swapped for the recognizer (``RtpReceiver``). UDP has no end: the
stream ends when ``release()`` is called after the channel is deleted.

Anyone who can reach the port can send to it, so what the socket hands over is checked
before it costs anything: datagrams from any other address than the tap channel's (or that
come before that address is known: Asterisk sends only once the tap is bridged), and
datagrams too big for a tap's packet, are dropped on arrival; what is left waits in a
``Backlog`` of at most 10 s of audio. Malformed packets, other payload types and audio
beyond real time are dropped by the reader. Every cause is counted and logged once
(``ivr.media.guard``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from ivr.media.guard import Backlog, TapGuard
from ivr.media.rtp_packet import RtpPacket, RtpReceiver

log = logging.getLogger(__name__)

MAX_DATAGRAM = 4096
"""Bytes: 12 of header and 640 of slin16 are what Asterisk sends; 4 KiB leaves room for a
header with every option and 120 ms of audio, and bounds what a flood can queue."""


class _Receiving(asyncio.DatagramProtocol):
    """Filters datagrams as they arrive, before they are queued."""

    def __init__(self, backlog: Backlog, guard: TapGuard) -> None:
        self.backlog = backlog
        self.guard = guard
        self.source: tuple[str, int] | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.source is None:  # Asterisk sends once the tap is bridged, after attach()
            self.guard.drop("packets before the tap channel existed", f"{addr[0]}:{addr[1]}")
        elif addr[:2] != self.source:
            self.guard.drop("packets from another address than the tap's", f"{addr[0]}:{addr[1]}")
        elif len(data) > MAX_DATAGRAM:
            self.guard.drop(f"packets over {MAX_DATAGRAM} bytes", f"{len(data)} bytes")
        elif not self.backlog.put(data):
            self.guard.drop("packets beyond a full backlog", f"{self.backlog.size} bytes waiting")

    def error_received(self, exc: Exception) -> None:
        # An ICMP error for a datagram we never sent: nothing to do but say it once.
        self.guard.drop("socket errors", repr(exc))


class RtpEndpoint:
    def __init__(self, transport: asyncio.DatagramTransport, protocol: _Receiving) -> None:
        self._transport = transport
        self._protocol = protocol
        self.guard = protocol.guard
        self.receiver = RtpReceiver()

    @classmethod
    async def bind(cls, host: str, *, call: str | None = None) -> RtpEndpoint:
        """A UDP socket on ``host`` and a free port; ``call`` names the call in log lines."""
        protocol = _Receiving(Backlog(), TapGuard("RTP", call))
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: protocol, local_addr=(host, 0)
        )
        return cls(transport, protocol)

    def params(self) -> dict[str, str]:
        host, port = self._transport.get_extra_info("sockname")[:2]
        return {"external_host": f"{host}:{port}", "encapsulation": "rtp", "transport": "udp", "format": "slin16"}

    async def attach(self, channel: dict[str, Any]) -> None:
        variables = channel["channelvars"]
        self._protocol.source = (variables["UNICASTRTP_LOCAL_ADDRESS"], int(variables["UNICASTRTP_LOCAL_PORT"]))
        self.guard.tap = channel.get("id")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        backlog, guard, receiver = self._protocol.backlog, self.guard, self.receiver
        while (data := await backlog.get()) is not None:
            try:
                packet = RtpPacket.parse(data)
            except ValueError as exc:
                guard.drop("malformed RTP packets", exc)
                continue
            ignored = receiver.ignored
            pcm = receiver.receive(packet)
            if receiver.ignored > ignored:
                guard.drop(
                    "packets that are not slin16 audio",
                    f"payload type {packet.payload_type}, {len(packet.payload)} bytes",
                )
            elif pcm is not None and guard.admit(pcm):
                yield pcm

    async def release(self) -> None:
        self._transport.close()
        self._protocol.backlog.close()
        counts = self.receiver
        if counts.lost or counts.duplicates:
            log.info(
                "%s: RTP tap closed: %d packets delivered, %d lost (%d of them late), %d duplicates",
                self.guard.label, counts.delivered, counts.lost, counts.late, counts.duplicates,
            )
        self.guard.report()
