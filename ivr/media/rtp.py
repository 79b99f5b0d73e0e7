"""The app side of an externalMedia RTP tap (chan_rtp, UnicastRTP): a UDP socket.

The socket is bound before the channel is created (Asterisk sends as soon as the tap is
bridged). Packets come from ``UNICASTRTP_LOCAL_ADDRESS:PORT``; their slin16 payload is
big-endian (network order) and is byte-swapped for the recognizer (``RtpReceiver``). UDP has no end: the
stream ends when ``release()`` is called after the channel is deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from ivr.media.rtp_packet import RtpPacket, RtpReceiver

log = logging.getLogger(__name__)

Datagram = tuple[bytes, tuple[str, int]]


class _Queueing(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[Datagram | None]) -> None:
        self._queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._queue.put_nowait((data, addr))


class RtpEndpoint:
    def __init__(self, transport: asyncio.DatagramTransport, queue: asyncio.Queue[Datagram | None]) -> None:
        self._transport = transport
        self._queue = queue
        self._source: tuple[str, int] | None = None
        self.receiver = RtpReceiver()

    @classmethod
    async def bind(cls, host: str) -> RtpEndpoint:
        queue: asyncio.Queue[Datagram | None] = asyncio.Queue()
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Queueing(queue), local_addr=(host, 0)
        )
        return cls(transport, queue)

    def params(self) -> dict[str, str]:
        host, port = self._transport.get_extra_info("sockname")[:2]
        return {"external_host": f"{host}:{port}", "encapsulation": "rtp", "transport": "udp", "format": "slin16"}

    async def attach(self, channel: dict[str, Any]) -> None:
        variables = channel["channelvars"]
        self._source = (variables["UNICASTRTP_LOCAL_ADDRESS"], int(variables["UNICASTRTP_LOCAL_PORT"]))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (datagram := await self._queue.get()) is not None:
            data, address = datagram
            if address != self._source:
                continue  # not from our tap channel
            try:
                packet = RtpPacket.parse(data)
            except ValueError as exc:
                log.warning("dropping a malformed RTP packet: %s", exc)
                continue
            pcm = self.receiver.receive(packet)
            if pcm is not None:
                yield pcm

    async def release(self) -> None:
        self._transport.close()
        self._queue.put_nowait(None)
        counts = self.receiver
        if counts.lost or counts.duplicates or counts.ignored:
            log.info(
                "RTP tap closed: %d packets delivered, %d lost (%d of them late), %d duplicates, "
                "%d not slin16",
                counts.delivered, counts.lost, counts.late, counts.duplicates, counts.ignored,
            )
